"""The one seam between the driver and Hyper-V.

Everything the driver does to a Hyper-V host or to the failover cluster
goes through the utils objects of a ``HyperV``: os-win's on Windows
(``[hyperv_cluster] backend = oswin``), or the simulated cluster's
(``backend = simulated``, ``hvc_sim.oswin``), which implement the same
methods with the same signatures and return shapes. Either way the errors
the driver sees are ``hvc_oswin_api.exceptions`` classes: the simulated
cluster raises them, and os-win's are translated here, so the driver never
imports os-win. Besides the utils: the reader of a VM's serial port pipe
(os-win's NamedPipeHandler) and ``ovs-vsctl`` (Open vSwitch for Windows).

nova-compute of nova 34 runs in native-threading mode by default and then
refuses any import of eventlet, which os-win imports: the simulated
backend runs in either mode; the os-win backend needs
``[DEFAULT] concurrency_backend = eventlet`` for now (``OsWinNeedsEventlet``).
"""

import contextlib
import ntpath
import os
import platform
import queue
import time

from oslo_log import log as logging

from nova import utils as nova_utils

from hvc_driver import conf as hvc_conf
from hvc_driver.hyperv import command
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
}
UTILS = tuple(OSWIN_CLASSES)
# How long a standalone host's start looks for a failover cluster it must
# not be a node of.
CLUSTER_PROBE_TIMEOUT_SECONDS = 30
# How long ovs-vsctl may outlive its own --timeout before it is killed.
OVS_VSCTL_KILL_GRACE_SECONDS = 10
# How often a live migration's job is looked at until it ends.
JOB_POLL_SECONDS = 1
# How long the owner change listener waits for an event before it looks
# whether it was stopped.
LISTENER_POLL_SECONDS = 1
# How often a move of an offline group is looked at until it ends.
GROUP_MOVE_POLL_INTERVAL = 0.1


class HyperVNotReady(Exception):
    """A utils object was asked for before init_host named the host."""


class OsWinNeedsEventlet(Exception):
    """The os-win backend in nova-compute's native-threading mode."""

    def __init__(self):
        super().__init__(
            'the oswin backend needs nova-compute in eventlet mode: set '
            '[DEFAULT] concurrency_backend = eventlet in nova.conf (os-win '
            'imports eventlet, which nova-compute forbids in its default '
            'native-threading mode, and its WMI objects are bound to the '
            'thread that made them)')


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
    ``hvc_oswin_api.exceptions`` of the same name."""

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
        ignored); what the callback raises is logged, not raised."""
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
    """os-win's PathUtils, with the listing and file ages it lacks (what
    compute-hyperv's own PathUtils added; plain Python on Windows)."""

    def listdir(self, path):
        return os.listdir(path)

    def get_age_of_file(self, file_name):
        """Seconds since the file was last written."""
        return time.time() - os.path.getmtime(file_name)


class _OsWinLiveMigrationUtils(_OsWin):
    """os-win's LiveMigrationUtils, with a live migration that puts the
    VM's storage where the destination host keeps it."""

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
        as os-win raises it."""
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
        migration's NewSystemSettingData."""
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
        which both hosts reach) are not sent: they stay where they are."""
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
        of ``disks`` (and its parents) into ``dest_dir``."""
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


# The os-win utils wrapped with more than error translation.
_OSWIN_ADAPTERS = {'clusterutils': _OsWinClusterUtils,
                   'pathutils': _OsWinPathUtils,
                   'livemigrationutils': _OsWinLiveMigrationUtils}


