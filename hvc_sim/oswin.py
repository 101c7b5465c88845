"""The simulated cluster's os-win: utils classes on the hvc-sim state file.

Each class implements the subset of an os-win utils class that the driver
calls, with the same method names, signatures, return shapes and
exceptions (os-win's classes, as ``hvc_oswin_api.exceptions`` names them:
no os-win, and so no eventlet, is imported); ``tests/unit/driver`` checks
the signatures against the installed os-win. VMs, disks, NICs and cluster
groups live in the shared state file, so that every nova-compute service
of one simulated cluster sees the same cluster, as real nodes do. Virtual
disks are real files under the instances path whose content describes the
disk (format, virtual size, parent), so file operations (pathutils) and
disk operations (vhdutils) stay consistent.

A fault armed with ``hvc-sim fail KIND.METHOD`` (or
``ClusterState.arm_fault``) makes the next call of that method raise the
os-win exception a failing Hyper-V call raises.
"""

import errno
import functools
import json
import os
import shutil
import threading
import time
import uuid

from oslo_log import log as logging
from oslo_utils import uuidutils

from hvc_agent import files as agent_files
from hvc_oswin_api import cluster_wmi
from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim import shares
from hvc_sim import state as sim_state

LOG = logging.getLogger(__name__)

_VHD_MAGIC = 'hvc-sim-virtual-disk'
_VHD_BLOCK_SIZE = 32 * 1024 * 1024
_SECTOR_SIZE = 512
_DEVICE_IDS = {
    constants.DISK_FORMAT_VHD: constants.VIRTUAL_STORAGE_TYPE_DEVICE_VHD,
    constants.DISK_FORMAT_VHDX: constants.VIRTUAL_STORAGE_TYPE_DEVICE_VHDX}
# Memory a simulated host keeps for itself (the parent partition).
HOST_RESERVED_MEMORY_MB = sim_state.HOST_RESERVED_MEMORY_MB
# How often a listener of owner changes looks at the state file, in
# seconds: what a change waits at most before its listeners hear of it.
OWNER_CHANGE_POLL_INTERVAL = 0.1
# The fault that ends the owner change listeners (hvc-sim fail ...).
_LISTENER_FAULT = 'clusterutils.get_vm_owner_change_listener_v2'
# How often a caller waiting for a group move looks whether it is done.
GROUP_MOVE_POLL_INTERVAL = 0.05
# What MSCluster_Node says of a simulated node: its State and its
# StatusInformation (an isolated or quarantined node is out of the
# cluster's membership: down, its status telling why).
_NODE_WMI = {
    sim_state.NODE_UP: (constants.CLUSTER_NODE_UP, 0),
    sim_state.NODE_DOWN: (constants.CLUSTER_NODE_DOWN, 0),
    sim_state.NODE_PAUSED: (constants.CLUSTER_NODE_PAUSED, 0),
    sim_state.NODE_ISOLATED: (constants.CLUSTER_NODE_DOWN,
                              constants.NODE_STATUS_ISOLATED),
    sim_state.NODE_QUARANTINED: (constants.CLUSTER_NODE_DOWN,
                                 constants.NODE_STATUS_QUARANTINED)}
_RUNNING = (constants.HYPERV_VM_STATE_ENABLED,
            constants.HYPERV_VM_STATE_PAUSED)
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


def _faultable(exc_class):
    """Raise ``exc_class`` when a fault is armed for this method."""
    def decorator(func):
        @functools.wraps(func)
        def wrapper(self, *args, **kwargs):
            name = '%s.%s' % (self.KIND, func.__name__)
            message = self._state.take_fault(name)
            if message is not None:
                raise exc_class(message)
            try:
                return func(self, *args, **kwargs)
            except sim_state.VMNotFound as e:
                raise os_win_exc.HyperVVMNotFoundException(vm_name=e.vm_name)
            except sim_state.SimulatorError as e:
                raise exc_class(str(e))
        return wrapper
    return decorator


class _SimulatedUtils(object):
    KIND = None

    def __init__(self, state, node):
        self._state = state
        self._node = node


