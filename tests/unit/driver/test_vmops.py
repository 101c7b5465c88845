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

"""VMOps against os-win (autospec) and against the simulated cluster."""

import json
import os
from unittest import mock

from hvc_driver import exception as hvc_exc
from hvc_driver import hyperv
from hvc_driver import layout
from hvc_driver import vmops
from hvc_driver import volumeops
import hvc_names
from hvc_oswin_api import constants as os_win_const
from hvc_sim.oswin.storage import vhdutils as sim_vhdutils
from nova.compute import power_state
from nova import context as nova_context
from nova import exception
from nova import objects
from nova.tests.unit import fake_instance
from nova.virt import virtapi
from os_win import exceptions as os_win_exc
from oslo_config import fixture as config_fixture
from oslo_utils import units
from placement_sync import sources as csv_sources
from placement_sync.sources import oswin as oswin_source
from tests.unit.driver import fixtures as driver_fixtures

NODE = 'node1'
IMAGE_ID = '0a5e2b5e-7a8c-4d5f-9d8e-1c2b3a4d5e6f'
PORT_ID = 'b4f6cf0c-3c5a-4d7e-8f9a-0b1c2d3e4f50'

objects.register_all()


def _instance(root_gb=10, ephemeral_gb=0, swap=0, **updates):
    flavor = objects.Flavor(
        id=1, name='f1', memory_mb=2048, vcpus=2, root_gb=root_gb,
        ephemeral_gb=ephemeral_gb, swap=swap, flavorid='1', rxtx_factor=1.0,
        vcpu_weight=1, disabled=False, is_public=True, extra_specs={},
        projects=[])
    updates.setdefault('config_drive', '')
    instance = fake_instance.fake_instance_obj(
        nova_context.get_admin_context(), flavor=flavor, **updates)
    instance.system_metadata = {}
    return instance


def _image_meta(disk_format='vhdx', id=IMAGE_ID, **properties):
    return objects.ImageMeta.from_dict({
        'id': id, 'disk_format': disk_format,
        'container_format': 'bare', 'properties': properties})


def fake_download(context, image_id, data):
    """glance's download of a 4 KiB image (a fixed disk to the simulated
    cluster) into ``data``.
    """
    data.write(b'\0' * 4096)


def _vifs(vif_type='hyperv'):
    return [{'id': PORT_ID, 'address': 'fa:16:3e:00:00:01',
             'type': vif_type}]


class OsWinVMOpsBase(driver_fixtures.OsWinTestCase):
    """os-win mocked with create_autospec of its real classes."""

    def setUp(self):
        super().setUp()
        # A real directory: the image cache's lock file goes there.
        self.conf.config(instances_path=self.useFixture(
            driver_fixtures.fixtures.TempDir()).path, use_cow_images=True)
        self.vmutils = self.oswin.utils['vmutils']
        self.clusterutils = self.oswin.utils['clusterutils']
        self.pathutils = self.oswin.utils['pathutils']
        self.vhdutils = self.oswin.utils['vhdutils']
        self.vhdutils.get_vhd_size.return_value = {'VirtualSize': units.Gi}
        self.vhdutils.get_best_supported_vhd_format.return_value = 'VHDX'
        self.vhdutils.get_vhd_info.return_value = {
            'ParentResolved': False, 'ParentPath': '',
            'ProviderSubtype': os_win_const.VHD_TYPE_DYNAMIC}
        self.vmutils.vm_exists.return_value = False
        self.clusterutils.vm_exists.return_value = False
        self.hyperv = hyperv.HyperV(driver_fixtures.CONF)
        self.hyperv.bind(NODE)
        self.layout = layout.InstanceLayout(self.hyperv)
        self.virtapi = mock.create_autospec(virtapi.VirtAPI, instance=True)
        self.vmops = vmops.VMOps(self.hyperv, volumeops.VolumeOps(self.hyperv),
                                 self.virtapi)
        self.fetch = self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.images.IMAGE_API.download')).mock
        self.pathutils.exists.return_value = False

    def _spawn(self, instance, image_meta=None, network_info=None,
               block_device_info=None):
        self.vmops.spawn(mock.sentinel.context, instance,
                         image_meta or _image_meta(),
                         _vifs() if network_info is None else network_info,
                         block_device_info)


