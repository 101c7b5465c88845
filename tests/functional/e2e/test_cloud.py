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

"""End to end: the local cloud, driven through the ``openstack`` CLI and
openstacksdk only.

One cloud (``python -m hvc_localcloud start`` in a temporary folder) serves
every test of this module: MariaDB, RabbitMQ, keystone, placement, glance,
neutron, nova's services with one real ``nova-compute`` per node of two
simulated clusters of one simulated world (hv-a1..3 on cluster-a, hv-b1..2
on cluster-b), each in native-threading mode driving the node's own
``hvc-agent`` over HTTPS with a client certificate, the project's
scheduler plugins, and ``hvc-placement-sync``
in periodic mode. A watchdog process stops the cloud
when the test process ends in any way (a failure, an interrupt, a kill);
tearDownClass stops it first on a normal end.

.stestr.conf keeps these tests on one stestr worker, so that they share
the cloud.
"""

import concurrent.futures
import datetime
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.parse

import fixtures
import psutil
import requests
import testtools

from hvc_localcloud import agents
from hvc_localcloud import cloud as cloud_mod
from hvc_localcloud import neutron
from hvc_localcloud import pki
from hvc_localcloud import procs
from tests.localcloud import leaks

BIN = os.path.dirname(sys.executable)
# How long a server may take to get where it is going.
WAIT = 180


def _flavor_name(disk):
    return 'e2e.disk%d' % disk


