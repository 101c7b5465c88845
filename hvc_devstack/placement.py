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
# The owner of the instances the demo and the benchmarks "boot".
PROJECT = '9d0c0f4c-5e43-4a8a-a1e0-3f0c9a6c1a11'
USER = '3b1f6b53-7a0e-4f0a-9c2e-5b1d2a8e4c22'

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
            [sys.executable, '-m', 'hvc_devstack.placement', 'serve',
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


def create_compute_node(client, name, vcpus=16, memory_mb=65536,
                        disk_gb=None, rp_uuid=None):
    """A compute node provider as nova-compute makes it.

    The Hyper-V cluster driver reports no DISK_GB; ``disk_gb`` makes the
    provider compute-hyperv would have made instead (the whole CSV).
    """
    import uuid as uuid_mod

    rp_uuid = rp_uuid or str(uuid_mod.uuid4())
    gen = client.create_provider(rp_uuid, name)['generation']
    inventories = {
        'VCPU': {'total': vcpus, 'allocation_ratio': 4.0},
        'MEMORY_MB': {'total': memory_mb, 'reserved': 512,
                      'allocation_ratio': 1.0},
    }
    if disk_gb:
        inventories['DISK_GB'] = {'total': disk_gb, 'max_unit': disk_gb}
    client.set_inventories(rp_uuid, gen, inventories)
    return rp_uuid


def schedule(client, resources, node_names, preferred=None):
    """Choose an allocation candidate as nova's scheduler would.

    ``node_names`` maps compute node provider uuids to names. The choice is
    the candidate on ``preferred`` if there is one, else on the first node
    by name (placement's own order varies from process to process).
    Returns (node name, allocation request), or (None, None): NoValidHost.
    """
    query = ','.join('%s:%d' % kv for kv in sorted(resources.items()))
    by_node = {}
    for candidate in client.request(
            'GET', '/allocation_candidates?resources=' + query)[
                'allocation_requests']:
        node = next(node_names[rp] for rp in candidate['allocations']
                    if rp in node_names)
        by_node.setdefault(node, candidate)
    if not by_node:
        return None, None
    node = preferred if preferred in by_node else min(by_node)
    return node, by_node[node]


def claim(client, allocation_request, consumer):
    """What the scheduler then writes: the chosen candidate's allocations
    for a new instance ``consumer``."""
    client.request('PUT', '/allocations/%s' % consumer, dict(
        allocation_request, project_id=PROJECT, user_id=USER,
        consumer_generation=None, consumer_type='INSTANCE'))


def release(client, consumer):
    client.request('DELETE', '/allocations/%s' % consumer)


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
        sys.exit('usage: python -m hvc_devstack.placement serve PORT')
