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

"""The agent's Hyper-V: os-win's utils on the Windows host it runs on.

os-win (through PyMI) is imported only here, in the agent on Windows:
nova-compute never imports it. Its errors (and WMI's) become the
``hvc_oswin_api.exceptions`` of the same name, which cross the wire by
name. Beside error translation, some utils get what os-win 5.9 lacks
(the adapters below).

os-win's WMI objects are used from the thread that made them: ``OsWin``
keeps one set of utils per thread (each request of the agent runs on a
thread of its server's pool, which lives as long as the agent).
"""

import contextlib
import ntpath
import os
import platform
import queue
import re
import threading
import time

from oslo_log import log as logging

from hvc_agent import files
from hvc_oswin_api import cluster_wmi
from hvc_oswin_api import constants as oswin_const
from hvc_oswin_api import exceptions as oswin_exc

LOG = logging.getLogger(__name__)

# The utils the driver uses, by the name of their os-win factory function,
# and the os-win class utilsfactory makes for each on Windows Server 2016+
# (what the simulated classes stand in for, and what the tests autospec).
OSWIN_CLASSES = {
    'vmutils': 'os_win.utils.compute.vmutils10.VMUtils10',
    'hostutils': 'os_win.utils.hostutils10.HostUtils10',
    'clusterutils': 'os_win.utils.compute.clusterutils.ClusterUtils',
    'pathutils': 'os_win.utils.pathutils.PathUtils',
    'vhdutils': 'os_win.utils.storage.virtdisk.vhdutils.VHDUtils',
    'smbutils': 'os_win.utils.storage.smbutils.SMBUtils',
    'networkutils': 'os_win.utils.network.networkutils.NetworkUtilsR2',
    'livemigrationutils':
        'os_win.utils.compute.livemigrationutils.LiveMigrationUtils',
    'diskutils': 'os_win.utils.storage.diskutils.DiskUtils',
    'metricsutils': 'os_win.utils.metrics.metricsutils.MetricsUtils',
}
UTILS = tuple(OSWIN_CLASSES)
# How long a probe for a failover cluster waits for the cluster's WMI
# provider.
CLUSTER_PROBE_TIMEOUT_SECONDS = 30
# How long ovs-vsctl may outlive its own --timeout before it is killed.
OVS_VSCTL_KILL_GRACE_SECONDS = 10
# How often a live migration's job is looked at until it ends.
JOB_POLL_SECONDS = 1
# How long the owner change listener waits for an event before it looks
# whether it was stopped.
LISTENER_POLL_SECONDS = 1
# Another node's administrative share: \\\\NODE\\C$ (either slash).
_ADMIN_SHARE = re.compile(r'^[\\/]{2}[^\\/]+[\\/]([A-Za-z])\$(?=[\\/]|$)')


@contextlib.contextmanager
def _translated():
    """os-win's (and WMI's) errors become hvc_oswin_api's."""
    try:
        yield
    except Exception as e:
        translated = oswin_exc.translate(e)
        if translated is None:
            raise
        raise translated from e


class _OsWin(object):
    """An os-win object whose os-win and WMI errors become the
    ``hvc_oswin_api.exceptions`` of the same name.
    """

    def __init__(self, target):
        self._target = target

    def __getattr__(self, name):
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            with _translated():
                return attr(*args, **kwargs)
        return call