class VMOpsTestCase(OsWinVMOpsBase):

    def test_spawn_builds_a_clustered_running_vm(self):
        instance = _instance(root_gb=10, ephemeral_gb=5)
        self._spawn(instance)
        instance_dir = os.path.join(driver_fixtures.CONF.instances_path,
                                    instance.name)
        cache = os.path.join(driver_fixtures.CONF.instances_path, '_base',
                             IMAGE_ID + '.vhdx')
        root = os.path.join(instance_dir, 'root.vhdx')
        ephemeral = os.path.join(instance_dir, 'ephemeral.vhdx')
        [partial] = [c.kwargs['data'].path
                     for c in self.fetch.call_args_list]
        self.assertEqual(os.path.dirname(cache), os.path.dirname(partial))
        self.assertRegex(os.path.basename(partial),
                         r'^%s\.part\.[0-9a-f]{32}\.vhdx$' % IMAGE_ID)
        self.vhdutils.get_vhd_info.assert_called_once_with(partial)
        self.pathutils.rename.assert_called_once_with(partial, cache)
        self.vhdutils.create_differencing_vhd.assert_called_once_with(
            root, cache)
        self.vhdutils.resize_vhd.assert_called_once_with(
            root, 10 * units.Gi, is_file_max_size=False)
        self.vhdutils.create_dynamic_vhd.assert_called_once_with(
            ephemeral, 5 * units.Gi)
        self.vmutils.create_vm.assert_called_once_with(
            instance.name, False, os_win_const.VM_GEN_1, instance_dir,
            notes=[instance.uuid])
        self.vmutils.update_vm.assert_called_once_with(
            instance.name, 2048, 0, 2, 0, False, 1.0,
            configuration_root_dir=instance_dir)
        self.assertEqual(
            [mock.call(instance.name, root, 0, 0),
             mock.call(instance.name, ephemeral, 0, 1)],
            self.vmutils.attach_ide_drive.call_args_list)
        self.vmutils.create_nic.assert_called_once_with(
            instance.name, PORT_ID, 'fa:16:3e:00:00:01')
        self.clusterutils.add_vm_to_cluster.assert_called_once_with(
            instance.name, 1, 6, True)
        self.vmutils.set_vm_state.assert_called_once_with(
            instance.name, os_win_const.HYPERV_VM_STATE_ENABLED)

    def test_spawn_waits_for_neutron_to_bind_down_ports(self):
        instance = _instance()
        vifs = _vifs()
        vifs[0]['active'] = False
        waited = []
        self.virtapi.wait_for_instance_event.return_value.__enter__\
            .side_effect = lambda: waited.append(
                self.vmutils.create_nic.called)
        self._spawn(instance, network_info=vifs)
        self.virtapi.wait_for_instance_event.assert_called_once_with(
            instance, [('network-vif-plugged', PORT_ID)], timeout=300,
            error_callback=mock.ANY)
        # The NIC is made inside the wait, the VM started after it.
        self.assertEqual([False], waited)
        self.vmutils.set_vm_state.assert_called_once_with(
            instance.name, os_win_const.HYPERV_VM_STATE_ENABLED)

    def test_ports_not_bound_in_time_fail_the_spawn_and_clean_up(self):
        self.virtapi.wait_for_instance_event.return_value.__exit__\
            .side_effect = exception.InstanceEventTimeout()
        self.vmutils.vm_exists.side_effect = [False, True]
        vifs = _vifs()
        vifs[0]['active'] = False
        self.assertRaises(exception.VirtualInterfaceCreateException,
                          self._spawn, _instance(), network_info=vifs)
        self.vmutils.set_vm_state.assert_called_with(
            mock.ANY, os_win_const.HYPERV_VM_STATE_DISABLED)
        self.vmutils.destroy_vm.assert_called_once()

    def test_ports_not_bound_in_time_is_a_warning_when_not_fatal(self):
        self.conf.config(vif_plugging_is_fatal=False)
        self.virtapi.wait_for_instance_event.return_value.__exit__\
            .side_effect = exception.InstanceEventTimeout()
        instance = _instance()
        self._spawn(instance)
        self.vmutils.set_vm_state.assert_called_once_with(
            instance.name, os_win_const.HYPERV_VM_STATE_ENABLED)

    def test_generation_2_boots_from_scsi(self):
        instance = _instance()
        self._spawn(instance, _image_meta(hw_machine_type='hyperv-gen2'))
        self.assertEqual(os_win_const.VM_GEN_2,
                         self.vmutils.create_vm.call_args[0][2])
        self.vmutils.attach_scsi_drive.assert_called_once_with(
            instance.name, mock.ANY)
        self.vmutils.attach_ide_drive.assert_not_called()

    def test_cached_image_is_not_fetched_again(self):
        self.pathutils.exists.side_effect = (
            lambda path: not path.endswith(layout.MOVED_MARK))
        self._spawn(_instance())
        self.fetch.assert_not_called()

    def test_failure_mid_spawn_removes_everything_made(self):
        instance = _instance()
        self.vmutils.create_nic.side_effect = os_win_exc.HyperVException(
            'WMI job failed')
        # By then the VM exists; destroy finds it and removes it.
        self.vmutils.vm_exists.side_effect = [False, True]
        err = self.assertRaises(hvc_exc.HyperVOperationFailed, self._spawn,
                                instance)
        self.assertIn('WMI job failed', str(err))
        self.assertIn(NODE, str(err))
        self.vmutils.destroy_vm.assert_called_once_with(instance.name)
        instance_dir = os.path.join(driver_fixtures.CONF.instances_path,
                                    instance.name)
        self.assertEqual(mock.call(instance_dir),
                         self.pathutils.check_remove_dir.call_args)
        self.clusterutils.add_vm_to_cluster.assert_not_called()

    def test_unsupported_port_is_refused_before_anything_is_made(self):
        for vif_type in ('hw_veb', 'vhostuser', 'bridge'):
            err = self.assertRaises(hvc_exc.UnsupportedVifType, self._spawn,
                                    _instance(),
                                    network_info=_vifs(vif_type))
            self.assertIn('has VIF type %s' % vif_type, str(err))
            self.assertIn('only ports of type hyperv, ovs', str(err))
        # An OVS port, without the switch it would be connected to.
        err = self.assertRaises(hvc_exc.OvsVswitchNotConfigured, self._spawn,
                                _instance(), network_info=_vifs('ovs'))
        self.assertIn('vswitch_name', str(err))
        self.vmutils.create_vm.assert_not_called()
        self.pathutils.check_create_dir.assert_not_called()

    def test_raw_image_is_refused_before_anything_is_touched(self):
        self.assertRaises(exception.ImageUnacceptable, self._spawn,
                          _instance(), _image_meta(disk_format='raw'))
        self.vmutils.create_vm.assert_not_called()
        # Checked with the rest of the request: the instance directory
        # (which may hold someone's disks) is not even looked at.
        self.pathutils.check_remove_dir.assert_not_called()
        self.pathutils.check_create_dir.assert_not_called()

    def test_flavor_smaller_than_image(self):
        self.vhdutils.get_vhd_size.return_value = {
            'VirtualSize': 20 * units.Gi}
        self.assertRaises(exception.FlavorDiskSmallerThanImage, self._spawn,
                          _instance(root_gb=10))
        self.vhdutils.create_differencing_vhd.assert_not_called()
        self.vmutils.create_vm.assert_not_called()

    def test_existing_vm_is_not_touched(self):
        self.vmutils.vm_exists.return_value = True
        self.assertRaises(exception.InstanceExists, self._spawn, _instance())
        self.pathutils.check_remove_dir.assert_not_called()
        self.vmutils.destroy_vm.assert_not_called()

    def test_config_drive_is_built_and_attached_as_a_dvd(self):
        make_config_drive = self.useFixture(
            driver_fixtures.fixtures.MockPatch(
                'hvc_driver.configdrive.make_config_drive',
                autospec=True, return_value=b'iso')).mock
        write_file = self.oswin.write_file
        metadata = self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.api.metadata.base.InstanceMetadata')).mock
        self.conf.config(config_drive_inject_password=True,
                         group='hyperv_cluster')
        instance = _instance(config_drive='True')
        self.vmops.spawn(mock.sentinel.context, instance, _image_meta(),
                         _vifs(), None, injected_files=['f'],
                         admin_password='secret')
        iso = os.path.join(driver_fixtures.CONF.instances_path,
                           instance.name, 'configdrive.iso')
        metadata.assert_called_once_with(
            instance, content=['f'], extra_md={'admin_pass': 'secret'},
            network_info=_vifs())
        make_config_drive.assert_called_once_with(metadata.return_value)
        write_file.assert_any_call(iso, b'iso', 0)
        self.vmutils.attach_ide_drive.assert_any_call(
            instance.name, iso, 1, 0, drive_type='DVD')

    def test_vfat_config_drive_and_volumes_are_refused(self):
        self.conf.config(config_drive_format='vfat')
        self.assertRaises(exception.ConfigDriveUnsupportedFormat,
                          self._spawn, _instance(config_drive='True'))
        iscsi = {'connection_info': {'driver_volume_type': 'iscsi',
                                     'data': {}},
                 'boot_index': None, 'mount_device': '/dev/sdb'}
        err = self.assertRaises(
            hvc_exc.UnsupportedVolumeType, self._spawn, _instance(),
            block_device_info={'block_device_mapping': [iscsi]})
        self.assertIn('iscsi cannot be attached', str(err))
        boot_volume = dict(iscsi, boot_index=0)
        self.assertRaises(
            exception.InvalidBDM, self._spawn, _instance(),
            block_device_info={'block_device_mapping': [boot_volume]})
        self.vmutils.create_vm.assert_not_called()
        self.vmutils.attach_scsi_drive.assert_not_called()

    def test_smb_volumes_are_attached_at_spawn(self):
        instance = _instance()
        connection_info = {
            'driver_volume_type': 'smbfs',
            'data': {'export': '//fs1/volumes', 'name': 'volume-1.vhdx',
                     'options': '-o username=svc,password=secret'}}
        smb = {'connection_info': connection_info, 'boot_index': None,
               'mount_device': '/dev/sdb'}
        smbutils = self.oswin.utils['smbutils']
        smbutils.check_smb_mapping.return_value = False
        self._spawn(instance,
                    block_device_info={'block_device_mapping': [smb]})
        smbutils.mount_smb_share.assert_called_once_with(
            '\\\\fs1\\volumes', username='svc', password='secret')
        self.vmutils.attach_scsi_drive.assert_called_once_with(
            instance.name, '\\\\fs1\\volumes\\volume-1.vhdx', 'VHD')

    def test_destroy_unclusters_first_and_removes_the_disks(self):
        instance = _instance()
        self.vmutils.vm_exists.return_value = True
        self.clusterutils.vm_exists.return_value = True
        self.clusterutils.get_vm_host.return_value = 'NODE1'
        manager = mock.Mock()
        manager.attach_mock(self.clusterutils.delete, 'uncluster')
        manager.attach_mock(self.vmutils.destroy_vm, 'destroy_vm')
        manager.attach_mock(self.pathutils.check_remove_dir, 'remove_dir')
        self.vmops.destroy(instance)
        self.assertEqual(
            ['uncluster', 'destroy_vm', 'remove_dir'],
            [c[0] for c in manager.mock_calls])

    def test_destroy_leaves_a_vm_the_cluster_moved_elsewhere_alone(self):
        self.clusterutils.vm_exists.return_value = True
        self.clusterutils.get_vm_host.return_value = 'node2'
        err = self.assertRaises(hvc_exc.InstanceOnAnotherNode,
                                self.vmops.destroy, _instance())
        self.assertIn('on node node2, not on node1', str(err))
        self.clusterutils.delete.assert_not_called()
        self.vmutils.destroy_vm.assert_not_called()
        self.pathutils.check_remove_dir.assert_not_called()

    def test_destroy_of_a_vanished_vm_still_cleans_the_disks(self):
        instance = _instance()
        self.vmops.destroy(instance)
        self.vmutils.destroy_vm.assert_not_called()
        self.pathutils.check_remove_dir.assert_called_once_with(
            os.path.join(driver_fixtures.CONF.instances_path, instance.name))

    def test_destroy_keeps_the_disks_of_a_vm_it_could_not_remove(self):
        self.vmutils.vm_exists.return_value = True
        self.vmutils.destroy_vm.side_effect = os_win_exc.HyperVException(
            'busy')
        self.assertRaises(hvc_exc.HyperVOperationFailed, self.vmops.destroy,
                          _instance())
        self.pathutils.check_remove_dir.assert_not_called()

    def test_a_missing_vm_is_instance_not_found_everywhere(self):
        missing = os_win_exc.HyperVVMNotFoundException(vm_name='x')
        self.vmutils.get_vm_summary_info.side_effect = missing
        self.vmutils.set_vm_state.side_effect = missing
        self.vmutils.soft_shutdown_vm.side_effect = missing
        instance = _instance()
        for operation, args in ((self.vmops.get_info, ()),
                                (self.vmops.power_on, ()),
                                (self.vmops.power_off, ()),
                                (self.vmops.power_off, (30, 1)),
                                (self.vmops.reboot, ('HARD',)),
                                (self.vmops.reboot, ('SOFT',)),
                                (self.vmops.pause, ()),
                                (self.vmops.unpause, ()),
                                (self.vmops.suspend, ()),
                                (self.vmops.resume, ())):
            err = self.assertRaises(exception.InstanceNotFound, operation,
                                    instance, *args)
            self.assertIn(instance.uuid, str(err))

    def test_other_os_win_errors_name_the_operation_and_node(self):
        self.vmutils.set_vm_state.side_effect = os_win_exc.HyperVException(
            'job 32768 failed')
        err = self.assertRaises(hvc_exc.HyperVOperationFailed,
                                self.vmops.pause, _instance())
        self.assertEqual('Hyper-V on node node1 failed to pause an instance: '
                         'job 32768 failed', str(err))

    def test_get_info_maps_power_states(self):
        # Written out: Hyper-V's EnabledState values and nova's states.
        expected = {2: power_state.RUNNING, 3: power_state.SHUTDOWN,
                    4: power_state.SHUTDOWN, 10: power_state.RUNNING,
                    32768: power_state.PAUSED, 32769: power_state.SUSPENDED,
                    12345: power_state.NOSTATE}
        for hyperv_state, nova_state in expected.items():
            self.vmutils.get_vm_summary_info.return_value = {
                'EnabledState': hyperv_state, 'NumberOfProcessors': 1,
                'MemoryUsage': 0, 'UpTime': 0}
            self.assertEqual(nova_state,
                             self.vmops.get_info(_instance()).state)

    def test_power_off_with_timeout_asks_the_guest_first(self):
        self.vmutils.get_vm_state.return_value = (
            os_win_const.HYPERV_VM_STATE_DISABLED)
        self.vmops.power_off(_instance(), timeout=10, retry_interval=1)
        self.vmutils.soft_shutdown_vm.assert_called_once()
        self.vmutils.set_vm_state.assert_not_called()

    def test_power_off_falls_back_to_hard_when_the_guest_ignores_it(self):
        self.vmutils.get_vm_state.return_value = (
            os_win_const.HYPERV_VM_STATE_ENABLED)
        self.useFixture(driver_fixtures.fixtures.MockPatch('time.sleep'))
        instance = _instance()
        self.vmops.power_off(instance, timeout=2, retry_interval=1)
        self.vmutils.set_vm_state.assert_called_once_with(
            instance.name, os_win_const.HYPERV_VM_STATE_DISABLED)

    def test_destroy_counts_what_vanishes_midway_as_removed(self):
        # Each step may find the VM or its group gone (a
        # concurrent delete, the cluster acting): destroy goes on and never
        # says InstanceNotFound, which nova takes for "disappeared" and
        # then never marks the instance deleted.
        instance = _instance()
        missing = os_win_exc.HyperVVMNotFoundException(vm_name='x')
        self.clusterutils.vm_exists.return_value = True
        self.clusterutils.get_vm_host.return_value = NODE
        self.clusterutils.delete.side_effect = missing
        self.vmutils.vm_exists.return_value = True
        self.vmutils.stop_vm_jobs.side_effect = missing
        self.vmutils.set_vm_state.side_effect = missing
        self.vmutils.destroy_vm.side_effect = missing
        self.vmops.destroy(instance)
        self.vmutils.destroy_vm.assert_called_once_with(instance.name)
        self.pathutils.check_remove_dir.assert_called_once_with(
            self.layout.instance_dir(instance.name))

    def test_destroy_when_the_group_goes_before_its_owner_is_read(self):
        instance = _instance()
        self.clusterutils.vm_exists.return_value = True
        self.clusterutils.get_vm_host.side_effect = (
            os_win_exc.ClusterObjectNotFound(resource=instance.name))
        self.vmops.destroy(instance)
        self.pathutils.check_remove_dir.assert_called_once_with(
            self.layout.instance_dir(instance.name))

    def test_destroy_never_says_instance_not_found(self):
        self.clusterutils.vm_exists.side_effect = (
            os_win_exc.HyperVVMNotFoundException(vm_name='x'))
        self.assertRaises(hvc_exc.HyperVOperationFailed, self.vmops.destroy,
                          _instance())

    def test_destroy_keeps_the_disks_of_a_vm_failed_over_while_deleted(self):
        # Clustered here when looked at, failed over before it
        # was unclustered: it runs unclustered on another node, from the
        # disks on the CSV. This node no longer sees it.
        self.clusterutils.vm_exists.return_value = True
        self.clusterutils.get_vm_host.return_value = NODE
        self.vmutils.vm_exists.return_value = False
        err = self.assertRaises(hvc_exc.InstanceOnAnotherNode,
                                self.vmops.destroy, _instance())
        self.assertIn('moved', str(err))
        self.clusterutils.delete.assert_called_once()
        self.pathutils.check_remove_dir.assert_not_called()

    def test_spawn_refuses_a_vm_clustered_on_another_node(self):
        # This node does not see it, the cluster does.
        self.clusterutils.vm_exists.return_value = True
        self.assertRaises(exception.InstanceExists, self._spawn, _instance())
        self.pathutils.check_remove_dir.assert_not_called()
        self.pathutils.check_create_dir.assert_not_called()
        self.clusterutils.delete.assert_not_called()

    def test_cleanup_leaves_a_vm_another_node_owns_alone(self):
        # After a cluster live migration nova cleans up the
        # source node; the VM and its disks are the other node's now.
        self.clusterutils.vm_exists.return_value = True
        self.clusterutils.get_vm_host.return_value = 'node2'
        self.vmops.cleanup(_instance(), destroy_disks=True)
        self.clusterutils.delete.assert_not_called()
        self.vmutils.destroy_vm.assert_not_called()
        self.pathutils.check_remove_dir.assert_not_called()

    def test_cleanup_of_a_vm_of_this_node_destroys_it(self):
        instance = _instance()
        self.clusterutils.vm_exists.return_value = True
        self.clusterutils.get_vm_host.return_value = NODE
        self.vmutils.vm_exists.return_value = True
        self.vmops.cleanup(instance, destroy_disks=False)
        self.clusterutils.delete.assert_called_once_with(instance.name)
        self.vmutils.destroy_vm.assert_called_once_with(instance.name)
        self.pathutils.check_remove_dir.assert_not_called()

    def test_oserror_and_raw_wmi_errors_become_nova_exceptions(self):
        # Os-win's PathUtils raises plain OSError, WMI calls
        # raise x_wmi; neither may reach nova raw.
        self.pathutils.check_create_dir.side_effect = PermissionError(
            13, 'Access is denied')
        err = self.assertRaises(hvc_exc.HyperVOperationFailed, self._spawn,
                                _instance())
        self.assertIn('Access is denied', str(err))
        self.vmutils.get_vm_summary_info.side_effect = os_win_exc.x_wmi(
            'Generic failure')
        err = self.assertRaises(hvc_exc.HyperVOperationFailed,
                                self.vmops.get_info, _instance())
        self.assertIn('Generic failure', str(err))

    def test_hard_reboot_of_a_vm_that_is_not_running_starts_it(self):
        # Hyper-V ignores a reset of a VM that is not running.
        instance = _instance()
        for state in (os_win_const.HYPERV_VM_STATE_DISABLED,
                      os_win_const.HYPERV_VM_STATE_PAUSED,
                      os_win_const.HYPERV_VM_STATE_SUSPENDED):
            self.vmutils.set_vm_state.reset_mock()
            self.vmutils.get_vm_state.return_value = state
            self.vmops.reboot(instance, 'HARD')
            self.assertEqual(
                [mock.call(instance.name,
                           os_win_const.HYPERV_VM_STATE_DISABLED),
                 mock.call(instance.name,
                           os_win_const.HYPERV_VM_STATE_ENABLED)],
                self.vmutils.set_vm_state.call_args_list, state)

    def test_hard_reboot_of_a_running_vm_resets_it(self):
        instance = _instance()
        self.vmutils.get_vm_state.return_value = (
            os_win_const.HYPERV_VM_STATE_ENABLED)
        self.vmops.reboot(instance, 'HARD')
        self.vmutils.set_vm_state.assert_called_once_with(
            instance.name, os_win_const.HYPERV_VM_STATE_REBOOT)

    def test_list_instance_uuids_reads_the_notes(self):
        uuid1 = 'c6bd2e4a-8b8f-4b45-9c1e-0a3a1c4c2a11'
        self.vmutils.list_instance_notes.return_value = [
            ('instance-1', [uuid1]), ('not-nova', ['some note']),
            ('no-notes', [])]
        self.assertEqual([uuid1], self.vmops.list_instance_uuids())


