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

"""Shared test fixtures: a real placement server, sync helpers."""

import http.server
import importlib.metadata
import threading
import uuid

import fixtures
from oslo_config import cfg
import testtools

from hvc_demo import scheduler_standin
from hvc_localcloud import placement_server
from placement_sync import conf as sync_conf
from placement_sync import model
from placement_sync import placement as placement_client
from placement_sync import reconcile


class PlacementTestCase(testtools.TestCase):
    """One real placement server for all the tests of a class.

    Tests keep apart by using their own cluster names (``unique``).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = placement_server.PlacementServer().start()
        cls.endpoint = cls.server.endpoint

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        super().tearDownClass()

    def client(self):
        return placement_client.PlacementClient(
            placement_server.admin_adapter(self.endpoint))

    def conf_file(self, endpoint=None, token=placement_server.ADMIN_TOKEN,
                  defaults=(), placement=None, **sync_opts):
        """A config file as an operator writes it; returns its path.

        ``defaults``: lines for its [DEFAULT] section; ``placement``:
        lines for its [placement] section (default: noauth2's admin
        token for ``endpoint``).
        """
        sync_opts.setdefault('manage_host_aggregates', False)
        if placement is None:
            placement = ['auth_type = admin_token',
                         'endpoint = %s' % (endpoint or self.endpoint),
                         'token = %s' % token]
        lines = ['[DEFAULT]'] + list(defaults) + ['[placement_sync]']
        lines += ['%s = %s' % kv for kv in sorted(sync_opts.items())]
        lines += ['[placement]'] + list(placement)
        path = self.useFixture(fixtures.TempDir()).join('sync.conf')
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        return path

    def conf(self, endpoint=None, **sync_opts):
        conf = cfg.ConfigOpts()
        sync_conf.register_opts(conf)
        conf(['--config-file', self.conf_file(endpoint, **sync_opts)],
             project='hvc-test', default_config_files=[])
        return conf

    def reconciler(self, dry_run=False):
        return reconcile.Reconciler(self.client(), dry_run=dry_run)

    def unique(self, prefix='cluster'):
        return '%s-%s' % (prefix, uuid.uuid4().hex[:8])

    def cluster(self, name=None, nodes=3, volumes=(('Volume1', 500),),
                create_nodes=True):
        """A model.Cluster; its compute node providers made as nova would."""
        name = name or self.unique()
        node_names = tuple('%s-node%d' % (name, i + 1) for i in range(nodes))
        if create_nodes:
            client = self.client()
            for node in node_names:
                scheduler_standin.create_compute_node(client, node)
        return model.Cluster(
            name=name, nodes=node_names,
            shared_volumes=tuple(
                model.SharedVolume(id='%s-id' % vname, name=vname,
                                   total_gb=size)
                for vname, size in volumes))


def nova_api_paste_ini():
    """The api-paste.ini the nova wheel installs (under sys.prefix/etc).

    Nova's conf fixture looks for it under $state_path, which is
    site-packages for an installed nova.
    """
    for path in importlib.metadata.distribution('nova').files or ():
        if str(path).endswith('etc/nova/api-paste.ini'):
            return str(path.locate())
    raise RuntimeError('the nova distribution ships no etc/nova/'
                       'api-paste.ini; nova\'s API fixture needs it')


def nova_compute_proxy(api_fixture):
    """openstacksdk's compute proxy on nova's in-process API (the admin
    API of nova's test harness, which trusts headers in place of
    keystone).
    """
    from keystoneauth1.loading import get_plugin_loader
    from keystoneauth1 import session as ks_session
    from openstack import connection

    api = api_fixture.admin_api
    auth = get_plugin_loader('admin_token').load_from_options(
        endpoint=api.base_url, token='admin')
    sess = ks_session.Session(auth=auth, additional_headers={
        'X-Auth-User': 'admin', 'X-Auth-Project-Id': api.project_id,
        'X-Roles': 'reader,member,admin'})
    return connection.Connection(session=sess).compute


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that keeps its access log out of the results."""

    def log_message(self, *args):
        pass


def serve_http(test, handler_class):
    """Serve handler_class on a free port of 127.0.0.1 until the test ends.

    Returns the server's URL.
    """
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    test.addCleanup(server.server_close)
    test.addCleanup(server.shutdown)
    return 'http://127.0.0.1:%d' % server.server_port
