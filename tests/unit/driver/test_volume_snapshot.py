"""VolumeOps and SnapshotOps against os-win (autospec)."""

from unittest import mock

from os_win import exceptions as os_win_exc
import testtools

from nova.compute import task_states
from nova import exception

from hvc_driver import exception as hvc_exc
from hvc_driver import hyperv
from hvc_driver import snapshotops
from hvc_driver import volumeops
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.driver import test_vmops

SMB = {'driver_volume_type': 'smbfs',
       'data': {'export': '//fs1/volumes/', 'name': 'volume-1.vhdx'}}
SMB_PATH = '\\\\fs1\\volumes\\volume-1.vhdx'


class OsWinTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(driver_fixtures.fixtures.FakeLogger())
        self.oswin = self.useFixture(driver_fixtures.OsWinFixture())
        self.utils = self.oswin.utils
        self.hyperv = hyperv.HyperV(driver_fixtures.CONF)
        self.hyperv.bind('node1')
        self.instance = test_vmops._instance()


class TestVolumeOps(OsWinTestCase):

    def setUp(self):
        super().setUp()
        self.volumeops = volumeops.VolumeOps(self.hyperv)

    def test_attach_maps_the_share_once(self):
        self.utils['smbutils'].check_smb_mapping.return_value = True
        self.volumeops.attach_volume(SMB, self.instance)
        self.utils['smbutils'].mount_smb_share.assert_not_called()
        self.utils['vmutils'].attach_scsi_drive.assert_called_once_with(
            self.instance.name, SMB_PATH, 'VHD')

    def test_other_volume_types_are_refused_before_anything(self):
        for volume_type in ('iscsi', 'fibre_channel', 'rbd', None):
            info = {'driver_volume_type': volume_type, 'data': {}}
            err = self.assertRaises(hvc_exc.UnsupportedVolumeType,
                                    self.volumeops.attach_volume, info,
                                    self.instance)
            self.assertIn('only smbfs volumes', str(err))
        self.utils['smbutils'].mount_smb_share.assert_not_called()
        self.utils['vmutils'].attach_scsi_drive.assert_not_called()

    def test_detach(self):
        self.volumeops.detach_volume(SMB, self.instance)
        self.utils['vmutils'].detach_vm_disk.assert_called_once_with(
            self.instance.name, SMB_PATH, is_physical=False)

    def test_attach_to_a_missing_vm_is_instance_not_found(self):
        self.utils['smbutils'].check_smb_mapping.return_value = True
        self.utils['vmutils'].attach_scsi_drive.side_effect = (
            os_win_exc.HyperVVMNotFoundException(vm_name='x'))
        self.assertRaises(exception.InstanceNotFound,
                          self.volumeops.attach_volume, SMB, self.instance)

    def test_connector_names_the_node(self):
        connector = self.volumeops.get_volume_connector('192.0.2.5')
        self.assertEqual(('node1', '192.0.2.5'),
                         (connector['host'], connector['ip']))


class TestSnapshotOps(OsWinTestCase):

    def setUp(self):
        super().setUp()
        self.image_api = mock.Mock()
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.image.glance.API', return_value=self.image_api))
        self.snapshotops = snapshotops.SnapshotOps(self.hyperv)
        self.utils['pathutils'].exists.return_value = True
        self.utils['vmutils'].take_vm_snapshot.return_value = 'checkpoint'
        self.utils['vhdutils'].get_vhd_parent_path.return_value = (
            'C:\\base\\image.vhdx')
        self.utils['vhdutils'].get_vhd_format.return_value = 'VHDX'
        self.open = self.useFixture(driver_fixtures.fixtures.MockPatch(
            'builtins.open', mock.mock_open(read_data=b'disk'))).mock
        self.update_task_state = mock.Mock()

    def test_snapshot_merges_a_copy_and_uploads_it(self):
        self.snapshotops.snapshot(mock.sentinel.ctx, self.instance, 'img',
                                  self.update_task_state)
        vhdutils = self.utils['vhdutils']
        [(export, parent_copy)] = [
            c[0] for c in vhdutils.reconnect_parent_vhd.call_args_list]
        self.assertTrue(export.endswith('root.vhdx'), export)
        self.assertTrue(parent_copy.endswith('image.vhdx'), parent_copy)
        vhdutils.merge_vhd.assert_called_once_with(export)
        self.image_api.update.assert_called_once_with(
            mock.sentinel.ctx, 'img',
            {'disk_format': 'vhdx', 'container_format': 'bare'}, mock.ANY)
        self.assertEqual(
            [mock.call(task_state=task_states.IMAGE_PENDING_UPLOAD),
             mock.call(task_state=task_states.IMAGE_UPLOADING,
                       expected_state=task_states.IMAGE_PENDING_UPLOAD)],
            self.update_task_state.call_args_list)
        self.utils['vmutils'].remove_vm_snapshot.assert_called_once_with(
            'checkpoint')

    def test_a_failed_upload_still_removes_checkpoint_and_copies(self):
        self.image_api.update.side_effect = exception.ImageNotFound(
            image_id='img')
        self.assertRaises(exception.ImageNotFound, self.snapshotops.snapshot,
                          None, self.instance, 'img', self.update_task_state)
        self.utils['vmutils'].remove_vm_snapshot.assert_called_once_with(
            'checkpoint')
        export_dir = self.utils['pathutils'].check_remove_dir.call_args[0][0]
        self.assertTrue(export_dir.endswith('export-img'), export_dir)
