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

"""nova's diagnostics of an instance and the host's uptime: on the
simulated cluster (Hyper-V's figures as a VM runs), and on os-win
(autospec).
"""

import re
from unittest import mock

from nova import exception
from nova.virt import virtapi
from oslo_utils import units

from hvc_driver import diagnosticsops
from hvc_driver import hyperv
from hvc_driver import vmops
from hvc_driver import volumeops
from hvc_sim.oswin import hostutils as sim_hostutils
from hvc_sim.oswin.metrics import metricsutils as sim_metricsutils
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.driver import test_vmops

# Seconds a simulated VM has run, and what it used in that time.
RUN_SECONDS = 35
TENS = RUN_SECONDS // 10


class TestDiagnosticsSimulated(driver_fixtures.SimulatedTestCase):

    def setUp(self):
        super().setUp()
        self.vmops = vmops.VMOps(
            self.hyperv, volumeops.VolumeOps(self.hyperv),
            mock.create_autospec(virtapi.VirtAPI, instance=True))
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.images.IMAGE_API.download',
            side_effect=test_vmops.fake_download))
        self.diagnosticsops = diagnosticsops.DiagnosticsOps(self.hyperv)
        self.instance = test_vmops._instance(root_gb=1)
        self.vmops.spawn(None, self.instance, test_vmops._image_meta(),
                         test_vmops._vifs(), None)

    def _after_running(self, seconds):
        """The simulated world's clock, ``seconds`` after the VM
        started.
        """
        started = self.cluster.state.get_vm(self.instance.name).started_at
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'hvc_sim.oswin.metrics.metricsutils.time.time',
            return_value=started + seconds))

    def test_a_running_instance(self):
        # Metering is on from the build.
        self.assertEqual({''}, self.cluster.state.metered(self.instance.name))
        self._after_running(RUN_SECONDS)
        diags = self.diagnosticsops.get_instance_diagnostics(self.instance)
        self.assertEqual(
            ('running', 'hyperv', 'hyperv', 'windows', RUN_SECONDS, False),
            (diags.state, diags.driver, diags.hypervisor,
             diags.hypervisor_os, diags.uptime, diags.config_drive))
        self.assertEqual((2048, 2048), (diags.memory_details.maximum,
                                        diags.memory_details.used))
        # 120 MHz of each vCPU's 2400: 5%.
        self.assertEqual([(0, 5), (1, 5)], [(c.id, c.utilisation)
                                            for c in diags.cpu_details])
        read, write = sim_metricsutils.MetricsUtils.DISK_MB_PER_10_S
        self.assertEqual([(TENS * read * units.Mi, TENS * write * units.Mi)],
                         [(d.read_bytes, d.write_bytes)
                          for d in diags.disk_details])
        # A hyperv port's vNIC is on no switch (the neutron agent
        # connects it): its MAC, nothing metered.
        self.assertEqual([('fa:16:3e:00:00:01', 0, 0)],
                         [(n.mac_address, n.rx_octets, n.tx_octets)
                          for n in diags.nic_details])
        self.assertEqual((2, 1, 1), (diags.num_cpus, diags.num_disks,
                                     diags.num_nics))
        legacy = self.diagnosticsops.get_diagnostics(self.instance)
        self.assertEqual(
            {'memory': 2048 * units.Ki, 'memory-actual': 2048 * units.Ki,
             'uptime': RUN_SECONDS, 'cpu0_utilisation': 5,
             'cpu1_utilisation': 5, 'disk0_read': TENS * read * units.Mi,
             'disk0_write': TENS * write * units.Mi, 'vnet0_rx': 0,
             'vnet0_tx': 0},
            legacy)

    def test_a_metered_nic_on_a_switch(self):
        nic = test_vmops.PORT_ID
        self.hyperv.networkutils.connect_vnic_to_vswitch('vswitch', nic)
        self.hyperv.metricsutils.enable_port_metrics_collection(nic)
        self._after_running(RUN_SECONDS)
        [nic] = self.diagnosticsops.get_instance_diagnostics(
            self.instance).nic_details
        rx, tx = sim_metricsutils.MetricsUtils.NIC_MB_PER_10_S
        self.assertEqual(('fa:16:3e:00:00:01', TENS * rx * units.Mi,
                          TENS * tx * units.Mi),
                         (nic.mac_address, nic.rx_octets, nic.tx_octets))

    def test_a_vm_built_without_metering_shows_zeros(self):
        self.cluster.state.delete_vm(self.instance.name)
        self.hyperv.vmutils.create_vm(self.instance.name, False, 2,
                                      self.cluster.instances_path)
        self.hyperv.vmutils.update_vm(self.instance.name, 1024, 0, 1, 0,
                                      False, 1.0)
        self.hyperv.vmutils.set_vm_state(self.instance.name, 2)
        self._after_running(RUN_SECONDS)
        diags = self.diagnosticsops.get_instance_diagnostics(self.instance)
        self.assertEqual([0], [c.utilisation for c in diags.cpu_details])

    def test_a_stopped_instance(self):
        self.vmops.power_off(self.instance)
        diags = self.diagnosticsops.get_instance_diagnostics(self.instance)
        self.assertEqual(('shutdown', None, 0),
                         (diags.state, diags.uptime,
                          diags.memory_details.used))
        self.assertEqual([0, 0], [c.utilisation for c in diags.cpu_details])

    def test_an_instance_another_node_runs(self):
        self.cluster.state.move_vm(self.instance.name, 'node2')
        for method in (self.diagnosticsops.get_instance_diagnostics,
                       self.diagnosticsops.get_diagnostics):
            self.assertRaises(exception.InstanceNotFound, method,
                              self.instance)

    def test_a_config_drive_is_said(self):
        self.vmops.attach_config_drive(
            self.instance.name,
            self.layout.instance_file(self.instance.name,
                                      'configdrive.iso'))
        diags = self.diagnosticsops.get_instance_diagnostics(self.instance)
        self.assertTrue(diags.config_drive)

    def test_host_uptime(self):
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            sim_hostutils.HostUtils, 'get_host_tick_count64',
            return_value=(26 * 3600 + 5 * 60 + 7) * 1000))
        self.assertRegex(
            self.diagnosticsops.get_host_uptime(),
            r'^\d\d:\d\d:\d\d up 1 day, 2:05:07,  0 users,  '
            r'load average: 0, 0, 0$')


