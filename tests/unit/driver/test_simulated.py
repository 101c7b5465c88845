"""The simulated cluster behaves like os-win: same methods, same errors."""

import inspect
import os
from unittest import mock

import testtools

from hvc_agent import oswin as agent_oswin
from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin import hostutils as sim_hostutils
from hvc_sim.oswin.io import namedpipe as sim_namedpipe
from hvc_sim.oswin import utilsfactory as sim_utilsfactory
from hvc_sim import state as sim_state
from tests.unit.driver import fixtures as driver_fixtures


def _undecorated(func, name):
    """The function os-win wrote as ``name``, below its decorators.

    os-win's decorators (retry_decorator, not_found_decorator...) do not use
    functools.wraps: the decorated function sits in the wrapper's closure.
    """
    func = inspect.unwrap(func)
    if func.__name__ == name:
        return func
    for cell in func.__closure__ or ():
        inner = cell.cell_contents
        if inspect.isfunction(inner):
            found = _undecorated(inner, name)
            if found is not None:
                return found
    return None


def _public_methods(cls):
    return sorted(name for name, member in inspect.getmembers(cls)
                  if inspect.isfunction(member) and not name.startswith('_'))


class TestSignatures(testtools.TestCase):

    def test_every_simulated_method_matches_os_win(self):
        for kind, cls in sim_utilsfactory.UTILS_CLASSES.items():
            oswin_cls = driver_fixtures.import_class(
                agent_oswin.OSWIN_CLASSES[kind])
            methods = _public_methods(cls)
            self.assertTrue(methods, kind)
            adapter = agent_oswin._OSWIN_ADAPTERS.get(kind)
            for name in methods:
                oswin_method = getattr(oswin_cls, name, None)
                if oswin_method is not None:
                    oswin_method = _undecorated(oswin_method, name)
                elif adapter is not None:
                    # What os-win lacks, the seam adds to it.
                    oswin_method = getattr(adapter, name, None)
                self.assertIsNotNone(
                    oswin_method, '%s.%s is not an os-win method of %s'
                    % (kind, name, oswin_cls.__name__))
                self.assertEqual(
                    inspect.signature(oswin_method),
                    inspect.signature(getattr(cls, name)),
                    '%s.%s' % (kind, name))

    def test_the_simulated_named_pipe_handler_matches_os_win(self):
        # What utilsfactory.get_named_pipe_handler makes; the seam makes
        # the simulated one with the same arguments.
        from os_win.utils.io import namedpipe
        oswin_cls = namedpipe.NamedPipeHandler
        cls = sim_namedpipe.NamedPipeHandler
        for name in _public_methods(cls):
            self.assertEqual(
                inspect.signature(getattr(oswin_cls, name)),
                inspect.signature(getattr(cls, name)), name)
        # The simulated one takes the state file and the node first.
        params = list(inspect.signature(cls.__init__).parameters.values())
        self.assertEqual(['self', 'state', 'node'],
                         [p.name for p in params[:3]])
        self.assertEqual(
            list(inspect.signature(oswin_cls.__init__).parameters.values())[
                1:], params[3:])

    def test_the_counterparts_are_what_utilsfactory_picks(self):
        # On Windows Server 2016+ utilsfactory returns these classes.
        from os_win import utilsfactory
        for kind, path in agent_oswin.OSWIN_CLASSES.items():
            variants = utilsfactory.utils_map[kind]
            newest = variants[-1] if isinstance(variants, list) else variants
            self.assertEqual(path, newest['path'], kind)

    def test_the_decorated_os_win_methods_are_unwrapped(self):
        from os_win.utils.compute import vmutils10
        self.assertEqual(
            ['self', 'vm_name', 'req_state'],
            list(inspect.signature(_undecorated(
                vmutils10.VMUtils10.set_vm_state,
                'set_vm_state')).parameters))


class SimulatedTestCase(driver_fixtures.SimulatedTestCase):
    """The simulated utils classes, each made for the node a test names."""

    def setUp(self):
        super().setUp()
        self.state = self.cluster.state

    def utils(self, kind, node='node1'):
        return sim_utilsfactory.UTILS_CLASSES[kind](self.state, node)