class _OsWinClusterUtils(_OsWin):
    """os-win's ClusterUtils, with what its public API lacks."""

    def __init__(self, target):
        super().__init__(target)
        self._listeners_stopped = False

    def get_cluster_name(self):
        return self._call(cluster_wmi.cluster_name)

    def get_cluster_node_states(self):
        """{node name: MSCluster_Node.State} (CLUSTER_NODE_* constants)."""
        return self._call(cluster_wmi.node_states)

    def get_vm_owner_change_listener_v2(self):
        """A listener of the cluster's VM group owner changes, with a loop
        of our own over os-win's private event listener.

        os-win's own loop cannot be stopped, and when its event thread
        fails (the cluster service restarts, the RPC connection drops) it
        logs "Cluster event listener is not running" every 2 s and never
        returns. This one waits for events ``LISTENER_POLL_SECONDS`` at a
        time, so that stop_vm_owner_change_listeners ends it; raises when
        the events stop coming for a failure (the caller starts a new one,
        with a fresh cluster handle); and closes its notification port
        and cluster handle when it ends, which wakes os-win's event thread
        from its GetClusterNotifyV2 (clusterutils, "When the listener is
        closed...").
        """
        # Imported here, as utilsfactory is (HyperV._oswin_utilsfactory).
        from os_win.utils.compute import clusterutils as oswin_clusterutils
        self._listeners_stopped = False
        target = self._target

        def listener(callback):
            with _translated():
                cluster_handle = target._clusapi_utils.open_cluster()
            try:
                with _translated(), \
                        oswin_clusterutils._ClusterGroupOwnerChangeListener(
                            cluster_handle) as events:
                    while not self._listeners_stopped:
                        try:
                            event = events.get(timeout=LISTENER_POLL_SECONDS)
                        except queue.Empty:
                            continue
                        if event is not None:
                            self._deliver(event, callback)
            finally:
                target._clusapi_utils.close_cluster(cluster_handle)
        return listener

    def _deliver(self, event, callback):
        """A VM group's owner change to ``callback`` (other groups'
        ignored); what the callback raises is logged, not raised.
        """
        group_name = event['cluster_object_name']
        with _translated():
            if (self._target.get_cluster_group_type(group_name) !=
                    oswin_const.CLUSTER_GROUP_TYPE_VM):
                return
            node = self._target.get_cluster_node_name(event['parent_id'])
        try:
            callback(group_name, node)
        except Exception:
            LOG.exception('Following the move of %s to %s failed',
                          group_name, node)

    def stop_vm_owner_change_listeners(self):
        self._listeners_stopped = True

    def list_shared_volumes(self):
        """The cluster's CSVs (``cluster_wmi.SharedVolume``)."""
        return self._call(cluster_wmi.shared_volumes)

    def _call(self, func):
        with _translated():
            try:
                return func(self._target)
            except (AttributeError, IndexError, cluster_wmi.NoResource) as e:
                raise oswin_exc.HyperVClusterException(
                    'unexpected answer from the cluster\'s WMI namespace: '
                    '%s' % e) from e

    def move_offline_vm(self, vm_name, new_host, timeout=None):
        """Move the group of a VM that is off to ``new_host`` (as
        Move-ClusterVirtualMachineRole does): os-win 5.9 only moves
        running VMs in public, with the private call that does both.
        """
        return self._migrate_vm(vm_name, new_host,
                                self._target._LIVE_MIGRATION_TYPE,
                                oswin_const.CLUSTER_GROUP_OFFLINE, timeout)


class _OsWinPathUtils(_OsWin):
    """os-win's PathUtils, with the listing, file ages and file contents
    it lacks (what compute-hyperv's own PathUtils added; plain Python on
    Windows).
    """

    def listdir(self, path):
        return os.listdir(path)

    def get_age_of_file(self, file_name):
        """Seconds since the file was last written."""
        return time.time() - os.path.getmtime(file_name)

    def get_size(self, path):
        return os.path.getsize(path)

    def read_file(self, path, offset=0, length=-1):
        return files.read_file(path, offset, length)

    def write_file(self, path, data, offset=0):
        files.write_file(path, data, offset)


