"""The simulated cluster's high availability: owner change notifications,
nodes that go down, drain and come back, and Failed groups.
"""

import os
import threading
import time

import fixtures
import testtools

from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin import utilsfactory
from hvc_sim import state as sim_state
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.driver import test_sim_cmd

# node1..node3 have 16384 MB each, 2048 of it kept by the host.
FREE_MB = 16384 - sim_state.HOST_RESERVED_MEMORY_MB


class HATestCase(driver_fixtures.SimulatedTestCase):

    def setUp(self):
        super().setUp()
        self.state = self.cluster.state

    def utils(self, kind, node='node1'):
        return utilsfactory.UTILS_CLASSES[kind](self.state, node)

    def _vm(self, name, node, memory_mb=1024, running=True, pipe=True):
        vmutils = self.utils('vmutils', node)
        vmutils.create_vm(name, False, 1, '/x/' + name, notes=[name])
        vmutils.update_vm(name, memory_mb, 0, 1, 0, False, 1.0)
        if pipe:
            vmutils.set_vm_serial_port_connection(name, 1, 'pipe-' + name)
        if running:
            vmutils.set_vm_state(name, constants.HYPERV_VM_STATE_ENABLED)
        self.utils('clusterutils', node).add_vm_to_cluster(name)

    def _where(self):
        return {vm.name: vm.node for vm in self.state.vms()}


class TestOwnerChangeListener(HATestCase):

    def _listen(self, node):
        """Run node's listener on a thread; its (vm, node) pairs."""
        clusterutils = self.utils('clusterutils', node)
        heard = []
        thread = threading.Thread(
            target=clusterutils.get_vm_owner_change_listener_v2(),
            args=(lambda vm, new: heard.append((vm, new)),))
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(clusterutils.stop_vm_owner_change_listeners)
        return heard, clusterutils, thread

    def _wait_for(self, heard, count):
        deadline = time.monotonic() + 5
        while len(heard) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return heard

    def test_every_node_of_the_cluster_hears_every_move_in_order(self):
        self.state.add_cluster('cluster2', ['b1', 'b2'], [('Data', 50)])
        self._vm('vmb', 'b1')
        self._vm('vm1', 'node1')
        self._vm('vm2', 'node2', running=False)
        # Changes before a listener starts are not reported to it.
        self.state.move_vm('vm1', 'node3')
        heard = {node: self._listen(node)[0]
                 for node in ('node1', 'node2', 'b1')}
        self.state.move_vm('vm1', 'node2')
        # The offline move ends after os-win's call: the seam waits.
        self.hyperv.move_offline_vm('vm2', 'node3', timeout=30)
        self.utils('clusterutils', 'node2').live_migrate_vm('vm1', 'node1')
        expected = [('vm1', 'node2'), ('vm2', 'node3'), ('vm1', 'node1')]
        for node in ('node1', 'node2'):
            self.assertEqual(expected, self._wait_for(heard[node], 3), node)
        # A node of another cluster hears only its own cluster's moves:
        # the next one, and nothing of cluster1's before it.
        self.state.move_vm('vmb', 'b2')
        self.assertEqual([('vmb', 'b2')], self._wait_for(heard['b1'], 1))

    def test_stop_ends_the_listener_and_a_failing_callback_does_not(self):
        self._vm('vm1', 'node1')
        clusterutils = self.utils('clusterutils', 'node2')
        heard = []

        def callback(vm, node):
            heard.append(node)
            raise RuntimeError('a bug in the callback')
        thread = threading.Thread(
            target=clusterutils.get_vm_owner_change_listener_v2(),
            args=(callback,))
        thread.start()
        self.state.move_vm('vm1', 'node2')
        self.state.move_vm('vm1', 'node3')
        self.assertEqual(['node2', 'node3'], self._wait_for(heard, 2))
        clusterutils.stop_vm_owner_change_listeners()
        thread.join(5)
        self.assertFalse(thread.is_alive())
        self.assertIn('unexpected exception', self.logger.output)