class HyperV(object):
    """The Hyper-V host one driver instance plays, and its cluster.

    ``bind(host)`` (from ``init_host``) names nova's host; the utils
    objects are made on first use after that. ``node`` is this host's
    name in the failover cluster, which cluster calls compare with.
    """

    def __init__(self, conf):
        self._conf = conf
        self.host = None
        self.node = None
        self._utils = {}
        self._sim_state = None
        self._sim_node = None
        self._standalone = None

    def bind(self, host):
        """Play nova's ``host``; returns the cluster's name of the node."""
        self.host = host
        self.node = self._sim_node = None
        self._utils.clear()
        self._standalone = self._conf.hyperv_cluster.standalone_host
        if self._standalone is None:
            # Unset: a cluster node, unless the simulated world has this
            # host as a standalone one.
            self._standalone = self.simulated and self._simulated_host_is(
                standalone=True)
        self.node = self.clusterutils.get_node_name()
        return self.node

    def in_this_cluster(self, node_name):
        """Whether the cluster's ``node_name`` is a node of this node's
        cluster (compared as Windows compares computer names)."""
        return any(node_name.lower() == member.lower() for member in
                   self.clusterutils.get_cluster_node_names())

    def is_this_node(self, node_name):
        """Whether the cluster's ``node_name`` is this node: Windows
        compares computer names case-insensitively."""
        return (node_name is not None and
                node_name.lower() == (self.node or '').lower())

    @property
    def backend(self):
        return self._conf.hyperv_cluster.backend

    @property
    def standalone(self):
        """Whether this host plays a Hyper-V host in no failover cluster
        (its ``clusterutils`` is then a ``NoCluster``)."""
        return bool(self._standalone)

    def in_a_cluster(self):
        """Whether this host is a node of a failover cluster, as the host
        tells, whatever the configuration says."""
        if self.simulated:
            return self._simulated_host_is(standalone=False)
        try:
            with _translated():
                # Bounded: os-win waits for ever by default for a cluster
                # WMI provider that is still starting.
                clusterutils = _OsWinClusterUtils(
                    self._oswin_utilsfactory()._get_class(
                        'clusterutils',
                        timeout=CLUSTER_PROBE_TIMEOUT_SECONDS))
                members = clusterutils.get_cluster_node_names()
        except (oswin_exc.OSWinException, oswin_exc.x_wmi):
            # No root/MSCluster namespace here, or no cluster behind it.
            return False
        return any(self.is_this_node(member) for member in members)

    @property
    def simulated(self):
        return self.backend == hvc_conf.BACKEND_SIMULATED

    def _require_host(self, what):
        if self.host is None:
            raise HyperVNotReady('the Hyper-V %s were asked for before '
                                 'init_host named the host' % what)

    def _get(self, kind):
        self._require_host(kind)
        utils = self._utils.get(kind)
        if utils is None:
            utils = self._utils[kind] = self._make(kind)
        return utils

    def _simulated_state(self):
        if self._sim_state is None:
            from hvc_sim import state as sim_state
            path = self._conf.hyperv_cluster.simulated_state_file
            if not path:
                raise oswin_exc.HyperVException(
                    '[hyperv_cluster] simulated_state_file is not set: the '
                    'simulated backend needs the state file of a simulated '
                    'cluster (create one with "hvc-sim --state FILE init '
                    '...")')
            self._sim_state = sim_state.ClusterState(path)
        return self._sim_state

    def _simulated_node(self):
        """The simulated node this host plays: the cluster's spelling of
        ``simulated_node_name`` (or of nova's host), as Windows resolves
        its own computer name."""
        if self._sim_node is None:
            name = (self._conf.hyperv_cluster.simulated_node_name or
                    self.host)
            self._sim_node = (self._simulated_state().resolve_node(name) or
                              name)
        return self._sim_node

    def _simulated_host_is(self, standalone):
        """Whether the simulated world has this host, standalone or as
        a cluster node."""
        node = self._simulated_state().node(self._simulated_node())
        return node is not None and (node.cluster is None) == standalone

    def _oswin_utilsfactory(self):
        if nova_utils.concurrency_mode_threading():
            raise OsWinNeedsEventlet()
        # Imported here: os-win only works on Windows, only this backend
        # needs it, and it must not be imported in native-threading mode.
        from os_win import utilsfactory
        return utilsfactory

    def _make(self, kind):
        if kind == 'clusterutils' and self.standalone:
            return NoCluster(self._simulated_node() if self.simulated
                             else platform.node())
        if self.simulated:
            from hvc_sim import oswin as sim_oswin
            return sim_oswin.UTILS_CLASSES[kind](self._simulated_state(),
                                                 self._simulated_node())
        return self._make_oswin(kind)

    def _make_oswin(self, kind):
        adapter = _OSWIN_ADAPTERS.get(kind, _OsWin)
        return adapter(getattr(self._oswin_utilsfactory(),
                               'get_%s' % kind)())

    def named_pipe_handler(self, pipe_name, log_file):
        """A reader that copies a named pipe into ``log_file``, not
        started: os-win's NamedPipeHandler, or the simulated one.
        """
        self._require_host('named pipe handler')
        if self.simulated:
            from hvc_sim import oswin as sim_oswin
            return sim_oswin.NamedPipeHandler(
                self._simulated_state(), self._simulated_node(), pipe_name,
                log_file=log_file)
        return _OsWin(self._oswin_utilsfactory().get_named_pipe_handler(
            pipe_name, log_file=log_file))

    def vm_runs_on(self, host, vm_name):
        """Whether Hyper-V host ``host`` (another one: a live migration's
        destination) has VM ``vm_name``, as its own Hyper-V says."""
        self._require_host('remote VM check')
        if self.simulated:
            from hvc_sim import oswin as sim_oswin
            state = self._simulated_state()
            vmutils = sim_oswin.VMUtils(state,
                                        state.resolve_node(host) or host)
        else:
            vmutils = _OsWin(self._oswin_utilsfactory().get_vmutils(
                host=host))
        return vmutils.vm_exists(vm_name)

    def move_vm_here(self, vm_name, timeout=None):
        """Move the VM's group to this node through the cluster: live if it
        runs, offline if not."""
        group = self.clusterutils.get_cluster_group_state_info(vm_name)
        if group['state'] == oswin_const.CLUSTER_GROUP_ONLINE:
            self.clusterutils.live_migrate_vm(vm_name, self.node, timeout)
        else:
            self.move_offline_vm(vm_name, self.node, timeout)

    def move_offline_vm(self, vm_name, node, timeout=None):
        """Move the group of a VM that is off to ``node`` of this cluster,
        and return once the cluster says ``node`` owns it.

        ``MoveClusterGroupEx`` is asynchronous: it returns
        ERROR_IO_PENDING while the move is in progress (Microsoft Learn,
        "MoveClusterGroupEx function"). os-win's ``_migrate_vm`` waits for
        the group to reach the state expected after the move, which an
        offline group has at once, then reads the owner, which can still
        be the source: ClusterGroupMigrationFailed while the group is on
        its way. So a failure is believed only once the cluster is moving
        the group no more (a queued migration or a Pending group is still
        moving); until then the owner is polled, for ``timeout`` seconds
        at most (ClusterGroupMigrationTimeOut).
        """
        clusterutils = self.clusterutils
        try:
            clusterutils.move_offline_vm(vm_name, node, timeout)
            return
        except oswin_exc.ClusterGroupMigrationTimeOut:
            raise
        except oswin_exc.ClusterGroupMigrationFailed as e:
            reported = e
        started = time.monotonic()
        while True:
            # Owner and progress read at once: a move that ends between
            # two reads would look failed.
            group = clusterutils.get_cluster_group_state_info(vm_name)
            if group['owner_node'].lower() == node.lower():
                return
            if not (group['migration_queued'] or group['state'] ==
                    oswin_const.CLUSTER_GROUP_PENDING):
                raise reported
            elapsed = time.monotonic() - started
            if timeout and elapsed > timeout:
                raise oswin_exc.ClusterGroupMigrationTimeOut(
                    group_name=vm_name, time_elapsed=elapsed)
            time.sleep(GROUP_MOVE_POLL_INTERVAL)

    def remote_path(self, node, path):
        """``path`` of node ``node`` as this node reaches it: the node's
        administrative share (``\\\\NODE\\C$\\...``), which the
        simulated world models (hvc_sim.shares)."""
        if self.simulated:
            from hvc_sim import shares
            return shares.share_path(node, path)
        drive, rest = ntpath.splitdrive(path)
        return '\\\\%s\\%s$%s' % (node, drive.rstrip(':'), rest)

    def ovs_vsctl(self, args, timeout):
        """Run ``ovs-vsctl --timeout=TIMEOUT ARGS`` on this node; its
        output.

        Open vSwitch for Windows' ovs-vsctl on a real node (through
        subprocess: processutils runs nothing on Windows), killed if it
        outlives its own timeout; the simulated node's Open vSwitch (its
        ports in the state file) otherwise. Failures raise
        oslo.concurrency's ProcessExecutionError.
        """
        self._require_host('ovs-vsctl')
        args = ['--timeout=%d' % timeout] + list(args)
        if self.simulated:
            from hvc_sim import ovs as sim_ovs
            return sim_ovs.ovs_vsctl(self._simulated_state(),
                                     self._simulated_node(), args)
        return command.execute(['ovs-vsctl'] + args,
                               timeout + OVS_VSCTL_KILL_GRACE_SECONDS)

    @property
    def vmutils(self):
        return self._get('vmutils')

    @property
    def hostutils(self):
        return self._get('hostutils')

    @property
    def clusterutils(self):
        return self._get('clusterutils')

    @property
    def pathutils(self):
        return self._get('pathutils')

    @property
    def vhdutils(self):
        return self._get('vhdutils')

    @property
    def smbutils(self):
        return self._get('smbutils')

    @property
    def networkutils(self):
        return self._get('networkutils')

    @property
    def livemigrationutils(self):
        return self._get('livemigrationutils')

    @property
    def diskutils(self):
        return self._get('diskutils')