class VMUtils(_SimulatedUtils):
    """os_win.utils.compute.vmutils10.VMUtils10 on one simulated node."""

    KIND = 'vmutils'

    def _lookup_vm_check(self, vm_name):
        vm = self._state.get_vm(vm_name)
        # A Hyper-V host only sees the VMs it runs.
        if vm is None or vm.node != self._node:
            raise os_win_exc.HyperVVMNotFoundException(vm_name=vm_name)
        return vm

    @_faultable(os_win_exc.HyperVException)
    def vm_exists(self, vm_name):
        vm = self._state.get_vm(vm_name)
        return vm is not None and vm.node == self._node

    @_faultable(os_win_exc.HyperVException)
    def create_vm(self, vm_name, vnuma_enabled, vm_gen, instance_path,
                  notes=None):
        self._state.create_vm(vm_name, self._node, vm_gen, instance_path,
                              notes=notes or ())

    @_faultable(os_win_exc.HyperVException)
    def update_vm(self, vm_name, memory_mb, memory_per_numa_node, vcpus_num,
                  vcpus_per_numa_node, limit_cpu_features, dynamic_mem_ratio,
                  configuration_root_dir=None, snapshot_dir=None,
                  host_shutdown_action=None, vnuma_enabled=None,
                  snapshot_type=None, is_planned_vm=False,
                  chassis_asset_tag=None):
        self._state.update_vm(vm_name, owner=self._node, vcpus=vcpus_num,
                              memory_mb=memory_mb)

    @_faultable(os_win_exc.HyperVException)
    def get_vm_summary_info(self, vm_name):
        vm = self._lookup_vm_check(vm_name)
        running = vm.state in _RUNNING
        up_time = None
        if running and vm.started_at:
            up_time = int((time.time() - vm.started_at) * 1000)
        # WMI reports no memory usage (None) for a VM that is off.
        return {'NumberOfProcessors': vm.vcpus,
                'EnabledState': vm.state,
                'MemoryUsage': vm.memory_mb if running else None,
                'UpTime': up_time}

    @_faultable(os_win_exc.HyperVException)
    def get_vm_state(self, vm_name):
        return self._lookup_vm_check(vm_name).state

    @_faultable(os_win_exc.HyperVException)
    def get_vm_generation(self, vm_name):
        return self._lookup_vm_check(vm_name).generation

    @_faultable(os_win_exc.HyperVException)
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

    @_faultable(os_win_exc.HyperVException)
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

    @_faultable(os_win_exc.HyperVException)
    def soft_shutdown_vm(self, vm_name):
        # The simulated guest honours a shutdown request at once.
        self._state.change_vm(
            vm_name, lambda vm: ({'state': constants.HYPERV_VM_STATE_DISABLED}
                                 if vm.state in _RUNNING else None),
            owner=self._node)

    @_faultable(os_win_exc.HyperVException)
    def stop_vm_jobs(self, vm_name, timeout=None):
        self._lookup_vm_check(vm_name)

    @_faultable(os_win_exc.HyperVException)
    def destroy_vm(self, vm_name):
        # Like Hyper-V, this removes the VM, not its disk files.
        self._state.delete_vm(vm_name, owner=self._node)

    @_faultable(os_win_exc.HyperVException)
    def list_instances(self):
        return [vm.name for vm in self._state.vms(node=self._node)]

    @_faultable(os_win_exc.HyperVException)
    def get_active_instances(self):
        return [vm.name for vm in self._state.vms(node=self._node)
                if vm.state == constants.HYPERV_VM_STATE_ENABLED]

    @_faultable(os_win_exc.HyperVException)
    def set_vm_serial_port_connection(self, vm_name, port_number, pipe_path):
        # A Hyper-V VM has two serial ports, COM1 and COM2.
        if port_number not in (1, 2):
            raise os_win_exc.HyperVException(
                '%s has no serial port %s' % (vm_name, port_number))
        self._state.set_serial_port(vm_name, port_number, pipe_path,
                                    owner=self._node)

    @_faultable(os_win_exc.HyperVException)
    def get_vm_serial_port_connections(self, vm_name):
        self._lookup_vm_check(vm_name)
        ports = self._state.serial_ports(vm_name)
        return [ports[n] for n in sorted(ports) if ports[n]]

    @_faultable(os_win_exc.HyperVException)
    def list_instance_notes(self):
        return [(vm.name, [n for n in vm.notes if n])
                for vm in self._state.vms(node=self._node)]

    @_faultable(os_win_exc.HyperVException)
    def get_instance_uuid(self, vm_name):
        notes = [n for n in self._lookup_vm_check(vm_name).notes if n]
        if notes and uuidutils.is_uuid_like(notes[0]):
            return notes[0]

    @_faultable(os_win_exc.HyperVException)
    def get_vm_id(self, vm_name):
        return self._lookup_vm_check(vm_name).id

    @_faultable(os_win_exc.HyperVException)
    def create_scsi_controller(self, vm_name):
        self._lookup_vm_check(vm_name)

    @_faultable(os_win_exc.HyperVException)
    def attach_ide_drive(self, vm_name, path, ctrller_addr, drive_addr,
                         drive_type=constants.DISK):
        if drive_addr >= constants.IDE_CONTROLLER_SLOTS_NUMBER:
            raise os_win_exc.HyperVException(
                'IDE controller %s has no slot %s' % (ctrller_addr,
                                                      drive_addr))
        self._state.add_disk(vm_name, path, 'IDE%s' % ctrller_addr,
                             drive_addr, drive_type, owner=self._node)

    @_faultable(os_win_exc.HyperVException)
    def attach_scsi_drive(self, vm_name, path, drive_type=constants.DISK):
        # The free slot is chosen in the transaction that takes it.
        self._state.add_disk(vm_name, path, 'SCSI0', None, drive_type,
                             owner=self._node,
                             slots=constants.SCSI_CONTROLLER_SLOTS_NUMBER)

    @_faultable(os_win_exc.HyperVException)
    def get_vm_storage_paths(self, vm_name, is_planned_vm=False):
        self._lookup_vm_check(vm_name)
        disks = self._state.disks(vm_name)
        disk_files = [d.path for d in disks if d.drive_type != 'PHYS']
        volume_drives = [d.path for d in disks if d.drive_type == 'PHYS']
        return disk_files, volume_drives

    @_faultable(os_win_exc.HyperVException)
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

    @_faultable(os_win_exc.HyperVException)
    def take_vm_snapshot(self, vm_name, snapshot_name=None):
        return self._state.add_snapshot(vm_name, snapshot_name,
                                        owner=self._node)

    @_faultable(os_win_exc.HyperVException)
    def remove_vm_snapshot(self, snapshot_path):
        self._state.remove_snapshot(snapshot_path)

    @_faultable(os_win_exc.HyperVException)
    def create_nic(self, vm_name, nic_name, mac_address=None):
        self._check_nic_hot_plug(vm_name)
        self._state.add_nic(vm_name, nic_name, mac_address, owner=self._node)

    @_faultable(os_win_exc.HyperVException)
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

    @_faultable(os_win_exc.HyperVException)
    def get_vm_nic_names(self, vm_name):
        self._lookup_vm_check(vm_name)
        return [n.name for n in self._state.nics(vm_name)]


class HostUtils(_SimulatedUtils):
    """os_win.utils.hostutils10.HostUtils10 for one simulated node."""

    KIND = 'hostutils'
    WINDOWS_VERSION = '10.0.20348'  # Windows Server 2022
    _started = time.monotonic()

    def _node_info(self):
        node = self._state.node(self._node)
        if node is None:
            raise os_win_exc.HyperVException(
                'node %s is not in the simulated world %s'
                % (self._node, self._state.path))
        return node

    @_faultable(os_win_exc.HyperVException)
    def get_cpus_info(self):
        vcpus = self._node_info().vcpus
        # One socket with every logical processor, as WMI reports it.
        return [{'Architecture': 9,  # x64
                 'Name': 'Simulated Hyper-V host CPU',
                 'Manufacturer': 'GenuineIntel',
                 'MaxClockSpeed': 2400,
                 'NumberOfCores': vcpus,
                 'NumberOfLogicalProcessors': vcpus}]

    @_faultable(os_win_exc.HyperVException)
    def get_memory_info(self):
        total_mb = self._node_info().memory_mb
        used_mb = HOST_RESERVED_MEMORY_MB + sum(
            vm.memory_mb for vm in self._state.vms(node=self._node)
            if vm.state in _RUNNING)
        return total_mb * 1024, max(0, total_mb - used_mb) * 1024

    def get_windows_version(self):
        return self.WINDOWS_VERSION

    def check_min_windows_version(self, major, minor, build=0):
        version = list(map(int, self.get_windows_version().split('.')))
        return version >= [major, minor, build]

    def get_supported_vm_types(self):
        return [constants.IMAGE_PROP_VM_GEN_1, constants.IMAGE_PROP_VM_GEN_2]

    def get_local_ips(self):
        return ['127.0.0.1']

    def get_host_tick_count64(self):
        return int((time.monotonic() - self._started) * 1000)

    def host_power_action(self, action):
        raise NotImplementedError(
            'Host %s is not supported by the simulated cluster' % action)


