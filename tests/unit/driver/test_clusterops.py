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

"""ClusterOps and its Follower on their own: the newest owner, the queue
of work, and the os-win listener's stop.
"""

import queue
import threading
import time
from unittest import mock

import fixtures

from nova import objects

from hvc_driver import clusterops
from hvc_driver import failover
from hvc_driver import hyperv
from hvc_driver import vmops
from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin.compute import clusterutils as sim_clusterutils
from hvc_sim.oswin.compute import vmutils as sim_vmutils
from tests.unit.driver import fixtures as driver_fixtures

NODE1 = 'rp-node1'
objects.register_all()


class TestNewestOwner(driver_fixtures.SimulatedTestCase):

    def setUp(self):
        super().setUp()
        self.state = self.cluster.state
        vmutils = sim_vmutils.VMUtils(self.state, 'node1')
        vmutils.create_vm('vm1', False, 1, '/x/vm1',
                          notes=['3f0d3d5c-1e7e-4bd6-a0c3-2a5b6f1c9b11'])
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_ENABLED)
        sim_clusterutils.ClusterUtils(self.state,
                                      'node1').add_vm_to_cluster('vm1')
        self.vmops = mock.Mock()
        self.vmops.served_vms = vmops.ServedVMs()
        self.ops = clusterops.ClusterOps(self.hyperv, self.vmops, None, None,
                                         self.layout)

    def test_a_node_whose_turn_comes_after_the_vm_moved_on_does_nothing(self):
        lock = self.layout.instance_lock

        def moved_while_waiting(vm_name):
            # The VM moves on while this node waits for the lock.
            self.state.move_vm(vm_name, 'node2')
            return lock(vm_name)
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            self.layout, 'instance_lock', side_effect=moved_while_waiting))
        with mock.patch.object(objects.Instance, 'get_by_uuid') as get:
            self.ops.reconcile('vm1')
        get.assert_not_called()
        self.vmops.take_over.assert_not_called()

    def test_a_node_that_never_ran_it_does_not_take_the_lock(self):
        self.state.move_vm('vm1', 'node2')
        with mock.patch.object(self.layout, 'instance_lock') as lock:
            self.ops.reconcile('vm1')
        lock.assert_not_called()

    def test_a_vm_that_left_is_let_go_of(self):
        self.vmops.served_vms.add('vm1', None)
        self.state.move_vm('vm1', 'node3')
        self.ops.reconcile('vm1')
        [(gone, network_info), _kw] = self.vmops.let_go.call_args
        self.assertEqual(('vm1', []), (gone.name, network_info))


class TestBacklog(driver_fixtures.testtools.TestCase):

    def test_each_key_once_and_again_if_put_while_busy(self):
        backlog = failover._Backlog()
        backlog.put('vm1')
        backlog.put('vm1')
        backlog.put('vm2', delay=0.2)
        self.assertEqual('vm1', backlog.get())
        backlog.put('vm1')  # Changed again while it is handled.
        backlog.done('vm1')
        self.assertEqual('vm1', backlog.get())
        backlog.done('vm1')
        start = time.monotonic()
        self.assertEqual('vm2', backlog.get())
        self.assertGreater(time.monotonic() - start, 0.1)
        backlog.done('vm2', retry_in=0)
        self.assertEqual('vm2', backlog.get())
        backlog.close()
        self.assertIsNone(backlog.get())

    def test_a_sooner_put_wins_over_a_later_retry(self):
        backlog = failover._Backlog()
        backlog.put('vm1', delay=60)
        backlog.put('vm1')
        self.assertEqual('vm1', backlog.get())