class TestNodeDown(HATestCase):

    def test_vms_restart_where_most_memory_is_free(self):
        self._vm('big', 'node1', memory_mb=8000)
        self._vm('small', 'node1', memory_mb=1000)
        self._vm('off', 'node1', running=False)
        self._vm('busy', 'node2', memory_mb=4000)
        started = self.state.get_vm('small').started_at
        time.sleep(0.01)
        placements = self.state.node_down('node1')
        # Biggest first: big to node3 (most free), small to node2 (node3
        # has less left), off needs no memory: node2, now the freest.
        self.assertEqual(
            [sim_state.Placement('big', 'node3'),
             sim_state.Placement('small', 'node2'),
             sim_state.Placement('off', 'node2')], placements)
        where = self._where()
        self.assertEqual(('node3', 'node2', 'node2'),
                         (where['big'], where['small'], where['off']))
        self.assertEqual('node3', self.state.get_cluster_group('big')
                         .owner_node)
        small = self.state.get_vm('small')
        self.assertEqual(constants.HYPERV_VM_STATE_ENABLED, small.state)
        self.assertGreater(small.started_at, started)
        self.assertEqual(constants.HYPERV_VM_STATE_DISABLED,
                         self.state.get_vm('off').state)
        # The guest booted again there: its output waits in node2's pipe.
        self.assertEqual(
            'hvc-sim: small booting on node2',
            self.state.register_pipe_reader('node2', 'pipe-small', None)
            [:len('hvc-sim: small booting on node2')])
        self.assertEqual(constants.CLUSTER_NODE_DOWN, self.utils(
            'clusterutils', 'node2').get_cluster_node_states()['node1'])

    def test_a_vm_that_fits_nowhere_is_failed_not_lost(self):
        self._vm('huge', 'node1', memory_mb=FREE_MB - 1000)
        self._vm('full2', 'node2', memory_mb=FREE_MB - 2000)
        self._vm('full3', 'node3', memory_mb=FREE_MB - 3000)
        [placement] = self.state.node_down('node1')
        self.assertIsNone(placement.node)
        self.assertIn('not enough memory on any node', placement.reason)
        # The group went to the node with most free memory, off, Failed.
        clusterutils = self.utils('clusterutils', 'node3')
        self.assertEqual(
            {'owner_node': 'node3', 'state': constants.CLUSTER_GROUP_FAILED,
             'migration_queued': False},
            clusterutils.get_cluster_group_state_info('huge'))
        vm = self.state.get_vm('huge')
        self.assertEqual(('node3', constants.HYPERV_VM_STATE_DISABLED),
                         (vm.node, vm.state))
        # Once room is made and it is started, it is online again.
        self.utils('vmutils', 'node3').set_vm_state(
            'full3', constants.HYPERV_VM_STATE_DISABLED)
        self.utils('vmutils', 'node3').set_vm_state(
            'huge', constants.HYPERV_VM_STATE_ENABLED)
        self.assertEqual(constants.CLUSTER_GROUP_ONLINE,
                         clusterutils.get_cluster_group_state_info(
                             'huge')['state'])
        self.assertIsNone(self.state.group_failure('huge'))

    def test_unclustered_vms_go_down_with_their_node(self):
        vmutils = self.utils('vmutils', 'node1')
        vmutils.create_vm('loose', False, 1, '/x/loose')
        vmutils.set_vm_state('loose', constants.HYPERV_VM_STATE_ENABLED)
        self.assertEqual([], self.state.node_down('node1'))
        vm = self.state.get_vm('loose')
        self.assertEqual(('node1', constants.HYPERV_VM_STATE_DISABLED),
                         (vm.node, vm.state))

    def test_node_up_with_failback(self):
        self._vm('vm1', 'node1')
        self._vm('vm2', 'node1')
        self.state.node_down('node1')
        moved = self._where()
        self.assertNotIn('node1', moved.values())
        # Moved on purpose meanwhile: it does not fail back.
        self.utils('clusterutils', moved['vm2']).live_migrate_vm(
            'vm2', ({'node2', 'node3'} - {moved['vm2']}).pop())
        started = self.state.get_vm('vm1').started_at
        self.assertEqual([sim_state.Placement('vm1', 'node1')],
                         self.state.node_up('node1', failback=True))
        self.assertEqual('node1', self._where()['vm1'])
        # Live: it kept running.
        self.assertEqual(started, self.state.get_vm('vm1').started_at)
        self.assertRaises(sim_state.SimulatorError, self.state.node_up,
                          'node1')

    def test_no_move_to_a_node_that_is_not_up(self):
        self._vm('vm1', 'node1')
        self.state.node_down('node3')
        self.assertRaises(sim_state.SimulatorError, self.state.move_vm,
                          'vm1', 'node3')
        self.assertRaises(os_win_exc.ClusterGroupMigrationFailed,
                          self.utils('clusterutils').live_migrate_vm,
                          'vm1', 'node3')