class ClusterUtils(_SimulatedUtils):
    """os_win.utils.compute.clusterutils.ClusterUtils on a simulated node:
    it sees the cluster its node is in.
    """

    KIND = 'clusterutils'

    def __init__(self, state, node):
        super().__init__(state, node)
        # Set by stop_vm_owner_change_listeners.
        self._listeners_stopped = threading.Event()

    def _cluster(self):
        node = self._state.node(self._node)
        if node is None or node.cluster is None:
            # os-win cannot even connect to root/MSCluster there.
            raise os_win_exc.HyperVClusterException(
                '%s is not a node of a failover cluster' % self._node)
        return node.cluster

    def _groups(self):
        return self._state.cluster_groups(cluster=self._cluster())

    def _group(self, vm_name):
        """The VM's group in this node's cluster, or None."""
        group = self._state.get_cluster_group(vm_name)
        if group is None or group.cluster != self._cluster():
            return None
        return group

    @_faultable(os_win_exc.HyperVClusterException)
    def check_cluster_state(self):
        # As os-win: the cluster has a node; whether it is this one is the
        # caller's to check.
        if not self._state.nodes(cluster=self._cluster()):
            raise os_win_exc.HyperVClusterException(
                'Not enough cluster nodes.')

    def get_node_name(self):
        return self._node

    @_faultable(os_win_exc.HyperVClusterException)
    def get_cluster_node_names(self):
        return [n.name for n in self._state.nodes(cluster=self._cluster())]

    @_faultable(os_win_exc.HyperVClusterException)
    def vm_exists(self, vm_name):
        return self._group(vm_name) is not None

    @_faultable(os_win_exc.HyperVClusterException)
    def add_vm_to_cluster(self, vm_name, max_failover_count=1,
                          failover_period=6, auto_failback=True):
        vm = self._state.get_vm(vm_name)
        if vm is None or self._state.node(vm.node).cluster != self._cluster():
            raise os_win_exc.HyperVVMNotFoundException(vm_name=vm_name)
        self._state.add_cluster_group(vm_name, max_failover_count,
                                      failover_period, auto_failback)

    @_faultable(os_win_exc.HyperVClusterException)
    def delete(self, vm_name):
        # One transaction: a group gone meanwhile is not found, as in
        # os-win (HyperVVMNotFoundException).
        self._state.delete_cluster_group(vm_name, cluster=self._cluster())

    @_faultable(os_win_exc.ClusterException)
    def get_vm_host(self, vm_name):
        group = self._group(vm_name)
        if group is None:
            raise os_win_exc.ClusterObjectNotFound(resource=vm_name)
        return group.owner_node

    @_faultable(os_win_exc.HyperVClusterException)
    def list_instances(self):
        return [g.name for g in self._groups()]

    @_faultable(os_win_exc.HyperVClusterException)
    def list_instance_uuids(self):
        return [g.id for g in self._groups()]

    @_faultable(os_win_exc.ClusterException)
    def live_migrate_vm(self, vm_name, new_host, timeout=None):
        """Move the VM's group to ``new_host`` of this cluster, with the
        VM running (a cluster live migration: no storage moves).

        As os-win's: the group must come online on the new node, or the
        move fails (ClusterGroupMigrationFailed) and the VM stays where it
        was.
        """
        self._move_group(vm_name, new_host, online=True, timeout=timeout)

    def _start_move(self, vm_name, new_host, online):
        """Ask the cluster to move the group (MoveClusterGroupEx); whether
        it is done already. ClusterGroupMigrationFailed when the cluster
        refuses.
        """
        cluster = self._cluster()
        if self._group(vm_name) is None:
            raise os_win_exc.ClusterObjectNotFound(resource=vm_name)
        try:
            return self._state.move_group(vm_name, new_host, cluster,
                                          running=online)
        except sim_state.GroupMoveRefused as e:
            raise os_win_exc.ClusterGroupMigrationFailed(
                group_name=vm_name, expected_state=_expected_state(online),
                expected_node=new_host, group_state=e.group_state,
                owner_node=e.owner_node)

    def _validate_move(self, vm_name, new_host, online):
        """As os-win's _validate_migration: the group must be on
        ``new_host`` now.
        """
        group = self._group(vm_name)
        if group is None or group.owner_node != new_host:
            raise os_win_exc.ClusterGroupMigrationFailed(
                group_name=vm_name, expected_state=_expected_state(online),
                expected_node=new_host,
                group_state=_expected_state(online),
                owner_node=group and group.owner_node)

    def _move_group(self, vm_name, new_host, online, timeout=None):
        """Ask the cluster to move the group, and wait until it is done:
        the group on ``new_host``, or ClusterGroupMigrationFailed (the move
        failed or was cancelled), or ClusterGroupMigrationTimeOut after
        ``timeout`` seconds (the move goes on).
        """
        self._start_move(vm_name, new_host, online)
        started = time.monotonic()
        while self._state.group_move(vm_name) is not None:
            elapsed = time.monotonic() - started
            if timeout and elapsed > timeout:
                raise os_win_exc.ClusterGroupMigrationTimeOut(
                    group_name=vm_name, time_elapsed=elapsed)
            time.sleep(GROUP_MOVE_POLL_INTERVAL)
        self._validate_move(vm_name, new_host, online)

    @_faultable(os_win_exc.ClusterException)
    def cancel_cluster_group_migration(self, group_name, expected_state,
                                       timeout=None):
        """As os-win's: cancel the group's move if one is in progress; a
        group that is moving nowhere is left as it is.
        """
        if self._group(group_name) is None:
            raise os_win_exc.ClusterObjectNotFound(resource=group_name)
        if self._state.cancel_group_move(group_name):
            LOG.info('Cancelled the move of cluster group %s', group_name)

    @_faultable(os_win_exc.ClusterException)
    def get_cluster_group_state_info(self, group_name):
        # One read, as the cluster answers one query: a move that ends
        # between two reads would look failed.
        status = self._state.group_status(group_name)
        if status is None or status.cluster != self._cluster():
            raise os_win_exc.ClusterObjectNotFound(resource=group_name)
        if status.failure is not None:
            state = constants.CLUSTER_GROUP_FAILED
        elif status.vm_state in _RUNNING:
            state = constants.CLUSTER_GROUP_ONLINE
        else:
            state = constants.CLUSTER_GROUP_OFFLINE
        return dict(owner_node=status.owner_node, state=state,
                    migration_queued=status.moving_to is not None)

    def get_vm_owner_change_listener_v2(self):
        """As os-win's: a function that calls ``callback(vm_name,
        new_node)`` for each owner change of a VM group of this node's
        cluster (every node hears of every change), from when it is
        called (made) on; it logs what the callback raises and goes on.

        It reads the changes from the state file every
        OWNER_CHANGE_POLL_INTERVAL seconds, returns once
        stop_vm_owner_change_listeners was called or the state file is
        gone, and raises ClusterException when the notifications fail (a
        fault armed for this method: the cluster service restarted), as
        the seam's listener over os-win does.
        """
        # What is reported starts here, not when the listener's thread
        # gets to run.
        start = (self._state.last_owner_change()
                 if os.path.exists(self._state.path) else None)

        def listener(callback):
            if start is None or not os.path.exists(self._state.path):
                return
            cluster = self._cluster()
            seen = start
            while not self._listeners_stopped.is_set():
                try:
                    changes, armed = self._state.owner_changes(
                        cluster, seen, fault=_LISTENER_FAULT)
                except sim_state.SimulatorError as e:
                    if not os.path.exists(self._state.path):
                        return
                    raise os_win_exc.ClusterException(
                        'Cannot read the owner changes of the simulated '
                        'cluster %s: %s' % (cluster, e)) from e
                # A fault armed for this method ends the listener, as a
                # cluster service restart ends the notifications.
                fault = armed and self._state.take_fault(_LISTENER_FAULT)
                if fault:
                    raise os_win_exc.ClusterException(fault)
                for change in changes:
                    seen = change.seq
                    try:
                        callback(change.vm_name, change.node)
                    except Exception:
                        LOG.exception('The VM cluster group owner change '
                                      'event listener encountered an '
                                      'unexpected exception.')
                self._listeners_stopped.wait(OWNER_CHANGE_POLL_INTERVAL)
        return listener

    # Not in os-win 5.9's public API (the seam adds them to os-win's
    # ClusterUtils): the cluster's name, CSVs and nodes' states, moving a
    # VM group that is offline, and stopping the owner change listeners.

    @_faultable(os_win_exc.HyperVClusterException)
    def get_cluster_node_states(self):
        # Told from MSCluster_Node's properties as on Windows.
        return {n.name: cluster_wmi.node_state(*_NODE_WMI[n.state])
                for n in self._state.nodes(cluster=self._cluster())}

    def stop_vm_owner_change_listeners(self):
        self._listeners_stopped.set()

    @_faultable(os_win_exc.HyperVClusterException)
    def get_cluster_name(self):
        return self._cluster()

    @_faultable(os_win_exc.HyperVClusterException)
    def list_shared_volumes(self):
        return [cluster_wmi.SharedVolume(id=v.id, name=v.name, path=v.path,
                                         online=True)
                for v in self._state.shared_volumes(cluster=self._cluster())]

    # Moving a VM group that is offline is what Move-ClusterVirtualMachineRole
    # does with a VM that is off; os-win does it with its private
    # _migrate_vm.
    @_faultable(os_win_exc.ClusterException)
    def move_offline_vm(self, vm_name, new_host, timeout=None):
        """As os-win's ``_migrate_vm`` of an offline group on Windows: the
        cluster starts the move (MoveClusterGroupEx answers
        ERROR_IO_PENDING, and an offline group takes a while to come to
        its new node: the world's offline moves take time); os-win waits
        for the group to be Offline, which it is at once, then reads the
        owner: ClusterGroupMigrationFailed while the group is still on
        its way (the move goes on).
        """
        self._start_move(vm_name, new_host, online=False)
        self._validate_move(vm_name, new_host, online=False)


