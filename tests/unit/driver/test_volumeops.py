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

"""VolumeOps against os-win (autospec)."""


from os_win import exceptions as os_win_exc
import testtools

from nova import exception

from hvc_driver import exception as hvc_exc
from hvc_driver import hyperv
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

    def test_mount_credentials_are_parsed_as_mount_options(self):
        # Names and passwords with "-o" inside them, as cinder's SMB
        # drivers pass them ("-o username=U,password=P") or without -o.
        self.utils['smbutils'].check_smb_mapping.return_value = False
        for options in ('-o username=svc-ops,password=p-oq',
                        'username=svc-ops,password=p-oq',
                        '-o user=svc-ops,pass=p-oq,vers=3.0'):
            info = dict(SMB, data=dict(SMB['data'], options=options))
            self.volumeops.attach_volume(info, self.instance)
            self.utils['smbutils'].mount_smb_share.assert_called_with(
                '\\\\fs1\\volumes', username='svc-ops', password='p-oq')
        err = self.assertRaises(
            exception.InvalidVolume, self.volumeops.attach_volume,
            dict(SMB, data=dict(SMB['data'], options='-o "username=x')),
            self.instance)
        self.assertIn('mount options', str(err))

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