class _OsWinLiveMigrationUtils(_OsWin):
    """os-win's LiveMigrationUtils, with a live migration that puts the
    VM's storage where the destination host keeps it.
    """

    # Msvm_VirtualSystemMigrationSettingData.MigrationType
    # VirtualSystemAndStorage (os-win's
    # _MIGRATION_TYPE_VIRTUAL_SYSTEM_AND_STORAGE).
    _MIGRATION_TYPE_VIRTUAL_SYSTEM_AND_STORAGE = 32771
    _VHD_RESOURCE_TYPE = 31  # Logical Disk
    _VHD_RESOURCE_SUB_TYPE = 'Microsoft:Hyper-V:Virtual Hard Disk'
    _VM_REALIZED = 'Microsoft:Hyper-V:System:Realized'

    def live_migrate_vm_with_storage(self, vm_name, dest_host, dest_dir,
                                     timeout=None):
        """Live-migrate VM ``vm_name`` (not clustered) to the Hyper-V host
        ``dest_host``, with its storage, into ``dest_dir`` there; at most
        ``timeout`` seconds (None: no bound), after which the migration is
        stopped.

        os-win 5.9's live_migrate_vm(migrate_disks=True) keeps every path
        as it is, which fails where the destination keeps its storage
        elsewhere (another cluster's CSV, a standalone host's local disk).
        Here, what Microsoft's Move-VM sends, in one
        MigrateVirtualSystemToHost of type VirtualSystemAndStorage
        (Msvm_VirtualSystemMigrationService, Msvm_VirtualSystemMigration
        SettingData, Msvm_MoveUnmanagedVhd on Microsoft Learn):

        - the hard disk settings only (NewResourceSettingData): every
          virtual hard disk in the VM's own directory goes to
          ``dest_dir``, keeping its file name; volumes on SMB shares stay
          where they are. No DVD drive: Hyper-V migrates no DVD image, so
          the caller ejects the config drive first (and the destination
          attaches its copy on arrival);
        - the configuration, checkpoint and smart paging data roots in
          ``dest_dir`` (Move-VM's VirtualMachinePath, SnapshotFilePath and
          SmartPagingFilePath);
        - the parents of the differencing disks as unmanaged VHDs
          (UnmanagedVhds, Windows Server 2016 and later), each into
          ``dest_dir`` by its file name, so that no parent lands on a
          destination file of the same name (a cached image);
          RetainVhdCopiesOnSource keeps them on the source (an image cache
          other VMs use).

        CheckVirtualSystemIsMigratableToHost with the same settings comes
        first: a migration it refuses is not started.
        """
        lmutils = self._target
        with _translated():
            lmutils.check_live_migration_config()
            conn_v2_remote = lmutils._get_conn_v2(dest_host)
            conn = lmutils._compat_conn
            vm = lmutils._get_vm(conn, vm_name)
            dest_ips = lmutils._get_ip_address_list(conn_v2_remote,
                                                    dest_host)
            planned_vm = lmutils._get_planned_vm(vm_name, conn_v2_remote)
            own_dir, vssd = self._system_settings_moved_to(conn, vm,
                                                           dest_dir)
            disks, sasds = self._storage_settings_moved_to(conn, vm, own_dir,
                                                           dest_dir)
            settings = conn.Msvm_VirtualSystemMigrationSettingData(
                MigrationType=self._MIGRATION_TYPE_VIRTUAL_SYSTEM_AND_STORAGE
            )[0]
            settings.DestinationIPAddressList = dest_ips
            if planned_vm:
                settings.DestinationPlannedVirtualSystemId = planned_vm.Name
            settings.RetainVhdCopiesOnSource = True
            settings.UnmanagedVhds = self._parents_moved_to(conn, disks,
                                                            dest_dir)
            migration_svc = conn.Msvm_VirtualSystemMigrationService()[0]
            arguments = dict(
                ComputerSystem=vm.path_(), DestinationHost=dest_host,
                MigrationSettingData=settings.GetText_(1),
                NewSystemSettingData=vssd, NewResourceSettingData=sasds)
            migratable, ret_val = (
                migration_svc.CheckVirtualSystemIsMigratableToHost(
                    **arguments))
            if ret_val != 0 or not migratable:
                raise oswin_exc.HyperVException(
                    'Hyper-V cannot migrate %s to %s with its storage '
                    '(CheckVirtualSystemIsMigratableToHost answered %s, '
                    'return value %s)' % (vm_name, dest_host, migratable,
                                          ret_val))
            job_path, ret_val = migration_svc.MigrateVirtualSystemToHost(
                **arguments)
            self._wait_for_job(vm, vm_name, job_path, ret_val, timeout)

    def _wait_for_job(self, vm, vm_name, job_path, ret_val, timeout):
        """Wait for the migration's job for ``timeout`` seconds at most,
        then stop it (os-win's own wait has no bound); its failure raised
        as os-win raises it.
        """
        jobutils = self._target._jobutils
        if ret_val == oswin_const.WMI_JOB_STATUS_STARTED and timeout:
            started = time.monotonic()
            while not jobutils._is_job_completed(
                    jobutils._get_wmi_obj(job_path)):
                if time.monotonic() - started > timeout:
                    jobutils.stop_jobs(vm)
                    raise oswin_exc.HyperVException(
                        'The live migration of %s did not end within %d s: '
                        'stopped' % (vm_name, timeout))
                time.sleep(JOB_POLL_SECONDS)
        jobutils.check_ret_val(ret_val, job_path)

    def _system_settings_moved_to(self, conn, vm, dest_dir):
        """The VM's own directory (its configuration root), and its
        settings with the data roots Move-VM moves in ``dest_dir``, as the
        migration's NewSystemSettingData.
        """
        from os_win.utils import _wqlutils
        found = [vssd for vssd in _wqlutils.get_element_associated_class(
            conn, 'Msvm_VirtualSystemSettingData', element_uuid=vm.Name)
            if vssd.VirtualSystemType == self._VM_REALIZED]
        if len(found) != 1:
            raise oswin_exc.HyperVException(
                'VM %s has %d current settings, expected one'
                % (vm.ElementName, len(found)))
        vssd = found[0]
        own_dir = vssd.ConfigurationDataRoot
        vssd.ConfigurationDataRoot = dest_dir
        vssd.SnapshotDataRoot = dest_dir
        vssd.SwapFileDataRoot = dest_dir
        return own_dir, vssd.GetText_(1)

    def _storage_settings_moved_to(self, conn, vm, own_dir, dest_dir):
        """The virtual hard disks in the VM's own directory (their paths),
        and their settings each at its file name in ``dest_dir``, as the
        migration's NewResourceSettingData (os-win's _get_vhd_setting_data
        sends them unchanged). Disks elsewhere (volumes on SMB shares,
        which both hosts reach) are not sent: they stay where they are.
        """
        from os_win.utils import _wqlutils
        disks, moved = [], []
        for sasd in _wqlutils.get_element_associated_class(
                conn, 'Msvm_StorageAllocationSettingData',
                element_uuid=vm.Name):
            if (sasd.ResourceType == self._VHD_RESOURCE_TYPE and
                    sasd.ResourceSubType == self._VHD_RESOURCE_SUB_TYPE and
                    ntpath.dirname(sasd.HostResource[0]).lower() ==
                    ntpath.normpath(own_dir).lower()):
                disks.append(sasd.HostResource[0])
                sasd.HostResource = [ntpath.join(
                    dest_dir, ntpath.basename(sasd.HostResource[0]))]
                sasd.PoolID = ''
                moved.append(sasd.GetText_(1))
        return disks, moved

    def _parents_moved_to(self, conn, disks, dest_dir):
        """Msvm_MoveUnmanagedVhd instances (embedded) moving each parent
        of ``disks`` (and its parents) into ``dest_dir``.
        """
        from os_win import utilsfactory
        vhdutils = utilsfactory.get_vhdutils()
        moves, seen = [], set()
        for disk in disks:
            parent = vhdutils.get_vhd_parent_path(disk)
            while parent and parent.lower() not in seen:
                seen.add(parent.lower())
                move = conn.Msvm_MoveUnmanagedVhd.new()
                move.VhdSourcePath = parent
                move.VhdDestinationPath = ntpath.join(
                    dest_dir, ntpath.basename(parent))
                moves.append(move.GetText_(1))
                parent = vhdutils.get_vhd_parent_path(parent)
        return moves