def _expected_state(online):
    return (constants.CLUSTER_GROUP_ONLINE if online
            else constants.CLUSTER_GROUP_OFFLINE)


@shares.reached_through_shares
class PathUtils(_SimulatedUtils):
    """os_win.utils.pathutils.PathUtils: plain file operations.

    The simulated cluster's shared storage is a local directory, so these
    are the file operations os-win does, on the local file system, with
    Windows' rules where POSIX differs (rename and copy do not replace an
    existing file) and os-win's errors: plain OSError.
    """

    KIND = 'pathutils'

    @_faultable(OSError)
    def open(self, path, mode):
        return open(path, mode)

    @_faultable(OSError)
    def exists(self, path):
        return os.path.exists(path)

    @_faultable(OSError)
    def get_size(self, path):
        return os.path.getsize(path)

    @_faultable(OSError)
    def read_file(self, path, offset=0, length=-1):
        return agent_files.read_file(path, offset, length)

    @_faultable(OSError)
    def write_file(self, path, data, offset=0):
        agent_files.write_file(path, data, offset)

    @_faultable(OSError)
    def listdir(self, path):
        return os.listdir(path)

    @_faultable(OSError)
    def get_age_of_file(self, file_name):
        return time.time() - os.path.getmtime(file_name)

    @_faultable(OSError)
    def makedirs(self, path):
        os.makedirs(path)

    @_faultable(OSError)
    def check_create_dir(self, path):
        if not os.path.exists(path):
            os.makedirs(path)

    @_faultable(OSError)
    def check_remove_dir(self, path):
        if os.path.exists(path):
            shutil.rmtree(path)

    @_faultable(OSError)
    def rmtree(self, path):
        shutil.rmtree(path)

    @_faultable(OSError)
    def remove(self, path):
        os.remove(path)

    @_faultable(OSError)
    def rename(self, src, dest):
        # MoveFile (os.rename on Windows) fails on an existing target.
        if os.path.exists(dest):
            raise FileExistsError(errno.EEXIST, 'Cannot create a file when '
                                  'that file already exists', dest)
        os.rename(src, dest)

    @_faultable(OSError)
    def copyfile(self, src, dest):
        # os-win: copy(src, dest), which fails if dest exists.
        self.copy(src, dest)

    @_faultable(OSError)
    def copy(self, src, dest, fail_if_exists=True):
        if os.path.isdir(dest):
            dest = os.path.join(dest, os.path.basename(src))
        if fail_if_exists and os.path.exists(dest):
            # os-win turns CopyFileW's failure into IOError.
            raise IOError('The file copy from %s to %s failed. Exception: '
                          'the file exists' % (src, dest))
        shutil.copy(src, dest)