class TestFollowerRetries(driver_fixtures.SimulatedTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(driver_fixtures.config_fixture.Config(
            driver_fixtures.CONF)).config(
                failover_workers=1, cluster_check_interval=3600,
                group='hyperv_cluster')
        self.ops = mock.Mock()
        self.ops.check.return_value = []
        self.follower = failover.Follower(self.hyperv, self.ops)
        self.addCleanup(self.follower.stop)

    def test_what_fails_is_retried_until_it_succeeds(self):
        done = threading.Event()
        outcomes = [clusterops.NotYet('nova is busy'),
                    RuntimeError('placement')]

        def reconcile(vm_name):
            if outcomes:
                raise outcomes.pop(0)
            done.set()
        self.ops.reconcile.side_effect = reconcile
        self.follower.start_listening()
        self.follower.start_following()
        self.follower.submit('vm1')
        self.assertTrue(done.wait(10))
        self.assertEqual(3, self.ops.reconcile.call_count)
        self.assertIn('Not following vm1 yet: nova is busy; looking again '
                      'in 1 s', self.logger.output)
        self.assertIn('about vm1 yet: placement; trying again in 2 s',
                      self.logger.output)

    def _vm1_on_node2(self):
        """vm1, clustered on node2; an event set once it is reconciled."""
        sim_vmutils.VMUtils(self.cluster.state, 'node2').create_vm(
            'vm1', False, 1, '/x/vm1')
        sim_clusterutils.ClusterUtils(self.cluster.state,
                               'node2').add_vm_to_cluster('vm1')
        heard = threading.Event()
        self.ops.reconcile.side_effect = lambda vm_name: heard.set()
        return heard

    def _listener_made(self):
        """An event set once the follower's thread made its listener:
        what the cluster changes from then on, it hears.
        """
        clusterutils = self.hyperv.clusterutils
        made = threading.Event()
        make = clusterutils.get_vm_owner_change_listener_v2

        def making():
            listener = make()
            made.set()
            return listener
        self.useFixture(fixtures.MockPatchObject(
            clusterutils, 'get_vm_owner_change_listener_v2',
            side_effect=making))
        return made

    def test_the_listener_hears_the_simulated_cluster_and_stops(self):
        heard = self._vm1_on_node2()
        made = self._listener_made()
        self.follower.start_listening()
        self.follower.start_following()
        self.assertTrue(made.wait(5))
        self.cluster.state.move_vm('vm1', 'node1')
        self.assertTrue(heard.wait(5))
        threads = list(self.follower._threads)
        self.follower.stop()
        self.assertFalse(any(t.is_alive() for t in threads))

    def test_a_failed_listener_is_started_again_and_hears_the_next_move(self):
        # The cluster service restarts: the notifications end. A listener
        # is started again at once, and what moved meanwhile is found.
        heard = self._vm1_on_node2()
        # As ClusterOps.check: the VMs that run here.
        self.ops.check.side_effect = lambda: [
            vm.name for vm in self.cluster.state.vms(node='node1')]
        self.cluster.state.arm_fault(
            'clusterutils.get_vm_owner_change_listener_v2')
        self.follower.start_listening()
        self.follower.start_following()
        self._wait_for(lambda: 'failed (the cluster service restarted?)'
                       in self.logger.output)
        self.cluster.state.move_vm('vm1', 'node1')
        self.assertTrue(heard.wait(5))
        self.follower.stop()

    @staticmethod
    def _wait_for(check):
        deadline = time.monotonic() + 5
        while not check():
            assert time.monotonic() < deadline, 'never'
            time.sleep(0.01)


class TestOsWinListener(driver_fixtures.OsWinTestCase):

    def _listener(self, events):
        """The seam's owner change listener over os-win's private event
        listener (autospec), whose events come from ``events``: a list of
        events, exceptions to raise, and callables to call.
        """
        from os_win.utils.compute import _clusapi_utils
        from os_win.utils.compute import clusterutils as oswin_clusterutils
        seam = hyperv.HyperV(driver_fixtures.CONF)
        seam.bind('node1')
        clusterutils = self.oswin.utils['clusterutils']
        clusterutils._clusapi_utils = mock.create_autospec(
            _clusapi_utils.ClusApiUtils, instance=True)
        clusterutils.get_cluster_group_type.side_effect = (
            lambda name: 111 if name.startswith('vm') else 100)
        clusterutils.get_cluster_node_name.side_effect = (
            lambda node_id: 'node%s' % node_id)
        private = self.useFixture(fixtures.MockPatchObject(
            oswin_clusterutils, '_ClusterGroupOwnerChangeListener',
            autospec=True)).mock
        port = private.return_value
        port.__enter__.return_value = port

        def get(timeout=None):
            item = events.pop(0) if events else queue.Empty()
            if isinstance(item, BaseException):
                raise item
            if callable(item):
                item = item()
            return item
        port.get.side_effect = get
        return seam, clusterutils, port

    @staticmethod
    def _event(group, node_id):
        return {'cluster_object_name': group, 'parent_id': node_id}

    def test_vm_owner_changes_reach_the_callback_until_stopped(self):
        heard = []
        events = [self._event('vm1', 2), self._event('cluster group', 3),
                  queue.Empty()]
        seam, clusterutils, port = self._listener(events)
        events.append(lambda: (
            seam.clusterutils.stop_vm_owner_change_listeners(),
            self._event('vm2', 3))[1])
        events.append(self._event('vm3', 1))
        seam.clusterutils.get_vm_owner_change_listener_v2()(
            lambda vm_name, node: heard.append((vm_name, node)))
        # vm2's event came with the stop; nothing after it.
        self.assertEqual([('vm1', 'node2'), ('vm2', 'node3')], heard)
        port.__exit__.assert_called_once()
        clusterutils._clusapi_utils.close_cluster.assert_called_once_with(
            clusterutils._clusapi_utils.open_cluster.return_value)

    def test_a_failed_event_thread_ends_the_listener(self):
        # os-win's event thread stopped on an error (the cluster service
        # restarted): get() says so, and the listener raises for its caller
        # to start a new one, with a fresh cluster handle.
        from os_win import exceptions as real_os_win_exc
        seam, clusterutils, port = self._listener([
            real_os_win_exc.OSWinException(
                'Cluster event listener is not running.')])
        self.assertRaises(os_win_exc.OSWinException,
                          seam.clusterutils.get_vm_owner_change_listener_v2(),
                          lambda vm_name, node: None)
        port.__exit__.assert_called_once()
        clusterutils._clusapi_utils.close_cluster.assert_called_once()

    def test_node_states_from_the_cluster_s_wmi_namespace(self):
        seam = hyperv.HyperV(driver_fixtures.CONF)
        seam.bind('node1')
        # StatusInformation: CLUSTER_NODE_STATUS flags (Windows Server
        # 2016+; NODE1 is a node of an older one, without it).
        self.oswin.wmi.MSCluster_Node = lambda: [
            driver_fixtures.WMIObject(Name='NODE1', State=0),
            driver_fixtures.WMIObject(Name='NODE2', State=2,
                                      StatusInformation=0),
            driver_fixtures.WMIObject(Name='NODE3', State=1,
                                      StatusInformation=0x1),
            driver_fixtures.WMIObject(Name='NODE4', State=1,
                                      StatusInformation=0x3),
            driver_fixtures.WMIObject(Name='NODE5', State=1,
                                      StatusInformation=0x8)]
        self.assertEqual({'NODE1': constants.CLUSTER_NODE_UP,
                          'NODE2': constants.CLUSTER_NODE_PAUSED,
                          'NODE3': constants.CLUSTER_NODE_ISOLATED,
                          'NODE4': constants.CLUSTER_NODE_QUARANTINED,
                          'NODE5': constants.CLUSTER_NODE_DOWN},
                         seam.clusterutils.get_cluster_node_states())


class TestNodeStateSync(driver_fixtures.SimulatedTestCase):
    """The compute service of a node the cluster keeps out of its
    membership: disabled, saying why, and enabled once it is back.
    """

    def setUp(self):
        super().setUp()
        self.service = mock.Mock(spec=objects.Service, disabled=False,
                                 disabled_reason=None)
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            objects.Service, 'get_by_compute_host',
            return_value=self.service))
        self.virtapi = mock.Mock()
        hostops = mock.Mock()
        hostops.node_uuid.return_value = NODE1
        self.ops = clusterops.ClusterOps(self.hyperv, mock.Mock(), hostops,
                                         self.virtapi, self.layout)

    def _sync(self):
        self.ops.sync_node_state(mock.sentinel.context)
        return self.service.disabled, self.service.disabled_reason

    def test_an_isolated_or_quarantined_node_is_disabled_until_healed(self):
        for status, out_of_membership in (
                ('isolated', self.cluster.state.isolate),
                ('quarantined', self.cluster.state.quarantine)):
            out_of_membership('node1')
            self.assertEqual(
                (True, 'AUTO: Hyper-V failover cluster: node node1 is %s'
                 % status), self._sync())
            self.virtapi.update_compute_provider_status.assert_called_with(
                mock.sentinel.context, NODE1, enabled=False)
            self.cluster.state.heal('node1')
            self.assertEqual((False, None), self._sync())
            self.virtapi.update_compute_provider_status.assert_called_with(
                mock.sentinel.context, NODE1, enabled=True)
