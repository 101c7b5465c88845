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

"""Nova follows the failover cluster, in nova's in-process deployment: a
VM the cluster moves (a failover, a node down, a drain) ends with nova's
host, its allocations, its port bindings and its console on the node the
cluster runs it on; evacuation adopts the cluster's VM; the image cache is
one per cluster.

Three nova-compute services play the three nodes of one simulated
cluster; the simulated cluster reports its owner changes as a real one
does, and nothing else tells nova. Run with stestr or testtools.
"""

import io
import os
import random
import socket
import time
import urllib.parse

import fixtures
from oslo_utils import uuidutils

from nova.compute import task_states
from nova.compute import vm_states
from nova import context as nova_context
from nova import objects
from nova import utils as nova_utils

from hvc_driver import clusterops
from hvc_driver import imagecache
from hvc_oswin_api import constants as os_win_const
from tests.functional.driver import test_nova_cluster

NODES = test_nova_cluster.NODES
# Long enough that only the cluster's notifications can explain a move
# being followed within a test; the tests of the check shorten it.
NO_CHECK = 3600


class FailoverTestCase(test_nova_cluster.HyperVClusterTestCase):

    check_interval = NO_CHECK

    def setUp(self):
        self.flags(cluster_check_interval=self.check_interval,
                   group='hyperv_cluster')
        super().setUp()
        self.flavor = self._flavor(disk=10, memory_mb=1024, vcpu=2,
                                   disk_group=True)

    def _wait_until(self, what, check, timeout=20):
        """Wait until ``check()`` is true; fail naming ``what``."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                self.fail('%s: not within %d s' % (what, timeout))
            time.sleep(0.05)

    def _port(self):
        """A fresh Hyper-V port (the neutron fixture's are OVS ports)."""
        port = self.neutron.create_port({'port': {
            'network_id': self.neutron.network_1['id']}})['port']
        self.neutron._ports[port['id']]['binding:vif_type'] = 'hyperv'
        return port

    def _boot_on(self, node, port=None):
        networks = [{'port': port['id']}] if port else 'none'
        server = self._boot(self.flavor, host=node, networks=networks)
        self.assertEqual(node, server['OS-EXT-SRV-ATTR:host'])
        return server

    def _moving(self, server, status, migration_type):
        """``server`` (on node1) and a migration of it to node2 in
        ``status``, holding the allocations as a move does.
        """
        context = nova_context.get_admin_context()
        instance = objects.Instance.get_by_uuid(context, server['id'])
        migration = objects.Migration(
            context, instance_uuid=instance.uuid,
            uuid=uuidutils.generate_uuid(),
            source_compute='node1', source_node='node1', dest_compute='node2',
            dest_node='node2', status=status, migration_type=migration_type,
            dest_compute_id=objects.ComputeNode.get_by_nodename(
                context, 'node2').id)
        migration.create()
        self._hold_as_a_move_does(server, migration)
        return instance, migration

    def _hold_as_a_move_does(self, server, migration):
        """The allocations of a move from node1 to node2 of ``server`` in
        flight, as nova's conductor makes them: the migration holds the
        source's (node1 and the CSV), the instance the destination's.
        """
        held = self.placement.get('/allocations/%s' % server['id'],
                                  version='1.28').body
        for consumer, provider in ((migration.uuid, 'node1'),
                                   (server['id'], 'node2')):
            self.placement.put('/allocations/%s' % consumer, {
                'allocations': {
                    self.node_rp[provider]: {'resources': {
                        'VCPU': 2, 'MEMORY_MB': 1024}},
                    self.csv_rp: {'resources': {'DISK_GB': 10}}},
                'consumer_generation': (held['consumer_generation']
                                        if consumer == server['id'] else None),
                'project_id': held['project_id'],
                'user_id': held['user_id']}, version='1.28')

    def _usages(self):
        return {node: self._get_provider_usages(rp)
                for node, rp in self.node_rp.items()}

    def _nova_agrees(self, server, node, port=None):
        """nova's host and node, the allocations and the port binding all
        say ``node`` (without failing: for waiting).
        """
        server = self.api.get_server(server['id'])
        allocations = {rp: a['resources'] for rp, a in
                       self._get_allocations_by_server_uuid(
                           server['id']).items()}
        return (server['OS-EXT-SRV-ATTR:host'] == node and
                server['OS-EXT-SRV-ATTR:hypervisor_hostname'] == node and
                allocations == {
                    self.node_rp[node]: {'VCPU': 2, 'MEMORY_MB': 1024},
                    self.csv_rp: {'DISK_GB': 10}} and
                (port is None or self.neutron.show_port(port['id'])[
                    'port']['binding:host_id'] == node))

    def _assert_followed(self, server, node, port=None, alone=True):
        """The cluster runs it on ``node``, and nova agrees in every way;
        for the only server (``alone``), nothing is allocated elsewhere.
        """
        vm = self._vm(server)
        self.assertEqual(node, vm.node)
        self.assertEqual(node, self.sim.get_cluster_group(vm.name).owner_node)
        self._wait_until('nova follows %s to %s' % (vm.name, node),
                         lambda: self._nova_agrees(server, node, port))
        if alone:
            self._assert_usages({node: 1})
        return self.api.get_server(server['id'])

    def _assert_usages(self, servers_by_node):
        """Each node's provider holds its servers' (of self.flavor) VCPU and
        MEMORY_MB once, and the CSV their disks once.
        """
        for node, usage in self._usages().items():
            count = servers_by_node.get(node, 0)
            self.assertEqual({'VCPU': 2 * count, 'MEMORY_MB': 1024 * count},
                             usage, node)
        self.assertEqual(10 * sum(servers_by_node.values()),
                         self._get_provider_usages(self.csv_rp)['DISK_GB'])

    def _events(self, server):
        return [a['action'] for a in self.api.api_get(
            '/servers/%s/os-instance-actions' % server['id']).body[
                'instanceActions']]

    def _console(self, server):
        return self.api.post_server_action(
            server['id'], {'os-getConsoleOutput': {}})['output']

    def _driver(self, node):
        return self.computes[node].manager.driver

    def _check_now(self, *nodes):
        """What each node's periodic check and its workers do, run now:
        a test that nothing changes asserts after it, not after a wait.
        """
        for node in nodes or NODES:
            ops = self._driver(node)._clusterops
            for vm_name in ops.check():
                ops.reconcile(vm_name)

    def _service(self, node):
        [service] = self.admin_api.get_services(host=node,
                                                binary='nova-compute')
        return service

    def _compute_down(self, node):
        """nova-compute of ``node`` stops, and nova knows it is down (as
        its service group says some time after).
        """
        self.computes[node].stop()
        with nova_utils.temporary_mutation(self.admin_api,
                                           microversion='2.53'):
            self.admin_api.put_service_force_down(
                self._service(node)['id'], True)

    def _compute_up(self, node):
        """nova-compute of ``node`` starts again (a new process)."""
        self.computes[node] = self.restart_compute_service(
            self.computes[node], keep_hypervisor_state=False)
        with nova_utils.temporary_mutation(self.admin_api,
                                           microversion='2.53'):
            self.admin_api.put_service_force_down(
                self._service(node)['id'], False)

    def _deaf(self, node):
        """nova-compute of ``node`` follows nothing (its notifications and
        checks lost).
        """
        self.useFixture(fixtures.MonkeyPatch(
            'hvc_driver.clusterops.ClusterOps.reconcile',
            _unless(node, clusterops.ClusterOps.reconcile)))

    def _boot_on_every_node_at_once(self, image):
        """A server of ``image`` on each node, all asked for before any
        is built, each download from glance slowed down so that the
        others come meanwhile: the servers (ACTIVE), and the image ids
        downloaded.
        """
        downloads = []
        download = self.glance.download

        def counting(context, image_id, *args, **kwargs):
            downloads.append(image_id)
            time.sleep(0.5)  # Long enough for the others to come.
            return download(context, image_id, *args, **kwargs)
        self.useFixture(fixtures.MockPatchObject(
            self.glance, 'download', side_effect=counting))
        with nova_utils.temporary_mutation(self.admin_api,
                                           microversion='2.74'):
            servers = [
                self.admin_api.post_server({'server': dict(
                    self._build_server(image_uuid=image,
                                       flavor_id=self.flavor,
                                       networks='none'), host=node)})
                for node in NODES]
        for server in servers:
            self._wait_for_state_change(server, 'ACTIVE')
        return servers, downloads

    def _evacuate(self, server, host=None):
        body = {'host': host} if host else {}
        with nova_utils.temporary_mutation(self.admin_api,
                                           microversion='2.74'):
            return self._evacuate_server(server, body,
                                         expected_state='ACTIVE')


def _unless(node, reconcile):
    """ClusterOps.reconcile, except on ``node``."""
    def reconcile_unless(ops, vm_name):
        if not ops._hyperv.is_this_node(node):
            return reconcile(ops, vm_name)
    return reconcile_unless


class TestFailover(FailoverTestCase):

    def _serial_console(self, server):
        """(host, port) of the server's serial console, as nova-serialproxy
        learns it from its token.
        """
        url = self.api.api_post(
            '/servers/%s/remote-consoles' % server['id'],
            {'remote_console': {'protocol': 'serial', 'type': 'serial'}}
        ).body['remote_console']['url']
        token = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)[
            'token'][0]
        microversion, self.admin_api.microversion = (
            self.admin_api.microversion, '2.31')
        try:
            console = self.admin_api.api_get(
                '/os-console-auth-tokens/%s' % token).body['console']
        finally:
            self.admin_api.microversion = microversion
        self.assertEqual(server['id'], console['instance_uuid'])
        return console['host'], int(console['port'])

    def _assert_serial_console_answers(self, address, name):
        """Typed into the console at ``address``, the guest's getty
        answers.
        """
        with socket.create_connection(address, timeout=20) as console:
            answer = b''
            while b'%s login: ' % name.encode() not in answer:
                console.sendall(b'\r')
                answer += console.recv(4096)

    def test_a_failover_is_followed(self):
        self.flags(enabled=True, proxyclient_address='127.0.0.1',
                   port_range='20000:40000', group='serial_console')
        port = self._port()
        server = self._boot_on('node1', port)
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.assertIn('booting on node1', self._console(server))
        before = self._serial_console(server)
        self._assert_serial_console_answers(before, name)
        self.sim.move_vm(name, 'node2', restart=True)
        start = time.monotonic()
        server = self._assert_followed(server, 'node2', port)
        followed_in = time.monotonic() - start
        self.assertLess(followed_in, 10)
        self.assertEqual('ACTIVE', server['status'])
        self.assertIn(clusterops.FAILOVER_ACTION, self._events(server))
        # The console goes on: the guest booted on node2, and node2's
        # reader has it (node1's stopped).
        self._wait_until('the console of node2', lambda: 'booting on node2'
                         in self._console(server))
        self.assertFalse(self.computes['node1'].manager.driver._vmops
                         .logs_console_of(name))
        # The serial console is node2's now; node1's is gone.
        after = self._serial_console(server)
        self.assertNotEqual(before, after)
        self._assert_serial_console_answers(after, name)
        self.assertRaises(OSError, socket.create_connection, before, 5)
        # nova manages it there: stop, start, delete.
        self._stop_server(server)
        self.assertEqual(os_win_const.HYPERV_VM_STATE_DISABLED,
                         self._vm(server).state)
        self._start_server(server)
        self._delete_server(server)
        self.assertEqual([], self.sim.vms())
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0},
                         self._usages()['node2'])

    def test_an_open_vswitch_port_moves_with_it(self):
        self.flags(vswitch_name='ovs-switch', group='hyperv_cluster')
        port = self.neutron.create_port({'port': {
            'network_id': self.neutron.network_1['id']}})['port']
        server = self._boot_on('node1', port)
        self.assertEqual([port['id']],
                         [p.name for p in self.sim.ovs_ports('node1')])
        self.sim.move_vm(server['OS-EXT-SRV-ATTR:instance_name'], 'node2',
                         restart=True)
        self._assert_followed(server, 'node2', port)
        self._wait_until('the OVS port on node2 only', lambda: (
            [p.name for p in self.sim.ovs_ports()] == [port['id']] and
            self.sim.ovs_ports('node2')))
        [ovs_port] = self.sim.ovs_ports('node2')
        self.assertEqual(server['id'], ovs_port.external_ids['vm-uuid'])

    def test_a_failure_halfway_is_retried(self):
        port = self._port()
        server = self._boot_on('node1', port)
        bind = clusterops.neutron.API.setup_instance_network_on_host
        failures = []

        def neutron_fails_once(api, context, instance, host, *args, **kw):
            if not failures:
                failures.append(host)
                raise Exception('neutron is restarting')
            return bind(api, context, instance, host, *args, **kw)
        self.useFixture(fixtures.MonkeyPatch(
            'nova.network.neutron.API.setup_instance_network_on_host',
            neutron_fails_once))
        self.sim.move_vm(server['OS-EXT-SRV-ATTR:instance_name'], 'node2',
                         restart=True)
        self._assert_followed(server, 'node2', port)
        self.assertEqual(['node2'], failures)
        self.assertIn('neutron is restarting; trying again in 1 s',
                      self.stdlog.logger.output)

    def test_a_bounce_storm_ends_with_the_last_owner(self):
        port = self._port()
        server = self._boot_on('node1', port)
        name = server['OS-EXT-SRV-ATTR:instance_name']
        rng = random.Random(9)
        node = 'node1'
        for _move in range(20):
            node = rng.choice([n for n in NODES if n != node])
            self.sim.move_vm(name, node, restart=rng.random() < 0.5)
            # Below and above the simulated cluster's 0.1 s poll: moves
            # heard one by one, and several in one poll.
            time.sleep(rng.uniform(0, 0.3))
        self._assert_followed(server, node, port)
        # And it stays so: nothing left to undo it.
        self._check_now()
        self.assertTrue(self._nova_agrees(server, node, port))
        self.assertEqual([name], [vm.name for vm in self.sim.vms()])
        for other in set(NODES) - {node}:
            self.assertFalse(self._driver(other)._vmops.logs_console_of(
                name), other)
        self.assertTrue(self._driver(node)._vmops.logs_console_of(name))

    def test_a_delete_after_a_failover_deletes(self):
        # It used to be refused (the VM was not on nova's host).
        server = self._boot_on('node1')
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.sim.move_vm(name, 'node3', restart=True)
        self._assert_followed(server, 'node3')
        self._delete_server(server)
        self.assertEqual([], self.sim.vms())
        self.assertFalse(os.path.exists(os.path.join(
            self.cluster.instances_path, name)))
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            server['id']))

    def test_nova_moves_are_nova_s_own(self):
        # The cluster reports the owner change of nova's live migration
        # too: the destination stands aside while nova moves it.
        server = self._boot_on('node1')
        with nova_utils.temporary_mutation(self.admin_api,
                                           microversion='2.74'):
            self.admin_api.post_server_action(server['id'], {
                'os-migrateLive': {'host': 'node2',
                                   'block_migration': 'auto'}})
        self._wait_for_migration_status(server, ['completed'])
        self._assert_followed(server, 'node2')
        self.assertNotIn(clusterops.FAILOVER_ACTION, self._events(server))