@shares.reached_through_shares
class VHDUtils(_SimulatedUtils):
    """os_win.utils.storage.virtdisk.vhdutils.VHDUtils on simulated disks.

    A simulated virtual disk is a small file that describes it. Any other
    file (an image as glance delivers it, say) reads as a fixed disk of
    the format its extension names, as large as the file.
    """

    KIND = 'vhdutils'

    def _read(self, vhd_path):
        try:
            with open(vhd_path, 'rb') as f:
                head = f.read(4096)
            size = os.path.getsize(vhd_path)
        except OSError as e:
            raise os_win_exc.VHDException(
                'cannot open virtual disk %s: %s' % (vhd_path, e))
        try:
            info = json.loads(head.decode('utf-8'))
            if info.get('magic') == _VHD_MAGIC:
                return info
        except (ValueError, UnicodeDecodeError):
            pass
        return {'format': _format_from_extension(vhd_path),
                'type': constants.VHD_TYPE_FIXED,
                'virtual_size': size, 'parent': None}

    def _write(self, path, disk_format, disk_type, virtual_size,
               parent=None):
        if os.path.exists(path):
            raise os_win_exc.VHDException('%s exists already' % path)
        with open(path, 'w') as f:
            json.dump({'magic': _VHD_MAGIC, 'format': disk_format,
                       'type': disk_type, 'virtual_size': virtual_size,
                       'parent': parent}, f)

    @_faultable(os_win_exc.VHDException)
    def get_vhd_info(self, vhd_path, info_members=None, open_parents=False):
        disk = self._read(vhd_path)
        if not disk['format']:
            raise os_win_exc.VHDException(
                'unsupported virtual disk format: %s' % vhd_path)
        members = info_members or (
            constants.GET_VIRTUAL_DISK_INFO_SIZE,
            constants.GET_VIRTUAL_DISK_INFO_PARENT_LOCATION,
            constants.GET_VIRTUAL_DISK_INFO_VIRTUAL_STORAGE_TYPE,
            constants.GET_VIRTUAL_DISK_INFO_PROVIDER_SUBTYPE)
        info = {}
        for member in members:
            if member == constants.GET_VIRTUAL_DISK_INFO_SIZE:
                # What it takes on its volume, as the simulated CSV
                # counts it.
                info.update(VirtualSize=disk['virtual_size'],
                            PhysicalSize=sim_state.physical_bytes(vhd_path),
                            BlockSize=_VHD_BLOCK_SIZE,
                            SectorSize=_SECTOR_SIZE)
            elif member == constants.GET_VIRTUAL_DISK_INFO_PARENT_LOCATION:
                info.update(ParentResolved=bool(disk['parent']),
                            ParentPath=disk['parent'] or '')
            elif member == (
                    constants.GET_VIRTUAL_DISK_INFO_VIRTUAL_STORAGE_TYPE):
                info.update(DeviceId=_DEVICE_IDS[disk['format']],
                            VendorId=None)
            elif member == constants.GET_VIRTUAL_DISK_INFO_PROVIDER_SUBTYPE:
                info.update(ProviderSubtype=disk['type'])
        return info

    @_faultable(os_win_exc.VHDException)
    def get_vhd_size(self, vhd_path):
        return self.get_vhd_info(vhd_path,
                                 [constants.GET_VIRTUAL_DISK_INFO_SIZE])

    @_faultable(os_win_exc.VHDException)
    def get_vhd_parent_path(self, vhd_path):
        return self._read(vhd_path)['parent'] or None

    @_faultable(os_win_exc.VHDException)
    def get_vhd_format(self, vhd_path):
        disk_format = self._read(vhd_path)['format']
        if not disk_format:
            raise os_win_exc.VHDException(
                'Unsupported virtual disk format: %s' % vhd_path)
        return disk_format

    def get_best_supported_vhd_format(self):
        return constants.DISK_FORMAT_VHDX

    @_faultable(os_win_exc.VHDException)
    def create_dynamic_vhd(self, path, max_internal_size):
        self._write(path, _format_from_extension(path) or
                    constants.DISK_FORMAT_VHDX,
                    constants.VHD_TYPE_DYNAMIC, max_internal_size)

    @_faultable(os_win_exc.VHDException)
    def create_differencing_vhd(self, path, parent_path):
        parent = self._read(parent_path)
        self._write(path, parent['format'], constants.VHD_TYPE_DIFFERENCING,
                    parent['virtual_size'], parent=parent_path)

    @_faultable(os_win_exc.VHDException)
    def reconnect_parent_vhd(self, child_path, parent_path):
        child = self._read(child_path)
        self._read(parent_path)
        os.remove(child_path)
        self._write(child_path, child['format'], child['type'],
                    child['virtual_size'], parent=parent_path)

    @_faultable(os_win_exc.VHDException)
    def merge_vhd(self, vhd_path, delete_merged_image=True):
        # The parent takes the child's contents (and virtual size).
        child = self._read(vhd_path)
        if not child['parent']:
            raise os_win_exc.VHDException('%s has no parent to merge into'
                                          % vhd_path)
        parent = self._read(child['parent'])
        os.remove(child['parent'])
        self._write(child['parent'], parent['format'], parent['type'],
                    max(parent['virtual_size'], child['virtual_size']),
                    parent=parent['parent'])
        if delete_merged_image:
            os.remove(vhd_path)

    @_faultable(os_win_exc.VHDException)
    def resize_vhd(self, vhd_path, new_max_size, is_file_max_size=True,
                   validate_new_size=True):
        disk = self._read(vhd_path)
        if (disk['format'] == constants.DISK_FORMAT_VHD and
                disk['type'] == constants.VHD_TYPE_DIFFERENCING):
            # The virtual disk API resizes VHDX children only.
            raise os_win_exc.VHDException(
                'Virtual disk %s is a differencing VHD: it cannot be '
                'resized' % vhd_path)
        if new_max_size < disk['virtual_size']:
            raise os_win_exc.VHDException(
                'Virtual disks cannot be shrunk: %s has %d bytes, %d asked '
                'for' % (vhd_path, disk['virtual_size'], new_max_size))
        # A file that was not one of ours (an image as fetched) becomes
        # one: it now describes the grown disk.
        os.remove(vhd_path)
        self._write(vhd_path, disk['format'], disk['type'], new_max_size,
                    parent=disk['parent'])


