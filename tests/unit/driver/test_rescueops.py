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

"""Rescue and unrescue on the simulated cluster: which disk boots, where
the root disk is, the config drive, and everything back as it was.
"""

import os
from unittest import mock

from nova import exception
from nova.virt import virtapi

from hvc_driver import layout
from hvc_driver import rescueops
from hvc_driver import vmops
from hvc_driver import volumeops
from hvc_oswin_api import constants as os_win_const
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.driver import test_vmops

GEN2 = {'hw_machine_type': os_win_const.IMAGE_PROP_VM_GEN_2}


class RescueTestCase(driver_fixtures.SimulatedTestCase):

    def setUp(self):
        super().setUp()
        self.vmops = vmops.VMOps(
            self.hyperv, volumeops.VolumeOps(self.hyperv),
            mock.create_autospec(virtapi.VirtAPI, instance=True),
            self.layout)
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.images.IMAGE_API.download',
            side_effect=test_vmops.fake_download))
        self.rescueops = rescueops.RescueOps(self.hyperv, self.vmops,
                                             self.layout)

    def _spawn(self, ephemeral_gb=0, config_drive='', **image_properties):
        instance = test_vmops._instance(root_gb=1, ephemeral_gb=ephemeral_gb,
                                        config_drive=config_drive)
        self.vmops.spawn(None, instance,
                         test_vmops._image_meta(**image_properties),
                         test_vmops._vifs(), None)
        return instance

    def _disks(self, instance):
        """(controller, slot, file name) of each attached drive."""
        return sorted((d.controller, d.slot, os.path.basename(d.path))
                      for d in self.cluster.state.disks(instance.name))

    def _boot_order(self, instance):
        order = self.cluster.state.boot_order(instance.name)
        return order and [os.path.basename(path) for path in order]

    def _rescue_files(self, instance):
        return sorted(name for name in os.listdir(
            self.layout.instance_dir(instance.name))
            if name.startswith('rescue') or 'rescue' in name)

    def _running(self, instance):
        return (self.cluster.state.get_vm(instance.name).state ==
                os_win_const.HYPERV_VM_STATE_ENABLED)

    def _rescue(self, instance, password=None, **image_properties):
        self.rescueops.rescue(None, instance, test_vmops._vifs(),
                              test_vmops._image_meta(**image_properties),
                              password)


class TestRescue(RescueTestCase):

    def test_generation_1_boots_the_rescue_disk_in_the_roots_slot(self):
        instance = self._spawn(ephemeral_gb=1)
        before = self._disks(instance)
        self._rescue(instance)
        self.assertTrue(self._running(instance))
        self.assertEqual(
            [('IDE0', 0, 'rescue.vhdx'), ('IDE0', 1, 'ephemeral.vhdx'),
             ('SCSI0', 0, 'root.vhdx')], self._disks(instance))
        self.rescueops.unrescue(instance)
        self.assertTrue(self._running(instance))
        self.assertEqual(before, self._disks(instance))
        self.assertEqual([], self._rescue_files(instance))

    def test_generation_2_boots_the_rescue_disk_first(self):
        instance = self._spawn(**GEN2)
        before = self._disks(instance)
        self._rescue(instance, **GEN2)
        self.assertEqual(['rescue.vhdx'], self._boot_order(instance))
        self.assertEqual([('SCSI0', 0, 'rescue.vhdx'),
                          ('SCSI0', 1, 'root.vhdx')], self._disks(instance))
        self.rescueops.unrescue(instance)
        self.assertEqual(before, self._disks(instance))
        self.assertEqual(['root.vhdx'], self._boot_order(instance))
        self.assertEqual([], self._rescue_files(instance))

    def test_a_stable_device_rescue_moves_no_disk(self):
        instance = self._spawn(ephemeral_gb=1, **GEN2)
        before = self._disks(instance)
        self._rescue(instance, hw_rescue_device='disk', hw_rescue_bus='scsi',
                     **GEN2)
        self.assertEqual(before + [('SCSI0', 2, 'rescue.vhdx')],
                         self._disks(instance))
        self.assertEqual(['rescue.vhdx', 'root.vhdx', 'ephemeral.vhdx'],
                         self._boot_order(instance))
        self.rescueops.unrescue(instance)
        self.assertEqual(before, self._disks(instance))
        self.assertEqual(['root.vhdx', 'ephemeral.vhdx'],
                         self._boot_order(instance))

    def test_what_a_stable_device_rescue_cannot_do_is_refused(self):
        for properties in ({'hw_rescue_bus': 'scsi'},
                           dict(GEN2, hw_rescue_device='cdrom'),
                           dict(GEN2, hw_rescue_bus='ide')):
            instance = self._spawn(**{k: v for k, v in properties.items()
                                      if k == 'hw_machine_type'})
            before = self._disks(instance)
            err = self.assertRaises(exception.InstanceNotRescuable,
                                    self._rescue, instance, **properties)
            self.assertIn('hw_rescue', str(err))
            self.assertEqual(before, self._disks(instance))
            self.assertTrue(self._running(instance))
            self.vmops.destroy(instance)

    def test_a_rescue_image_of_another_generation_is_refused(self):
        instance = self._spawn()
        self.assertRaises(exception.ImageUnacceptable, self._rescue,
                          instance, **GEN2)
        self.assertTrue(self._running(instance))

    def test_the_rescue_gets_its_own_config_drive(self):
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'hvc_driver.configdrive.make_config_drive', autospec=True,
            return_value=b'iso'))
        metadata = self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.api.metadata.base.InstanceMetadata')).mock
        self.useFixture(driver_fixtures.config_fixture.Config(
            driver_fixtures.CONF)).config(config_drive_inject_password=True,
                                          group='hyperv_cluster')
        instance = self._spawn(config_drive='True')
        self._rescue(instance, password='rescue-pw')
        self.assertEqual({'admin_pass': 'rescue-pw'},
                         metadata.call_args.kwargs['extra_md'])
        drives = [name for _c, _s, name in self._disks(instance)
                  if name.endswith('.iso')]
        self.assertEqual([layout.RESCUE_CONFIG_DRIVE], drives)
        self.rescueops.unrescue(instance)
        drives = [name for _c, _s, name in self._disks(instance)
                  if name.endswith('.iso')]
        self.assertEqual([layout.CONFIG_DRIVE], drives)
        self.assertEqual([], self._rescue_files(instance))

    def test_a_failed_rescue_puts_the_instance_back(self):
        instance = self._spawn(ephemeral_gb=1)
        before = self._disks(instance)
        self.cluster.state.arm_fault('vmutils.attach_scsi_drive')
        # Whatever the armed fault raises.
        self.assertRaises(Exception, self._rescue, instance)  # noqa: H202
        self.assertEqual(before, self._disks(instance))
        self.assertTrue(self._running(instance))
        self.assertEqual([], self._rescue_files(instance))

    def test_an_instance_without_a_root_disk_is_not_rescuable(self):
        instance = self._spawn()
        for path in self.layout.root_disk_candidates(instance.name):
            if os.path.exists(path):
                os.remove(path)
        self.assertRaises(exception.InstanceNotRescuable, self._rescue,
                          instance)
