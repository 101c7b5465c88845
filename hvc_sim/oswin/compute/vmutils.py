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

"""os_win.utils.compute.vmutils on the simulated cluster."""

import time

from oslo_log import log as logging
from oslo_utils import uuidutils

from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin import base

LOG = logging.getLogger(__name__)


# Power state changes Hyper-V accepts, by requested state: the states a VM
# may be in. Any other request is "invalid in the current state" (32775),
# which os-win's set_vm_state ignores; so do we.
_TRANSITIONS = {
    constants.HYPERV_VM_STATE_ENABLED: {
        constants.HYPERV_VM_STATE_DISABLED, constants.HYPERV_VM_STATE_PAUSED,
        constants.HYPERV_VM_STATE_SUSPENDED},
    constants.HYPERV_VM_STATE_DISABLED: {
        constants.HYPERV_VM_STATE_ENABLED, constants.HYPERV_VM_STATE_PAUSED,
        constants.HYPERV_VM_STATE_SUSPENDED},
    constants.HYPERV_VM_STATE_PAUSED: {constants.HYPERV_VM_STATE_ENABLED},
    constants.HYPERV_VM_STATE_SUSPENDED: {
        constants.HYPERV_VM_STATE_ENABLED, constants.HYPERV_VM_STATE_PAUSED},
    constants.HYPERV_VM_STATE_REBOOT: {constants.HYPERV_VM_STATE_ENABLED},
}