class TestDrain(HATestCase):

    def test_drain_live_migrates_and_pauses_then_resume(self):
        self._vm('vm1', 'node1', memory_mb=2000)
        self._vm('vm2', 'node1', memory_mb=1000, running=False)
        started = self.state.get_vm('vm1').started_at
        placements = self.state.drain('node1')
        self.assertEqual(['vm1', 'vm2'], [p.vm_name for p in placements])
        self.assertTrue(all(p.node in ('node2', 'node3')
                            for p in placements))
        vm1 = self.state.get_vm('vm1')
        self.assertEqual(started, vm1.started_at)
        self.assertEqual(constants.HYPERV_VM_STATE_ENABLED, vm1.state)
        states = self.utils('clusterutils').get_cluster_node_states()
        self.assertEqual({'node1': constants.CLUSTER_NODE_PAUSED,
                          'node2': constants.CLUSTER_NODE_UP,
                          'node3': constants.CLUSTER_NODE_UP}, states)
        # A paused node takes nothing.
        self.assertRaises(os_win_exc.ClusterGroupMigrationFailed,
                          self.utils('clusterutils',
                                     vm1.node).live_migrate_vm,
                          'vm1', 'node1')
        self.assertEqual([sim_state.Placement('vm1', 'node1'),
                          sim_state.Placement('vm2', 'node1')],
                         self.state.resume('node1', failback=True))
        self.assertEqual(constants.CLUSTER_NODE_UP, self.utils(
            'clusterutils').get_cluster_node_states()['node1'])

    def test_a_vm_that_fits_nowhere_stays(self):
        self._vm('huge', 'node1', memory_mb=FREE_MB)
        self._vm('vm2', 'node2', memory_mb=1000)
        self._vm('vm3', 'node3', memory_mb=1000)
        [placement] = self.state.drain('node1')
        self.assertEqual(sim_state.Placement(
            'huge', None, 'no up node can hold it (%d MB)' % FREE_MB),
            placement)
        self.assertEqual('node1', self._where()['huge'])
        self.assertEqual(constants.CLUSTER_GROUP_ONLINE, self.utils(
            'clusterutils').get_cluster_group_state_info('huge')['state'])


