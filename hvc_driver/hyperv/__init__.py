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

"""The one seam between the driver and Hyper-V.

Everything the driver does to a Hyper-V host or to the failover cluster
goes through the utils objects of a ``HyperV``, which have os-win's method
names, signatures and return shapes, and raise
``hvc_oswin_api.exceptions`` classes (never os-win's: nova-compute does
not import os-win). Behind them is one Hyper-V host:

- ``[hyperv_cluster] backend = agent``: the host's ``hvc-agent`` (the
  only project code on Windows), over HTTPS (``hvc_agent.client``); the
  agent runs os-win there. nova-compute runs on Linux, in nova's default
  native-threading mode.
- ``backend = simulated``: a node of the simulated cluster, in-process
  (``hvc_agent.simulated``, the same object an agent with ``--backend
  simulated`` serves), as nova's in-process functional tests run it.

Besides the utils: the reader of a VM's serial port pipe, ovs-vsctl, the
cluster-wide locks (lock files on a CSV, held by the host), another node's
view of a path (its administrative share) and of a VM.
"""

import ntpath
import posixpath
import time

from oslo_log import log as logging

from hvc_driver import conf as hvc_conf
from hvc_oswin_api import constants as oswin_const
from hvc_oswin_api import exceptions as oswin_exc

LOG = logging.getLogger(__name__)

# How often a move of an offline group is looked at until it ends.
GROUP_MOVE_POLL_INTERVAL = 0.1


class HyperVNotReady(Exception):
    """A utils object was asked for before init_host named the host."""


