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

"""Run a real placement server on 127.0.0.1 (sqlite, noauth2).

``PlacementServer`` starts ``placement.wsgi.api`` in a child process on a
free port, after ``placement-manage db sync``, and stops it again. It is the
same placement an operator runs, only with a throwaway database.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

ADMIN_TOKEN = 'admin'  # noauth2 treats this token as an admin.

_CONF_TEMPLATE = """\
[DEFAULT]
debug = false
log_file = {log_file}

[api]
auth_strategy = noauth2

[placement_database]
connection = sqlite:///{db}
"""


def free_port():
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class PlacementServer(object):
    """A placement API process bound to 127.0.0.1 on a free port."""

    def __init__(self, workdir=None, port=None):
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix='hvc-placement-')
        self.port = port
        self._proc = None

    @property
    def endpoint(self):
        return 'http://127.0.0.1:%d' % self.port

    @property
    def log_file(self):
        return os.path.join(self.workdir, 'placement.log')

    def start(self, timeout=60):
        os.makedirs(self.workdir, exist_ok=True)
        conf = os.path.join(self.workdir, 'placement.conf')
        with open(conf, 'w') as f:
            f.write(_CONF_TEMPLATE.format(
                db=os.path.join(self.workdir, 'placement.sqlite'),
                log_file=self.log_file))
        subprocess.run(
            [_bin('placement-manage'), '--config-file', conf, 'db', 'sync'],
            check=True, stdout=subprocess.DEVNULL)
        self.port = self.port or free_port()
        env = dict(os.environ, OS_PLACEMENT_CONFIG_DIR=self.workdir)
        self._proc = subprocess.Popen(
            [sys.executable, '-m', 'hvc_localcloud.placement_server', 'serve',
             str(self.port)],
            env=env, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.workdir, 'server.err'), 'w'))
        self._wait_until_up(timeout)
        return self

    def _wait_until_up(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    'placement exited with %s; see %s' %
                    (self._proc.returncode, self.workdir))
            try:
                requests.get(self.endpoint, timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError('placement did not answer within %ss' % timeout)

    def stop(self):
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def admin_adapter(endpoint):
    """A keystoneauth adapter with noauth2's admin token."""
    from keystoneauth1 import adapter
    from keystoneauth1.loading import get_plugin_loader
    from keystoneauth1 import session

    auth = get_plugin_loader('admin_token').load_from_options(
        endpoint=endpoint, token=ADMIN_TOKEN)
    return adapter.Adapter(session.Session(auth=auth),
                           service_type='placement')


def _bin(name):
    """A console script of the running interpreter's environment."""
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    return candidate if os.path.exists(candidate) else name


def _serve(port):
    """Serve placement's WSGI app; runs in the child process."""
    from wsgiref import simple_server

    from placement.wsgi import api

    class QuietHandler(simple_server.WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = simple_server.make_server(
        '127.0.0.1', port, api.application, handler_class=QuietHandler)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    server.serve_forever()


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == 'serve':
        _serve(int(sys.argv[2]))
    else:
        sys.exit('usage: python -m hvc_localcloud.placement_server serve PORT')