class SMBUtils(_SimulatedUtils):
    """os_win.utils.storage.smbutils.SMBUtils: SMB mappings of a node."""

    KIND = 'smbutils'

    @_faultable(os_win_exc.SMBException)
    def check_smb_mapping(self, share_path, remove_unavailable_mapping=False):
        return share_path in self._state.mapped_shares(self._node)

    @_faultable(os_win_exc.SMBException)
    def mount_smb_share(self, share_path, username=None, password=None):
        self._state.map_share(self._node, share_path, username)

    @_faultable(os_win_exc.SMBException)
    def unmount_smb_share(self, share_path, force=False):
        self._state.unmap_share(self._node, share_path)


class NetworkUtils(_SimulatedUtils):
    """os_win.utils.network.networkutils.NetworkUtilsR2 on a simulated
    node: connects vNICs to virtual switches (any name is a switch).
    """

    KIND = 'networkutils'

    @_faultable(os_win_exc.HyperVException)
    def connect_vnic_to_vswitch(self, vswitch_name, switch_port_name):
        if not vswitch_name:
            raise os_win_exc.HyperVvSwitchNotFound(vswitch_name=vswitch_name)
        if not self._state.connect_nic(self._node, switch_port_name,
                                       vswitch_name):
            raise os_win_exc.HyperVvNicNotFound(vnic_name=switch_port_name)

    @_faultable(os_win_exc.HyperVException)
    def set_vswitch_port_vlan_id(self, vlan_id=None, switch_port_name=None,
                                 **kwargs):
        # Access mode only: trunks are not simulated.
        if kwargs.get('trunk_vlans') is not None:
            raise AttributeError('VLAN trunks are not simulated')
        if not self._state.set_nic_vlan(self._node, switch_port_name,
                                        vlan_id):
            raise os_win_exc.HyperVvNicNotFound(vnic_name=switch_port_name)

    @_faultable(os_win_exc.HyperVException)
    def get_vnic_ids(self):
        """The names of the vNICs of the VMs this node runs (a set, as
        os-win's).
        """
        return self._state.nic_names(node=self._node)

    @_faultable(os_win_exc.HyperVException)
    def get_connected_vnic_ids(self):
        """The names of the vNICs of the VMs this node runs that are
        connected to a virtual switch (a set; the seam's, not os-win's).
        A vNIC made again under the same name (its VM destroyed and made
        again) is not, until it is connected again.
        """
        return set(self._state.nic_vswitches(node=self._node))

    @_faultable(os_win_exc.HyperVException)
    def get_vnic_mac_address(self, switch_port_name):
        mine = {vm.name for vm in self._state.vms(node=self._node)}
        for nic in self._state.nics():
            if nic.name == switch_port_name and nic.vm_name in mine:
                return _mac_address(nic)
        raise os_win_exc.HyperVvNicNotFound(vnic_name=switch_port_name)


class MetricsUtils(_SimulatedUtils):
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
        if vm.state in _RUNNING and vm.started_at:
            return int(max(0.0, time.time() - vm.started_at) // 10)
        return 0

    @_faultable(os_win_exc.HyperVException)
    def enable_vm_metrics_collection(self, vm_name):
        self._state.meter(self._vm(vm_name).name, owner=self._node)

    @_faultable(os_win_exc.HyperVException)
    def enable_port_metrics_collection(self, switch_port_name):
        # os-win looks the switch port up by name: the NIC must be
        # connected to a virtual switch.
        connected = self._state.nic_vswitches(node=self._node)
        for nic in self._state.nics():
            if nic.name == switch_port_name and nic.name in connected:
                self._state.meter(nic.vm_name, nic.name, owner=self._node)
                return
        raise os_win_exc.NotFound(resource=switch_port_name)

    @_faultable(os_win_exc.HyperVException)
    def get_cpu_metrics(self, vm_name):
        """(average MHz used, vCPUs, ms the VM has been on)."""
        vm = self._vm(vm_name)
        running = vm.state in _RUNNING and vm.started_at
        on_ms = int((time.time() - vm.started_at) * 1000) if running else 0
        used = (vm.vcpus * self.CPU_MHZ_PER_VCPU
                if running and '' in self._state.metered(vm_name) else 0)
        return used, vm.vcpus, on_ms

    @_faultable(os_win_exc.HyperVException)
    def get_memory_metrics(self, vm_name):
        vm = self._vm(vm_name)
        if vm.state in _RUNNING and '' in self._state.metered(vm_name):
            return vm.memory_mb
        return 0

    @_faultable(os_win_exc.HyperVException)
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

    @_faultable(os_win_exc.HyperVException)
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
                 'address': _mac_address(nic)}
                for nic in self._state.nics(vm_name)
                if nic.name in connected]


def _mac_address(nic):
    """The NIC's MAC address as WMI gives it (12 hex digits): the one it
    was made with, or a dynamic one from Hyper-V's range (00155D).
    """
    if nic.mac_address:
        return nic.mac_address.replace(':', '').replace('-', '').upper()
    digest = uuid.uuid5(uuid.NAMESPACE_OID,
                        '%s/%s' % (nic.vm_name, nic.name)).hex
    return ('00155D' + digest[:6]).upper()


