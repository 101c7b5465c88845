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

"""The simulated world: its clusters, nodes, hosts and VMs."""

import os

from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim import state as sim_state
from tests.unit.sim import fixtures as sim_fixtures


class TestWorld(sim_fixtures.SimulatedTestCase):
    """Two clusters and a standalone host in one world: each node sees
    its own cluster only, and the cluster moves VMs inside itself.
    """

    def setUp(self):
        super().setUp()
        self.state.add_cluster('cluster2', ['b1', 'b2'], [('Data', 50)])
        self.state.add_host('solo')

    def _clustered_vm(self, name, node, running=True):
        vmutils = self.utils('vmutils', node)
        vmutils.create_vm(name, False, 1, '/x/' + name)
        if running:
            vmutils.set_vm_state(name, constants.HYPERV_VM_STATE_ENABLED)
        self.utils('clusterutils', node).add_vm_to_cluster(name)

    def test_each_node_sees_its_own_cluster(self):
        self._clustered_vm('vm-a', 'node1')
        self._clustered_vm('vm-b', 'b1')
        mine, theirs = self.utils('clusterutils', 'node2'), self.utils(
            'clusterutils', 'b2')
        self.assertEqual(['node1', 'node2', 'node3'],
                         mine.get_cluster_node_names())
        self.assertEqual(['b1', 'b2'], theirs.get_cluster_node_names())
        self.assertEqual((['vm-a'], ['vm-b']),
                         (mine.list_instances(), theirs.list_instances()))
        self.assertFalse(mine.vm_exists('vm-b'))
        self.assertRaises(os_win_exc.ClusterObjectNotFound,
                          mine.get_vm_host, 'vm-b')
        self.assertRaises(os_win_exc.HyperVVMNotFoundException,
                          mine.delete, 'vm-b')
        self.assertIsNotNone(self.state.get_cluster_group('vm-b'))
        # Each CSV is a folder of its own, per cluster.
        paths = {(v.cluster, v.name): v.path
                 for v in self.state.shared_volumes()}
        self.assertEqual({('cluster1', 'Volume1'), ('cluster2', 'Data')},
                         set(paths))
        for path in paths.values():
            self.assertTrue(os.path.isdir(path))
        self.assertEqual(2, len(set(paths.values())))

    def test_a_standalone_host_has_no_cluster(self):
        solo = self.utils('clusterutils', 'solo')
        self.assertRaises(os_win_exc.HyperVClusterException,
                          solo.get_cluster_node_names)
        self.utils('vmutils', 'solo').create_vm('vm-s', False, 1, '/x/s')
        self.assertRaises(os_win_exc.HyperVClusterException,
                          solo.add_vm_to_cluster, 'vm-s')
        self.assertRaises(os_win_exc.HyperVVMNotFoundException,
                          self.utils('clusterutils',
                                     'node1').add_vm_to_cluster, 'vm-s')

    def test_cluster_live_migration_moves_a_running_vm_only(self):
        self._clustered_vm('vm-a', 'node1')
        clusterutils = self.utils('clusterutils', 'node1')
        clusterutils.live_migrate_vm('vm-a', 'node3')
        self.assertEqual(('node3', 'node3'),
                         (self.state.get_vm('vm-a').node,
                          clusterutils.get_vm_host('vm-a')))
        self.assertEqual(constants.HYPERV_VM_STATE_ENABLED,
                         self.state.get_vm('vm-a').state)
        # Never out of the cluster; an offline VM only with the offline
        # move; a failed move leaves the VM where it was.
        for node, method in (('b1', 'live_migrate_vm'),
                             ('nowhere', 'live_migrate_vm'),
                             ('node2', 'move_offline_vm')):
            err = self.assertRaises(
                os_win_exc.ClusterGroupMigrationFailed,
                getattr(clusterutils, method), 'vm-a', node)
            self.assertIn('on node3', str(err))
            self.assertEqual('node3', self.state.get_vm('vm-a').node)
        self.utils('vmutils', 'node3').set_vm_state(
            'vm-a', constants.HYPERV_VM_STATE_DISABLED)
        # The offline move ends after the call (TestOfflineMoves).
        self.hyperv.move_offline_vm('vm-a', 'node2', timeout=30)
        self.assertEqual(('node2', constants.HYPERV_VM_STATE_DISABLED),
                         (self.state.get_vm('vm-a').node,
                          self.state.get_vm('vm-a').state))
        self.assertRaises(os_win_exc.ClusterObjectNotFound,
                          self.utils('clusterutils', 'b1').live_migrate_vm,
                          'vm-a', 'b2')

    def test_a_failover_stays_in_its_cluster(self):
        self._clustered_vm('vm-a', 'node1')
        self.assertRaises(sim_state.SimulatorError, self.state.move_vm,
                          'vm-a', 'b1')
        self.utils('vmutils', 'solo').create_vm('vm-s', False, 1, '/x/s')
        self.assertRaises(sim_state.SimulatorError, self.state.move_vm,
                          'vm-s', 'node1')
        self.state.move_vm('vm-a', 'node2')
        self.assertEqual('node2', self.state.get_vm('vm-a').node)
