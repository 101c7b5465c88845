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

"""The agent's os-win adapters: the live migration with storage (what it
asks of Hyper-V's WMI migration service, with os-win's LiveMigrationUtils
autospecced) and a switch port's security rules.
"""

import json
from unittest import mock

import fixtures
import testtools

from hvc_agent import oswin as agent_oswin
from hvc_driver import hyperv
from hvc_oswin_api import exceptions as api_exc
from tests.unit.driver import fixtures as driver_fixtures

VM_ID = '6C9A6F2B-3B5E-4F6B-9E0D-1A2B3C4D5E6F'
SOURCE_DIR = 'C:\\ClusterStorage\\Volume1\\OpenStack\\Instances\\vm1'
DEST_DIR = 'C:\\ClusterStorage\\Data\\OpenStack\\Instances\\vm1'
CACHE = 'C:\\ClusterStorage\\Volume1\\OpenStack\\Instances\\_base'
VHD = 'Microsoft:Hyper-V:Virtual Hard Disk'
DVD = 'Microsoft:Hyper-V:Virtual CD/DVD Disk'


class SettingData(driver_fixtures.WMIObject):
    """A WMI setting data object as the wmi module shows it: its
    properties are attributes, and GetText_(1) is the embedded instance
    (here JSON of the properties as they are when it is called).
    """

    def GetText_(self, text_format):  # noqa: N802 (WMI's name)
        if text_format != 1:  # wbemObjectTextFormatCIMDTD20
            raise ValueError(text_format)
        return json.dumps(vars(self), sort_keys=True)


class ComputerSystem(driver_fixtures.WMIObject):

    def path_(self):
        return 'Msvm_ComputerSystem.Name="%s"' % self.Name


class MigrationService(object):
    """Msvm_VirtualSystemMigrationService: records its checks and
    migrations; ``migratable`` is what the check answers.
    """

    def __init__(self):
        self.checks = []
        self.migrations = []
        self.migratable = (True, 0)

    def CheckVirtualSystemIsMigratableToHost(self, **kwargs):  # noqa: N802
        self.checks.append(kwargs)
        return self.migratable

    def MigrateVirtualSystemToHost(self, **kwargs):  # noqa: N802
        self.migrations.append(kwargs)
        return 'job-path', 4096


class MoveUnmanagedVhdClass(object):
    """Msvm_MoveUnmanagedVhd, whose new() instances are embedded."""

    def new(self):
        return SettingData()


class VirtualizationNamespace(object):
    """root/virtualization/v2: one migration setting data per type."""

    def __init__(self):
        self.service = MigrationService()

    def Msvm_VirtualSystemMigrationSettingData(  # noqa: N802
            self, MigrationType):
        return [SettingData(MigrationType=MigrationType,
                            DestinationIPAddressList=None,
                            RetainVhdCopiesOnSource=False)]

    def Msvm_VirtualSystemMigrationService(self):  # noqa: N802
        return [self.service]

    Msvm_MoveUnmanagedVhd = MoveUnmanagedVhdClass()  # noqa: N815


