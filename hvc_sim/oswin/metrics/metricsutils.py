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

"""os_win.utils.metrics.metricsutils on the simulated cluster."""

import time

from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin import base
from hvc_sim.oswin.network import networkutils


class MetricsUtils(base.SimulatedUtils):
    """os_win.utils.metrics.metricsutils.MetricsUtils on a simulated node:
    Hyper-V's resource metering. Nothing is measured (0) until metering is
    on (``enable_vm_metrics_collection`` for the processors, memory and
    disks; ``enable_port_metrics_collection`` for a NIC's switch port);
    then what a VM used grows with the time it has run.
    """

    KIND = 'metricsutils'
    # A running simulated VM's use: 5% of the simulated hosts' 2400 MHz
    # per vCPU; MB read and written per disk, and received and sent per
    # NIC, every 10 s.
    CPU_MHZ_PER_VCPU = 120
    DISK_MB_PER_10_S = (4, 1)
    NIC_MB_PER_10_S = (2, 1)

    def _vm(self, vm_name):
        # os-win's metricsutils raises a plain NotFound for a VM this host
        # does not run, and for a switch port it has not.
        vm = self._state.get_vm(vm_name)
        if vm is None or vm.node != self._node:
            raise os_win_exc.NotFound(resource=vm_name)
        return vm

    @staticmethod
    def _tens_of_seconds_run(vm):
        if vm.state in base.RUNNING and vm.started_at:
            return int(max(0.0, time.time() - vm.started_at) // 10)
        return 0

    @base.faultable(os_win_exc.HyperVException)
    def enable_vm_metrics_collection(self, vm_name):
        self._state.meter(self._vm(vm_name).name, owner=self._node)

    @base.faultable(os_win_exc.HyperVException)
    def enable_port_metrics_collection(self, switch_port_name):
        # os-win looks the switch port up by name: the NIC must be
        # connected to a virtual switch.
        connected = self._state.nic_vswitches(node=self._node)
        for nic in self._state.nics():
            if nic.name == switch_port_name and nic.name in connected:
                self._state.meter(nic.vm_name, nic.name, owner=self._node)
                return
        raise os_win_exc.NotFound(resource=switch_port_name)

    @base.faultable(os_win_exc.HyperVException)
    def get_cpu_metrics(self, vm_name):
        """(average MHz used, vCPUs, ms the VM has been on)."""
        vm = self._vm(vm_name)
        running = vm.state in base.RUNNING and vm.started_at
        on_ms = int((time.time() - vm.started_at) * 1000) if running else 0
        used = (vm.vcpus * self.CPU_MHZ_PER_VCPU
                if running and '' in self._state.metered(vm_name) else 0)
        return used, vm.vcpus, on_ms

    @base.faultable(os_win_exc.HyperVException)
    def get_memory_metrics(self, vm_name):
        vm = self._vm(vm_name)
        if vm.state in base.RUNNING and '' in self._state.metered(vm_name):
            return vm.memory_mb
        return 0

    @base.faultable(os_win_exc.HyperVException)
    def get_disk_metrics(self, vm_name):
        vm = self._vm(vm_name)
        tens = (self._tens_of_seconds_run(vm)
                if '' in self._state.metered(vm_name) else 0)
        read, write = self.DISK_MB_PER_10_S
        metrics = []
        for disk in self._state.disks(vm_name):
            # os-win meters no DVD (a config drive).
            metered = tens if disk.drive_type != constants.DVD else 0
            metrics.append({
                'read_mb': metered * read, 'write_mb': metered * write,
                'instance_id': '%s\\%s\\%s' % (
                    vm.id, disk.controller, disk.slot),
                'host_resource': disk.path})
        return metrics

    @base.faultable(os_win_exc.HyperVException)
    def get_vnic_metrics(self, vm_name):
        """The NICs connected to a virtual switch (each has a port)."""
        vm = self._vm(vm_name)
        metered = self._state.metered(vm_name)
        connected = self._state.nic_vswitches(vm_name=vm_name)
        tens = self._tens_of_seconds_run(vm)
        rx, tx = self.NIC_MB_PER_10_S
        return [{'rx_mb': tens * rx if nic.name in metered else 0,
                 'tx_mb': tens * tx if nic.name in metered else 0,
                 'element_name': nic.name,
                 'address': networkutils.mac_address(nic)}
                for nic in self._state.nics(vm_name)
                if nic.name in connected]