class TestVMUtils(SimulatedTestCase):

    def _vm(self, name='vm1', node='node1'):
        vmutils = self.utils('vmutils', node)
        vmutils.create_vm(name, False, constants.VM_GEN_1, '/x/' + name,
                          notes=['3f0d3d5c-1e7e-4bd6-a0c3-2a5b6f1c9b11'])
        vmutils.update_vm(name, 1024, 0, 2, 0, False, 1.0)
        return vmutils

    def test_a_vm_is_seen_by_its_node_only(self):
        self._vm()
        self.assertTrue(self.utils('vmutils', 'node1').vm_exists('vm1'))
        self.assertFalse(self.utils('vmutils', 'node2').vm_exists('vm1'))
        self.assertEqual(['vm1'],
                         self.utils('vmutils', 'node1').list_instances())
        self.assertEqual([], self.utils('vmutils', 'node2').list_instances())
        self.assertRaises(os_win_exc.HyperVVMNotFoundException,
                          self.utils('vmutils', 'node2').get_vm_state, 'vm1')

    def test_power_states_and_summary(self):
        vmutils = self._vm()
        self.assertEqual(constants.HYPERV_VM_STATE_DISABLED,
                         vmutils.get_vm_state('vm1'))
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_ENABLED)
        info = vmutils.get_vm_summary_info('vm1')
        self.assertEqual({'NumberOfProcessors', 'EnabledState',
                          'MemoryUsage', 'UpTime'}, set(info))
        self.assertEqual((2, constants.HYPERV_VM_STATE_ENABLED, 1024),
                         (info['NumberOfProcessors'], info['EnabledState'],
                          info['MemoryUsage']))
        self.assertIsInstance(info['UpTime'], int)
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_PAUSED)
        # Hyper-V ignores a request that is invalid in the current state.
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_REBOOT)
        self.assertEqual(constants.HYPERV_VM_STATE_PAUSED,
                         vmutils.get_vm_state('vm1'))
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_SUSPENDED)
        self.assertEqual(constants.HYPERV_VM_STATE_SUSPENDED,
                         vmutils.get_vm_state('vm1'))
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_ENABLED)
        vmutils.soft_shutdown_vm('vm1')
        self.assertEqual(constants.HYPERV_VM_STATE_DISABLED,
                         vmutils.get_vm_state('vm1'))
        self.assertIsNone(vmutils.get_vm_summary_info('vm1')['UpTime'])

    def test_notes_disks_nics(self):
        vmutils = self._vm()
        self.assertEqual([('vm1', ['3f0d3d5c-1e7e-4bd6-a0c3-2a5b6f1c9b11'])],
                         vmutils.list_instance_notes())
        self.assertEqual('3f0d3d5c-1e7e-4bd6-a0c3-2a5b6f1c9b11',
                         vmutils.get_instance_uuid('vm1'))
        vmutils.attach_ide_drive('vm1', '/x/root.vhdx', 0, 0)
        vmutils.attach_scsi_drive('vm1', '/x/eph.vhdx')
        self.assertEqual((['/x/root.vhdx', '/x/eph.vhdx'], []),
                         vmutils.get_vm_storage_paths('vm1'))
        vmutils.create_nic('vm1', 'port-1', 'fa:16:3e:00:00:01')
        self.assertEqual(['port-1'], vmutils.get_vm_nic_names('vm1'))
        vmutils.destroy_vm('vm1')
        self.assertEqual([], self.state.disks())
        self.assertEqual([], self.state.nics())
        self.assertRaises(os_win_exc.HyperVVMNotFoundException,
                          vmutils.destroy_vm, 'vm1')

    def test_duplicate_vm_is_an_os_win_error(self):
        self._vm()
        self.assertRaises(os_win_exc.HyperVException, self._vm,
                          node='node2')

    def test_an_armed_fault_fails_the_next_call_only(self):
        vmutils = self._vm()
        self.state.arm_fault('vmutils.set_vm_state', message='job failed')
        err = self.assertRaises(os_win_exc.HyperVException,
                                vmutils.set_vm_state, 'vm1',
                                constants.HYPERV_VM_STATE_ENABLED)
        self.assertEqual('job failed', str(err))
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_ENABLED)
        self.assertEqual(constants.HYPERV_VM_STATE_ENABLED,
                         vmutils.get_vm_state('vm1'))

    def test_memory_usage_of_a_vm_that_is_off_is_none(self):
        # As WMI reports it: code that adds it up must cope.
        self.assertIsNone(self._vm().get_vm_summary_info('vm1')[
            'MemoryUsage'])

    def test_detach_ignores_the_vm_name_as_os_win(self):
        vmutils = self._vm()
        vmutils.attach_scsi_drive('vm1', '/x/vol.vhdx')
        vmutils.detach_vm_disk('no-such-vm', '/x/vol.vhdx')
        self.assertEqual([], self.state.disks('vm1'))
        # Nothing attached at that path: nothing to do, no error.
        vmutils.detach_vm_disk('no-such-vm', '/x/vol.vhdx')

    def test_state_constants_are_os_wins(self):
        # hvc_sim does not import os-win; its numbers must be os-win's.
        for name in ('ENABLED', 'DISABLED', 'SHUTTING_DOWN', 'REBOOT',
                     'PAUSED', 'SUSPENDED'):
            self.assertEqual(
                getattr(constants, 'HYPERV_VM_STATE_' + name),
                getattr(sim_state, 'VM_STATE_' + name), name)


