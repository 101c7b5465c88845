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

"""Commands run as a Windows node runs them: real processes, started by a
subprocess.Popen that refuses ``preexec_fn`` as CPython's on Windows does.
"""

import subprocess
import sys

import fixtures
from oslo_concurrency import processutils
import testtools

from hvc_agent import command


class WindowsPopen(fixtures.Fixture):
    """subprocess.Popen as on Windows: ValueError for a ``preexec_fn``
    (which oslo.concurrency's processutils always passes); otherwise the
    real Popen. ``mock`` records the calls, ``processes`` what started.
    """

    def _setUp(self):
        popen = subprocess.Popen
        self.processes = []

        def windows_popen(*args, **kwargs):
            if kwargs.get('preexec_fn') is not None:
                raise ValueError('preexec_fn is not supported on Windows '
                                 'platforms')
            self.processes.append(popen(*args, **kwargs))
            return self.processes[-1]
        self.mock = self.useFixture(fixtures.MockPatchObject(
            subprocess, 'Popen', autospec=True,
            side_effect=windows_popen)).mock


def _python(code):
    return [sys.executable, '-c', code]


class TestExecute(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.windows_popen = self.useFixture(WindowsPopen())

    def test_output(self):
        self.assertEqual('out\n', command.execute(_python('print("out")'),
                                                  30))

    def test_a_failure_carries_stderr_and_exit_code(self):
        err = self.assertRaises(
            processutils.ProcessExecutionError, command.execute,
            _python('import sys; print("out"); sys.stderr.write("no bridge '
                    'named br-int"); sys.exit(3)'), 30)
        self.assertEqual((3, 'out\n', 'no bridge named br-int'),
                         (err.exit_code, err.stdout, err.stderr))

    def test_a_command_that_is_not_there(self):
        err = self.assertRaises(processutils.ProcessExecutionError,
                                command.execute, ['/nonexistent/ovs-vsctl'],
                                30)
        self.assertIn('cannot run /nonexistent/ovs-vsctl', str(err))

    def test_a_command_outliving_its_timeout_is_killed(self):
        err = self.assertRaises(processutils.ProcessExecutionError,
                                command.execute,
                                _python('import time; time.sleep(60)'), 0.5)
        self.assertIn('did not end within 0.5 seconds and was killed',
                      str(err))
        [process] = self.windows_popen.processes
        self.assertIsNotNone(process.returncode)

    def test_processutils_fails_here_as_on_windows(self):
        # Why the driver no longer uses it: it always passes preexec_fn.
        self.assertRaises(ValueError, processutils.execute,
                          *_python('pass'))
