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

"""What nova's diagnostics API shows of an instance, and the node's uptime,
from Hyper-V's own figures.

The VM's summary (Msvm_SummaryInformation, os-win's
``get_vm_summary_info``: state, processors, memory in use, uptime) is
always there. Disk, NIC and processor use come from Hyper-V's resource
metering (Msvm_MetricService, os-win's ``metricsutils``), which the driver
turns on for each VM it builds (``VMOps.build_vm``): metering is a setting
of the VM, so it moves with it in the cluster. Until Hyper-V has measured
something, and for a VM built without it, the figures are 0.
"""

import datetime
import time

from nova.compute import power_state
from nova.objects import diagnostics
from nova.objects import fields as obj_fields
from oslo_utils import units

from hvc_driver import exception as hvc_exc
from hvc_driver import layout
from hvc_driver import vmops


class DiagnosticsOps(object):

    def __init__(self, hyperv):
        self._hyperv = hyperv

    @hvc_exc.translate_oswin_errors('read the diagnostics of an instance')
    def get_instance_diagnostics(self, instance):
        """nova's Diagnostics object of ``instance`` (API 2.48 and
        later).
        """
        vm_name = instance.name
        vmutils = self._hyperv.vmutils
        summary = vmutils.get_vm_summary_info(vm_name)
        disk_files, volumes = vmutils.get_vm_storage_paths(vm_name)
        uptime_ms = summary['UpTime']
        state = vmops.POWER_STATES.get(summary['EnabledState'],
                                       power_state.NOSTATE)
        result = diagnostics.Diagnostics(
            state=power_state.STATE_MAP[state],
            driver=obj_fields.HypervisorDriver.HYPERV,
            hypervisor='hyperv', hypervisor_os='windows',
            uptime=None if uptime_ms is None else uptime_ms // units.k,
            config_drive=any(
                self._hyperv.path.basename(path).lower() ==
                layout.CONFIG_DRIVE for path in disk_files),
            memory_details=diagnostics.MemoryDiagnostics(
                maximum=instance.memory_mb,
                used=summary['MemoryUsage'] or 0))
        metricsutils = self._hyperv.metricsutils
        utilisation = self._cpu_utilisation(vm_name)
        for cpu in range(summary['NumberOfProcessors']):
            result.add_cpu(id=cpu, utilisation=utilisation)
        # Metered disks by their file (a volume's is its physical disk).
        disks = {d['host_resource']: d
                 for d in metricsutils.get_disk_metrics(vm_name)}
        for path in list(disk_files) + list(volumes):
            disk = disks.get(path, {'read_mb': 0, 'write_mb': 0})
            result.add_disk(read_bytes=disk['read_mb'] * units.Mi,
                            write_bytes=disk['write_mb'] * units.Mi)
        # Metered NICs: those connected to a virtual switch.
        nics = {n['element_name']: n
                for n in metricsutils.get_vnic_metrics(vm_name)}
        for nic_name in vmutils.get_vm_nic_names(vm_name):
            nic = nics.get(nic_name)
            if nic is None:
                result.add_nic(mac_address=self._mac_address(nic_name),
                               rx_octets=0, tx_octets=0)
                continue
            result.add_nic(mac_address=_mac(nic['address']),
                           rx_octets=nic['rx_mb'] * units.Mi,
                           tx_octets=nic['tx_mb'] * units.Mi)
        return result

    def get_diagnostics(self, instance):
        """The same figures in the dictionary of API versions before 2.48
        (named as libvirt's driver names them where Hyper-V has the
        figure).
        """
        result = self.get_instance_diagnostics(instance)
        legacy = {'memory': result.memory_details.maximum * units.Ki,
                  'memory-actual': result.memory_details.used * units.Ki}
        if result.uptime is not None:
            legacy['uptime'] = result.uptime
        for index, cpu in enumerate(result.cpu_details):
            legacy['cpu%d_utilisation' % index] = cpu.utilisation
        for index, disk in enumerate(result.disk_details):
            legacy['disk%d_read' % index] = disk.read_bytes
            legacy['disk%d_write' % index] = disk.write_bytes
        for index, nic in enumerate(result.nic_details):
            legacy['vnet%d_rx' % index] = nic.rx_octets
            legacy['vnet%d_tx' % index] = nic.tx_octets
        return legacy

    def _cpu_utilisation(self, vm_name):
        """The VM's processor use since metering began, in percent of its
        processors' capacity: Hyper-V meters the average MHz it used
        (os-win's ``get_cpu_metrics``), against the host's clock.
        """
        used_mhz, vcpus, _uptime_ms = (
            self._hyperv.metricsutils.get_cpu_metrics(vm_name))
        clock_mhz = self._hyperv.hostutils.get_cpus_info()[0][
            'MaxClockSpeed']
        if not vcpus or not clock_mhz:
            return None
        return min(100, int(round(100.0 * used_mhz / (clock_mhz * vcpus))))

    def _mac_address(self, nic_name):
        try:
            return _mac(
                self._hyperv.networkutils.get_vnic_mac_address(nic_name))
        except hvc_exc.OSWIN_NOT_FOUND:
            return None

    @hvc_exc.translate_oswin_errors('read the uptime of the host')
    def get_host_uptime(self):
        """The Hyper-V host's uptime, in the shape of ``uptime``'s output
        (what libvirt's driver returns and the os-hypervisors API shows):
        Windows counts no users or load, so those are 0, as compute-hyperv
        had them.
        """
        uptime_ms = self._hyperv.hostutils.get_host_tick_count64()
        return '%s up %s,  0 users,  load average: 0, 0, 0' % (
            time.strftime('%H:%M:%S'),
            datetime.timedelta(milliseconds=int(uptime_ms)))


def _mac(address):
    """A MAC address as nova writes it (fa:16:3e:00:00:01) from Hyper-V's
    (FA163E000001, Msvm_SyntheticEthernetPortSettingData.Address).
    """
    digits = address.replace(':', '').replace('-', '').lower()
    return ':'.join(digits[i:i + 2] for i in range(0, len(digits), 2))