class SimulatedVMOpsTestCase(driver_fixtures.SimulatedTestCase):
    """VMOps on the simulated cluster: files and state really change."""

    def setUp(self):
        super().setUp()
        self.virtapi = mock.create_autospec(virtapi.VirtAPI, instance=True)
        self.vmops = vmops.VMOps(self.hyperv, volumeops.VolumeOps(self.hyperv),
                                 self.virtapi)
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.images.IMAGE_API.download', side_effect=fake_download))

    def _spawn(self, instance):
        self.vmops.spawn(None, instance, _image_meta(), _vifs(), None)

    def test_spawn_and_destroy_leave_nothing_behind(self):
        instance = _instance(root_gb=1, ephemeral_gb=1)
        self._spawn(instance)
        vm = self.cluster.state.get_vm(instance.name)
        self.assertEqual((NODE, os_win_const.HYPERV_VM_STATE_ENABLED),
                         (vm.node, vm.state))
        self.assertEqual(power_state.RUNNING,
                         self.vmops.get_info(instance).state)
        self.assertEqual([instance.uuid], self.vmops.list_instance_uuids())
        instance_dir = self.layout.instance_dir(instance.name)
        root = self.hyperv.vhdutils.get_vhd_info(
            os.path.join(instance_dir, 'root.vhdx'))
        self.assertEqual(units.Gi, root['VirtualSize'])
        self.vmops.destroy(instance)
        self.assertIsNone(self.cluster.state.get_vm(instance.name))
        self.assertEqual([], self.cluster.state.cluster_groups())
        self.assertFalse(os.path.exists(instance_dir))
        # The cached image stays for the next instance.
        self.assertTrue(os.path.exists(os.path.join(
            self.cluster.instances_path, '_base', IMAGE_ID + '.vhdx')))

    def test_fault_in_the_middle_of_spawn_leaves_nothing(self):
        for method in ('vmutils.create_nic', 'clusterutils.add_vm_to_cluster',
                       'vmutils.set_vm_state', 'vhdutils.resize_vhd'):
            instance = _instance(root_gb=1)
            self.cluster.state.arm_fault(method)
            err = self.assertRaises(hvc_exc.HyperVOperationFailed,
                                    self._spawn, instance)
            self.assertIn('simulated failure of %s' % method, str(err))
            self.assertEqual([], self.cluster.state.vms(), method)
            self.assertEqual([], self.cluster.state.cluster_groups(), method)
            self.assertFalse(os.path.exists(
                self.layout.instance_dir(instance.name)), method)

    def test_vm_failed_over_to_another_node(self):
        instance = _instance(root_gb=1)
        self._spawn(instance)
        self.cluster.state.move_vm(instance.name, 'node2')
        self.assertRaises(exception.InstanceNotFound, self.vmops.get_info,
                          instance)
        self.assertRaises(hvc_exc.InstanceOnAnotherNode, self.vmops.destroy,
                          instance)
        self.assertEqual('node2',
                         self.cluster.state.get_vm(instance.name).node)
        self.assertTrue(os.path.exists(
            self.layout.instance_dir(instance.name)))

    def test_vm_gone_behind_novas_back(self):
        instance = _instance(root_gb=1)
        self._spawn(instance)
        self.cluster.state.delete_cluster_group(instance.name)
        self.cluster.state.delete_vm(instance.name)
        self.assertRaises(exception.InstanceNotFound, self.vmops.get_info,
                          instance)
        self.assertRaises(exception.InstanceNotFound, self.vmops.power_off,
                          instance)
        self.assertFalse(self.vmops.instance_exists(instance))
        # Deleting it still works and removes its disks.
        self.vmops.destroy(instance)
        self.assertFalse(os.path.exists(
            self.layout.instance_dir(instance.name)))

    def test_vm_failed_over_between_its_owner_check_and_unclustering(self):
        # The cluster moves the VM just before destroy unclusters it.
        instance = _instance(root_gb=1)
        self._spawn(instance)
        clusterutils = self.hyperv.clusterutils
        delete = clusterutils.delete

        def failover_then_delete(vm_name):
            self.cluster.state.move_vm(vm_name, 'node2')
            delete(vm_name)
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            clusterutils, 'delete', side_effect=failover_then_delete))
        self.assertRaises(hvc_exc.InstanceOnAnotherNode, self.vmops.destroy,
                          instance)
        vm = self.cluster.state.get_vm(instance.name)
        self.assertEqual(('node2', os_win_const.HYPERV_VM_STATE_ENABLED),
                         (vm.node, vm.state))
        self.assertTrue(os.path.exists(os.path.join(
            self.layout.instance_dir(instance.name), 'root.vhdx')))
        # Nothing in the cluster says where it went now but the mark.
        with open(self.layout.moved_mark(instance.name)) as mark:
            self.assertIn('%s left node node1 unclustered' % instance.name,
                          mark.read())
        # A second delete keeps off its disks all the same...
        self.assertRaises(hvc_exc.InstanceOnAnotherNode, self.vmops.destroy,
                          instance)
        self.assertTrue(os.path.exists(os.path.join(
            self.layout.instance_dir(instance.name), 'root.vhdx')))
        # ... and so does a new spawn of that name (nova reuses names
        # only for the same instance: a rebuild, say), before it makes
        # or removes anything.
        files = sorted(os.listdir(self.layout.instance_dir(instance.name)))
        err = self.assertRaises(hvc_exc.InstanceDirectoryInUse, self._spawn,
                                instance)
        self.assertIn(layout.MOVED_MARK, str(err))
        self.assertEqual(files, sorted(os.listdir(
            self.layout.instance_dir(instance.name))))
        os.remove(self.layout.moved_mark(instance.name))
        self.cluster.state.delete_vm(instance.name)
        self.vmops.destroy(instance)
        self.assertFalse(os.path.exists(
            self.layout.instance_dir(instance.name)))

    def test_a_vhd_image_smaller_than_the_flavor_gets_a_grown_parent(self):
        # A differencing VHD cannot be grown (the simulated cluster
        # refuses as the virtual disk API does): its parent is a grown
        # copy of the image, cached once per image and size.
        self.useFixture(config_fixture.Config(driver_fixtures.CONF)).config(
            use_cow_images=True)
        first, second = _instance(root_gb=1), _instance(root_gb=1, id=2)
        for instance in (first, second):
            self.vmops.spawn(None, instance, _image_meta(disk_format='vhd'),
                             _vifs(), None)
        vhdutils = self.hyperv.vhdutils
        grown = os.path.join(layout.image_cache_dir(os.path),
                             '%s_1.vhd' % IMAGE_ID)
        for instance in (first, second):
            root = os.path.join(self.layout.instance_dir(instance.name),
                                'root.vhd')
            info = vhdutils.get_vhd_info(root)
            self.assertEqual(
                (grown, os_win_const.VHD_TYPE_DIFFERENCING, units.Gi),
                (info['ParentPath'], info['ProviderSubtype'],
                 info['VirtualSize']))
        self.assertEqual(units.Gi,
                         vhdutils.get_vhd_size(grown)['VirtualSize'])
        self.assertEqual(
            sorted([IMAGE_ID + '.vhd', IMAGE_ID + '_1.vhd']),
            sorted(f for f in os.listdir(layout.image_cache_dir(os.path))
                   if not f.startswith('hvc-image-')))
        # A VHDX child grows itself.
        third = _instance(root_gb=1, id=3)
        self.vmops.spawn(None, third, _image_meta(id=PORT_ID), _vifs(), None)
        info = vhdutils.get_vhd_info(os.path.join(
            self.layout.instance_dir(third.name), 'root.vhdx'))
        self.assertEqual(units.Gi, info['VirtualSize'])
        self.assertTrue(info['ParentPath'].endswith(PORT_ID + '.vhdx'))

    def test_destroy_twice_at_once_is_not_instance_not_found(self):
        # Another destroy removes the
        # VM between this one's vm_exists and its destroy_vm.
        instance = _instance(root_gb=1)
        self._spawn(instance)
        vmutils = self.hyperv.vmutils
        stop_vm_jobs = vmutils.stop_vm_jobs

        def racing_delete(vm_name, timeout=None):
            stop_vm_jobs(vm_name)
            self.cluster.state.delete_vm(vm_name)
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            vmutils, 'stop_vm_jobs', side_effect=racing_delete))
        self.vmops.destroy(instance)
        self.assertEqual([], self.cluster.state.vms())
        self.assertFalse(os.path.exists(
            self.layout.instance_dir(instance.name)))

    def test_a_differencing_image_is_refused(self):
        # A VHD(X) that chains to a parent elsewhere (another
        # tenant's disk) is deleted, never booted.
        victim = os.path.join(self.cluster.instances_path, 'instance-victim',
                              'root.vhdx')

        def fetch(context, image_id, data):
            data.write(json.dumps(
                {'magic': sim_vhdutils._VHD_MAGIC, 'format': 'VHDX',
                 'type': os_win_const.VHD_TYPE_DIFFERENCING,
                 'virtual_size': units.Gi, 'parent': victim}).encode())
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.images.IMAGE_API.download', side_effect=fetch))
        instance = _instance(root_gb=1)
        err = self.assertRaises(exception.ImageUnacceptable, self._spawn,
                                instance)
        self.assertIn('differencing', str(err))
        self.assertIn(victim, str(err))
        cache_dir = os.path.join(self.cluster.instances_path, '_base')
        self.assertEqual([], [f for f in os.listdir(cache_dir)
                              if not f.startswith('hvc-image-')])
        self.assertEqual([], self.cluster.state.vms())
        self.assertFalse(os.path.exists(
            self.layout.instance_dir(instance.name)))

    def test_hard_reboot_starts_a_vm_that_is_not_running(self):
        # On the simulated cluster.
        instance = _instance(root_gb=1)
        self._spawn(instance)
        for action in (self.vmops.power_off, self.vmops.pause,
                       self.vmops.suspend):
            action(instance)
            self.vmops.reboot(instance, 'HARD')
            self.assertEqual(power_state.RUNNING,
                             self.vmops.get_info(instance).state, action)

    def test_console_output_is_the_serial_port_log(self):
        instance = _instance(root_gb=1)
        self._spawn(instance)
        output = self.vmops.get_console_output(instance)
        self.assertIn(b'%s booting on node1' % instance.name.encode(),
                      output)
        log = os.path.join(self.layout.instance_dir(instance.name),
                           layout.CONSOLE_LOG)
        with open(log, 'ab') as f:
            f.write(b'x' * (2 * vmops.MAX_CONSOLE_BYTES) + b'the end\n')
        output = self.vmops.get_console_output(instance)
        self.assertEqual(vmops.MAX_CONSOLE_BYTES, len(output))
        self.assertTrue(output.endswith(b'the end\n'))
        self.cluster.state.move_vm(instance.name, 'node2')
        self.assertRaises(exception.InstanceNotFound,
                          self.vmops.get_console_output, instance)


