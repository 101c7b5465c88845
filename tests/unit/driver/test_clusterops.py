"""ClusterOps and its Follower on their own: the allocation a move wants,
the newest owner, the queue of work, and the os-win listener's stop."""

import threading
import time
import types
from unittest import mock

from nova import objects

from hvc_driver import clusterops
from hvc_driver import failover
from hvc_driver import hyperv
from hvc_oswin_api import constants
from hvc_sim import oswin as sim_oswin
from tests.unit.driver import fixtures as driver_fixtures

NODE1, NODE2, CSV = 'rp-node1', 'rp-node2', 'rp-csv'
objects.register_all()


class TestAllocationOnTheNode(driver_fixtures.testtools.TestCase):

    flavor = types.SimpleNamespace(vcpus=2, memory_mb=1024)

    def test_node_resources_move_and_the_disk_stays(self):
        self.assertEqual(
            {NODE2: {'VCPU': 2, 'MEMORY_MB': 1024}, CSV: {'DISK_GB': 10}},
            clusterops._on_node({NODE1: {'VCPU': 2, 'MEMORY_MB': 1024},
                                 CSV: {'DISK_GB': 10}}, NODE2, self.flavor))

    def test_an_evacuation_s_double_claim_is_dropped(self):
        # Nova's evacuation keeps the old node's claim until that node's
        # nova-compute starts; the VM runs here only.
        self.assertEqual(
            {NODE2: {'VCPU': 2, 'MEMORY_MB': 1024}, CSV: {'DISK_GB': 10}},
            clusterops._on_node({NODE1: {'VCPU': 2, 'MEMORY_MB': 1024},
                                 NODE2: {'VCPU': 2, 'MEMORY_MB': 1024},
                                 CSV: {'DISK_GB': 10}}, NODE2, self.flavor))

    def test_what_nova_dropped_comes_from_the_flavor(self):
        self.assertEqual(
            {NODE2: {'VCPU': 2, 'MEMORY_MB': 1024}, CSV: {'DISK_GB': 10}},
            clusterops._on_node({CSV: {'DISK_GB': 10}}, NODE2, self.flavor))

    def test_other_resources_of_the_old_node_stay(self):
        self.assertEqual(
            {NODE1: {'DISK_GB': 5}, NODE2: {'VCPU': 2, 'MEMORY_MB': 1024}},
            clusterops._on_node({NODE1: {'VCPU': 2, 'MEMORY_MB': 1024,
                                         'DISK_GB': 5}}, NODE2, self.flavor))


class TestNewestOwner(driver_fixtures.SimulatedTestCase):

    def setUp(self):
        super().setUp()
        self.state = self.cluster.state
        vmutils = sim_oswin.VMUtils(self.state, 'node1')
        vmutils.create_vm('vm1', False, 1, '/x/vm1',
                          notes=['3f0d3d5c-1e7e-4bd6-a0c3-2a5b6f1c9b11'])
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_ENABLED)
        sim_oswin.ClusterUtils(self.state, 'node1').add_vm_to_cluster('vm1')
        self.vmops = mock.Mock()
        self.vmops.logs_console_of.return_value = False
        self.vmops.served.return_value = None
        self.ops = clusterops.ClusterOps(self.hyperv, self.vmops, None, None,
                                         None, self.layout)

    def test_a_node_whose_turn_comes_after_the_vm_moved_on_does_nothing(self):
        lock = self.ops._lock

        def moved_while_waiting(vm_name):
            # The VM moves on while this node waits for the lock.
            self.state.move_vm(vm_name, 'node2')
            return lock(vm_name)
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            self.ops, '_lock', side_effect=moved_while_waiting))
        with mock.patch.object(objects.Instance, 'get_by_uuid') as get:
            self.ops.reconcile('vm1')
        get.assert_not_called()
        self.vmops.take_over.assert_not_called()

    def test_a_node_that_never_ran_it_does_not_take_the_lock(self):
        self.state.move_vm('vm1', 'node2')
        with mock.patch.object(self.ops, '_lock') as lock:
            self.ops.reconcile('vm1')
        lock.assert_not_called()

    def test_a_vm_that_left_is_let_go_of(self):
        self.ops._served['vm1'] = None
        self.state.move_vm('vm1', 'node3')
        self.ops.reconcile('vm1')
        [(gone, network_info), _kw] = self.vmops.let_go.call_args
        self.assertEqual(('vm1', []), (gone.name, network_info))
        self.assertNotIn('vm1', self.ops._served)


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

    def test_the_listener_hears_the_simulated_cluster_and_stops(self):
        sim_oswin.VMUtils(self.cluster.state, 'node2').create_vm(
            'vm1', False, 1, '/x/vm1')
        sim_oswin.ClusterUtils(self.cluster.state,
                               'node2').add_vm_to_cluster('vm1')
        heard = threading.Event()
        self.ops.reconcile.side_effect = lambda vm_name: heard.set()
        self.follower.start_listening()
        self.follower.start_following()
        time.sleep(3 * sim_oswin.OWNER_CHANGE_POLL_INTERVAL)
        self.cluster.state.move_vm('vm1', 'node1')
        self.assertTrue(heard.wait(5))
        threads = list(self.follower._threads)
        start = time.monotonic()
        self.follower.stop()
        self.assertLess(time.monotonic() - start, 2)
        self.assertFalse(any(t.is_alive() for t in threads))


class TestOsWinListener(driver_fixtures.OsWinTestCase):

    def test_stop_ends_os_win_s_listener_at_its_next_event(self):
        seam = hyperv.HyperV(driver_fixtures.CONF)
        seam.bind('node1')
        heard = []

        def os_win_listener(callback):
            # As os-win's: every Exception is logged and swallowed.
            for vm_name in ('vm1', 'vm2', 'vm3'):
                try:
                    callback(vm_name, 'node1')
                except Exception:
                    pass
                if vm_name == 'vm1':
                    seam.clusterutils.stop_vm_owner_change_listeners()
            self.fail('os-win\'s listener never returns')
        self.oswin.utils['clusterutils']\
            .get_vm_owner_change_listener_v2.return_value = os_win_listener
        seam.clusterutils.get_vm_owner_change_listener_v2()(
            lambda vm_name, node: heard.append(vm_name))
        self.assertEqual(['vm1'], heard)

    def test_node_states_from_the_cluster_s_wmi_namespace(self):
        seam = hyperv.HyperV(driver_fixtures.CONF)
        seam.bind('node1')
        self.oswin.wmi.MSCluster_Node = lambda: [
            driver_fixtures.WMIObject(Name='NODE1', State=0),
            driver_fixtures.WMIObject(Name='NODE2', State=2)]
        self.assertEqual({'NODE1': constants.CLUSTER_NODE_UP,
                          'NODE2': constants.CLUSTER_NODE_PAUSED},
                         seam.clusterutils.get_cluster_node_states())