class TestLiveMigrateVMWithStorage(driver_fixtures.OsWinTestCase):

    def setUp(self):
        super().setUp()
        from os_win.utils import _wqlutils
        from os_win.utils import jobutils
        self.lmutils = self.oswin.utils['livemigrationutils']
        self.conn = VirtualizationNamespace()
        self.lmutils._compat_conn = self.conn
        self.lmutils._jobutils = mock.create_autospec(jobutils.JobUtils,
                                                      instance=True)
        self.vm = ComputerSystem(Name=VM_ID, ElementName='vm1')
        self.lmutils._get_vm.return_value = self.vm
        self.lmutils._get_ip_address_list.return_value = ['10.0.0.12']
        self.lmutils._get_planned_vm.return_value = None
        self.associated = {
            'Msvm_VirtualSystemSettingData': [
                SettingData(InstanceID='Microsoft:%s' % VM_ID,
                            VirtualSystemType='Microsoft:Hyper-V:System:'
                            'Realized', ConfigurationDataRoot=SOURCE_DIR,
                            SnapshotDataRoot=SOURCE_DIR,
                            SwapFileDataRoot=SOURCE_DIR,
                            LogDataRoot=SOURCE_DIR,
                            SuspendDataRoot=SOURCE_DIR),
                # A checkpoint's settings: not the VM's current ones.
                SettingData(InstanceID='Microsoft:%s-snapshot' % VM_ID,
                            VirtualSystemType='Microsoft:Hyper-V:Snapshot:'
                            'Realized', ConfigurationDataRoot=SOURCE_DIR)],
            'Msvm_StorageAllocationSettingData': [
                self._sasd('root.vhdx', VHD),
                self._sasd('eph0.vhdx', VHD),
                self._sasd('configdrive.iso', DVD),
                # A volume on an SMB share, which both hosts reach.
                self._sasd('volume-1.vhdx', VHD,
                           folder='\\\\smb.example.com\\volumes')],
        }
        self.wql = self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            _wqlutils, 'get_element_associated_class', autospec=True,
            side_effect=lambda conn, class_name, **kw: self.associated[
                class_name])).mock
        # root.vhdx over its revert point over the cached image.
        from os_win.utils.storage.virtdisk import vhdutils
        self.vhdutils = mock.create_autospec(vhdutils.VHDUtils,
                                             instance=True)
        parents = {SOURCE_DIR + '\\root.vhdx':
                   SOURCE_DIR + '\\root.m1.vhdx',
                   SOURCE_DIR + '\\root.m1.vhdx': CACHE + '\\image.vhdx'}
        self.vhdutils.get_vhd_parent_path.side_effect = parents.get
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'os_win.utilsfactory.get_vhdutils', return_value=self.vhdutils))
        seam = hyperv.HyperV(driver_fixtures.CONF)
        seam.bind('node1')
        self.seam_lmutils = seam.livemigrationutils

    def _sasd(self, name, sub_type, folder=SOURCE_DIR):
        return SettingData(InstanceID='Microsoft:%s\\%s' % (VM_ID, name),
                           ResourceType=31, ResourceSubType=sub_type,
                           HostResource=[folder + '\\' + name],
                           PoolID='')

    def _migration(self):
        [migration] = self.conn.service.migrations
        return migration

    def test_disks_and_configuration_go_to_the_destination_folder(self):
        from os_win.utils.compute import livemigrationutils
        self.seam_lmutils.live_migrate_vm_with_storage('vm1', 'b1', DEST_DIR)

        self.lmutils.check_live_migration_config.assert_called_once_with()
        self.lmutils._get_conn_v2.assert_called_once_with('b1')
        remote = self.lmutils._get_conn_v2.return_value
        self.lmutils._get_vm.assert_called_once_with(self.conn, 'vm1')
        self.lmutils._get_ip_address_list.assert_called_once_with(remote,
                                                                  'b1')
        self.lmutils._get_planned_vm.assert_called_once_with('vm1', remote)
        for call in self.wql.call_args_list:
            self.assertEqual((self.conn,), call.args[:1])
            self.assertEqual({'element_uuid': VM_ID}, call.kwargs)

        migration = self._migration()
        self.assertEqual((self.vm.path_(), 'b1'),
                         (migration['ComputerSystem'],
                          migration['DestinationHost']))
        settings = json.loads(migration['MigrationSettingData'])
        self.assertEqual(
            livemigrationutils.LiveMigrationUtils
            ._MIGRATION_TYPE_VIRTUAL_SYSTEM_AND_STORAGE,
            settings['MigrationType'])
        self.assertEqual(['10.0.0.12'], settings['DestinationIPAddressList'])
        # The image cache other VMs use stays on the source.
        self.assertTrue(settings['RetainVhdCopiesOnSource'])
        self.assertNotIn('DestinationPlannedVirtualSystemId', settings)
        # As Move-VM: each virtual hard disk of the VM's folder at its
        # name in the destination folder, no DVD image; the SMB volume
        # stays on its share.
        self.assertEqual(
            [([DEST_DIR + '\\root.vhdx'], '', VHD),
             ([DEST_DIR + '\\eph0.vhdx'], '', VHD)],
            [(sasd['HostResource'], sasd['PoolID'], sasd['ResourceSubType'])
             for sasd in map(json.loads,
                             migration['NewResourceSettingData'])])
        # The parents, each into the destination folder by its name.
        self.assertEqual(
            [(SOURCE_DIR + '\\root.m1.vhdx', DEST_DIR + '\\root.m1.vhdx'),
             (CACHE + '\\image.vhdx', DEST_DIR + '\\image.vhdx')],
            [(move['VhdSourcePath'], move['VhdDestinationPath'])
             for move in map(json.loads, settings['UnmanagedVhds'])])
        # The configuration, checkpoint and smart paging roots; the others
        # as they were.
        vssd = json.loads(migration['NewSystemSettingData'])
        self.assertEqual(
            ('Microsoft:%s' % VM_ID,) + (DEST_DIR,) * 3 + (SOURCE_DIR,) * 2,
            (vssd['InstanceID'], vssd['ConfigurationDataRoot'],
             vssd['SnapshotDataRoot'], vssd['SwapFileDataRoot'],
             vssd['LogDataRoot'], vssd['SuspendDataRoot']))
        # Checked with the same settings first.
        self.assertEqual([migration], self.conn.service.checks)
        self.lmutils._jobutils.check_ret_val.assert_called_once_with(
            4096, 'job-path')

    def test_a_migration_hyper_v_says_cannot_work_is_not_started(self):
        self.conn.service.migratable = (False, 0)
        self.assertRaises(api_exc.HyperVException,
                          self.seam_lmutils.live_migrate_vm_with_storage,
                          'vm1', 'b1', DEST_DIR)
        self.assertEqual([], self.conn.service.migrations)

    def test_a_migration_that_takes_too_long_is_stopped(self):
        jobutils = self.lmutils._jobutils
        jobutils._is_job_completed.return_value = False
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'time.sleep'))
        clock = iter(range(0, 1000, 10))
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'time.monotonic', side_effect=lambda: next(clock)))
        err = self.assertRaises(
            api_exc.HyperVException,
            self.seam_lmutils.live_migrate_vm_with_storage, 'vm1', 'b1',
            DEST_DIR, 60)
        self.assertIn('did not end within 60 s', str(err))
        jobutils.stop_jobs.assert_called_once_with(self.vm)
        jobutils._get_wmi_obj.assert_called_with('job-path')
        jobutils.check_ret_val.assert_not_called()

    def test_into_a_planned_vm_at_the_destination(self):
        self.lmutils._get_planned_vm.return_value = driver_fixtures.WMIObject(
            Name='planned-id')
        self.seam_lmutils.live_migrate_vm_with_storage('vm1', 'b1', DEST_DIR)
        self.assertEqual('planned-id', json.loads(self._migration()[
            'MigrationSettingData'])['DestinationPlannedVirtualSystemId'])

    def test_os_win_errors_are_translated(self):
        from os_win import exceptions as os_win_exc
        self.lmutils._get_vm.side_effect = (
            os_win_exc.HyperVVMNotFoundException(vm_name='vm1'))
        self.assertRaises(api_exc.HyperVVMNotFoundException,
                          self.seam_lmutils.live_migrate_vm_with_storage,
                          'vm1', 'b1', DEST_DIR)
        self.assertEqual([], self.conn.service.migrations)
        self.lmutils._get_vm.side_effect = None
        self.lmutils._jobutils.check_ret_val.side_effect = (
            os_win_exc.WMIJobFailed(job_state=10, error_summ_desc='no room',
                                    error_desc='', error_code=1))
        self.assertRaises(api_exc.HyperVException,
                          self.seam_lmutils.live_migrate_vm_with_storage,
                          'vm1', 'b1', DEST_DIR)

    def test_a_vm_without_its_current_settings_is_not_migrated(self):
        del self.associated['Msvm_VirtualSystemSettingData'][0]
        self.assertRaises(api_exc.HyperVException,
                          self.seam_lmutils.live_migrate_vm_with_storage,
                          'vm1', 'b1', DEST_DIR)
        self.assertEqual([], self.conn.service.migrations)