class VMUtils(base.SimulatedUtils):
    """os_win.utils.compute.vmutils10.VMUtils10 on one simulated node."""

    KIND = 'vmutils'

    def _lookup_vm_check(self, vm_name):
        vm = self._state.get_vm(vm_name)
        # A Hyper-V host only sees the VMs it runs.
        if vm is None or vm.node != self._node:
            raise os_win_exc.HyperVVMNotFoundException(vm_name=vm_name)
        return vm

    @base.faultable(os_win_exc.HyperVException)
    def vm_exists(self, vm_name):
        vm = self._state.get_vm(vm_name)
        return vm is not None and vm.node == self._node

    @base.faultable(os_win_exc.HyperVException)
    def create_vm(self, vm_name, vnuma_enabled, vm_gen, instance_path,
                  notes=None):
        self._state.create_vm(vm_name, self._node, vm_gen, instance_path,
                              notes=notes or ())

    @base.faultable(os_win_exc.HyperVException)
    def update_vm(self, vm_name, memory_mb, memory_per_numa_node, vcpus_num,
                  vcpus_per_numa_node, limit_cpu_features, dynamic_mem_ratio,
                  configuration_root_dir=None, snapshot_dir=None,
                  host_shutdown_action=None, vnuma_enabled=None,
                  snapshot_type=None, is_planned_vm=False,
                  chassis_asset_tag=None):
        self._state.update_vm(vm_name, owner=self._node, vcpus=vcpus_num,
                              memory_mb=memory_mb)

    @base.faultable(os_win_exc.HyperVException)
    def get_vm_summary_info(self, vm_name):
        vm = self._lookup_vm_check(vm_name)
        running = vm.state in base.RUNNING
        up_time = None
        if running and vm.started_at:
            up_time = int((time.time() - vm.started_at) * 1000)
        # WMI reports no memory usage (None) for a VM that is off.
        return {'NumberOfProcessors': vm.vcpus,
                'EnabledState': vm.state,
                'MemoryUsage': vm.memory_mb if running else None,
                'UpTime': up_time}

    @base.faultable(os_win_exc.HyperVException)
    def get_vm_state(self, vm_name):
        return self._lookup_vm_check(vm_name).state

    @base.faultable(os_win_exc.HyperVException)
    def get_vm_generation(self, vm_name):
        return self._lookup_vm_check(vm_name).generation

    @base.faultable(os_win_exc.HyperVException)
    def set_boot_order(self, vm_name, device_boot_order):
        """Generation 1: device kinds (BOOT_DEVICE_*); generation 2: the
        paths of attached drives, each of which must be attached (os-win
        looks each up among the VM's drives).
        """
        vm = self._lookup_vm_check(vm_name)
        devices = list(device_boot_order)
        if vm.generation == constants.VM_GEN_2:
            attached = {d.path for d in self._state.disks(vm_name)}
            missing = [d for d in devices if d and d not in attached]
            if missing:
                raise os_win_exc.HyperVException(
                    'no drive %s attached to %s' % (missing[0], vm_name))
            devices = [d for d in devices if d]
        self._state.set_boot_order(vm_name, devices, owner=self._node)

    @base.faultable(os_win_exc.HyperVException)
    def set_vm_state(self, vm_name, req_state):
        if req_state not in _TRANSITIONS:
            raise os_win_exc.HyperVException(
                'unsupported VM state request %r' % (req_state,))
        started = []

        def change(vm):
            if req_state == constants.HYPERV_VM_STATE_REBOOT:
                if vm.state == constants.HYPERV_VM_STATE_ENABLED:
                    # A reset: the VM runs on, its uptime starts again.
                    started.append(vm)
                    return {'restart': True}
                return None
            if (vm.state == req_state or
                    vm.state not in _TRANSITIONS[req_state]):
                LOG.debug('Simulated VM %s is %s: request for state %s '
                          'ignored, as Hyper-V does', vm_name, vm.state,
                          req_state)
                return None
            if req_state == constants.HYPERV_VM_STATE_ENABLED:
                started.append(vm)
            return {'state': req_state}

        # Checked and changed in one transaction, on this node only: a VM
        # the cluster moves meanwhile is not found, as on Hyper-V.
        self._state.change_vm(vm_name, change, owner=self._node)
        for vm in started:
            self._state.write_boot_message(vm.name, self._node)

    @base.faultable(os_win_exc.HyperVException)
    def soft_shutdown_vm(self, vm_name):
        # The simulated guest honours a shutdown request at once.
        self._state.change_vm(
            vm_name, lambda vm: ({'state': constants.HYPERV_VM_STATE_DISABLED}
                                 if vm.state in base.RUNNING else None),
            owner=self._node)

    @base.faultable(os_win_exc.HyperVException)
    def stop_vm_jobs(self, vm_name, timeout=None):
        self._lookup_vm_check(vm_name)

    @base.faultable(os_win_exc.HyperVException)
    def destroy_vm(self, vm_name):
        # Like Hyper-V, this removes the VM, not its disk files.
        self._state.delete_vm(vm_name, owner=self._node)

    @base.faultable(os_win_exc.HyperVException)
    def list_instances(self):
        return [vm.name for vm in self._state.vms(node=self._node)]

    @base.faultable(os_win_exc.HyperVException)
    def get_active_instances(self):
        return [vm.name for vm in self._state.vms(node=self._node)
                if vm.state == constants.HYPERV_VM_STATE_ENABLED]

    @base.faultable(os_win_exc.HyperVException)
    def set_vm_serial_port_connection(self, vm_name, port_number, pipe_path):
        # A Hyper-V VM has two serial ports, COM1 and COM2.
        if port_number not in (1, 2):
            raise os_win_exc.HyperVException(
                '%s has no serial port %s' % (vm_name, port_number))
        self._state.set_serial_port(vm_name, port_number, pipe_path,
                                    owner=self._node)

    @base.faultable(os_win_exc.HyperVException)
    def get_vm_serial_port_connections(self, vm_name):
        self._lookup_vm_check(vm_name)
        ports = self._state.serial_ports(vm_name)
        return [ports[n] for n in sorted(ports) if ports[n]]

    @base.faultable(os_win_exc.HyperVException)
    def list_instance_notes(self):
        return [(vm.name, [n for n in vm.notes if n])
                for vm in self._state.vms(node=self._node)]

    @base.faultable(os_win_exc.HyperVException)
    def get_instance_uuid(self, vm_name):
        notes = [n for n in self._lookup_vm_check(vm_name).notes if n]
        if notes and uuidutils.is_uuid_like(notes[0]):
            return notes[0]

    @base.faultable(os_win_exc.HyperVException)
    def get_vm_id(self, vm_name):
        return self._lookup_vm_check(vm_name).id

    @base.faultable(os_win_exc.HyperVException)
    def create_scsi_controller(self, vm_name):
        self._lookup_vm_check(vm_name)

    @base.faultable(os_win_exc.HyperVException)
    def attach_ide_drive(self, vm_name, path, ctrller_addr, drive_addr,
                         drive_type=constants.DISK):
        if drive_addr >= constants.IDE_CONTROLLER_SLOTS_NUMBER:
            raise os_win_exc.HyperVException(
                'IDE controller %s has no slot %s' % (ctrller_addr,
                                                      drive_addr))
        self._state.add_disk(vm_name, path, 'IDE%s' % ctrller_addr,
                             drive_addr, drive_type, owner=self._node)

    @base.faultable(os_win_exc.HyperVException)
    def attach_scsi_drive(self, vm_name, path, drive_type=constants.DISK):
        # The free slot is chosen in the transaction that takes it.
        self._state.add_disk(vm_name, path, 'SCSI0', None, drive_type,
                             owner=self._node,
                             slots=constants.SCSI_CONTROLLER_SLOTS_NUMBER)

    @base.faultable(os_win_exc.HyperVException)
    def get_vm_storage_paths(self, vm_name, is_planned_vm=False):
        self._lookup_vm_check(vm_name)
        disks = self._state.disks(vm_name)
        disk_files = [d.path for d in disks if d.drive_type != 'PHYS']
        volume_drives = [d.path for d in disks if d.drive_type == 'PHYS']
        return disk_files, volume_drives

    @base.faultable(os_win_exc.HyperVException)
    def detach_vm_disk(self, vm_name, disk_path=None, is_physical=True,
                       serial=None):
        # os-win ignores vm_name: it looks the disk up by its path among
        # the disks of this host's VMs, and does nothing if none has it.
        mine = {vm.name for vm in self._state.vms(node=self._node)}
        for disk in self._state.disks():
            if disk.path == disk_path and disk.vm_name in mine:
                self._state.remove_disk(disk.vm_name, disk_path)
                return
        LOG.debug('No disk %s attached to a VM of %s', disk_path, self._node)

    @base.faultable(os_win_exc.HyperVException)
    def take_vm_snapshot(self, vm_name, snapshot_name=None):
        return self._state.add_snapshot(vm_name, snapshot_name,
                                        owner=self._node)

    @base.faultable(os_win_exc.HyperVException)
    def remove_vm_snapshot(self, snapshot_path):
        self._state.remove_snapshot(snapshot_path)

    @base.faultable(os_win_exc.HyperVException)
    def create_nic(self, vm_name, nic_name, mac_address=None):
        self._check_nic_hot_plug(vm_name)
        self._state.add_nic(vm_name, nic_name, mac_address, owner=self._node)

    @base.faultable(os_win_exc.HyperVException)
    def destroy_nic(self, vm_name, nic_name):
        if nic_name in self.get_vm_nic_names(vm_name):
            self._check_nic_hot_plug(vm_name)
        # os-win ignores a NIC that is gone already.
        self._state.remove_nic(vm_name, nic_name)

    def _check_nic_hot_plug(self, vm_name):
        """Hyper-V adds and removes a running VM's network adapters on
        generation 2 VMs only ("Add or remove network adapters with hot
        add/remove", Windows Server 2016 and later, Microsoft Learn).
        """
        vm = self._lookup_vm_check(vm_name)
        if (vm.state != constants.HYPERV_VM_STATE_DISABLED and
                vm.generation != constants.VM_GEN_2):
            raise os_win_exc.HyperVException(
                'the network adapters of generation 1 VM %s cannot change '
                'while it runs' % vm_name)

    @base.faultable(os_win_exc.HyperVException)
    def get_vm_nic_names(self, vm_name):
        self._lookup_vm_check(vm_name)
        return [n.name for n in self._state.nics(vm_name)]