class _OsWinMetricsUtils(_OsWin):
    """os-win's metricsutils, whose disk and NIC metrics are generators
    (read while WMI answers): lists, read here.
    """

    def get_disk_metrics(self, vm_name):
        with _translated():
            return list(self._target.get_disk_metrics(vm_name))

    def get_vnic_metrics(self, vm_name):
        with _translated():
            return list(self._target.get_vnic_metrics(vm_name))


class _AclRule(object):
    """An extended port ACL as os-win's NetworkUtilsR2 takes it (the
    shape networking-hyperv gave its rules): ``to_dict`` gives the WMI
    properties it sets, equality against a WMI ACL tells whether the
    port has it already, and os-win writes the ``Weight`` it chose.
    """

    FIELDS = oswin_const.SECURITY_RULE_FIELDS

    def __init__(self, rule):
        for field in self.FIELDS:
            setattr(self, field, rule[field])
        self.Weight = None

    def to_dict(self):
        return {field: getattr(self, field) for field in self.FIELDS}

    def __eq__(self, other):
        return all(getattr(other, field, None) == getattr(self, field)
                   for field in self.FIELDS)

    def __hash__(self):
        return hash(tuple(self.to_dict().items()))


class _OsWinNetworkUtils(_OsWin):
    """os-win's NetworkUtilsR2, with what its public API lacks."""

    def get_connected_vnic_ids(self):
        """The names of the vNICs connected to a virtual switch (a set).

        As os-win's connect_vnic_to_vswitch tells whether a vNIC is
        connected: its switch port allocation (which os-win names after
        the vNIC) exists and points at a switch. A VM destroyed takes its
        allocations with it, so a vNIC made again under the same name is
        not connected until it is connected again.
        """
        with _translated():
            conn = self._target._conn
            return set(
                alloc.ElementName
                for alloc in conn.Msvm_EthernetPortAllocationSettingData()
                if alloc.ElementName and alloc.HostResource and
                alloc.HostResource[0])

    # Security group rules cross the wire as dicts of the ACL's WMI
    # properties; os-win takes rule objects.

    def create_security_rules(self, switch_port_name, sg_rules):
        with _translated():
            self._target.create_security_rules(
                switch_port_name, [_AclRule(rule) for rule in sg_rules])

    def remove_security_rules(self, switch_port_name, sg_rules):
        with _translated():
            self._target.remove_security_rules(
                switch_port_name, [_AclRule(rule) for rule in sg_rules])

    def get_security_rules(self, switch_port_name):
        """The port's extended ACLs: dicts of their WMI properties and
        Weight, found as os-win's remove_security_rules finds them.
        """
        from os_win.utils import _wqlutils

        with _translated():
            target = self._target
            port = target._get_switch_port_allocation(switch_port_name)[0]
            acls = _wqlutils.get_element_associated_class(
                target._conn, target._PORT_EXT_ACL_SET_DATA,
                element_instance_id=port.InstanceID)
            return [dict({field: getattr(acl, field)
                          for field in _AclRule.FIELDS}, Weight=acl.Weight)
                    for acl in acls]