class TestLeftoverMigrationRecord(FailoverTestCase):

    def test_a_migration_record_nova_has_no_task_for_is_not_waited_for(self):
        # A cold migration left 'post-migrating' (its database restarted
        # mid-move), then the operator's reset-state and hard reboot: nova
        # has no task on the instance, the record never changes again.
        server = self._boot_on('node1')
        objects.Migration(
            nova_context.get_admin_context(), instance_uuid=server['id'],
            status='post-migrating', migration_type='migration',
            source_compute='node1', dest_compute='node3').create()
        self.sim.move_vm(server['OS-EXT-SRV-ATTR:instance_name'], 'node2',
                         restart=True)
        self._assert_followed(server, 'node2')


class TestAVMLeftUnclustered(FailoverTestCase):

    check_interval = 1

    def test_the_periodic_check_clusters_it_again(self):
        server = self._boot_on('node1')
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.sim.delete_cluster_group(name)
        self._wait_until('%s clustered again' % name,
                         lambda: self.sim.get_cluster_group(name))
        self.assertEqual('node1', self.sim.get_cluster_group(name)
                         .owner_node)
        self._assert_followed(server, 'node1')


class EvacuationTestCase(FailoverTestCase):
    """Its cluster restarts the VM on another of its nodes: an evacuation
    goes nowhere else, and one refused leaves the allocations as before.
    """

    other_clusters = (('cluster2', ('b1', 'b2'), (('Data', 100),)),)
    standalone_hosts = ('solo',)

    def _allocations(self, server):
        return {rp: a['resources'] for rp, a in
                self._get_allocations_by_server_uuid(server['id']).items()}

    def _cluster1_down_but(self, node):
        """A server on ``node``, whose nova-compute is down while the other
        nodes of cluster1 take nothing: its allocations.
        """
        server = self._boot_on(node)
        for other in NODES:
            if other != node:
                self.admin_api.put_service(self._service(other)['id'],
                                           {'status': 'disabled'})
        self._compute_down(node)
        return server, self._allocations(server)