class UsesHyperV(object):
    """The utils of ``self._hyperv`` (a ``HyperV``) as the *ops classes
    use them: ``self._vmutils`` and so on."""

    @property
    def _vmutils(self):
        return self._hyperv.vmutils

    @property
    def _clusterutils(self):
        return self._hyperv.clusterutils

    @property
    def _pathutils(self):
        return self._hyperv.pathutils

    @property
    def _vhdutils(self):
        return self._hyperv.vhdutils


class NoCluster(object):
    """The failover cluster of a standalone Hyper-V host: none.

    What the driver asks a ClusterUtils, answered for a host in no
    cluster: it is its own only node, has no CSV and no clustered VM, so
    the driver's checks of a VM's group answer as for a VM clustered
    nowhere. Clustering a VM here is a bug: there is no add_vm_to_cluster.
    """

    def __init__(self, node):
        self._node = node

    def get_node_name(self):
        return self._node

    def check_cluster_state(self):
        pass

    def get_cluster_node_names(self):
        return [self._node]

    def get_cluster_name(self):
        return None

    def list_shared_volumes(self):
        return []

    def vm_exists(self, vm_name):
        return False

    def get_vm_host(self, vm_name):
        raise oswin_exc.ClusterObjectNotFound(resource=vm_name)

    def list_instances(self):
        return []

    def list_instance_uuids(self):
        return []

    def stop_vm_owner_change_listeners(self):
        pass