# The os-win utils wrapped with more than error translation.
_OSWIN_ADAPTERS = {'clusterutils': _OsWinClusterUtils,
                   'pathutils': _OsWinPathUtils,
                   'livemigrationutils': _OsWinLiveMigrationUtils,
                   'metricsutils': _OsWinMetricsUtils,
                   'networkutils': _OsWinNetworkUtils}


class OsWin(object):
    """os-win's utils on this host, one set per thread. ``standalone``:
    whether the host is in no failover cluster (None: probed once, on
    first need).
    """

    def __init__(self, standalone=None):
        self._local = threading.local()
        self._standalone = standalone

    def utils(self, kind):
        cache = getattr(self._local, 'utils', None)
        if cache is None:
            cache = self._local.utils = {}
        utils = cache.get(kind)
        if utils is None:
            from os_win import utilsfactory
            adapter = _OSWIN_ADAPTERS.get(kind, _OsWin)
            utils = cache[kind] = adapter(
                getattr(utilsfactory, 'get_%s' % kind)())
        return utils

    def node_name(self):
        if self.is_standalone_host():
            # No cluster WMI namespace to ask: os-win's ClusterUtils
            # cannot be made here.
            return platform.node()
        return self.utils('clusterutils').get_node_name()

    def in_a_cluster(self):
        """Whether this host is a node of a failover cluster."""
        from os_win import utilsfactory
        try:
            with _translated():
                # Bounded: os-win waits for ever by default for a cluster
                # WMI provider that is still starting.
                clusterutils = _OsWinClusterUtils(utilsfactory._get_class(
                    'clusterutils', timeout=CLUSTER_PROBE_TIMEOUT_SECONDS))
                members = clusterutils.get_cluster_node_names()
        except (oswin_exc.OSWinException, oswin_exc.x_wmi):
            # No root/MSCluster namespace here, or no cluster behind it.
            return False
        node = self.node_name().lower()
        return any(node == member.lower() for member in members)

    def named_pipe_handler(self, pipe_name, log_file, console=None):
        """os-win's reader of a VM's serial port pipe into ``log_file``
        and, with ``console``, a TCP console (``hvc_agent.serialproxy``).
        """
        from hvc_agent import serialproxy
        from os_win import utilsfactory
        return _OsWin(serialproxy.ConsoleReader(
            utilsfactory.get_named_pipe_handler, pipe_name, log_file,
            console))

    def path_flavour(self):
        """How the host names paths (``os.name``): 'nt' on Windows."""
        return os.name

    def vm_exists_on(self, host, vm_name):
        from os_win import utilsfactory
        return _OsWin(utilsfactory.get_vmutils(host=host)).vm_exists(vm_name)

    def remote_path(self, node, path):
        """``path`` of node ``node`` through its administrative share."""
        drive, rest = ntpath.splitdrive(path)
        return '\\\\%s\\%s$%s' % (node, drive.rstrip(':'), rest)

    def is_standalone_host(self):
        if self._standalone is None:
            self._standalone = not self.in_a_cluster()
        return self._standalone

    def ovs_vsctl(self, args, timeout):
        """Open vSwitch for Windows' ovs-vsctl, killed if it outlives its
        own timeout (processutils runs nothing on Windows).
        """
        from hvc_agent import command
        return command.execute(
            ['ovs-vsctl', '--timeout=%d' % timeout] + list(args),
            timeout + OVS_VSCTL_KILL_GRACE_SECONDS)

    def local_path(self, path):
        """``C:\\rest`` for another node's view of it,
        ``\\\\NODE\\C$\\rest``; any other path as it is.
        """
        match = _ADMIN_SHARE.match(path)
        if match is None:
            return path
        return '%s:%s' % (match.group(1), path[match.end():] or '\\')

    def cluster_lock(self, path, timeout=None):
        from hvc_agent import locks
        return locks.cluster_lock(path, timeout=timeout)

    def cluster_facts(self, instances_folder):
        """This host's cluster as placement_sync's os-win source reads it
        (a ``placement_sync.model.Cluster``), through os-win's own utils of
        this thread (the source catches os-win's errors).
        """
        from placement_sync.sources import oswin as oswin_source
        return oswin_source.cluster(self.utils('clusterutils')._target,
                                    self.utils('diskutils')._target,
                                    instances_folder)