class InterleaveBeforeTransaction(driver_fixtures.fixtures.Fixture):
    """Run ``action`` (another node's change, through its own connection)
    just before the ``n``-th transaction a ClusterState opens.

    A simulated os-win call that checked something in one transaction and
    acted on it in another would act on what ``action`` changed; one that
    checks and acts in one transaction sees the change, or finishes first.
    ``fired`` says whether the call opened that many transactions.
    """

    def __init__(self, state, n, action):
        super().__init__()
        self._state, self._n, self._action = state, n, action
        self.fired = False

    def _setUp(self):
        real_db = self._state._db
        other = sim_state.ClusterState(self._state.path)
        opened = []

        def db(write=False, create=False):
            opened.append(write)
            if len(opened) == self._n:
                self._action(other)
                self.fired = True
            return real_db(write=write, create=create)
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            self._state, '_db', side_effect=db))


def interleavings(test, state, action, prepare, call):
    """``call()`` with ``action`` before its 1st transaction, then before
    its 2nd, and so on, until it opens no more (``prepare()`` before each
    round); yields (round, raised os-win error or None).
    """
    n = 1
    while True:
        prepare()
        hook = InterleaveBeforeTransaction(state, n, action)
        with hook:
            try:
                call()
                error = None
            except os_win_exc.OSWinException as e:
                error = e
        if not hook.fired:
            test.assertGreater(n, 1, 'the call opened no transaction')
            return
        yield n, error
        n += 1