class TestEvacuationOutOfTheCluster(EvacuationTestCase):

    def test_the_scheduler_keeps_an_evacuation_in_its_cluster(self):
        server, before = self._cluster1_down_but('node1')
        with nova_utils.temporary_mutation(self.admin_api,
                                           microversion='2.74'):
            self.admin_api.post_server_action(server['id'], {
                'evacuate': {}})
        self._wait_until('the evacuation fails', lambda: [
            m['status'] for m in self.admin_api.api_get(
                '/os-migrations?instance_uuid=%s' % server['id']).body[
                    'migrations']] == ['error'])
        self.assertEqual('node1', self.api.get_server(server['id'])[
            'OS-EXT-SRV-ATTR:host'])
        self.assertEqual(before, self._allocations(server))
        self.assertEqual(['node1'], [vm.node for vm in self.sim.vms()])


class TestEvacuationRefusedAfterTheClaim(EvacuationTestCase):
    """Without the filter the scheduler may pick any node: the driver
    refuses, and what nova claimed there is gone again.
    """

    keep_csv_filter = False

    def test_a_refusal_after_the_claim_leaves_the_allocations(self):
        server, before = self._cluster1_down_but('node1')
        for host in ('b1', 'solo'):
            with nova_utils.temporary_mutation(self.admin_api,
                                               microversion='2.74'):
                self.admin_api.post_server_action(server['id'], {
                    'evacuate': {'host': host}})
            server = self._wait_for_state_change(server, 'ERROR')
            self.assertIn('evacuate it to a node of cluster1',
                          server['fault']['message'])
            self.assertEqual(before, self._allocations(server))
            self.assertEqual(['node1'], [vm.node for vm in self.sim.vms()])
            self.admin_api.post_server_action(server['id'], {
                'os-resetState': {'state': 'active'}})


