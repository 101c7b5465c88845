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

"""The simulated cluster's nodes that go down, drain, are isolated or
quarantined, and come back.
"""

import time

from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim import state as sim_state
from tests.unit.sim import fixtures as sim_fixtures


class TestNodeDown(sim_fixtures.HATestCase):

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
        self._vm('huge', 'node1', memory_mb=sim_fixtures.FREE_MB - 1000)
        self._vm('full2', 'node2', memory_mb=sim_fixtures.FREE_MB - 2000)
        self._vm('full3', 'node3', memory_mb=sim_fixtures.FREE_MB - 3000)
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


class TestDrain(sim_fixtures.HATestCase):

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
        self._vm('huge', 'node1', memory_mb=sim_fixtures.FREE_MB)
        self._vm('vm2', 'node2', memory_mb=1000)
        self._vm('vm3', 'node3', memory_mb=1000)
        [placement] = self.state.drain('node1')
        self.assertEqual(sim_state.Placement(
            'huge', None,
            'no up node can hold it (%d MB)' % sim_fixtures.FREE_MB),
            placement)
        self.assertEqual('node1', self._where()['huge'])
        self.assertEqual(constants.CLUSTER_GROUP_ONLINE, self.utils(
            'clusterutils').get_cluster_group_state_info('huge')['state'])


class TestIsolationAndQuarantine(sim_fixtures.HATestCase):
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