class LiveMigrationUtils(_SimulatedUtils):
    """os_win.utils.compute.livemigrationutils.LiveMigrationUtils on a
    simulated host, with the seam's live migration with storage.

    Every simulated host is this machine: a migration to another host
    copies the VM's disk files into the destination folder, as Hyper-V
    copies them over the network, so what it moves takes real bytes.
    """

    KIND = 'livemigrationutils'

    @_faultable(os_win_exc.HyperVException)
    def check_live_migration_config(self):
        node = self._state.node(self._node)
        if node is None or node.state != sim_state.NODE_UP:
            raise os_win_exc.HyperVException(
                'Live migration is not available on host %s: it is %s'
                % (self._node, 'unknown' if node is None else node.state))

    @_faultable(os_win_exc.HyperVException)
    def destroy_existing_planned_vm(self, vm_name):
        # The simulated world migrates in one transaction and leaves no
        # planned VM behind a failure: there is none to destroy.
        pass

    # Not in os-win 5.9's public API: the seam adds it to os-win's
    # LiveMigrationUtils.
    @_faultable(os_win_exc.HyperVException)
    def live_migrate_vm_with_storage(self, vm_name, dest_host, dest_dir,
                                     timeout=None):
        """Move the VM, running or not, to Hyper-V host ``dest_host``, its
        virtual hard disks of its own directory into ``dest_dir`` there,
        each keeping its file name (disks elsewhere, volumes on SMB shares,
        stay), as Move-VM does.

        The parents of a differencing disk are copied along into
        ``dest_dir`` (the copy of the child points at the copy of its
        parent: what Msvm_MoveUnmanagedVhd asks) and stay at the source
        (RetainVhdCopiesOnSource: an image cache other VMs use). The
        moved disks leave the source; other files of the VM's folder (a
        console log) stay, as Hyper-V does not own them.

        A DVD image in its own directory (a config drive ISO) is refused
        (HyperVException, nothing changed): the destination cannot reach
        it and Hyper-V migrates no DVD image; the caller ejects it first.
        The VM keeps its power state and uptime. A refusal or a failure
        changes nothing. ``timeout``: the copy here takes no time worth
        bounding.
        """
        vm = self._state.get_vm(vm_name)
        if vm is None or vm.node != self._node:
            raise os_win_exc.HyperVVMNotFoundException(vm_name=vm_name)
        if self._state.get_cluster_group(vm_name) is not None:
            raise os_win_exc.HyperVException(
                sim_state.CLUSTERED_VM_MIGRATION % vm_name)
        dest = self._destination(dest_host)
        disks = self._state.disks(vm_name)
        copies, parents, moved = self._copies(
            disks, vm.instance_path, dest_dir)
        created_dirs = _missing_dirs(dest_dir)
        copied = []
        try:
            os.makedirs(dest_dir, exist_ok=True)
            for src, dest_path in copies.items():
                _copy_file(src, dest_path)
                copied.append(dest_path)
            for child, parent in parents.items():
                _set_parent(copies[child], copies[parent])
            self._state.migrate_vm(
                vm_name, dest, dest_dir,
                {d.path: copies.get(d.path, d.path)
                 for d in disks},
                owner=self._node)
        except BaseException as e:
            for path in copied:
                _remove_quietly(path)
            for path in created_dirs:
                _remove_quietly(path, folder=True)
            if isinstance(e, OSError):
                # Hyper-V's migration job fails: os-win raises this.
                raise os_win_exc.HyperVException(
                    'The live migration of %s to %s failed: %s'
                    % (vm_name, dest, e)) from e
            raise
        for path in moved:
            _remove_quietly(path)

    def _destination(self, dest_host):
        """The world's name of host ``dest_host``, which must be up and
        another host than this one.
        """
        name = self._state.resolve_node(dest_host)
        node = self._state.node(name) if name else None
        if node is None or node.state != sim_state.NODE_UP:
            # What os-win says when it cannot reach the host's WMI.
            raise os_win_exc.HyperVException(
                'Target live migration host "%s" is unreachable%s'
                % (dest_host, '' if node is None else
                   ' (it is %s)' % node.state))
        if node.name == self._node:
            raise os_win_exc.HyperVException(
                'Cannot live-migrate to %s: the VM runs there already'
                % dest_host)
        return node.name

    def _copies(self, disks, own_dir, dest_dir):
        """What to copy ({source: copy}, in order), the parent of each
        differencing disk ({source child: source parent}), the disks that
        move (leave the source) as opposed to parents, which stay.
        """
        copies, parents, moved = {}, {}, []
        taken = {}

        def copy_of(src):
            if src in copies:
                return
            if not os.path.isfile(src):
                raise os_win_exc.HyperVException(
                    'The virtual disk %s cannot be found' % src)
            dest_path = os.path.join(dest_dir, os.path.basename(src))
            if dest_path in taken:
                raise os_win_exc.HyperVException(
                    '%s and %s would both be %s' % (taken[dest_path], src,
                                                    dest_path))
            if os.path.lexists(dest_path):
                raise os_win_exc.HyperVException(
                    'The file %s exists already on the destination'
                    % dest_path)
            taken[dest_path] = src
            copies[src] = dest_path

        for disk in disks:
            if disk.drive_type == 'PHYS':
                continue  # a passed-through volume: no file to move.
            if os.path.dirname(disk.path) != os.path.normpath(own_dir):
                continue  # a volume on an SMB share: both hosts reach it.
            if disk.drive_type == constants.DVD:
                raise os_win_exc.HyperVException(
                    'The DVD image %s is in the directory of %s, which the '
                    'destination cannot reach: eject it before the '
                    'migration' % (disk.path, os.path.basename(own_dir)))
            copy_of(disk.path)
            moved.append(disk.path)
            child = disk.path
            parent = _parent_path(child)
            while parent and child not in parents:
                copy_of(parent)
                parents[child] = parent
                child, parent = parent, _parent_path(parent)
        return copies, parents, moved


@shares.reached_through_shares
class DiskUtils(_SimulatedUtils):
    """os_win.utils.storage.diskutils.DiskUtils on a simulated host."""

    KIND = 'diskutils'

    def get_disk_capacity(self, path, ignore_errors=False):
        """(total, free) bytes of the volume that holds ``path``: a
        simulated CSV's (its size, less what its files take), or else the
        disk of the machine the simulated world runs on, which is every
        simulated host's local disk.

        As os-win's: a failure (GetDiskFreeSpaceExW's) is logged, and
        raised, or (0, 0) with ``ignore_errors``.
        """
        try:
            message = self._state.take_fault(
                '%s.get_disk_capacity' % self.KIND)
            if message is not None:
                raise os_win_exc.OSWinException(message)
            return self._capacity(os.path.abspath(path))
        except (os_win_exc.OSWinException, sim_state.SimulatorError) as e:
            LOG.error('Could not get disk %(path)s capacity info. '
                      'Exception: %(exc)s', dict(path=path, exc=e))
            if ignore_errors:
                return 0, 0
            if isinstance(e, sim_state.SimulatorError):
                raise os_win_exc.OSWinException(str(e))
            raise

    def _capacity(self, path):
        if not os.path.exists(path):
            # What os-win's Win32Exception says of ERROR_PATH_NOT_FOUND.
            raise os_win_exc.OSWinException(
                'Executing Win32 API function GetDiskFreeSpaceExW failed. '
                'Error code: 3. Error message: The system cannot find the '
                'path specified.', error_code=3)
        for volume in self._state.shared_volumes():
            if os.path.commonpath([path, volume.path]) == volume.path:
                total = volume.total_gb * 1024 ** 3
                used = sim_state.folder_physical_bytes(volume.path)
                return total, max(total - used, 0)
        usage = shutil.disk_usage(path)
        return usage.total, usage.free


