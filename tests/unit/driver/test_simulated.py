"""The simulated cluster behaves like os-win: same methods, same errors."""

import inspect
import os
from unittest import mock

from os_win import constants
from os_win import exceptions as os_win_exc
import testtools

from hvc_driver.hyperv import simulated
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
        for kind, cls in simulated.UTILS_CLASSES.items():
            oswin_cls = driver_fixtures.import_class(
                simulated.OSWIN_COUNTERPARTS[kind])
            methods = _public_methods(cls)
            self.assertTrue(methods, kind)
            for name in methods:
                oswin_method = getattr(oswin_cls, name, None)
                self.assertIsNotNone(
                    oswin_method, '%s.%s is not an os-win method of %s'
                    % (kind, name, oswin_cls.__name__))
                self.assertEqual(
                    inspect.signature(_undecorated(oswin_method, name)),
                    inspect.signature(getattr(cls, name)),
                    '%s.%s' % (kind, name))

    def test_the_simulated_named_pipe_handler_matches_os_win(self):
        # What utilsfactory.get_named_pipe_handler makes; the seam makes
        # the simulated one with the same arguments.
        from os_win.utils.io import namedpipe
        oswin_cls = namedpipe.NamedPipeHandler
        cls = simulated.NamedPipeHandler
        for name in ['__init__'] + _public_methods(cls):
            self.assertEqual(
                inspect.signature(getattr(oswin_cls, name)),
                inspect.signature(getattr(cls, name)), name)

    def test_the_counterparts_are_what_utilsfactory_picks(self):
        # On Windows Server 2016+ utilsfactory returns these classes.
        from os_win import utilsfactory
        for kind, path in simulated.OSWIN_COUNTERPARTS.items():
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
        return simulated.UTILS_CLASSES[kind](self.state, node)


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


class TestCheckThenActRaces(SimulatedTestCase):
    """Finding 6: the cluster moves a VM to node2 right after node1 looked
    it up: node1's change must then fail as not found, never land on the
    VM node2 now runs. (Done in one transaction, there is no look-up to
    race with.)
    """

    def setUp(self):
        super().setUp()
        self.vmutils = self.utils('vmutils', 'node1')
        self.vmutils.create_vm('vm1', False, 1, '/x/vm1')
        self.moved = False
        get_vm = self.state.get_vm

        def get_vm_then_failover(name):
            vm = get_vm(name)
            if not self.moved:
                self.state.move_vm(name, 'node2')
                self.moved = True
            return vm
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            self.state, 'get_vm', side_effect=get_vm_then_failover))

    def _act(self, method, *args):
        try:
            getattr(self.vmutils, method)('vm1', *args)
            refused = False
        except os_win_exc.HyperVVMNotFoundException:
            refused = True
        vm = sim_state.ClusterState.get_vm(self.state, 'vm1')
        if self.moved:
            self.assertTrue(refused, '%s changed the VM of node2' % method)
            self.assertEqual('node2', vm.node)
        return vm

    def test_set_vm_state(self):
        vm = self._act('set_vm_state', constants.HYPERV_VM_STATE_ENABLED)
        if self.moved:
            self.assertEqual(constants.HYPERV_VM_STATE_DISABLED, vm.state)

    def test_update_vm(self):
        vm = self._act('update_vm', 4096, 0, 4, 0, False, 1.0)
        if self.moved:
            self.assertEqual(512, vm.memory_mb)

    def test_destroy_vm(self):
        self._act('destroy_vm')

    def test_create_nic(self):
        self._act('create_nic', 'port-1', None)
        if self.moved:
            self.assertEqual([], self.state.nics('vm1'))

    def test_attach_scsi_drive(self):
        self._act('attach_scsi_drive', '/x/d.vhdx')
        if self.moved:
            self.assertEqual([], self.state.disks('vm1'))

    def test_uncluster_of_a_group_gone_meanwhile_is_not_found(self):
        # Another node's delete takes the group right after this node
        # looked it up: not found (what destroy takes for done), not a
        # cluster failure.
        clusterutils = self.utils('clusterutils')
        clusterutils.add_vm_to_cluster('vm1')
        get_group = self.state.get_cluster_group

        def get_group_then_delete(name):
            group = get_group(name)
            if group is not None:
                self.state.delete_cluster_group(name)
            return group
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            self.state, 'get_cluster_group',
            side_effect=get_group_then_delete))
        try:
            clusterutils.delete('vm1')
        except os_win_exc.HyperVVMNotFoundException:
            pass
        self.assertIsNone(get_group('vm1'))

    def test_a_vm_on_another_node_is_not_found(self):
        self.state.move_vm('vm1', 'node2')
        self.moved = True
        for method, args in (
                ('set_vm_state', (constants.HYPERV_VM_STATE_ENABLED,)),
                ('update_vm', (4096, 0, 4, 0, False, 1.0)),
                ('soft_shutdown_vm', ()), ('create_nic', ('p', None)),
                ('attach_scsi_drive', ('/x/d.vhdx',)),
                ('attach_ide_drive', ('/x/d.vhdx', 0, 0)),
                ('take_vm_snapshot', ()), ('destroy_vm', ())):
            self._act(method, *args)


class TestAtomicChanges(SimulatedTestCase):

    def test_scsi_slots_are_taken_in_the_insert_transaction(self):
        vmutils = self.utils('vmutils')
        vmutils.create_vm('vm1', False, 2, '/x/vm1')
        # Two attachments that both saw the controller empty.
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            self.state, 'disks', return_value=[]))
        vmutils.attach_scsi_drive('vm1', '/x/a.vhdx')
        vmutils.attach_scsi_drive('vm1', '/x/b.vhdx')
        slots = [d.slot for d in sim_state.ClusterState.disks(self.state,
                                                              'vm1')]
        self.assertEqual([0, 1], sorted(slots))

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
    """Finding 3, 5, 7: file operations with Windows' rules and os-win's
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
        # os-win checks that the cluster has a node, not that it is this
        # one: init_host does that.
        self.utils('clusterutils', 'node1').check_cluster_state()
        self.utils('clusterutils', 'elsewhere').check_cluster_state()
        for node in ('node1', 'node2', 'node3'):
            self.state.remove_node(node)
        self.assertRaises(os_win_exc.HyperVClusterException,
                          self.utils('clusterutils',
                                     'node1').check_cluster_state)


class TestHostUtils(SimulatedTestCase):

    def test_figures_follow_the_running_vms(self):
        hostutils = self.utils('hostutils')
        self.assertEqual(8, sum(c['NumberOfLogicalProcessors']
                                for c in hostutils.get_cpus_info()))
        total_kb, free_kb = hostutils.get_memory_info()
        self.assertEqual(16384 * 1024, total_kb)
        self.assertEqual(
            (16384 - simulated.HOST_RESERVED_MEMORY_MB) * 1024, free_kb)
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