class TestDiagnosticsOsWin(driver_fixtures.OsWinTestCase):
    """The same through the agent's os-win side, os-win autospec'd."""

    def setUp(self):
        super().setUp()
        self.hyperv = hyperv.HyperV(driver_fixtures.CONF)
        self.hyperv.bind('node1')
        self.diagnosticsops = diagnosticsops.DiagnosticsOps(self.hyperv)
        self.instance = test_vmops._instance()
        utils = self.oswin.utils
        utils['vmutils'].get_vm_summary_info.return_value = {
            'NumberOfProcessors': 2, 'EnabledState': 2,
            'MemoryUsage': 1536, 'UpTime': 90500}
        root = r'C:\ClusterStorage\Volume1\i\root.vhdx'
        utils['vmutils'].get_vm_storage_paths.return_value = ([root], [])
        utils['vmutils'].get_vm_nic_names.return_value = ['port-1']
        utils['hostutils'].get_cpus_info.return_value = [
            {'MaxClockSpeed': 2000, 'NumberOfLogicalProcessors': 8}]
        metricsutils = utils['metricsutils']
        metricsutils.get_cpu_metrics.return_value = (1000, 2, 90500)
        # os-win's are generators, read while WMI answers.
        metricsutils.get_disk_metrics.side_effect = lambda vm_name: iter([
            {'read_mb': 3, 'write_mb': 1, 'instance_id': 'd1',
             'host_resource': root}])
        metricsutils.get_vnic_metrics.side_effect = lambda vm_name: iter([
            {'rx_mb': 7, 'tx_mb': 2, 'element_name': 'port-1',
             'address': '00155D010203'}])

    def test_diagnostics_from_the_summary_and_the_metering(self):
        diags = self.diagnosticsops.get_instance_diagnostics(self.instance)
        self.assertEqual(('running', 90, 1536), (
            diags.state, diags.uptime, diags.memory_details.used))
        self.assertEqual([25, 25], [c.utilisation for c in diags.cpu_details])
        self.assertEqual([(3 * units.Mi, units.Mi)],
                         [(d.read_bytes, d.write_bytes)
                          for d in diags.disk_details])
        self.assertEqual([('00:15:5d:01:02:03', 7 * units.Mi, 2 * units.Mi)],
                         [(n.mac_address, n.rx_octets, n.tx_octets)
                          for n in diags.nic_details])
        self.oswin.utils['vmutils'].get_vm_summary_info.assert_called_with(
            self.instance.name)

    def test_metering_turned_on_for_each_vm_built(self):
        vm_ops = vmops.VMOps(
            self.hyperv, volumeops.VolumeOps(self.hyperv),
            mock.create_autospec(virtapi.VirtAPI, instance=True))
        vm_ops.build_vm(self.instance, 2, r'C:\ClusterStorage\Volume1\i',
                        [], None, [], None)
        metricsutils = self.oswin.utils['metricsutils']
        metricsutils.enable_vm_metrics_collection.assert_called_once_with(
            self.instance.name)

    def test_host_uptime(self):
        self.oswin.utils['hostutils'].get_host_tick_count64.return_value = (
            61000)
        self.assertTrue(re.match(r'^\d\d:\d\d:\d\d up 0:01:01,  0 users',
                                 self.diagnosticsops.get_host_uptime()))
