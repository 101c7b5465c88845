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

"""Run a WSGI application under uWSGI, as OpenStack's own deployments do.

uWSGI comes from the pyuwsgi wheel (no compiler needed) and runs the
application in this environment's interpreter, listening for plain HTTP on
127.0.0.1. The settings follow devstack's: lazy apps (each worker builds
its own application, after the fork), threads enabled, a clean SIGTERM.
"""

import os
import signal

from hvc_localcloud import procs


def argv(module, port, processes=1, threads=4, extra=()):
    return [
        procs.venv_bin('uwsgi'),
        '--http-socket', '127.0.0.1:%d' % port,
        '--module', module,
        '--master', '--processes', str(processes),
        '--threads', str(threads), '--enable-threads',
        '--lazy-apps', '--need-app', '--die-on-term',
        '--worker-reload-mercy', '5', '--exit-on-reload',
        '--thunder-lock', '--buffer-size', '65535',
        '--add-header', 'Connection: close',
        # The applications log their own requests.
        '--disable-logging',
    ] + list(extra)


def start(cloud, name, module, port, env, **kwargs):
    # SIGINT stops uWSGI at once; on SIGTERM it waits for the application
    # threads (oslo.messaging's, say) that never end by themselves.
    return procs.spawn(argv(module, port, **kwargs), cloud.log(name),
                       env=dict(os.environ, **env),
                       stop_signal=signal.SIGINT)


def wait(cloud, name, record, url, timeout=120):
    """Up when the service answers HTTP at all (any status)."""
    import requests
    procs.wait_until(lambda: requests.get(url, timeout=2) is not None,
                     name, record, cloud.log(name), timeout)