class TestIsolationAndQuarantine(HATestCase):
    """Windows Server 2016's node statuses: MSCluster_Node says down, and
    its StatusInformation why.
    """

    def _states(self):
        return self.utils('clusterutils', 'node2').get_cluster_node_states()

    def test_an_isolated_node_runs_its_vms_on_and_takes_none(self):
        self._vm('vm1', 'node1')
        started = self.state.get_vm('vm1').started_at
        self.state.isolate('node1')
        self.assertEqual(constants.CLUSTER_NODE_ISOLATED,
                         self._states()['node1'])
        vm1 = self.state.get_vm('vm1')
        self.assertEqual(('node1', started), (vm1.node, vm1.started_at))
        self._vm('vm2', 'node2')
        self.assertRaises(os_win_exc.ClusterGroupMigrationFailed,
                          self.utils('clusterutils', 'node2').live_migrate_vm,
                          'vm2', 'node1')
        # Back in touch: up again, its VMs where they were.
        self.state.heal('node1')
        self.assertEqual(constants.CLUSTER_NODE_UP, self._states()['node1'])
        self.assertEqual('node1', self._where()['vm1'])

    def test_an_isolation_that_lasts_ends_as_a_node_down(self):
        self._vm('vm1', 'node1')
        self.state.isolate('node1')
        [placement] = self.state.node_down('node1')
        self.assertIn(placement.node, ('node2', 'node3'))
        self.assertEqual(constants.CLUSTER_NODE_DOWN, self._states()['node1'])

    def test_a_quarantined_node_is_drained_and_kept_out(self):
        self._vm('vm1', 'node1')
        started = self.state.get_vm('vm1').started_at
        [placement] = self.state.quarantine('node1')
        vm1 = self.state.get_vm('vm1')
        self.assertEqual((placement.node, started), (vm1.node,
                                                     vm1.started_at))
        self.assertNotEqual('node1', vm1.node)
        self.assertEqual(constants.CLUSTER_NODE_QUARANTINED,
                         self._states()['node1'])
        err = self.assertRaises(sim_state.SimulatorError,
                                self.state.node_up, 'node1')
        self.assertEqual('node node1 is quarantined', str(err))
        self.assertEqual([sim_state.Placement('vm1', 'node1')],
                         self.state.heal('node1', failback=True))
        self.assertEqual(constants.CLUSTER_NODE_UP, self._states()['node1'])


class TestCommands(testtools.TestCase):
    """hvc-sim node-down, node-up, drain, resume and failover."""

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'cluster.sqlite')
        self.state = sim_state.ClusterState(self.path)
        self.state.init('c1', ['n1', 'n2'], [('Volume1', 100)])
        self.state.create_vm('instance-1', 'n2', 2, '/csv/instance-1',
                             state=constants.HYPERV_VM_STATE_ENABLED)
        self.state.add_cluster_group('instance-1')

    run_cmd = test_sim_cmd.TestVMCommands.run_cmd

    def test_failover_restarts_the_vm(self):
        before = time.time()
        self.assertEqual(0, self.run_cmd('failover', 'instance-1', 'n1')[0])
        vm = self.state.get_vm('instance-1')
        self.assertEqual('n1', vm.node)
        self.assertGreaterEqual(vm.started_at, before)

    def test_node_down_and_up(self):
        status, out, _err = self.run_cmd('node-down', 'n2')
        self.assertEqual((0, 'instance-1 -> n1\n'), (status, out))
        self.assertEqual('down', self.state.node('n2').state)
        self.assertEqual(0, self.run_cmd('node-up', 'n2')[0])
        status, _out, err = self.run_cmd('node-up', 'n2')
        self.assertEqual((1, 'hvc-sim: error: node n2 is up\n'),
                         (status, err))

    def test_isolate_quarantine_and_heal(self):
        self.assertEqual((0, ''), self.run_cmd('isolate', 'n2')[:2])
        self.assertEqual('isolated', self.state.node('n2').state)
        self.assertEqual('n2', self.state.get_vm('instance-1').node)
        self.assertEqual((0, 'instance-1 -> n1\n'),
                         self.run_cmd('quarantine', 'n2')[:2])
        self.assertEqual('quarantined', self.state.node('n2').state)
        self.assertEqual((0, 'instance-1 -> n2\n'),
                         self.run_cmd('heal', 'n2', '--failback')[:2])
        status, _out, err = self.run_cmd('heal', 'n2')
        self.assertEqual((1, 'hvc-sim: error: node n2 is up\n'),
                         (status, err))

    def test_drain_and_resume_with_failback(self):
        self.assertEqual((0, 'instance-1 -> n1\n'),
                         self.run_cmd('drain', 'n2')[:2])
        self.assertEqual('paused', self.state.node('n2').state)
        self.assertEqual((0, 'instance-1 -> n2\n'),
                         self.run_cmd('resume', 'n2', '--failback')[:2])