class TestSourceKilledDuringALiveMigration(FailoverTestCase):
    """node1's nova-compute dies while the cluster moves its VM to node2:
    nova finds the instance MIGRATING when it starts again, and asks the
    driver to abort; the migration then ends in error, and its allocation
    (the source's) must not outlive the move, whichever way the cluster
    ended it.
    """

    def _killed_mid_move(self):
        """What a live migration from node1 to node2 leaves when node1's
        nova-compute is killed once the cluster is moving the VM: the
        instance MIGRATING, the migration running, the source's
        allocation held by the migration and the destination's by the
        instance, as nova's conductor and source left them.
        """
        server = self._boot_on('node1')
        instance, migration = self._moving(server, 'running',
                                           'live-migration')
        instance.task_state = task_states.MIGRATING
        instance.save()
        self.computes['node1'].stop()
        return server, migration

    def _assert_ended_on(self, server, migration, node):
        self._wait_until('the migration holds nothing', lambda: not (
            self._get_allocations_by_server_uuid(migration.uuid)))
        self._assert_followed(server, node)
        self.assertEqual('error', objects.Migration.get_by_uuid(
            nova_context.get_admin_context(), migration.uuid).status)
        self.assertIsNone(self.api.get_server(server['id'])[
            'OS-EXT-STS:task_state'])

    def test_a_move_the_cluster_finished_is_followed(self):
        server, migration = self._killed_mid_move()
        self.sim.move_vm(self._vm(server).name, 'node2')
        self.computes['node1'] = self.restart_compute_service(
            self.computes['node1'])
        self._assert_ended_on(server, migration, 'node2')

    def test_a_move_in_flight_is_cancelled(self):
        server, migration = self._killed_mid_move()
        name = self._vm(server).name
        self.sim.set_group_move_seconds(3600)
        self.assertFalse(self.sim.move_group(name, 'node2', 'cluster1',
                                             running=True))
        self.computes['node1'] = self.restart_compute_service(
            self.computes['node1'])
        self._assert_ended_on(server, migration, 'node1')
        self.assertIsNone(self.sim.group_move(name))


