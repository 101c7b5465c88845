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

"""hvc-placement-sync as an operator runs it."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import yaml

from hvc_localcloud import placement_server
import hvc_names
from hvc_sim import state as sim_state
from tests import fixtures as hvc_fixtures

BIN = os.path.dirname(sys.executable)


def run(*args, timeout=120):
    return subprocess.run([os.path.join(BIN, args[0])] + list(args[1:]),
                          capture_output=True, text=True, timeout=timeout)


class TestSyncCommand(hvc_fixtures.PlacementTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(hvc_fixtures.fixtures.TempDir()).path

    def _inventory(self, cluster, **volume_overrides):
        path = os.path.join(self.tmp, 'clusters.yaml')
        volumes = [dict({'id': v.id, 'name': v.name,
                         'total_gb': v.total_gb}, **volume_overrides)
                   for v in cluster.shared_volumes]
        with open(path, 'w') as f:
            yaml.safe_dump({'clusters': [{
                'name': cluster.name, 'nodes': list(cluster.nodes),
                'shared_volumes': volumes}]}, f)
        return path

    def _sync(self, *args, **opts):
        return run('hvc-placement-sync', '--config-file',
                   self.conf_file(**opts), *args)

    def _owned(self, cluster):
        client = self.client()
        return [v for v in cluster.shared_volumes if client.get_provider(
            hvc_names.provider_uuid(cluster.name, v.id))]

    def test_once_converges_and_report_shows_it(self):
        cluster = self.cluster(volumes=(('Volume1', 500), ('Volume2', 100)))
        inventory = self._inventory(cluster)
        result = self._sync('--once', inventory_file=inventory)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('create provider hyperv-csv:%s:Volume1' % cluster.name,
                      result.stdout)
        again = self._sync('--once', inventory_file=inventory)
        self.assertEqual(0, again.returncode, again.stderr)
        self.assertIn('nothing to change', again.stdout)
        report = self._sync('report', inventory_file=inventory)
        self.assertEqual(0, report.returncode, report.stderr)
        self.assertIn('cluster %s' % cluster.name, report.stdout)
        self.assertRegex(report.stdout,
                         r'csv Volume1 +DISK_GB +0 used / +500 total')
        self.assertIn(', '.join(cluster.nodes), report.stdout)

    def test_once_keeps_its_cache_file(self):
        cluster = self.cluster()
        path = os.path.join(self.tmp, 'seen.json')
        for _ in range(2):
            result = self._sync('--once', cache_file=path,
                                inventory_file=self._inventory(cluster))
            self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('nothing to change', result.stdout)
        with open(path) as f:
            providers = json.load(f)['providers']
        self.assertIn(hvc_names.provider_uuid(cluster.name, 'Volume1-id'),
                      providers)

    def test_dry_run_writes_nothing(self):
        cluster = self.cluster()
        result = self._sync('--dry-run',
                            inventory_file=self._inventory(cluster))
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('would create provider', result.stdout)
        self.assertEqual([], self._owned(cluster))

    def test_bad_inventory_names_the_field_and_writes_nothing(self):
        cluster = self.cluster(volumes=(('Volume1', 500), ('Volume2', 100)))
        path = self._inventory(cluster)
        with open(path) as f:
            data = yaml.safe_load(f)
        data['clusters'][0]['shared_volumes'][1]['total_gb'] = -5
        with open(path, 'w') as f:
            yaml.safe_dump(data, f)
        result = self._sync('--once', inventory_file=path)
        self.assertEqual(1, result.returncode)
        self.assertIn('clusters[0].shared_volumes[1].total_gb', result.stderr)
        self.assertEqual([], self._owned(cluster))

    def test_names_placement_or_nova_refuse_write_nothing(self):
        emoji = self.cluster(volumes=(('Volume1', 500), ('Vol\U0001F600', 9)),
                             create_nodes=False)
        spaced = self.cluster(name=self.unique() + ' ', create_nodes=False)
        for cluster, message in (
                (emoji, 'clusters[0].shared_volumes[1].name: must not '
                        'contain U+1F600, beyond the Basic Multilingual '
                        'Plane'),
                (spaced, 'clusters[0].name: must not begin or end with '
                         'whitespace: nova refuses it')):
            result = self._sync('--once',
                                inventory_file=self._inventory(cluster))
            self._one_line_error(result, message)
            self.assertEqual([], self._owned(cluster))

    def test_missing_inventory_file(self):
        result = self._sync('--once', inventory_file='/nonexistent.yaml')
        self.assertEqual(1, result.returncode)
        self.assertIn('cannot read inventory file /nonexistent.yaml',
                      result.stderr)

    def _one_line_error(self, result, message):
        self.assertEqual(1, result.returncode, result.stderr)
        self.assertEqual(1, len(result.stderr.strip().splitlines()),
                         result.stderr)
        self.assertIn(message, result.stderr)

    def test_endpoint_that_is_not_placement(self):
        inventory = self._inventory(self.cluster(create_nodes=False))
        for status, content_type, body in (
                (404, 'text/html', b'<html>Not Found</html>'),
                (200, 'text/html', b'<html>Welcome</html>'),
                (200, 'application/json', b'{"versions": []}'),
                # A real placement under a wrong path prefix.
                (404, 'application/json',
                 b'{"errors": [{"status": 404, "title": "Not Found"}]}')):
            endpoint = self._fake_endpoint(status, content_type, body)
            for action in ('--once', 'report'):
                result = self._sync(action, inventory_file=inventory,
                                    endpoint=endpoint)
                self._one_line_error(result, '%s is not placement: GET '
                                             % endpoint)
                self.assertNotIn('no shared volume providers', result.stdout)

    def _fake_endpoint(self, status, content_type, body):
        """A web server that answers everything the same way."""
        class Handler(hvc_fixtures.QuietHandler):
            def do_GET(self):
                self.send_response(status)
                self.send_header('Content-Type', content_type)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return hvc_fixtures.serve_http(self, Handler)

    def test_sizes_beyond_64_bits(self):
        cluster = self.cluster(create_nodes=False)
        for field, value in (('total_gb', 2 ** 63), ('reserved_gb', 2 ** 64),
                             ('allocation_ratio', 10 ** 400)):
            result = self._sync('--once', inventory_file=self._inventory(
                cluster, **{field: value}))
            self._one_line_error(
                result, 'clusters[0].shared_volumes[0].%s: must be' % field)

    def test_broken_simulated_state_file(self):
        good = os.path.join(self.tmp, 'good.db')
        sim_state.ClusterState(good).init('broken', ['b-node1'],
                                          [('Volume1', 50)])
        with open(good, 'rb') as f:
            head = f.read(3000)
        for name, content in (('junk.db', b'not a database at all\n' * 50),
                              ('truncated.db', head)):
            path = os.path.join(self.tmp, name)
            with open(path, 'wb') as f:
                f.write(content)
            result = self._sync('--once', source='simulated',
                                simulated_state_file=path)
            self._one_line_error(result, path)

    def test_placement_down(self):
        cluster = self.cluster(create_nodes=False)
        dead = 'http://127.0.0.1:%d' % placement_server.free_port()
        result = self._sync('--once', inventory_file=self._inventory(cluster),
                            endpoint=dead)
        self.assertEqual(1, result.returncode)
        self.assertIn('cannot reach placement at %s' % dead, result.stderr)

    def test_forbidden_token_is_a_clear_error_and_never_logged(self):
        cluster = self.cluster(create_nodes=False)
        secret = 'not-an-admin-7f3a9c'
        # keystoneauth's request logging on, headers and all.
        result = run('hvc-placement-sync', '--config-file', self.conf_file(
            token=secret, inventory_file=self._inventory(cluster),
            defaults=['default_log_levels = keystoneauth=DEBUG']),
            '--once', '--debug')
        self.assertEqual(1, result.returncode)
        self.assertIn('placement refused our credentials (HTTP 403',
                      result.stderr)
        self.assertIn('X-Auth-Token', result.stderr)  # logging did run
        self.assertNotIn(secret, result.stderr + result.stdout)

    def test_missing_auth_is_a_configuration_error(self):
        path = self.conf_file(inventory_file=self._inventory(self.cluster(
            create_nodes=False)), manage_host_aggregates=True)
        result = run('hvc-placement-sync', '--config-file', path, '--once')
        self.assertEqual(2, result.returncode)
        self.assertIn('[nova] auth_type is not set', result.stderr)

    def test_unknown_option_value(self):
        result = self._sync('--once', source='nowhere')
        self.assertEqual(2, result.returncode)
        self.assertIn('nowhere', result.stderr)

    def test_bad_command_line_value_is_bad_usage(self):
        for args in (['--once', '--interval', '0'], ['--no-such-option']):
            result = self._sync(*args)
            self.assertEqual(2, result.returncode, (args, result.stderr))

    def test_incomplete_placement_options_exit_2_with_one_line(self):
        admin = 'auth_type = admin_token'
        cases = [
            (['auth_type = password', 'auth_url = http://127.0.0.1:9/v3',
              'username = sync'], 'auth_type = password needs password'),
            ([admin, 'token = admin'], 'admin_token needs endpoint'),
            ([admin, 'endpoint = %s' % self.endpoint, 'token = admin',
              'timeout = -1'], 'timeout must be more than 0 seconds'),
        ]
        inventory = self._inventory(self.cluster(create_nodes=False))
        for lines, message in cases:
            result = self._sync('--once', inventory_file=inventory,
                                placement=lines)
            self.assertEqual(2, result.returncode, result.stderr)
            self.assertEqual(1, len(result.stderr.strip().splitlines()),
                             result.stderr)
            self.assertIn(message, result.stderr)


class TestPeriodic(hvc_fixtures.PlacementTestCase):
    """Periodic mode rides out an outage and stops cleanly on SIGTERM."""

    def test_survives_outage_and_stops_on_sigterm(self):
        port = placement_server.free_port()
        tmp = self.useFixture(hvc_fixtures.fixtures.TempDir()).path
        state = os.path.join(tmp, 'sim.db')
        sim_state.ClusterState(state).init('periodic', ['p-node1'],
                                           [('Volume1', 50)])
        conf = self.conf_file('http://127.0.0.1:%d' % port,
                              source='simulated', simulated_state_file=state,
                              max_backoff=1)
        log = os.path.join(tmp, 'sync.log')
        proc = subprocess.Popen(
            [os.path.join(BIN, 'hvc-placement-sync'), '--config-file', conf,
             '--interval', '1', '--log-file', log],
            stderr=subprocess.DEVNULL)  # the log file has it all
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        self._wait_for(lambda: 'sync failed, next try' in _read(log))
        with placement_server.PlacementServer(port=port):
            client = self.client_for('http://127.0.0.1:%d' % port)
            self._wait_for(lambda: client.list_providers(
                name='hyperv-csv:periodic:Volume1'))
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(0, proc.wait(15))
        self.assertIn('stopped', _read(log))

    def _hung(self, *args):
        """Periodic mode with ``args``, its request to placement in flight
        and never answered: (its process, its log file).
        """
        hung = socket.create_server(('127.0.0.1', 0))
        self.addCleanup(hung.close)
        hung.settimeout(60)
        tmp = self.useFixture(hvc_fixtures.fixtures.TempDir()).path
        inventory = os.path.join(tmp, 'clusters.yaml')
        with open(inventory, 'w') as f:
            yaml.safe_dump({'clusters': [{
                'name': 'hung', 'nodes': ['h-node1'], 'shared_volumes': [
                    {'id': 'v1', 'name': 'Volume1', 'total_gb': 50}]}]}, f)
        log = os.path.join(tmp, 'sync.log')
        proc = subprocess.Popen(
            [os.path.join(BIN, 'hvc-placement-sync'), '--config-file',
             self.conf_file('http://127.0.0.1:%d' % hung.getsockname()[1],
                            inventory_file=inventory),
             '--interval', '1', '--log-file', log] + list(args),
            stderr=subprocess.DEVNULL)  # the log file has it all
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        conn, _addr = hung.accept()
        self.addCleanup(conn.close)
        self.assertTrue(conn.recv(1))  # the request is in flight
        return proc, log

    def test_sigterm_during_a_hung_request_stops_at_once(self):
        proc, log = self._hung()
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(0, proc.wait(15))
        self.assertLess(time.monotonic() - start, 5)
        self.assertIn('stopped', _read(log))

    def test_its_stop_file_stops_it_as_sigterm_does(self):
        # How a scheduled task on Windows is stopped cleanly.
        stop_file = os.path.join(
            self.useFixture(hvc_fixtures.fixtures.TempDir()).path, 'stop')
        proc, log = self._hung('--stop-file', stop_file)
        start = time.monotonic()
        open(stop_file, 'w').close()
        self.assertEqual(0, proc.wait(15))
        self.assertLess(time.monotonic() - start, 5)
        self.assertFalse(os.path.exists(stop_file))
        self.assertIn('stop file %s found: stopping' % stop_file, _read(log))
        self.assertIn('stopped', _read(log))

    def client_for(self, endpoint):
        from placement_sync import placement as placement_client
        return placement_client.PlacementClient(
            placement_server.admin_adapter(endpoint))

    def _wait_for(self, predicate, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        self.fail('condition not met within %ss' % timeout)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ''


class TestOperatorConventions(hvc_fixtures.PlacementTestCase):
    """report beside the volume's truth; credentials from clouds.yaml and
    OS_* variables, and which wins.
    """

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(hvc_fixtures.fixtures.TempDir()).path
        self.state = os.path.join(self.tmp, 'sim.db')
        self.name = self.unique()
        sim_state.ClusterState(self.state).init(
            self.name, ['%s-node1' % self.name], [('Volume1', 100)])
        self.sim = sim_state.ClusterState(self.state)
        # No clouds.yaml or OS_* variable of this machine leaks in.
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith('OS_')}
        self.env['OS_CLIENT_CONFIG_FILE'] = os.path.join(self.tmp,
                                                         'none.yaml')

    def _run(self, *args, env=None, placement=None):
        conf = self.conf_file(source='simulated',
                              simulated_state_file=self.state,
                              reserve_headroom_gb=5, placement=placement)
        return subprocess.run(
            [os.path.join(BIN, 'hvc-placement-sync'), '--config-file', conf] +
            list(args), capture_output=True, text=True, timeout=120,
            env=dict(self.env, **(env or {})))

    def _clouds_yaml(self, **clouds):
        path = os.path.join(self.tmp, 'clouds.yaml')
        with open(path, 'w') as f:
            yaml.safe_dump({'clouds': {
                name: {'auth_type': 'admin_token',
                       'auth': {'endpoint': endpoint, 'token': token}}
                for name, (endpoint, token) in clouds.items()}}, f)
        return {'OS_CLIENT_CONFIG_FILE': path}

    def test_report_shows_the_volume_beside_placement(self):
        self.assertEqual(0, self._run('--once').returncode)
        self.sim.add_file('Volume1', 'backups/a.bak',
                          sim_state.parse_size('30G'))
        report = self._run('report')
        self.assertEqual(0, report.returncode, report.stderr)
        self.assertRegex(report.stdout, r'csv Volume1 +DISK_GB +0 used / +100 '
                                        r'total \(5 reserved, 95 free\)')
        self.assertRegex(report.stdout, r'volume +30.0 GB used, 70.0 GB '
                                        r'free; 30.0 GB outside nova')
        self.assertIn('WARNING: csv Volume1 of cluster %s: placement '
                      'reserves 5 GB but the volume holds 30.0 GB outside '
                      'nova\'s allocations (a sync reserves 35 GB): '
                      'placement offers 95 GB but the volume has 70.0 GB '
                      'free' % self.name, report.stdout)
        as_json = self._run('report', '--format', 'json')
        self.assertEqual(0, as_json.returncode, as_json.stderr)
        data = json.loads(as_json.stdout)
        [cluster] = [c for c in data['clusters'] if c['name'] == self.name]
        [csv] = cluster['shared_volumes']
        self.assertEqual(
            {'used_gb': 0, 'reserved_gb': 5, 'total_gb': 100, 'free_gb': 95,
             'volume': {'used_gb': 30.0, 'free_gb': 70.0,
                        'outside_nova_gb': 30.0, 'wanted_reserved_gb': 35}},
            {k: csv[k] for k in ('used_gb', 'reserved_gb', 'total_gb',
                                 'free_gb', 'volume')})
        self.assertEqual(1, len([w for w in data['warnings']
                                 if self.name in w]))
        # Once synced, they agree: no warning.
        self.assertEqual(0, self._run('--once').returncode)
        data = json.loads(self._run('report', '--format', 'json').stdout)
        self.assertEqual([], [w for w in data['warnings'] if self.name in w])

    def test_credentials_from_clouds_yaml_and_os_variables(self):
        uuid_of = hvc_names.provider_uuid
        volume_id = self.sim.volume('Volume1').id
        env = self._clouds_yaml(test=(self.endpoint, 'admin'))
        # No [placement] options at all.
        by_cloud = self._run('--once', '--os-cloud', 'test', env=env,
                             placement=[])
        self.assertEqual(0, by_cloud.returncode, by_cloud.stderr)
        self.assertIsNotNone(self.client().get_provider(
            uuid_of(self.name, volume_id)))
        by_os_cloud = self._run('report', env=dict(env, OS_CLOUD='test'),
                                placement=[])
        self.assertEqual(0, by_os_cloud.returncode, by_os_cloud.stderr)
        self.assertIn('cluster %s' % self.name, by_os_cloud.stdout)
        openrc = {'OS_AUTH_TYPE': 'admin_token', 'OS_ENDPOINT': self.endpoint,
                  'OS_TOKEN': 'admin'}
        by_env = self._run('--once', env=openrc, placement=[])
        self.assertEqual(0, by_env.returncode, by_env.stderr)
        self.assertNotIn('create provider', by_env.stdout)  # done already
        none = self._run('--once', placement=[])
        self.assertEqual(2, none.returncode)
        self.assertIn('[placement] auth_type is not set, and neither '
                      '--os-cloud, OS_CLOUD nor OS_* variables give '
                      'credentials', none.stderr)
        unknown = self._run('--once', '--os-cloud', 'nope', env=env)
        self.assertEqual(2, unknown.returncode)
        self.assertEqual(1, len(unknown.stderr.strip().splitlines()),
                         unknown.stderr)
        self.assertIn('cloud nope was not found', unknown.stderr.lower())

    def test_precedence(self):
        dead = 'http://127.0.0.1:%d' % placement_server.free_port()
        secret = 'cloud-secret-5e1d'
        env = self._clouds_yaml(good=(self.endpoint, 'admin'),
                                dead=(dead, secret))
        openrc = {'OS_AUTH_TYPE': 'admin_token', 'OS_ENDPOINT': dead,
                  'OS_TOKEN': secret}
        # --os-cloud beats [placement] (which names a dead endpoint).
        result = self._run('--once', '--os-cloud', 'good', env=env,
                           placement=['auth_type = admin_token',
                                      'endpoint = %s' % dead,
                                      'token = admin'])
        self.assertEqual(0, result.returncode, result.stderr)
        # [placement] beats OS_CLOUD and OS_* variables.
        result = self._run('--once', env=dict(env, OS_CLOUD='dead', **openrc))
        self.assertEqual(0, result.returncode, result.stderr)
        # OS_CLOUD beats the OS_* variables, as in openstacksdk.
        result = self._run('--once', env=dict(env, OS_CLOUD='good', **openrc),
                           placement=[])
        self.assertEqual(0, result.returncode, result.stderr)
        result = self._run('--once', env=dict(env, OS_CLOUD='dead'),
                           placement=[])
        self.assertEqual(1, result.returncode)
        self.assertIn('cannot reach placement at %s' % dead, result.stderr)
        self.assertNotIn(secret, result.stdout + result.stderr)

    def test_broken_clouds_yaml_and_openrc_exit_2_with_one_line(self):
        path = os.path.join(self.tmp, 'broken.yaml')
        admin = {'auth_type': 'admin_token',
                 'auth': {'endpoint': self.endpoint, 'token': 'admin'}}
        openrc = {'OS_AUTH_URL': 'http://127.0.0.1:9/v3',
                  'OS_USERNAME': 'sync', 'OS_PROJECT_NAME': 'service'}
        cases = [
            ({'clouds': [dict(admin, name='test')]}, {},
             '%s: clouds must be a mapping of cloud names' % path),
            ({'clouds': {'test': dict(admin, api_timeout='abc')}}, {},
             "cloud test (for [placement]): api_timeout must be a number "
             "of seconds more than 0, got 'abc'"),
            ({'clouds': {'test': dict(admin, api_timeout=-5)}}, {},
             'api_timeout must be a number of seconds more than 0, got -5'),
            (None, openrc, 'the OS_* variables (for [placement]): auth type '
                           'password needs OS_PASSWORD'),
        ]
        for clouds, env, message in cases:
            if clouds is not None:
                with open(path, 'w') as f:
                    yaml.safe_dump(clouds, f)
                env = {'OS_CLIENT_CONFIG_FILE': path}
            result = self._run('--once', env=env, placement=[])
            self.assertEqual(2, result.returncode, result.stderr)
            self.assertEqual(1, len(result.stderr.strip().splitlines()),
                             result.stderr)
            self.assertIn(message, result.stderr)
