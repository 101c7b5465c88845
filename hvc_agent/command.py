# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Running a command on this node, on Windows too.

oslo.concurrency 7.6's ``processutils.execute`` always passes
``preexec_fn`` to ``subprocess.Popen``, which CPython refuses on Windows
(ValueError): no command runs through it there. This runs one with
subprocess alone, and fails as processutils does (ProcessExecutionError,
the one exception class taken from it).
"""

import subprocess
import tempfile

from oslo_concurrency import processutils
from oslo_log import log as logging

LOG = logging.getLogger(__name__)


def execute(args, timeout):
    """Run ``args`` (no shell) and return its standard output.

    ProcessExecutionError when it cannot start (not installed, not on
    PATH), exits non-zero (with its stderr and exit code), or still runs
    after ``timeout`` seconds (it is killed).
    """
    cmd = subprocess.list2cmdline(args)
    LOG.debug('Running %s', cmd)
    # Output goes to files, not pipes: in an eventlet nova-compute (the
    # os-win backend's mode), reading a Windows pipe would block every
    # green thread until the command ends; waiting for it does not.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=err)
        except OSError as e:
            raise processutils.ProcessExecutionError(
                cmd=cmd, description='cannot run %s: %s' % (args[0], e)
            ) from e
        try:
            exit_code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise processutils.ProcessExecutionError(
                cmd=cmd, description='%s did not end within %s seconds and '
                                     'was killed' % (args[0], timeout))
        stdout, stderr = (_read(f) for f in (out, err))
    if exit_code:
        raise processutils.ProcessExecutionError(
            stdout=stdout, stderr=stderr, exit_code=exit_code, cmd=cmd)
    return stdout


def _read(f):
    f.seek(0)
    return f.read().decode('utf-8', 'replace')