class TestAConfirmInProgress(FailoverTestCase):
    """nova's confirm of a cold migration from node1 to node2 marks the
    migration confirmed, then drops the source's allocation it holds; the
    instance keeps vm_state resized, with no task state, until then. The
    source's periodic check in between must leave that allocation to
    nova: dropping it first made nova's own delete fail on the consumer's
    generation, and the instance went to ERROR.
    """

    def test_the_source_s_check_leaves_the_allocation_to_nova(self):
        server = self._boot_on('node1')
        instance, migration = self._moving(server, 'confirmed', 'migration')
        self.sim.move_vm(self._vm(server).name, 'node2')
        instance.vm_state = vm_states.RESIZED
        instance.task_state = None
        instance.save()
        self.computes['node1'].driver._clusterops.check()
        self.assertEqual(
            {self.node_rp['node1'], self.csv_rp},
            set(self._get_allocations_by_server_uuid(migration.uuid)))


class TestAPostLiveMigrationInProgress(FailoverTestCase):
    """nova's live migration from node1 runs its post-migration inside the
    source driver's live_migration: the destination clears the instance's
    task, then the source drops the allocation its migration holds. The
    source's periodic check in between must leave it to nova (under load,
    dropping it first failed nova's delete and put the instance in
    ERROR); once the source's live migration is over, a migration left
    running is a leftover, and its allocation goes.
    """

    def test_the_source_s_check_waits_for_its_own_live_migration(self):
        server = self._boot_on('node1')
        instance, migration = self._moving(server, 'running',
                                           'live-migration')
        self.sim.move_vm(self._vm(server).name, 'node2')
        driver = self.computes['node1'].driver
        driver._livemigrationops._outgoing.add(instance.uuid)
        driver._clusterops.check()
        self.assertEqual(
            {self.node_rp['node1'], self.csv_rp},
            set(self._get_allocations_by_server_uuid(migration.uuid)))
        driver._livemigrationops._outgoing.discard(instance.uuid)
        driver._clusterops.check()
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            migration.uuid))


class TestSourceKilledDuringAColdMigration(FailoverTestCase):
    """node1's nova-compute dies in the middle of a cold migration, after
    the cluster moved the VM (off) to node2: when it starts again nova
    reverts the resize it finds migrating (the driver brings the VM back),
    and the migration it leaves in progress holds no allocation (the
    periodic check, once nova's start-up is done with it).
    """

    check_interval = 1

    def test_nova_reverts_it_at_start_up(self):
        server = self._boot_on('node1')
        name = server['OS-EXT-SRV-ATTR:instance_name']
        context = nova_context.get_admin_context()
        instance = objects.Instance.get_by_uuid(context, server['id'])
        migration = objects.Migration(
            context, instance_uuid=instance.uuid,
            uuid=uuidutils.generate_uuid(), source_compute='node1',
            source_node='node1', dest_compute='node2', dest_node='node2',
            status='migrating', migration_type='migration',
            old_instance_type_id=instance.flavor.id,
            new_instance_type_id=instance.flavor.id,
            dest_compute_id=objects.ComputeNode.get_by_nodename(
                context, 'node2').id)
        migration.create()
        self._hold_as_a_move_does(server, migration)
        instance.migration_context = objects.MigrationContext(
            context, instance_uuid=instance.uuid,
            migration_id=migration.id, old_numa_topology=None,
            new_numa_topology=None)
        instance.task_state = task_states.RESIZE_MIGRATING
        instance.save()
        self.computes['node1'].stop()
        self.sim.update_vm(name, state=os_win_const.HYPERV_VM_STATE_DISABLED)
        self.sim.move_vm(name, 'node2')
        self.computes['node1'] = self.restart_compute_service(
            self.computes['node1'])
        self._wait_until('the migration holds nothing', lambda: not (
            self._get_allocations_by_server_uuid(migration.uuid)))
        self._assert_followed(server, 'node1')
        self.assertEqual(os_win_const.HYPERV_VM_STATE_ENABLED,
                         self._vm(server).state)
        self.assertIsNone(self.api.get_server(server['id'])[
            'OS-EXT-STS:task_state'])