class HyperV(object):
    """The Hyper-V host one driver instance plays, and its cluster.

    ``bind(host)`` (from ``init_host``) names nova's host and connects to
    the Hyper-V host behind it; the utils objects are made on first use
    after that. ``node`` is this host's name in the failover cluster,
    which cluster calls compare with.
    """

    def __init__(self, conf):
        self._conf = conf
        self.host = None
        self.node = None
        # ntpath or posixpath: how the host joins and splits its paths.
        self.path = None
        self._hyperv_host = None
        self._utils = {}
        self._standalone = None

    def bind(self, host):
        """Play nova's ``host``; returns the cluster's name of the node."""
        self.host = host
        self.node = None
        self._utils.clear()
        if self._hyperv_host is not None:
            self._close()
        self._hyperv_host = self._connect(host)
        self._standalone = self._conf.hyperv_cluster.standalone_host
        if self._standalone is None:
            # Unset: as the host tells (a host in no cluster, or the
            # simulated world's standalone hosts).
            self._standalone = self._hyperv_host.is_standalone_host()
        # Paths are named as the host names them: nova-compute on Linux
        # joins a Windows host's paths by Windows' rules.
        self.path = (ntpath if self._hyperv_host.path_flavour() == 'nt'
                     else posixpath)
        self.node = self.clusterutils.get_node_name()
        return self.node

    def _connect(self, host):
        """The Hyper-V host behind nova's ``host``."""
        options = self._conf.hyperv_cluster
        if self.simulated:
            if not options.simulated_state_file:
                raise oswin_exc.HyperVException(
                    '[hyperv_cluster] simulated_state_file is not set: the '
                    'simulated backend needs the state file of a simulated '
                    'cluster (create one with "hvc-sim --state FILE init '
                    '...")')
            from hvc_agent import simulated
            return simulated.Simulated(options.simulated_state_file,
                                       options.simulated_node_name or host)
        from hvc_agent import client
        return client.AgentClient.from_options(self._conf.hyperv_cluster,
                                               'hyperv_cluster')

    def _close(self):
        close = getattr(self._hyperv_host, 'close', None)
        if close is not None:
            close()

    def in_this_cluster(self, node_name):
        """Whether the cluster's ``node_name`` is a node of this node's
        cluster (compared as Windows compares computer names).
        """
        return any(node_name.lower() == member.lower() for member in
                   self.clusterutils.get_cluster_node_names())

    def is_this_node(self, node_name):
        """Whether the cluster's ``node_name`` is this node: Windows
        compares computer names case-insensitively.
        """
        return (node_name is not None and
                node_name.lower() == (self.node or '').lower())

    @property
    def backend(self):
        return self._conf.hyperv_cluster.backend

    @property
    def standalone(self):
        """Whether this host plays a Hyper-V host in no failover cluster
        (its ``clusterutils`` is then a ``NoCluster``).
        """
        return bool(self._standalone)

    def in_a_cluster(self):
        """Whether this host is a node of a failover cluster, as the host
        tells, whatever the configuration says.
        """
        self._require_host('cluster probe')
        return self._hyperv_host.in_a_cluster()

    @property
    def simulated(self):
        return self.backend == hvc_conf.BACKEND_SIMULATED

    def _require_host(self, what):
        if self._hyperv_host is None:
            raise HyperVNotReady('the Hyper-V %s were asked for before '
                                 'init_host named the host' % what)

    def _get(self, kind):
        self._require_host(kind)
        utils = self._utils.get(kind)
        if utils is None:
            utils = self._utils[kind] = self._make(kind)
        return utils

    def _make(self, kind):
        if kind == 'clusterutils' and self.standalone:
            return NoCluster(self._hyperv_host.node_name())
        return self._hyperv_host.utils(kind)

    def named_pipe_handler(self, pipe_name, log_file, console=None):
        """A reader that copies a named pipe into ``log_file``, not
        started (os-win's NamedPipeHandler, on the host); with ``console``
        (``{"address", "port_range"}``) it also serves the pipe as a TCP
        console there (``hvc_agent.serialproxy``), at its
        ``console_address()``.
        """
        self._require_host('named pipe handler')
        return self._hyperv_host.named_pipe_handler(pipe_name, log_file,
                                                    console)

    def vm_runs_on(self, host, vm_name):
        """Whether Hyper-V host ``host`` (another one: a live migration's
        destination) has VM ``vm_name``, as its own Hyper-V says.
        """
        self._require_host('remote VM check')
        return self._hyperv_host.vm_exists_on(host, vm_name)

    def owner_of(self, vm_name):
        """The node the cluster runs ``vm_name`` on; None if unclustered."""
        try:
            return self.clusterutils.get_vm_host(vm_name)
        except (oswin_exc.HyperVVMNotFoundException,
                oswin_exc.ClusterObjectNotFound):
            return None

    def cluster_lock(self, path):
        """A context manager that holds the lock file ``path`` (on a CSV)
        for every node of the cluster (``hvc_agent.locks``).
        """
        self._require_host('cluster lock')
        return self._hyperv_host.cluster_lock(path)

    def move_vm_here(self, vm_name, timeout=None):
        """Move the VM's group to this node through the cluster: live if it
        runs, offline if not.
        """
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
        simulated world models (hvc_sim.shares).
        """
        self._require_host('remote path')
        return self._hyperv_host.remote_path(node, path)

    def ovs_vsctl(self, args, timeout):
        """Run ``ovs-vsctl --timeout=TIMEOUT ARGS`` on this host; its
        output. Open vSwitch for Windows' on a real host, the simulated
        node's Open vSwitch (its ports in the state file) otherwise.
        Failures raise oslo.concurrency's ProcessExecutionError.
        """
        self._require_host('ovs-vsctl')
        return self._hyperv_host.ovs_vsctl(list(args), timeout)

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

    @property
    def metricsutils(self):
        return self._get('metricsutils')


class UsesHyperV(object):
    """The utils of ``self._hyperv`` (a ``HyperV``) as the *ops classes
    use them: ``self._vmutils`` and so on.
    """

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

    @property
    def _path(self):
        """The path rules of the Hyper-V host (``HyperV.path``)."""
        return self._hyperv.path


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