class NamedPipeHandler(object):
    """os_win.utils.io.namedpipe.NamedPipeHandler on a simulated node,
    with the state and the node first.

    Between start and stop the reader is connected to its pipe on its
    node (registered in the state file): what the simulated guest writes
    to its serial port goes to the reader's log file, and what it wrote
    while no reader was connected waits in the pipe's buffer until one
    connects. The reader holds its log open while it runs, as os-win's.

    With the queues (a serial console, ``hvc_agent.serialproxy``), as
    os-win's: what the guest writes also goes to ``output_queue`` (read
    here from the log file as it grows: the guest may write from another
    process), and what ``input_queue`` gives while ``connect_event`` is
    set is typed into the guest (``ClusterState.type_into_pipe``).
    """

    # How often the log file is looked at for what the guest wrote.
    POLL_SECONDS = 0.1

    def __init__(self, state, node, pipe_name, input_queue=None,
                 output_queue=None, connect_event=None, log_file=None):
        self._state = state
        self._node = node
        self._pipe_name = pipe_name
        self._log_file_path = log_file
        self._log_file_handle = None
        self._input_queue = input_queue
        self._output_queue = output_queue
        self._connect_event = connect_event
        self._stopped = threading.Event()
        self._workers = []

    def start(self):
        try:
            if self._log_file_path:
                self._log_file_handle = open(self._log_file_path, 'ab')
            waiting = self._state.register_pipe_reader(
                self._node, self._pipe_name, self._log_file_path)
            if waiting and self._log_file_handle:
                self._log_file_handle.write(waiting.encode('utf-8'))
                self._log_file_handle.flush()
        except (OSError, sim_state.SimulatorError) as err:
            self.stop()
            # As os-win: any failure to start is an OSWinException.
            raise os_win_exc.OSWinException(
                'Named pipe handler failed to initialize. Pipe Name: %s '
                'Error: %s' % (self._pipe_name, err))
        jobs = []
        if self._output_queue is not None and self._log_file_path:
            jobs.append(self._read_from_pipe)
        if self._input_queue is not None and self._connect_event is not None:
            jobs.append(self._write_to_pipe)
        for job in jobs:
            worker = threading.Thread(target=job, daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self):
        self._stopped.set()
        for worker in self._workers:
            if worker is not threading.current_thread():
                worker.join(5)
        self._workers = []
        if self._log_file_handle:
            self._log_file_handle.close()
            self._log_file_handle = None
        try:
            self._state.unregister_pipe_reader(self._node, self._pipe_name,
                                               self._log_file_path)
        except sim_state.SimulatorError as e:
            # As os-win's: stopping never fails.
            LOG.debug('Reader of %s not unregistered: %s', self._pipe_name,
                      e)

    def flush_log_file(self):
        try:
            self._log_file_handle.flush()
        except (AttributeError, ValueError):
            pass

    def _read_from_pipe(self):
        offset = os.path.getsize(self._log_file_path)
        while not self._stopped.wait(self.POLL_SECONDS):
            try:
                with open(self._log_file_path, 'rb') as log:
                    log.seek(offset)
                    data = log.read()
            except OSError:
                continue
            if data:
                offset += len(data)
                self._output_queue.put(data)

    def _write_to_pipe(self):
        while not self._stopped.is_set():
            if not self._connect_event.wait(self.POLL_SECONDS):
                continue
            data = self._input_queue.get()
            if data and not self._stopped.is_set():
                self._state.type_into_pipe(self._node, self._pipe_name, data)


def _format_from_extension(path):
    ext = os.path.splitext(path)[1].lower()
    return {'.vhd': constants.DISK_FORMAT_VHD,
            '.vhdx': constants.DISK_FORMAT_VHDX}.get(ext)


def _parent_path(path):
    """The parent of a simulated differencing disk, or None."""
    disk = sim_state.virtual_disk(path)
    return disk.get('parent') if disk else None


def _set_parent(path, parent):
    """Point the differencing disk ``path`` at ``parent``, as
    VHDUtils.reconnect_parent_vhd does, keeping what was written in it.
    """
    disk = sim_state.virtual_disk(path)
    disk['parent'] = parent
    with open(path, 'w') as f:
        json.dump(disk, f)


def _copy_file(src, dest):
    """Copy ``src`` into a new file ``dest`` (never over one), which a
    failure removes again.
    """
    with open(src, 'rb') as fsrc:
        fdest = open(dest, 'xb')
        try:
            with fdest:
                _copy_data(fsrc, fdest)
        except BaseException:
            _remove_quietly(dest)
            raise


def _copy_data(fsrc, fdest):
    """A sparse file stays sparse: a simulated disk of many GB costs this
    machine what it did.
    """
    info = os.fstat(fsrc.fileno())
    if (info.st_blocks * 512 >= info.st_size or
            not hasattr(os, 'SEEK_DATA')):
        shutil.copyfileobj(fsrc, fdest)
        return
    offset = 0
    while offset < info.st_size:
        try:
            start = os.lseek(fsrc.fileno(), offset, os.SEEK_DATA)
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
            break  # only a hole is left.
        end = os.lseek(fsrc.fileno(), start, os.SEEK_HOLE)
        fsrc.seek(start)
        fdest.seek(start)
        while start < end:
            chunk = fsrc.read(min(end - start, 1024 * 1024))
            if not chunk:
                break
            fdest.write(chunk)
            start += len(chunk)
        offset = end
    fdest.truncate(info.st_size)


def _missing_dirs(path):
    """The folders ``os.makedirs(path)`` would make, deepest first."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def _remove_quietly(path, folder=False):
    try:
        if folder:
            os.rmdir(path)  # only if nothing else was put there.
        else:
            os.remove(path)
    except OSError as e:
        LOG.warning('Could not remove %s: %s', path, e)


UTILS_CLASSES = {cls.KIND: cls for cls in (
    VMUtils, HostUtils, ClusterUtils, PathUtils, VHDUtils, SMBUtils,
    NetworkUtils, LiveMigrationUtils, DiskUtils, MetricsUtils)}