class TestFailoverDuringAResize(FailoverTestCase):
    """A resize awaiting confirmation whose VM the cluster moves: nova
    follows (the migration's destination too), and both confirm and
    revert still end exact.
    """

    def _migrated_then_failed_over(self):
        server = self._boot_on('node1')
        self.api.post_server_action(server['id'], {'migrate': {
            'host': 'node2'}})
        server = self._wait_for_state_change(server, 'VERIFY_RESIZE')
        self.assertEqual('node2', server['OS-EXT-SRV-ATTR:host'])
        self.sim.move_vm(server['OS-EXT-SRV-ATTR:instance_name'], 'node3',
                         restart=True)
        self._wait_until('nova follows it to node3', lambda: self.api
                         .get_server(server['id'])['OS-EXT-SRV-ATTR:host'] ==
                         'node3')
        [migration] = self.api.get_migrations()
        self.assertEqual(('node1', 'node3', 'finished'), (
            migration['source_compute'], migration['dest_compute'],
            migration['status']))
        # The instance on node3, the migration's hold on node1, the disk
        # on the CSV (twice until confirm, as nova claims it).
        self._wait_until('its allocation on node3', lambda: {
            node: usage['VCPU'] for node, usage in self._usages().items()} ==
            {'node1': 2, 'node2': 0, 'node3': 2})
        self.assertIn(clusterops.FAILOVER_ACTION, self._events(server))
        return self.api.get_server(server['id'])

    def test_confirm(self):
        server = self._migrated_then_failed_over()
        server = self._confirm_resize(server)
        self._assert_followed(server, 'node3')
        self.assertEqual('ACTIVE', server['status'])
        self._delete_server(server)
        self.assertEqual([], self.sim.vms())

    def test_revert(self):
        server = self._migrated_then_failed_over()
        server = self._revert_resize(server)
        self._assert_followed(server, 'node1')
        self.assertEqual(os_win_const.HYPERV_VM_STATE_ENABLED,
                         self._vm(server).state)
        self._delete_server(server)
        self.assertEqual([], self.sim.vms())

    def test_revert_when_it_failed_over_to_the_source(self):
        server = self._boot_on('node1')
        self.api.post_server_action(server['id'], {'migrate': {
            'host': 'node2'}})
        server = self._wait_for_state_change(server, 'VERIFY_RESIZE')
        self.sim.move_vm(server['OS-EXT-SRV-ATTR:instance_name'], 'node1',
                         restart=True)
        self._wait_until('nova follows it to node1', lambda: self.api
                         .get_server(server['id'])['OS-EXT-SRV-ATTR:host'] ==
                         'node1')
        server = self._revert_resize(server)
        self._assert_followed(server, 'node1')


class TestNodeDown(FailoverTestCase):

    def test_a_node_down_with_five_vms(self):
        servers = [self._boot_on('node1') for _ in range(5)]
        self._compute_down('node1')
        placements = self.sim.node_down('node1')
        self.assertTrue(all(p.node for p in placements), placements)
        where = {p.vm_name: p.node for p in placements}
        self.assertEqual({'node2', 'node3'}, set(where.values()))
        for server in servers:
            node = where[server['OS-EXT-SRV-ATTR:instance_name']]
            server = self._assert_followed(server, node, alone=False)
            self.assertEqual('ACTIVE', server['status'])
            self.assertIn('booting on %s' % node, self._console(server))
        self._assert_usages({node: list(where.values()).count(node)
                             for node in NODES})


