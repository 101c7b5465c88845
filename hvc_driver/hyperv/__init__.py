"""The one seam between the driver and Hyper-V.

Everything the driver does to a Hyper-V host or to the failover cluster
goes through the utils objects of a ``HyperV``: os-win's on Windows
(``[hyperv_cluster] backend = oswin``), or the simulated cluster's
(``backend = simulated``), which implement the same methods with the same
signatures, return shapes and os-win exceptions. Besides the utils: the
reader of a VM's serial port pipe (os-win's NamedPipeHandler) and
``ovs-vsctl`` (Open vSwitch for Windows), each one method here.
"""

from oslo_concurrency import processutils
from oslo_log import log as logging

from hvc_driver import conf as hvc_conf

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
    """A utils object was asked for before the node was known."""


class HyperV(object):
    """The Hyper-V host one driver instance plays, and its cluster.

    ``bind(node)`` names the node (nova's host name, from ``init_host``);
    the utils objects are made on first use after that.
    """

    def __init__(self, conf):
        self._conf = conf
        self.node = None
        self._utils = {}
        self._sim_state = None

    def bind(self, node):
        self.node = node
        self._utils.clear()

    @property
    def backend(self):
        return self._conf.hyperv_cluster.backend

    @property
    def simulated(self):
        return self.backend == hvc_conf.BACKEND_SIMULATED

    def _get(self, kind):
        if self.node is None:
            raise HyperVNotReady('the Hyper-V %s were asked for before '
                                 'init_host named the node' % kind)
        utils = self._utils.get(kind)
        if utils is None:
            utils = self._utils[kind] = self._make(kind)
        return utils

    def _simulated_state(self):
        if self._sim_state is None:
            from hvc_driver.hyperv import simulated
            self._sim_state = simulated.open_state(
                self._conf.hyperv_cluster.simulated_state_file)
        return self._sim_state

    def _make(self, kind):
        if self.simulated:
            from hvc_driver.hyperv import simulated
            return simulated.UTILS_CLASSES[kind](self._simulated_state(),
                                                 self.node)
        # Imported here: os-win only works on Windows, and only this
        # backend needs it.
        from os_win import utilsfactory
        return getattr(utilsfactory, 'get_%s' % kind)()

    def named_pipe_handler(self, pipe_name, log_file):
        """A reader that copies a named pipe into ``log_file``, not
        started: os-win's NamedPipeHandler, or the simulated one.
        """
        if self.node is None:
            raise HyperVNotReady('a named pipe handler was asked for before '
                                 'init_host named the node')
        if self.simulated:
            from hvc_driver.hyperv import simulated
            return simulated.NamedPipeHandler(pipe_name, log_file=log_file)
        from os_win import utilsfactory
        return utilsfactory.get_named_pipe_handler(pipe_name,
                                                   log_file=log_file)

    def ovs_vsctl(self, args):
        """Run ``ovs-vsctl`` with ``args`` on this node; its output.

        Open vSwitch for Windows on a real node; the simulated node's
        Open vSwitch (its ports in the state file) otherwise. Failures
        raise oslo.concurrency's ProcessExecutionError.
        """
        if self.node is None:
            raise HyperVNotReady('ovs-vsctl was asked for before init_host '
                                 'named the node')
        if self.simulated:
            from hvc_driver.hyperv import simulated
            return simulated.ovs_vsctl(self._simulated_state(), self.node,
                                       args)
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