class TestCheckThenActRaces(SimulatedTestCase):
    """The cluster moves a VM to node2 between any two steps of node1's
    call: node1's change must then fail as not found, and never land on
    the VM node2 now runs.
    """

    def setUp(self):
        super().setUp()
        self.vmutils = self.utils('vmutils', 'node1')

    def _fresh_vm(self):
        if self.state.get_vm('vm1'):
            self.state.delete_vm('vm1')
        if self.state.get_cluster_group('vm1'):
            self.state.delete_cluster_group('vm1')
        self.vmutils.create_vm('vm1', False, 1, '/x/vm1')
        # Clustered: the failover cluster moves it.
        self.state.add_cluster_group('vm1')

    def _snapshot(self, state):
        """What node1's call may change, but for the VM's node."""
        vm = state.get_vm('vm1')
        if vm is None:
            return None
        return ((vm.state, vm.vcpus, vm.memory_mb), state.disks('vm1'),
                state.nics('vm1'), state.snapshots('vm1'))

    def _check(self, method, *args):
        seen = []

        def failover(other):
            seen.append(self._snapshot(other))
            if seen[-1] is not None:
                other.move_vm('vm1', 'node2')
        rounds = 0
        for n, error in interleavings(
                self, self.state, failover, self._fresh_vm,
                lambda: getattr(self.vmutils, method)('vm1', *args)):
            rounds += 1
            at_failover = seen[-1]
            self.assertEqual(
                at_failover, self._snapshot(self.state),
                '%s changed the VM node2 runs (failover before its '
                'transaction %d)' % (method, n))
            if error is not None:
                self.assertIsInstance(
                    error, os_win_exc.HyperVVMNotFoundException)
            else:
                # It said it was done: it was, before the failover.
                self._fresh_vm()
                self.assertNotEqual(self._snapshot(self.state), at_failover,
                                    '%s did nothing but said it did'
                                    % method)
        self.assertGreater(rounds, 0)

    def test_set_vm_state(self):
        self._check('set_vm_state', constants.HYPERV_VM_STATE_ENABLED)

    def test_update_vm(self):
        self._check('update_vm', 4096, 0, 4, 0, False, 1.0)

    def test_soft_shutdown_vm(self):
        self._check('soft_shutdown_vm')

    def test_destroy_vm(self):
        self._check('destroy_vm')

    def test_create_nic(self):
        self._check('create_nic', 'port-1', None)

    def test_attach_scsi_drive(self):
        self._check('attach_scsi_drive', '/x/d.vhdx')

    def test_attach_ide_drive(self):
        self._check('attach_ide_drive', '/x/d.vhdx', 0, 0)

    def test_take_vm_snapshot(self):
        self._check('take_vm_snapshot')

    def test_uncluster_of_a_group_gone_meanwhile_is_not_found(self):
        # Another node's delete takes the group between any two steps of
        # this node's: not found (what destroy takes for done), never a
        # cluster failure.
        clusterutils = self.utils('clusterutils')

        def clustered():
            self._fresh_vm()
            if not self.state.get_cluster_group('vm1'):
                clusterutils.add_vm_to_cluster('vm1')

        def other_node_unclusters(other):
            other.delete_cluster_group('vm1')
        for n, error in interleavings(self, self.state,
                                      other_node_unclusters, clustered,
                                      lambda: clusterutils.delete('vm1')):
            self.assertIsInstance(error, os_win_exc.HyperVVMNotFoundException,
                                  'before transaction %d' % n)
            self.assertIsNone(self.state.get_cluster_group('vm1'))


class TestAtomicChanges(SimulatedTestCase):

    def test_scsi_slots_are_taken_in_the_insert_transaction(self):
        # Another attachment lands between any two steps of this one:
        # each still gets a slot of its own.
        vmutils = self.utils('vmutils')

        def fresh():
            if self.state.get_vm('vm1'):
                self.state.delete_vm('vm1')
            vmutils.create_vm('vm1', False, 2, '/x/vm1')

        def other_attach(other):
            other.add_disk('vm1', '/x/b.vhdx', 'SCSI0', None,
                           constants.DISK, slots=64)
        for n, error in interleavings(
                self, self.state, other_attach, fresh,
                lambda: vmutils.attach_scsi_drive('vm1', '/x/a.vhdx')):
            self.assertIsNone(error)
            slots = sorted(d.slot for d in self.state.disks('vm1'))
            self.assertEqual([0, 1], slots, 'before transaction %d' % n)

    def test_a_reset_is_one_transaction(self):
        vmutils = self.utils('vmutils')
        vmutils.create_vm('vm1', False, 2, '/x/vm1')
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_ENABLED)
        writes = []
        db = self.state._db

        def counting_db(write=False, create=False):
            if write:
                writes.append(1)
            return db(write=write, create=create)
        with mock.patch.object(self.state, '_db', counting_db):
            vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_REBOOT)
        self.assertEqual(1, len(writes))
        self.assertEqual(constants.HYPERV_VM_STATE_ENABLED,
                         vmutils.get_vm_state('vm1'))