class TestNoRoom(FailoverTestCase):

    # Retries at most this far apart.
    check_interval = 2

    def test_a_vm_no_node_can_restart_is_reported(self):
        big = self._flavor(disk=1, memory_mb=9000, vcpu=1, disk_group=True)
        fill = self._flavor(disk=1, memory_mb=8000, vcpu=1, disk_group=True)
        server = self._boot(big, host='node1')
        fillers = {node: self._boot(fill, host=node)
                   for node in ('node2', 'node3')}
        self._compute_down('node1')
        [placement] = [p for p in self.sim.node_down('node1')
                       if p.vm_name == server['OS-EXT-SRV-ATTR:instance_name']]
        self.assertIsNone(placement.node)
        server = self._wait_for_state_change(server, 'ERROR')
        owner = self._vm(server).node
        self.assertEqual(owner, server['OS-EXT-SRV-ATTR:host'])
        self.assertIn('could not restart %s after it left host node1'
                      % server['OS-EXT-SRV-ATTR:instance_name'],
                      server['fault']['message'])
        self.assertIn('needs 9000 MB', server['fault']['message'])
        # Placement has no room for it there either: its allocation stays
        # on node1, and nova keeps trying (and saying so).
        allocations = self._get_allocations_by_server_uuid(server['id'])
        self.assertEqual({'VCPU': 1, 'MEMORY_MB': 9000},
                         allocations[self.node_rp['node1']]['resources'])
        self._wait_until('the refusal is logged', lambda: (
            'Placement refused to change the allocation' in
            self.stdlog.logger.output))
        # Room is made there: a hard reboot starts it, and its allocation
        # follows.
        self._delete_server(fillers[owner])
        self._reboot_server(server, hard=True)
        self.assertEqual(os_win_const.HYPERV_VM_STATE_ENABLED,
                         self._vm(server).state)
        self._wait_until('its allocation on %s' % owner, lambda: (
            set(self._get_allocations_by_server_uuid(server['id'])) ==
            {self.node_rp[owner], self.csv_rp}))


class TestStoppedComputes(FailoverTestCase):

    def test_a_failover_to_a_stopped_compute_is_reclaimed_at_its_start(self):
        port = self._port()
        server = self._boot_on('node1', port)
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.computes['node2'].stop()
        self.sim.move_vm(name, 'node2', restart=True)
        # node1 lets it go, but nobody follows it: node2's nova-compute is
        # down.
        self._driver('node1')._clusterops.reconcile(name)
        self.assertEqual('node1', self.api.get_server(server['id'])[
            'OS-EXT-SRV-ATTR:host'])
        self.computes['node2'] = self.restart_compute_service(
            self.computes['node2'], keep_hypervisor_state=False)
        self._assert_followed(server, 'node2', port)


class TestPeriodicCheck(FailoverTestCase):

    check_interval = 1

    def setUp(self):
        # Every notification lost, from the nova-computes' start.
        self.useFixture(fixtures.MonkeyPatch(
            'hvc_driver.failover.Follower._heard', lambda *args: None))
        super().setUp()

    def test_a_lost_notification_is_found_by_the_check(self):
        server = self._boot_on('node1')
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.sim.move_vm(name, 'node3', restart=True)
        self._assert_followed(server, 'node3')


class TestEvacuate(FailoverTestCase):

    def test_evacuation_adopts_the_vm_the_cluster_runs_there(self):
        port = self._port()
        server = self._boot_on('node1', port)
        name = server['OS-EXT-SRV-ATTR:instance_name']
        files = self._disk_files(name)
        self._deaf('node2')
        self._compute_down('node1')
        self.sim.node_down('node1')
        self.assertEqual('node2', self._vm(server).node)
        started = self._vm(server).started_at
        server = self._evacuate(server, 'node2')
        self._assert_followed(server, 'node2', port)
        vm = self._vm(server)
        # The same VM, on the same disks: adopted, not made again.
        self.assertEqual((started, os_win_const.HYPERV_VM_STATE_ENABLED),
                         (vm.started_at, vm.state))
        self.assertEqual(files, self._disk_files(name))
        self.assertEqual([name], [v.name for v in self.sim.vms()])

    def test_evacuation_moves_the_vm_through_the_cluster(self):
        server = self._boot_on('node1')
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self._compute_down('node1')
        self._compute_down('node2')
        self.sim.move_vm(name, 'node2', restart=True)
        self.sim.node_down('node1')
        server = self._evacuate(server)
        self._assert_followed(server, 'node3')
        self.assertEqual([name], [v.name for v in self.sim.vms()])
        # node2 comes back: the VM that left it stays where it runs.
        self._compute_up('node2')
        self._check_now('node2')
        self._assert_followed(server, 'node3')

    def test_evacuation_rebuilds_a_lost_vm_around_its_disks(self):
        server = self._boot_on('node1')
        name = server['OS-EXT-SRV-ATTR:instance_name']
        files = self._disk_files(name)
        self._compute_down('node1')
        # The node went down with the VM's configuration: the cluster has
        # no VM of it any more; its disks are on the CSV.
        self.sim.node_down('node1')
        self.sim.delete_cluster_group(name)
        self.sim.delete_vm(name)
        server = self._evacuate(server, 'node3')
        self._assert_followed(server, 'node3')
        vm = self._vm(server)
        self.assertEqual(os_win_const.HYPERV_VM_STATE_ENABLED, vm.state)
        self.assertEqual(sorted(files),
                         sorted(d.path for d in self.sim.disks(name)))
        self.assertEqual(files, self._disk_files(name))
        self.assertIn('booting on node3', self._console(server))

    def test_the_old_node_returning_destroys_nothing(self):
        server = self._boot_on('node1')
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self._deaf('node2')
        self._compute_down('node1')
        self.sim.node_down('node1')
        server = self._evacuate(server, 'node2')
        self._assert_followed(server, 'node2')
        # node1 is back, and the cluster fails the VM back to it: nova
        # evacuated it from node1, whose nova-compute must not destroy it.
        self.assertEqual(
            [name], [p.vm_name for p in self.sim.node_up('node1',
                                                         failback=True)])
        self._compute_up('node1')
        self._assert_followed(server, 'node1')
        self.assertEqual(os_win_const.HYPERV_VM_STATE_ENABLED,
                         self._vm(server).state)
        migrations = self.admin_api.api_get(
            '/os-migrations?instance_uuid=%s' % server['id']).body[
                'migrations']
        self.assertEqual(['completed'], [m['status'] for m in migrations])

    def _disk_files(self, name):
        """The instance's files and their contents."""
        inst_dir = os.path.join(self.cluster.instances_path, name)
        return {os.path.join(inst_dir, f): open(os.path.join(inst_dir, f),
                                                'rb').read()
                for f in os.listdir(inst_dir) if f.endswith('.vhd')}