class DisksOnTheirCSVTestCase(driver_fixtures.SimulatedTestCase):
    """An instance's disks go to the CSV that holds its DISK_GB
    allocation, as placement_sync names the CSVs' providers.
    """

    volumes = (('Volume1', 100), ('Volume2', 200))

    def setUp(self):
        super().setUp()
        self.vmops = vmops.VMOps(self.hyperv, volumeops.VolumeOps(self.hyperv),
                                 mock.create_autospec(virtapi.VirtAPI,
                                                      instance=True))
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.images.IMAGE_API.download', side_effect=fake_download))
        self.provider = {
            v.name: hvc_names.provider_uuid('cluster1', v.id)
            for v in self.cluster.state.shared_volumes()}

    def _allocations(self, disk_provider, gb=1):
        return {'node-rp': {'resources': {'VCPU': 2, 'MEMORY_MB': 2048}},
                disk_provider: {'resources': {'DISK_GB': gb}}}

    def test_the_disks_follow_the_disk_allocation(self):
        instance = _instance(root_gb=1)
        self.vmops.spawn(None, instance, _image_meta(), [], None,
                         allocations=self._allocations(
                             self.provider['Volume2']))
        on_volume2 = os.path.join(
            self.cluster.csv_instances_dir('Volume2'), instance.name)
        self.assertEqual(on_volume2, self.layout.instance_dir(instance.name))
        self.assertEqual(
            [os.path.join(on_volume2, 'root.vhdx')],
            [d.path for d in self.cluster.state.disks(instance.name)])
        self.assertEqual(on_volume2, self.cluster.state.get_vm(
            instance.name).instance_path)
        self.assertFalse(os.path.exists(os.path.join(
            self.cluster.csv_instances_dir('Volume1'), instance.name)))
        # Recorded for the scheduler, which keeps moves on this CSV.
        self.assertEqual(self.provider['Volume2'], instance.system_metadata[
            hvc_names.CSV_PROVIDER_KEY])
        # Everything else finds it there.
        self.assertIn(b'booting on node1',
                      self.vmops.get_console_output(instance))
        self.vmops.destroy(instance)
        self.assertFalse(os.path.exists(on_volume2))

    def test_no_disk_allocation_goes_under_instances_path(self):
        instance = _instance(root_gb=0)
        instance.system_metadata[hvc_names.CSV_PROVIDER_KEY] = 'stale'
        self.vmops.spawn(None, instance, _image_meta(), [], None,
                         allocations={'node-rp': {'resources': {'VCPU': 2}}})
        self.assertEqual(
            os.path.join(driver_fixtures.CONF.instances_path, instance.name),
            self.layout.instance_dir(instance.name))
        self.assertNotIn(hvc_names.CSV_PROVIDER_KEY, instance.system_metadata)

    def test_a_disk_allocation_on_no_csv_of_the_cluster_is_refused(self):
        # Another cluster's CSV, say: the disks would be where nothing was
        # allocated. Refused before anything is made.
        instance = _instance(root_gb=1)
        foreign = hvc_names.provider_uuid('cluster2', 'some-volume-id')
        err = self.assertRaises(
            hvc_exc.DiskAllocationElsewhere, self.vmops.spawn, None,
            instance, _image_meta(), [], None,
            allocations=self._allocations(foreign))
        self.assertIn(foreign, str(err))
        self.assertEqual([], self.cluster.state.vms())
        made = [d for _root, dirs, _files in os.walk(
            self.cluster.state.storage_root) for d in dirs
            if d.startswith('instance-')]
        self.assertEqual([], made)

    def test_a_csv_added_after_start_is_found(self):
        instance = _instance(root_gb=1)
        self.layout.instance_dir('warm-the-cache')
        volume_id = self.cluster.state.add_volume('Volume3', 50)
        provider = hvc_names.provider_uuid('cluster1', volume_id)
        self.vmops.spawn(None, instance, _image_meta(), [], None,
                         allocations=self._allocations(provider))
        self.assertEqual(os.path.join(
            self.cluster.csv_instances_dir('Volume3'), instance.name),
            self.layout.instance_dir(instance.name))


