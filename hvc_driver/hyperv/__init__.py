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
import time

from oslo_concurrency import processutils
from oslo_log import log as logging

from nova import utils as nova_utils

from hvc_driver import conf as hvc_conf
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
}
UTILS = tuple(OSWIN_CLASSES)


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


class _ListenerStopped(BaseException):
    """Ends os-win's owner change listener, which stops on nothing else
    (it logs and swallows every Exception)."""


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
        """os-win's listener, which stop_vm_owner_change_listeners ends
        at the next owner change it reports (it blocks until then)."""
        with _translated():
            listen = self._target.get_vm_owner_change_listener_v2()

        def listener(callback):
            def unless_stopped(vm_name, new_host):
                if self._listeners_stopped:
                    raise _ListenerStopped()
                callback(vm_name, new_host)
            try:
                with _translated():
                    listen(unless_stopped)
            except _ListenerStopped:
                pass
        return listener

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


# The os-win utils wrapped with more than error translation.
_OSWIN_ADAPTERS = {'clusterutils': _OsWinClusterUtils,
                   'pathutils': _OsWinPathUtils}


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

    def bind(self, host):
        """Play nova's ``host``; returns the cluster's name of the node."""
        self.host = host
        self.node = self._sim_node = None
        self._utils.clear()
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

    def _oswin_utilsfactory(self):
        if nova_utils.concurrency_mode_threading():
            raise OsWinNeedsEventlet()
        # Imported here: os-win only works on Windows, only this backend
        # needs it, and it must not be imported in native-threading mode.
        from os_win import utilsfactory
        return utilsfactory

    def _make(self, kind):
        if self.simulated:
            from hvc_sim import oswin as sim_oswin
            return sim_oswin.UTILS_CLASSES[kind](self._simulated_state(),
                                                 self._simulated_node())
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

    def remote_path(self, node, path):
        """``path`` of node ``node`` as this node reaches it: the node's
        administrative share on Windows (``\\\\NODE\\C$\\...``);
        the path itself in the simulated world, where every node is this
        machine."""
        if self.simulated:
            return path
        drive, rest = ntpath.splitdrive(path)
        return '\\\\%s\\%s$%s' % (node, drive.rstrip(':'), rest)

    def ovs_vsctl(self, args):
        """Run ``ovs-vsctl`` with ``args`` on this node; its output.

        Open vSwitch for Windows on a real node; the simulated node's
        Open vSwitch (its ports in the state file) otherwise. Failures
        raise oslo.concurrency's ProcessExecutionError.
        """
        self._require_host('ovs-vsctl')
        if self.simulated:
            from hvc_sim import ovs as sim_ovs
            return sim_ovs.ovs_vsctl(self._simulated_state(),
                                     self._simulated_node(), args)
        out, _err = processutils.execute('ovs-vsctl', *args)
        return out

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
