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

"""The Debian packages the local cloud runs: MariaDB and RabbitMQ.

Installed with apt-get when missing (that needs root). Their maintainer
scripts would start the system-wide services; the cloud runs its own
servers instead, so service starts are denied during the install.
"""

import contextlib
import os
import subprocess

PACKAGES = ('mariadb-server', 'rabbitmq-server')
# Binaries the cloud runs, by package.
BINARIES = {'mariadb-server': ('/usr/sbin/mariadbd',
                               '/usr/bin/mariadb-install-db',
                               '/usr/bin/mariadb'),
            'rabbitmq-server': ('/usr/lib/rabbitmq/bin/rabbitmq-server',
                                '/usr/bin/epmd')}
POLICY_RC_D = '/usr/sbin/policy-rc.d'


class InstallError(RuntimeError):
    pass


def missing():
    return [p for p in PACKAGES
            if not all(os.path.exists(b) for b in BINARIES[p])]


@contextlib.contextmanager
def _no_service_starts():
    """invoke-rc.d asks policy-rc.d; exit 101 denies every start.

    An existing policy (e.g. a container image's) is left as it is.
    """
    if os.path.exists(POLICY_RC_D):
        yield
        return
    with open(POLICY_RC_D, 'w') as f:
        f.write('#!/bin/sh\n# hvc_localcloud: no service starts while it '
                'installs packages.\nexit 101\n')
    os.chmod(POLICY_RC_D, 0o755)
    try:
        yield
    finally:
        os.unlink(POLICY_RC_D)


def ensure_installed(log=print):
    """Install the missing packages; a no-op when all are there."""
    needed = missing()
    if not needed:
        return
    if os.geteuid() != 0:
        raise InstallError(
            'the local cloud needs the Debian packages %s; install them as '
            'root: apt-get install -y %s' % (', '.join(needed),
                                             ' '.join(needed)))
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    log('installing %s with apt-get' % ', '.join(needed))
    with _no_service_starts():
        for argv in (['apt-get', 'update', '-q'],
                     ['apt-get', 'install', '-y', '-q',
                      '--no-install-recommends'] + needed):
            proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
            if proc.returncode:
                raise InstallError('%s failed (exit %d):\n%s' % (
                    ' '.join(argv), proc.returncode, proc.stdout[-3000:]))
    still = missing()
    if still:
        raise InstallError('apt-get installed %s but not %s' % (
            ', '.join(needed), ', '.join(still)))