class TestMaintenance(FailoverTestCase):

    check_interval = 1

    def test_drain_and_resume(self):
        servers = [self._boot_on('node1') for _ in range(2)]
        started = {s['id']: self._vm(s).started_at for s in servers}
        self.sim.drain('node1')
        where = {}
        for server in servers:
            where[server['id']] = self._vm(server).node
            self._assert_followed(server, where[server['id']], alone=False)
            # Live-migrated: not restarted.
            self.assertEqual(started[server['id']],
                             self._vm(server).started_at)
        self._assert_usages({node: list(where.values()).count(node)
                             for node in NODES})
        self._wait_until('node1 disabled', lambda: self._disabled('node1'))
        self.assertIn('node node1 is paused (drained)',
                      self._service('node1')['disabled_reason'])
        # No new instance there.
        self._boot(self.flavor, host='node1', expected_state='ERROR')
        self.sim.resume('node1')
        self._wait_until('node1 enabled',
                         lambda: self._disabled('node1') is False)
        self._boot_on('node1')

    def _disabled(self, node):
        """Disabled, or enabled, in both nova's service and placement's
        trait; None while they disagree.
        """
        disabled = self._service(node)['status'] == 'disabled'
        trait = 'COMPUTE_STATUS_DISABLED' in self._get_provider_traits(
            self.node_rp[node])
        return disabled if disabled == trait else None

    def test_a_service_an_operator_disabled_stays_disabled(self):
        with nova_utils.temporary_mutation(self.admin_api,
                                           microversion='2.53'):
            self.admin_api.put_service(self._service('node1')['id'], {
                'status': 'disabled', 'disabled_reason': 'firmware'})
        self.sim.drain('node1')
        self.sim.resume('node1')
        # What node1 does when it hears the resume, done now.
        self._driver('node1')._clusterops.sync_node_state()
        service = self._service('node1')
        self.assertEqual(('disabled', 'firmware'),
                         (service['status'], service['disabled_reason']))


class TestImageCache(FailoverTestCase):

    def _image(self, name):
        data = b'\0' * 4096
        return self.glance.create(None, {
            'name': name, 'disk_format': 'vhd', 'container_format': 'bare',
            'size': len(data), 'properties': {}}, data=io.BytesIO(data))['id']

    def _cached(self):
        cache = os.path.join(self.cluster.instances_path, '_base')
        return sorted(f for f in os.listdir(cache)
                      if imagecache._CACHED.match(f))

    def test_concurrent_boots_of_one_image_download_it_once(self):
        image = self._image('once')
        servers, downloads = self._boot_on_every_node_at_once(image)
        self.assertEqual(sorted(NODES), sorted(
            self.api.get_server(s['id'])['OS-EXT-SRV-ATTR:host']
            for s in servers))
        self.assertEqual([image], downloads)

    def test_cleanup_keeps_what_a_vm_of_another_node_uses(self):
        self.flags(remove_unused_original_minimum_age_seconds=0,
                   remove_unused_resized_minimum_age_seconds=0,
                   group='image_cache')
        kept, unused = self._image('kept'), self._image('unused')
        in_use = self._create_server(
            image_uuid=kept, flavor_id=self.flavor, networks='none',
            host='node2', api=self.admin_api)
        gone = self._create_server(
            image_uuid=unused, flavor_id=self.flavor, networks='none',
            host='node3', api=self.admin_api)
        self._delete_server(gone)
        cached = self._cached()
        self.assertEqual(4, len(cached), cached)  # Each, and grown to 10 GB.
        compute = self.computes['node1']
        compute.manager._run_image_cache_manager_pass(
            nova_context.get_admin_context())
        self.assertEqual(sorted(f for f in cached if f.startswith(kept)),
                         self._cached())
        # The VM on node2 still runs from them.
        self._reboot_server(in_use, hard=True)
