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

"""The simulated ClusterUtils: groups, moves, owner change
notifications.
"""

import threading
import time

from hvc_oswin_api import exceptions as os_win_exc
from tests.unit.sim import fixtures as sim_fixtures


class TestClusterUtils(sim_fixtures.SimulatedTestCase):

    def test_clustered_vm(self):
        self.utils('vmutils', 'node2').create_vm('vm1', False, 1, '/x/vm1')
        clusterutils = self.utils('clusterutils', 'node1')
        self.assertFalse(clusterutils.vm_exists('vm1'))
        clusterutils.add_vm_to_cluster('vm1')
        self.assertTrue(clusterutils.vm_exists('vm1'))
        self.assertEqual('node2', clusterutils.get_vm_host('vm1'))
        self.assertEqual(['vm1'], clusterutils.list_instances())
        self.assertEqual(['node1', 'node2', 'node3'],
                         clusterutils.get_cluster_node_names())
        clusterutils.delete('vm1')
        self.assertRaises(os_win_exc.ClusterObjectNotFound,
                          clusterutils.get_vm_host, 'vm1')
        self.assertRaises(os_win_exc.HyperVVMNotFoundException,
                          clusterutils.delete, 'vm1')

    def test_check_cluster_state_only_wants_a_node_as_os_win(self):
        # os-win checks that there is a cluster with a node, not that it
        # is this one: init_host does that.
        self.utils('clusterutils', 'node1').check_cluster_state()
        # A host in no cluster has no cluster to check.
        self.state.add_host('standalone')
        self.assertRaises(os_win_exc.HyperVClusterException,
                          self.utils('clusterutils',
                                     'standalone').check_cluster_state)


class TestOfflineMoves(sim_fixtures.SimulatedTestCase):
    """An offline cluster move ends after the call that asks for it, as
    MoveClusterGroupEx's do: os-win's offline move reads an owner that can
    still be the source; the seam waits for the cluster to end it.
    """

    def setUp(self):
        super().setUp()
        self.utils('vmutils', 'node1').create_vm('vm1', False, 1, '/x/vm1')
        self.utils('clusterutils', 'node1').add_vm_to_cluster('vm1')
        self.state.set_group_move_seconds(0.5)

    def test_os_win_s_call_reads_the_owner_too_soon(self):
        self.assertRaises(os_win_exc.ClusterGroupMigrationFailed,
                          self.utils('clusterutils').move_offline_vm,
                          'vm1', 'node2')
        self.assertEqual('node2', self.state.group_move('vm1'))

    def test_the_seam_waits_until_it_is_there(self):
        self.hyperv.move_offline_vm('vm1', 'node2', timeout=30)
        self.assertEqual('node2', self.state.get_cluster_group(
            'vm1').owner_node)

    def test_a_move_that_fails_in_the_cluster_fails(self):
        clusterutils = self.utils('clusterutils')
        self.assertRaises(os_win_exc.ClusterGroupMigrationFailed,
                          clusterutils.move_offline_vm, 'vm1', 'node2')
        self.state.node_down('node2')
        self.assertRaises(os_win_exc.ClusterGroupMigrationFailed,
                          self.hyperv.move_offline_vm, 'vm1', 'node2', 30)
        self.assertEqual('node1', self.state.get_cluster_group(
            'vm1').owner_node)

    def test_a_move_that_takes_too_long_times_out(self):
        self.state.set_group_move_seconds(3600)
        self.assertRaises(os_win_exc.ClusterGroupMigrationTimeOut,
                          self.hyperv.move_offline_vm, 'vm1', 'node2', 0.3)


class TestOwnerChangeListener(sim_fixtures.HATestCase):

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