class TestPathUtils(SimulatedTestCase):
    """File operations with Windows' rules and os-win's
    errors (plain OSError).
    """

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(driver_fixtures.fixtures.TempDir()).path
        self.pathutils = self.utils('pathutils')
        self.src = os.path.join(self.tmp, 'src')
        self.dest = os.path.join(self.tmp, 'dest')
        for path in (self.src, self.dest):
            with open(path, 'w') as f:
                f.write(os.path.basename(path))

    def test_rename_onto_an_existing_file_fails_as_on_windows(self):
        self.assertRaises(OSError, self.pathutils.rename, self.src,
                          self.dest)
        with open(self.dest) as f:
            self.assertEqual('dest', f.read())
        os.remove(self.dest)
        self.pathutils.rename(self.src, self.dest)
        self.assertFalse(os.path.exists(self.src))

    def test_copyfile_onto_an_existing_file_fails_as_os_win(self):
        self.assertRaises(OSError, self.pathutils.copyfile, self.src,
                          self.dest)
        with open(self.dest) as f:
            self.assertEqual('dest', f.read())

    def test_faults_are_oserrors_as_os_win_raises(self):
        self.state.arm_fault('pathutils.check_create_dir')
        err = self.assertRaises(OSError, self.pathutils.check_create_dir,
                                self.tmp)
        self.assertNotIsInstance(err, os_win_exc.OSWinException)


class TestClusterUtils(SimulatedTestCase):

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


class TestOfflineMoves(SimulatedTestCase):
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


class TestWorld(SimulatedTestCase):
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


class TestHostUtils(SimulatedTestCase):

    def test_figures_follow_the_running_vms(self):
        hostutils = self.utils('hostutils')
        self.assertEqual(8, sum(c['NumberOfLogicalProcessors']
                                for c in hostutils.get_cpus_info()))
        total_kb, free_kb = hostutils.get_memory_info()
        self.assertEqual(16384 * 1024, total_kb)
        self.assertEqual(
            (16384 - sim_hostutils.HOST_RESERVED_MEMORY_MB) * 1024, free_kb)
        vmutils = self.utils('vmutils')
        vmutils.create_vm('vm1', False, 1, '/x/vm1')
        vmutils.update_vm('vm1', 4096, 0, 2, 0, False, 1.0)
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_ENABLED)
        self.assertEqual(free_kb - 4096 * 1024,
                         hostutils.get_memory_info()[1])
        self.assertTrue(hostutils.check_min_windows_version(10, 0))


class TestVHDUtils(SimulatedTestCase):

    def test_dynamic_differencing_resize(self):
        vhdutils = self.utils('vhdutils')
        tmp = self.useFixture(driver_fixtures.fixtures.TempDir()).path
        base = os.path.join(tmp, 'base.vhdx')
        vhdutils.create_dynamic_vhd(base, 1024 ** 3)
        self.assertEqual('VHDX', vhdutils.get_vhd_format(base))
        child = os.path.join(tmp, 'child.vhdx')
        vhdutils.create_differencing_vhd(child, base)
        self.assertEqual(base, vhdutils.get_vhd_parent_path(child))
        vhdutils.resize_vhd(child, 2 * 1024 ** 3, is_file_max_size=False)
        info = vhdutils.get_vhd_info(child)
        self.assertEqual(
            (2 * 1024 ** 3, base, constants.VHD_TYPE_DIFFERENCING),
            (info['VirtualSize'], info['ParentPath'],
             info['ProviderSubtype']))
        self.assertRaises(os_win_exc.VHDException, vhdutils.resize_vhd,
                          child, 1024)
        self.assertRaises(os_win_exc.VHDException, vhdutils.get_vhd_info,
                          os.path.join(tmp, 'missing.vhdx'))

    def test_a_plain_file_reads_as_a_fixed_disk(self):
        tmp = self.useFixture(driver_fixtures.fixtures.TempDir()).path
        image = os.path.join(tmp, 'image.vhd')
        with open(image, 'wb') as f:
            f.write(b'\0' * 4096)
        info = self.utils('vhdutils').get_vhd_size(image)
        self.assertEqual(4096, info['VirtualSize'])
        self.assertEqual('VHD', self.utils('vhdutils').get_vhd_format(image))