class CloudTestCase(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix='hvc-e2e-')
        cls.root = os.path.join(cls.tmp, 'cloud')
        # The watchdog first: it stops whatever the cloud started, even a
        # cloud that is still starting, once this process is gone.
        cls.watchdog = procs.spawn(
            [sys.executable, '-m', 'hvc_localcloud', 'stop', '--root',
             cls.root, '--after-pid', str(os.getpid())],
            os.path.join(cls.tmp, 'watchdog.log'))
        try:
            proc = subprocess.run(
                [sys.executable, '-m', 'hvc_localcloud', 'start', '--root',
                 cls.root] + cls.start_args(),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                timeout=900)
            if proc.returncode:
                raise RuntimeError('the cloud did not start:\n%s'
                                   % proc.stdout)
            cls.cloud = cloud_mod.Cloud(cls.root)
            cls.conn = cls.cloud.admin_connection()
            cls.providers = {}
            cls.env = dict(os.environ, PATH=BIN + os.pathsep +
                           os.environ.get('PATH', ''))
            for line in cls.cloud.openrc_lines():
                if line.startswith('export OS_'):
                    key, _sep, value = line[len('export '):].partition('=')
                    cls.env[key] = value
        except BaseException:
            cls._stop_cloud(keep=True)
            raise

    @classmethod
    def start_args(cls):
        return []

    @classmethod
    def tearDownClass(cls):
        cls._stop_cloud()
        super().tearDownClass()

    @classmethod
    def _stop_cloud(cls, keep=False):
        subprocess.run([sys.executable, '-m', 'hvc_localcloud', 'stop',
                        '--root', cls.root], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=300)
        procs.stop(cls.watchdog)
        # A cloud that did not start keeps its logs (the error names them).
        if not keep:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # The CLI.

    def openstack(self, *args, fmt='json'):
        """Run the openstack CLI; its JSON output (or text) on success."""
        argv = ['openstack'] + list(args)
        if fmt:
            argv += ['-f', fmt]
        proc = subprocess.run(argv, env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=300)
        if proc.returncode:
            self.fail('%s failed (exit %d):\n%s' % (
                ' '.join(argv), proc.returncode, proc.stderr[-3000:]))
        return json.loads(proc.stdout) if fmt == 'json' else proc.stdout

    def hvc_sim(self, cluster, *args):
        return subprocess.run(
            [os.path.join(BIN, 'hvc-sim'), '--state', cluster.state_file] +
            list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, check=True, timeout=60).stdout

    def sim_vms(self, cluster):
        return {vm['name']: vm
                for vm in json.loads(self.hvc_sim(cluster, 'vms', '--json'))}

    # Helpers.

    def cluster_of(self, host):
        for cluster in self.cloud.clusters:
            if host in cluster.nodes:
                return cluster
        self.fail('%s is no node of the clusters' % host)

    def provider(self, name):
        """The uuid of the provider ``name`` (looked up once: a provider
        keeps its uuid for the cloud's life).
        """
        if name not in self.providers:
            found = self.openstack('resource provider list', '--name', name)
            self.assertEqual(1, len(found), name)
            self.providers[name] = found[0]['uuid']
        return self.providers[name]

    def csv_provider(self, cluster):
        return self.provider('hyperv-csv:%s:%s' % (cluster.name,
                                                   cluster.volumes[0][0]))

    def allocations(self, server_id):
        """{provider uuid: {resource class: amount}} of a consumer, read
        through openstacksdk (each `openstack` command costs its own
        Python start; tests/functional/test_openstack_cli.py shows that
        the CLI reads the same).
        """
        answer = self.conn.placement.get('/allocations/%s' % server_id,
                                         microversion='1.28')
        self.assertEqual(200, answer.status_code, answer.text)
        return {rp: a['resources']
                for rp, a in answer.json()['allocations'].items()}

    def disk_used(self, provider):
        """The DISK_GB used on a provider (read through openstacksdk)."""
        answer = self.conn.placement.get(
            '/resource_providers/%s/usages' % provider, microversion='1.9')
        self.assertEqual(200, answer.status_code, answer.text)
        return answer.json()['usages'].get('DISK_GB', 0)

    def flavor(self, disk):
        name = _flavor_name(disk)
        if self.conn.compute.find_flavor(name) is None:
            self.openstack('flavor create', '--vcpus', '1', '--ram', '128',
                           '--disk', str(disk), name)
        return name

    def wait_for(self, server_id, status, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            server = self.conn.compute.get_server(server_id)
            if server.status == status and not server.task_state:
                return server
            if server.status == 'ERROR' and status != 'ERROR':
                self.fail('server %s went to ERROR: %s' % (
                    server_id, server.fault))
            if time.monotonic() > deadline:
                self.fail('server %s is %s (task %s) after %ss, not %s' % (
                    server_id, server.status, server.task_state, timeout,
                    status))
            time.sleep(1)

    def restart(self, name):
        """Start a process of the cloud again; fail with its log if it
        does not stay up.
        """
        record = self.cloud.restart(name)
        self.addCleanup(self._check_alive, name, record)
        return record

    def _check_alive(self, name, record):
        if not procs.alive(record):
            log = self.cloud.log(name)
            self.fail('%s died after its restart; %s ends with:\n%s'
                      % (name, log, procs.tail(log, 30)))

    def wait_for_compute(self, host, since, timeout=WAIT):
        """Until the host's nova-compute has reported since ``since``
        (a UTC datetime).
        """
        name = 'nova-compute-' + host
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive(name, self.cloud.processes()[name])
            services = list(self.conn.compute.services(
                binary='nova-compute', host=host))
            if (services and services[0].updated_at and
                    datetime.datetime.fromisoformat(
                        services[0].updated_at.rstrip('Z')) > since):
                return
            self.assertLess(time.monotonic(), deadline,
                            '%s not up after its restart' % name)
            time.sleep(1)

    def boot(self, name, flavor='hvc.tiny', wait=True, network=None,
             image=cloud_mod.IMAGE_NAME):
        """A server with no port, or with a port on ``network``."""
        args = ['server create', '--image', image,
                '--flavor', flavor] + (
            ['--network', network] if network else ['--nic', 'none']) + [
            name]
        if wait:
            args.insert(1, '--wait')
        server = self.openstack(*args)
        self.addCleanup(self._delete_quietly, server['id'])
        return server

    def assert_port_bound(self, server, count=1, timeout=60):
        """The server's ``count`` ports are ACTIVE and bound to its node,
        VIF type hyperv, and the node's VM has their vNICs on the virtual
        switch (read through neutron's API and hvc-sim).
        """
        host = server['OS-EXT-SRV-ATTR:host']
        deadline = time.monotonic() + timeout
        while True:
            ports = list(self.conn.network.ports(device_id=server['id']))
            seen = {p.id: (p.status, p.binding_host_id, p.binding_vif_type)
                    for p in ports}
            if len(ports) == count and set(seen.values()) == {
                    ('ACTIVE', host, neutron.VIF_TYPE)}:
                break
            self.assertLess(time.monotonic(), deadline,
                            'ports of %s are %s, not %d ACTIVE on %s' % (
                                server['id'], seen, count, host))
            time.sleep(1)
        vm = self.sim_vms(self.cluster_of(host))[
            server['OS-EXT-SRV-ATTR:instance_name']]
        self.assertEqual(sorted((p, neutron.VSWITCH) for p in seen),
                         sorted((n['name'], n['vswitch'])
                                for n in vm['nics']))
        return ports

    def _delete_quietly(self, server_id):
        try:
            self.conn.compute.delete_server(server_id, ignore_missing=True)
            self.conn.compute.wait_for_delete(
                self.conn.compute.get_server(server_id), wait=WAIT)
        except Exception:  # noqa: S110 - gone already
            pass

    def delete(self, server_id):
        self.openstack('server delete', '--wait', server_id, fmt=None)
        self.assertEqual({}, self.allocations(server_id))

    def assert_placed(self, server, disk_gb, vcpu=1, memory_mb=128,
                      cluster=None):
        """On a node of a cluster: VCPU and MEMORY_MB on the node's
        provider, DISK_GB on its cluster's CSV provider, the VM in the
        simulated cluster on that node.
        """
        host = server['OS-EXT-SRV-ATTR:host']
        cluster = cluster or self.cluster_of(host)
        self.assertEqual({
            self.provider(host): {'VCPU': vcpu, 'MEMORY_MB': memory_mb},
            self.csv_provider(cluster): {'DISK_GB': disk_gb},
        }, self.allocations(server['id']))
        vm = self.sim_vms(cluster)[server['OS-EXT-SRV-ATTR:instance_name']]
        self.assertEqual(host, vm['node'])
        return cluster, vm

    def assert_moved_to_cluster(self, server, cluster, left):
        """Placed on ``cluster``, its disks on that cluster's CSV, none of
        its DISK_GB left on the CSV of the cluster it ``left``.
        """
        _cluster, vm = self.assert_placed(server, disk_gb=1)
        csv_folder = os.path.join(
            os.path.splitext(cluster.state_file)[0] + '-storage',
            cluster.name)
        for disk in vm['disks']:
            self.assertTrue(disk['path'].startswith(csv_folder),
                            disk['path'])
        self.assertEqual(0, self.disk_used(self.csv_provider(left)))
        return vm


class TestLocalCloud(CloudTestCase):

    def test_lifecycle(self):
        self.assertIn(cloud_mod.IMAGE_NAME, [
            i['Name'] for i in self.openstack('image list')])
        server = self.boot('e2e-lifecycle')
        self.assertEqual('ACTIVE', server['status'])
        cluster, vm = self.assert_placed(server, disk_gb=1)
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.assertEqual('running', vm['state'])

        self.openstack('server stop', server['id'], fmt=None)
        self.wait_for(server['id'], 'SHUTOFF')
        self.assertEqual('off', self.sim_vms(cluster)[name]['state'])
        self.openstack('server start', server['id'], fmt=None)
        self.wait_for(server['id'], 'ACTIVE')
        self.assertEqual('running', self.sim_vms(cluster)[name]['state'])
        self.openstack('server reboot', '--wait', server['id'], fmt=None)
        self.wait_for(server['id'], 'ACTIVE')
        # Rescued from the same image, then back on its own root disk.
        self.openstack('server rescue', server['id'], fmt=None)
        self.wait_for(server['id'], 'RESCUE')
        self.assertEqual('running', self.sim_vms(cluster)[name]['state'])
        self.openstack('server unrescue', server['id'], fmt=None)
        self.wait_for(server['id'], 'ACTIVE')

        snapshot = self.openstack('server image create', '--wait', '--name',
                                  'e2e-snapshot', server['id'])
        self.addCleanup(self.conn.image.delete_image, snapshot['id'],
                        ignore_missing=True)
        self.assertEqual('active', self.openstack(
            'image show', snapshot['id'])['status'])

        # The simulated VM's serial console log, through nova's API: a
        # guest's boot, to its login prompt.
        console = self.openstack('console log show', server['id'], fmt=None)
        self.assertIn('%s login:' % name, console)
        self.assertGreater(len(console.splitlines()), 5, console)
        # Its serial console, through nova-serialproxy's websocket to the
        # node's agent: the guest's getty answers what is typed.
        url = self.openstack('console url show', '--serial',
                             server['id'])['url']
        self.assertEqual('ws', urllib.parse.urlparse(url).scheme, url)
        self.assertIn(b'%s login: ' % name.encode(),
                      _type_into_console(url, b'root\r'))

        # Diagnostics and the node's uptime, from Hyper-V's own figures.
        diagnostics = self.openstack(
            '--os-compute-api-version', '2.48', 'server show',
            '--diagnostics', server['id'])
        self.assertEqual(
            ('running', 'hyperv', 1, {'maximum': 128, 'used': 128}),
            (diagnostics['state'], diagnostics['driver'],
             diagnostics['num_cpus'], diagnostics['memory_details']),
            diagnostics)
        # The root disk, and the config drive's DVD if it has one.
        self.assertEqual(1 + diagnostics['has_config_drive'],
                         diagnostics['num_disks'])
        hypervisor = self.openstack(
            '--os-compute-api-version', '2.88', 'hypervisor show',
            server['OS-EXT-SRV-ATTR:hypervisor_hostname'])
        # openstack reads the "HH:MM:SS up ..." line into its parts.
        self.assertRegex(hypervisor['uptime'], r'^(\d+ days?, )?\d+:\d\d:\d\d')

        self.delete(server['id'])
        self.assertNotIn(name, self.sim_vms(cluster))
        self.openstack('image delete', snapshot['id'], fmt=None)

    def test_boot_that_would_overfill_the_csv_is_refused(self):
        server = self.boot('e2e-too-big', flavor=self.flavor(disk=1000),
                           wait=False)
        server = self.wait_for(server['id'], 'ERROR')
        self.assertIn('No valid host', server.fault['message'])
        self.delete(server.id)

    def test_grown_csv_is_synced_and_used(self):
        cluster = self.cloud.clusters[1]
        csv = self.csv_provider(cluster)
        self.hvc_sim(cluster, 'resize-csv', '%s=400' % cluster.volumes[0][0],
                     '--cluster', cluster.name)
        deadline = time.monotonic() + 60
        while self.openstack('resource provider inventory show', csv,
                             'DISK_GB')['total'] != 400:
            self.assertLess(time.monotonic(), deadline,
                            'placement_sync did not grow the CSV provider')
            time.sleep(2)
        # Fits only the grown CSV.
        server = self.boot('e2e-big', flavor=self.flavor(disk=300))
        self.assertIn(server['OS-EXT-SRV-ATTR:host'], cluster.nodes)
        self.assert_placed(server, disk_gb=300)
        self.delete(server['id'])

    def test_compute_killed_and_restarted(self):
        server = self.boot('e2e-killed-compute')
        host = server['OS-EXT-SRV-ATTR:host']
        cluster = self.cluster_of(host)
        before = self.allocations(server['id'])
        name = 'nova-compute-' + host
        os.killpg(self.cloud.processes()[name]['pid'], signal.SIGKILL)
        # Asked while its compute is dead; done once it is back.
        self.openstack('server stop', server['id'], fmt=None)
        since = datetime.datetime.utcnow()
        self.restart(name)
        self.wait_for_compute(host, since)
        self.wait_for(server['id'], 'SHUTOFF')
        self.assertEqual('off', self.sim_vms(cluster)[
            server['OS-EXT-SRV-ATTR:instance_name']]['state'])
        self.assertEqual(before, self.allocations(server['id']))
        self.openstack('server start', server['id'], fmt=None)
        self.wait_for(server['id'], 'ACTIVE')
        self.delete(server['id'])

    def test_placement_sync_restarted_while_nova_boots(self):
        names = ['e2e-sync-%d' % i for i in range(4)]
        with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
            booting = [pool.submit(self.boot, n, wait=False) for n in names]
            self.restart(cloud_mod.SYNC)
            servers = [f.result() for f in booting]
        for server in servers:
            server = self.openstack('server show', self.wait_for(
                server['id'], 'ACTIVE').id)
            self.assert_placed(server, disk_gb=1)
        for server in servers:
            self.delete(server['id'])
        for cluster in self.cloud.clusters:
            self.assertEqual(0, self.disk_used(self.csv_provider(cluster)))

    def test_no_password_on_a_command_line_or_in_a_log(self):
        # Every service's log and every set-up command's (keystone-manage
        # bootstrap, nova-manage) so far.
        self.assertEqual([], leaks.find(self.cloud))

    def test_each_nova_compute_drives_its_own_agent_over_tls(self):
        """Every nova-compute runs in nova's default native-threading mode
        with the agent backend, connected to its own hvc-agent, which
        refuses whoever has no client certificate of the cloud's CA.
        """
        status = subprocess.run(
            [sys.executable, '-m', 'hvc_localcloud', 'status', '--root',
             self.root], stdout=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(0, status.returncode, status.stdout)
        processes = self.cloud.processes()
        for cluster in self.cloud.clusters:
            for node in cluster.nodes:
                agent = agents.name(node)
                self.assertRegex(status.stdout, r'\n%s +\d+ +up ' % agent)
                with open(self.cloud.log('nova-compute-' + node)) as log:
                    self.assertIn(
                        'Hyper-V cluster driver: nova host %s plays %s '
                        '(failover cluster; agent backend, native '
                        'threading)' % (node, node), log.read())
                with open(self.cloud.log(agent)) as log:
                    self.assertIn('hvc-agent of %s (simulated backend) '
                                  'serving on 127.0.0.1:%d (HTTPS, client '
                                  'certificates required)'
                                  % (node, self.cloud.ports[agent]),
                                  log.read())
                self.wait_until(
                    lambda: self.cloud.ports[agent] in self._connected_to(
                        processes['nova-compute-' + node]),
                    'nova-compute of %s has no connection to its agent'
                    % node)
                self._assert_refused_without_certificate(node)
        for name in os.listdir(self.cloud.path('pki')):
            if name.endswith('.key'):
                self.assertEqual(0o600, stat.S_IMODE(os.stat(
                    self.cloud.path('pki', name)).st_mode), name)

    @staticmethod
    def _connected_to(record):
        """The local ports a process has TCP connections to."""
        return {c.raddr[1] for c in psutil.Process(
            record['pid']).net_connections('tcp')
            if c.raddr and c.status == psutil.CONN_ESTABLISHED}

    def _assert_refused_without_certificate(self, node):
        url = self.cloud.agents.url(node) + '/v1/host'
        ca_file = self.cloud.agents.pki.ca_file
        # Its nova-compute's certificate: served.
        answer = requests.get(url, verify=ca_file, timeout=30,
                              cert=self.cloud.agents.client_files(node))
        self.assertEqual(node, answer.json()['node'])
        # No certificate, a certificate of another CA, plain HTTP: refused.
        self.assertRaises(requests.exceptions.SSLError, requests.get, url,
                          verify=ca_file, timeout=30)
        rogue = pki.PKI(self.useFixture(fixtures.TempDir()).path,
                        name='rogue-ca')
        self.assertRaises(requests.exceptions.RequestException,
                          requests.get, url, verify=ca_file, timeout=30,
                          cert=rogue.issue('nova-compute-' + node))
        self.assertRaises(requests.exceptions.RequestException,
                          requests.get, url.replace('https:', 'http:'),
                          timeout=30)

    # Moves (the seeded flavors are converted, as targeted moves need).

    def migrate(self, server_id, *args):
        """A move; waits until it is done (VERIFY_RESIZE or ACTIVE)."""
        self.openstack('server migrate', '--wait', server_id, *args,
                       fmt=None)
        return self.openstack('server show', server_id)

    def resized(self, server_id, command):
        """Confirm or revert a move waiting in VERIFY_RESIZE (``command``:
        'server migration confirm', 'server resize revert'); the server
        once ACTIVE.
        """
        self.openstack(command, server_id, fmt=None)
        return self.openstack('server show',
                              self.wait_for(server_id, 'ACTIVE').id)

    def assert_files_stay(self, cluster, vm_before, server):
        vm = self.sim_vms(cluster)[server['OS-EXT-SRV-ATTR:instance_name']]
        self.assertEqual([d['path'] for d in vm_before['disks']],
                         [d['path'] for d in vm['disks']])
        self.assertIsNotNone(vm['cluster_group'])
        return vm

    def test_live_and_cold_migration_inside_the_cluster(self):
        server = self.boot('e2e-moves', network=neutron.NETWORK)
        cluster, vm = self.assert_placed(server, disk_gb=1)
        [port] = self.assert_port_bound(server)
        source = server['OS-EXT-SRV-ATTR:host']
        target = sorted(set(cluster.nodes) - {source})[0]
        server = self.migrate(server['id'], '--live-migration', '--host',
                              target)
        self.assertEqual((target, 'ACTIVE'), (
            server['OS-EXT-SRV-ATTR:host'], server['status']))
        self.assert_placed(server, disk_gb=1)
        self.assert_files_stay(cluster, vm, server)
        # The port moved with it, the same port.
        self.assertEqual([port.id], [
            p.id for p in self.assert_port_bound(server)])
        # Untargeted: the weigher keeps it in its cluster.
        server = self.migrate(server['id'], '--live-migration')
        self.assertIn(server['OS-EXT-SRV-ATTR:host'], cluster.nodes)
        self.assert_placed(server, disk_gb=1)
        # Cold, then confirmed.
        source = server['OS-EXT-SRV-ATTR:host']
        target = sorted(set(cluster.nodes) - {source})[0]
        server = self.migrate(server['id'], '--host', target)
        self.assertEqual('VERIFY_RESIZE', server['status'])
        server = self.resized(server['id'], 'server migration confirm')
        self.assertEqual(target, server['OS-EXT-SRV-ATTR:host'])
        self.assert_placed(server, disk_gb=1)
        self.assert_files_stay(cluster, vm, server)
        self.assertEqual([port.id], [
            p.id for p in self.assert_port_bound(server)])
        self.delete(server['id'])

    def test_cold_migration_to_the_other_cluster_and_back(self):
        server = self.boot('e2e-cross')
        cluster, _vm = self.assert_placed(server, disk_gb=1)
        other = [c for c in self.cloud.clusters if c is not cluster][0]
        # Reverted: back where it was.
        server = self.migrate(server['id'], '--host', other.nodes[0])
        self.assertEqual('VERIFY_RESIZE', server['status'])
        server = self.resized(server['id'], 'server resize revert')
        self.assertIn(server['OS-EXT-SRV-ATTR:host'], cluster.nodes)
        self.assert_placed(server, disk_gb=1)
        # Confirmed: on the other cluster, its disks on that one's CSV.
        server = self.migrate(server['id'], '--host', other.nodes[0])
        server = self.resized(server['id'], 'server migration confirm')
        self.assertEqual(other.nodes[0], server['OS-EXT-SRV-ATTR:host'])
        self.assert_moved_to_cluster(server, other, cluster)
        self.delete(server['id'])

    def test_live_migration_to_the_other_cluster_and_back(self):
        server = self.boot('e2e-live-cross')
        cluster, _vm = self.assert_placed(server, disk_gb=1)
        other = [c for c in self.cloud.clusters if c is not cluster][0]
        # Unclustered, copied with its disks to the other cluster's CSV
        # while it runs, clustered there.
        server = self.migrate(server['id'], '--live-migration', '--host',
                              other.nodes[0])
        self.assertEqual((other.nodes[0], 'ACTIVE'), (
            server['OS-EXT-SRV-ATTR:host'], server['status']))
        vm = self.assert_moved_to_cluster(server, other, cluster)
        self.assertEqual('running', vm['state'])
        self.assertIsNotNone(vm['cluster_group'])
        # And back, the same way.
        server = self.migrate(server['id'], '--live-migration', '--host',
                              cluster.nodes[0])
        self.assertEqual((cluster.nodes[0], 'ACTIVE'), (
            server['OS-EXT-SRV-ATTR:host'], server['status']))
        self.assert_placed(server, disk_gb=1)
        self.delete(server['id'])

    def test_live_migration_to_a_standalone_host_and_back(self):
        server = self.boot('e2e-standalone')
        cluster, _vm = self.assert_placed(server, disk_gb=1)
        # A Hyper-V host in no cluster joins the cloud (after the boot:
        # the clusters' tests do not expect it to take boots).
        host = cloud_mod.StandaloneHost('hv-s1', self.cloud.root)
        self.hvc_sim(cluster, 'add-host', host.name, '--vcpus', '8',
                     '--memory-mb', '16384')
        since = datetime.datetime.utcnow()
        self.cloud.start_compute(host.name, host)
        self.addCleanup(self._retire_compute, host.name)
        self.wait_for_compute(host.name, since)
        self.cloud.nova.discover_hosts()
        with open(self.cloud.log('nova-compute-' + host.name)) as log:
            self.assertIn('(standalone host; agent backend, native '
                          'threading)', log.read())
        # Its own disk is its DISK_GB; it takes the instance once nova's
        # scheduler has its provider.
        deadline = time.monotonic() + WAIT
        while True:
            try:
                server = self.migrate(server['id'], '--live-migration',
                                      '--host', host.name)
            except self.failureException:
                server = self.openstack('server show', server['id'])
            if server['OS-EXT-SRV-ATTR:host'] == host.name:
                break
            self.assertLess(time.monotonic(), deadline,
                            '%s never took the instance' % host.name)
            time.sleep(5)
        self.assertEqual('ACTIVE', server['status'])
        node_rp = self.provider(host.name)
        self.assertEqual({node_rp: {'VCPU': 1, 'MEMORY_MB': 128,
                                    'DISK_GB': 1}},
                         self.allocations(server['id']))
        vm = self.sim_vms(cluster)[server['OS-EXT-SRV-ATTR:instance_name']]
        self.assertEqual((host.name, 'running', None),
                         (vm['node'], vm['state'], vm['cluster_group']))
        for disk in vm['disks']:
            self.assertTrue(disk['path'].startswith(host.instances_path),
                            disk['path'])
        self.assertEqual(0, self.disk_used(self.csv_provider(cluster)))
        # And back into the cluster, clustered on arrival.
        server = self.migrate(server['id'], '--live-migration', '--host',
                              cluster.nodes[0])
        self.assertEqual((cluster.nodes[0], 'ACTIVE'), (
            server['OS-EXT-SRV-ATTR:host'], server['status']))
        _cluster, vm = self.assert_placed(server, disk_gb=1)
        self.assertIsNotNone(vm['cluster_group'])
        self.delete(server['id'])

    def test_a_nova_compute_in_eventlet_mode_too(self):
        """The cloud's computes run in nova's default native-threading
        mode; the driver runs in eventlet mode as well.
        """
        cluster = self.cloud.clusters[0]
        threading_log = self.cloud.log('nova-compute-' + cluster.nodes[0])
        with open(threading_log) as log:
            self.assertIn('(failover cluster; agent backend, native '
                          'threading)', log.read())
        node = 'hv-a4'
        self.hvc_sim(cluster, 'add-node', node, '--cluster', cluster.name,
                     '--vcpus', '8', '--memory-mb', '16384')
        since = datetime.datetime.utcnow()
        self.cloud.start_compute(node, cluster, eventlet=True)
        self.addCleanup(self._retire_compute, node)
        self.wait_for_compute(node, since)
        # Mapped once its service is there, as an operator does: the
        # scheduler must never pick an unmapped node.
        self.cloud.nova.discover_hosts()
        with open(self.cloud.log('nova-compute-' + node)) as log:
            self.assertIn('(failover cluster; agent backend, eventlet)',
                          log.read())
        # Once hvc-placement-sync has put it in its cluster's aggregate,
        # it takes an instance whose disk is on the cluster's CSV.
        deadline = time.monotonic() + WAIT
        while True:
            try:
                server = self.openstack(
                    'server create', '--wait', '--image',
                    cloud_mod.IMAGE_NAME, '--flavor', 'hvc.tiny', '--nic',
                    'none', '--host', node, 'e2e-eventlet')
                break
            except self.failureException:
                self.assertLess(time.monotonic(), deadline,
                                '%s never took an instance' % node)
                for leftover in self.conn.compute.servers(
                        name='e2e-eventlet'):
                    self._delete_quietly(leftover.id)
                time.sleep(5)
        self.addCleanup(self._delete_quietly, server['id'])
        self.assertEqual(node, server['OS-EXT-SRV-ATTR:host'])
        self.assert_placed(server, disk_gb=1, cluster=cluster)
        self.delete(server['id'])

    def _retire_compute(self, node):
        """Take a node the test added out of the cloud: no later boot may
        land on it (a stopped service looks up for a minute); its agent
        stops after its nova-compute.
        """
        [service] = self.conn.compute.services(binary='nova-compute',
                                               host=node)
        self.conn.compute.disable_service(service, node, 'nova-compute',
                                          'the test is done with it')
        self.cloud.stop_compute(node)
        self.conn.compute.delete_service(service)

    # High availability: nova follows the failover cluster.

    def wait_until(self, check, what, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while not check():
            self.assertLess(time.monotonic(), deadline, what)
            time.sleep(1)

    def vnic_acls(self, server, port_id):
        """The extended ACLs on the switch port of a port's vNIC, read in
        the simulated world: {(direction, action, protocol, local port,
        remote address)}.
        """
        vm = self.sim_vms(self.cluster_of(server['OS-EXT-SRV-ATTR:host']))[
            server['OS-EXT-SRV-ATTR:instance_name']]
        [nic] = [n for n in vm['nics'] if n['name'] == port_id]
        return {(a['Direction'], a['Action'], a['Protocol'], a['LocalPort'],
                 a['RemoteIPAddress']) for a in nic['acls']}

    def test_a_failover_is_followed(self):
        # Deleted after the server (cleanups run last first).
        group = self.openstack('security group create', 'e2e-ssh')
        self.addCleanup(self.conn.network.delete_security_group,
                        group['id'], ignore_missing=True)
        # Generation 2: a running VM takes a hot-added NIC.
        server = self.boot('e2e-failover', network=neutron.NETWORK,
                           image=cloud_mod.IMAGE_NAME_GEN2)
        cluster, _vm = self.assert_placed(server, disk_gb=1)
        [port] = self.assert_port_bound(server)
        # Filtered by its security group (the project's default): denied
        # but for what the group allows, such as egress anywhere.
        acls = self.vnic_acls(server, port.id)
        self.assertEqual(16, len([a for a in acls if a[1] == 2]), acls)
        self.assertIn((2, 1, '6', 'ANY', '0.0.0.0/0'), acls)
        # A group added to the server: on its vNIC within seconds, through
        # neutron's cast to the agents (the agents' own look again is a
        # minute away).
        self.openstack('security group rule create', '--protocol', 'tcp',
                       '--dst-port', '22', '--remote-ip', '192.0.2.0/24',
                       group['id'])
        self.openstack('server add security group', server['id'],
                       group['id'], fmt=None)
        ssh = (1, 1, '6', '22', '192.0.2.0/24')
        self.wait_until(lambda: ssh in self.vnic_acls(server, port.id),
                        'the group\'s rule is not on the vNIC', timeout=30)
        extra = self.openstack('port create', '--network', neutron.NETWORK,
                               'e2e-failover-extra')
        self.addCleanup(self.conn.network.delete_port, extra['id'],
                        ignore_missing=True)
        self.openstack('server add port', server['id'], extra['id'],
                       fmt=None)
        self.assert_port_bound(server, count=2)
        name = server['OS-EXT-SRV-ATTR:instance_name']
        target = sorted(set(cluster.nodes) -
                        {server['OS-EXT-SRV-ATTR:host']})[0]
        self.hvc_sim(cluster, 'failover', name, target)
        self.wait_until(
            lambda: self.openstack('server show', server['id'])[
                'OS-EXT-SRV-ATTR:host'] == target,
            'nova did not follow the failover of %s to %s' % (name, target))
        server = self.openstack('server show', server['id'])
        self.assertEqual('ACTIVE', server['status'])
        self.assert_placed(server, disk_gb=1)
        # The ports' bindings followed the VM to its new node, and so did
        # the ACLs; the new node detaches the attached one.
        self.assert_port_bound(server, count=2)
        self.assertIn(ssh, self.vnic_acls(server, port.id))
        self.assertIn((2, 1, '6', 'ANY', '0.0.0.0/0'),
                      self.vnic_acls(server, extra['id']))
        self.openstack('server remove port', server['id'], extra['id'],
                       fmt=None)
        self.assert_port_bound(server, count=1)
        self.assertIn('cluster-failover', [
            e['Action'] for e in self.openstack('server event list',
                                                server['id'])])
        self.wait_until(
            lambda: 'booting on %s' % target in self.openstack(
                'console log show', server['id'], fmt=None),
            'the console log did not go on from %s' % target)
        self.delete(server['id'])

    def test_a_drained_node_takes_no_instance_until_resumed(self):
        cluster = self.cloud.clusters[1]
        node = cluster.nodes[0]

        def service_status():
            [service] = self.conn.compute.services(binary='nova-compute',
                                                   host=node)
            return service.status, service.disabled_reason

        self.hvc_sim(cluster, 'drain', node)
        # Resumed whatever happens (refused, harmlessly, when it is).
        self.addCleanup(subprocess.run, [
            os.path.join(BIN, 'hvc-sim'), '--state', cluster.state_file,
            'resume', node], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.wait_until(lambda: service_status()[0] == 'disabled',
                        '%s was not disabled while drained' % node)
        self.assertIn('paused', service_status()[1])
        self.hvc_sim(cluster, 'resume', node)
        self.wait_until(lambda: service_status()[0] == 'enabled',
                        '%s was not enabled again after resume' % node)


def _type_into_console(url, keys):
    """What a serial console at ``url`` (nova-serialproxy's) answers to
    ``keys``, up to its next login prompt (within 60 s).
    """
    from websockify import websocket

    def retried(call, *args):
        # A blocking socket: "want read" means a frame came in pieces.
        while True:
            try:
                return call(*args)
            except (websocket.WebSocketWantReadError,
                    websocket.WebSocketWantWriteError):
                continue

    class Client(websocket.WebSocket):
        def send_request(self, method, path):
            # websockify's client leaves the query (the token) out.
            super().send_request(method, '%s?%s' % (
                path, urllib.parse.urlparse(url).query))

    console = Client()
    retried(console.connect, url, None, ['binary'])
    console.socket.settimeout(60)
    try:
        retried(console.send, keys)
        answer = b''
        while not answer.rstrip().endswith(b'login:'):
            frame = retried(console.recv)
            if frame is None:
                break  # closed.
            answer += frame
        return answer
    finally:
        console.shutdown(socket.SHUT_RDWR)
