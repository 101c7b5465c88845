"""The simulated cluster behaves like os-win: same methods, same errors."""

import inspect
import os

from os_win import constants
from os_win import exceptions as os_win_exc
import testtools

from hvc_driver.hyperv import simulated
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


class SimulatedTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(driver_fixtures.fixtures.FakeLogger())
        self.cluster = self.useFixture(
            driver_fixtures.SimulatedClusterFixture())
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

    def test_check_cluster_state_refuses_a_stranger(self):
        self.utils('clusterutils', 'node1').check_cluster_state()
        self.assertRaises(os_win_exc.HyperVClusterException,
                          self.utils('clusterutils',
                                     'elsewhere').check_cluster_state)


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