class Acl(driver_fixtures.WMIObject):
    """Msvm_EthernetSwitchPortExtendedAclSettingData as the wmi module
    shows it: its properties are attributes, ``set`` sets some.
    """

    def set(self, **properties):
        self.__dict__.update(properties)


class TestSecurityRules(testtools.TestCase):
    """The seam's security rules on os-win's own NetworkUtilsR2 (its
    weights, its check for ACLs the port has), with only WMI faked: the
    port's allocation, its associated ACLs, and the job that adds and
    removes them (autospecced).
    """

    PORT = 'port-1'

    def setUp(self):
        super().setUp()
        from os_win.utils import _wqlutils
        from os_win.utils import jobutils
        from os_win.utils.network import networkutils
        target = networkutils.NetworkUtilsR2.__new__(
            networkutils.NetworkUtilsR2)
        target._enable_cache = False
        target._switch_ports = {}
        target._sg_acl_sds = {}
        target._jobutils = mock.create_autospec(jobutils.JobUtils,
                                                instance=True)
        # root/virtualization/v2 (Windows Server 2012 R2 and later: one
        # connection for both).
        wmi = mock.Mock(spec=['Msvm_EthernetSwitchPortExtendedAclSettingData'])
        wmi.Msvm_EthernetSwitchPortExtendedAclSettingData.new.side_effect = (
            Acl)
        target._conn_attr = target._compat_conn_attr = wmi
        self.port = driver_fixtures.WMIObject(InstanceID='port-alloc-1',
                                              ElementName=self.PORT)
        self.useFixture(fixtures.MockPatchObject(
            networkutils.NetworkUtilsR2, '_get_switch_port_allocation',
            autospec=True, return_value=(self.port, True)))
        # The ACLs on the port: what the job added, less what it removed.
        self.on_port = []
        target._jobutils.add_multiple_virt_features.side_effect = (
            lambda acls, port: self.on_port.extend(acls))
        target._jobutils.remove_multiple_virt_features.side_effect = (
            lambda acls: [self.on_port.remove(a) for a in acls])
        self.useFixture(fixtures.MockPatchObject(
            _wqlutils, 'get_element_associated_class', autospec=True,
            side_effect=lambda conn, class_name, element_instance_id: list(
                self.on_port)))
        self.netutils = agent_oswin._OsWinNetworkUtils(target)

    def _rule(self, port='22', action=1):
        return {'Direction': 1, 'Action': action, 'Protocol': '6',
                'LocalPort': port, 'RemoteIPAddress': '0.0.0.0/0',
                'Stateful': action == 1, 'IdleSessionTimeout': 0}

    def test_rules_go_on_the_port_weighted_by_os_win(self):
        self.netutils.create_security_rules(
            self.PORT, [self._rule('ANY', action=2)])
        self.netutils.create_security_rules(
            self.PORT, [self._rule('22'), self._rule('80')])
        self.assertEqual(
            [dict(self._rule('ANY', action=2), Weight=1),
             dict(self._rule('22'), Weight=65499),
             dict(self._rule('80'), Weight=65498)],
            self.netutils.get_security_rules(self.PORT))
        # One the port has already is not added again.
        self.netutils.create_security_rules(self.PORT, [self._rule('22')])
        self.assertEqual(3, len(self.on_port))

    def test_rules_are_removed_by_value(self):
        self.netutils.create_security_rules(
            self.PORT, [self._rule('22'), self._rule('80')])
        self.netutils.remove_security_rules(self.PORT, [self._rule('22')])
        self.assertEqual([dict(self._rule('80'), Weight=65498)],
                         self.netutils.get_security_rules(self.PORT))