class DisksOnTheirCSVOsWinTestCase(OsWinVMOpsBase):
    """The same on os-win: the CSVs and their ids from the cluster's WMI
    namespace (MSCluster_ClusterSharedVolume's Name is the mount path;
    the id is its cluster resource's Id).
    """

    def test_the_csv_is_found_by_its_resource_id(self):
        resource_id = '6a2b9f0e-5c1d-4e8f-a0b7-3c9d2e1f4a56'
        self.oswin.wmi.add_csv('C:\\ClusterStorage\\Volume1',
                               'b1d8e2c4-0000-4000-8000-000000000001')
        self.oswin.wmi.add_csv('C:\\ClusterStorage\\Data2', resource_id)
        instance = _instance()
        allocations = {hvc_names.provider_uuid('cluster1', resource_id): {
            'resources': {'DISK_GB': 10}}}
        self._spawn_on(instance, allocations)
        expected = os.path.join('C:\\ClusterStorage\\Data2', 'OpenStack',
                                'Instances', instance.name)
        self.pathutils.check_create_dir.assert_any_call(expected)
        self.assertEqual(expected, self.vmutils.create_vm.call_args[0][3])

    def test_each_csv_volume_of_one_disk_resource_has_its_own_provider(self):
        # Two partitions of one cluster disk: the driver derives the
        # provider of each as placement_sync publishes it.
        resource_id = '6a2b9f0e-5c1d-4e8f-a0b7-3c9d2e1f4a56'
        for name, offset in (('Volume1', units.Mi), ('Data2', 100 * units.Gi)):
            self.oswin.wmi.add_csv('C:\\ClusterStorage\\' + name,
                                   resource_id, offset=offset)
        self.clusterutils.get_cluster_node_names.return_value = [NODE]
        self.oswin.utils['diskutils'].get_disk_capacity.return_value = (
            200 * units.Gi, 100 * units.Gi)
        clusters = oswin_source.load()
        csv_sources.validate_clusters(clusters)
        [cluster] = clusters
        for number, volume in enumerate(cluster.shared_volumes, 1):
            instance = _instance(id=number)
            self._spawn_on(instance, {
                hvc_names.provider_uuid(cluster.name, volume.id): {
                    'resources': {'DISK_GB': 10}}})
            self.assertEqual(
                os.path.join('C:\\ClusterStorage\\' + volume.name,
                             'OpenStack', 'Instances', instance.name),
                self.vmutils.create_vm.call_args[0][3])

    def _spawn_on(self, instance, allocations):
        self.vmops.spawn(mock.sentinel.context, instance, _image_meta(),
                         _vifs(), None, allocations=allocations)


class TestServedVMs(driver_fixtures.testtools.TestCase):
    """The one record of the VMs a node runs for nova."""

    def test_added_forgotten_and_found(self):
        served = vmops.ServedVMs()
        served.add('vm1', 'uuid-1')
        self.assertIn('vm1', served)
        self.assertEqual('uuid-1', served.uuid_of('vm1'))
        self.assertEqual('uuid-1', served.forget('vm1'))
        self.assertNotIn('vm1', served)
        self.assertIsNone(served.forget('vm1'))
        self.assertIsNone(served.uuid_of('vm1'))

    def test_a_listing_keeps_what_was_recorded_while_it_ran(self):
        served = vmops.ServedVMs()
        served.add('gone', 'uuid-0')
        listed_since = served.now()
        # A spawn ends while the node is listed, after the listing passed.
        served.add('spawned', 'uuid-2')
        served.found({'vm1': 'uuid-1'}, listed_since)
        self.assertEqual(['spawned', 'vm1'],
                         sorted(n for n in ('gone', 'spawned', 'vm1')
                                if n in served))
        # The next listing that does not find it forgets it.
        served.found({'vm1': 'uuid-1'}, served.now())
        self.assertNotIn('spawned', served)
