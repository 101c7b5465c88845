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

"""The agent's Hyper-V on a simulated node: the simulated cluster's utils
(``hvc_sim``) for one node of the hvc-sim state file.

The same object serves nova-compute in-process (``[hyperv_cluster]
backend = simulated``, as nova's functional tests run it) and the agent
(``hvc-agent --backend simulated``), so that both run the same simulated
world.
"""

import functools
import os
import threading

from hvc_agent import locks


class Simulated(object):
    """Simulated node ``node_name`` (or the cluster's spelling of it, as
    Windows resolves its own computer name) of the state file.
    """

    def __init__(self, state_file, node_name):
        from hvc_sim import state as sim_state
        self._state = sim_state.ClusterState(state_file)
        self._node = self._state.resolve_node(node_name) or node_name
        self._utils = {}
        self._guard = threading.Lock()

    def utils(self, kind):
        with self._guard:
            utils = self._utils.get(kind)
            if utils is None:
                from hvc_sim.oswin import utilsfactory
                utils = self._utils[kind] = utilsfactory.UTILS_CLASSES[kind](
                    self._state, self._node)
            return utils

    def node_name(self):
        return self.utils('clusterutils').get_node_name()

    def in_a_cluster(self):
        node = self._state.node(self._node)
        return node is not None and node.cluster is not None

    def is_standalone_host(self):
        """Whether the simulated world has this node as a host in no
        cluster.
        """
        node = self._state.node(self._node)
        return node is not None and node.cluster is None

    def named_pipe_handler(self, pipe_name, log_file, console=None):
        """The reader of a VM's serial port pipe into ``log_file`` and,
        with ``console``, a TCP console (``hvc_agent.serialproxy``).
        """
        from hvc_agent import serialproxy
        from hvc_sim.oswin.io import namedpipe
        return serialproxy.ConsoleReader(
            functools.partial(namedpipe.NamedPipeHandler, self._state,
                              self._node),
            pipe_name, log_file, console)

    def path_flavour(self):
        """How the host names paths (``os.name``): the simulated world's
        storage is this machine's folders.
        """
        return os.name

    def vm_exists_on(self, host, vm_name):
        from hvc_sim.oswin.compute import vmutils
        return vmutils.VMUtils(
            self._state, self._state.resolve_node(host) or host).vm_exists(
                vm_name)

    def remote_path(self, node, path):
        from hvc_sim import shares
        return shares.share_path(node, path)

    def ovs_vsctl(self, args, timeout):
        from hvc_sim import ovs as sim_ovs
        return sim_ovs.ovs_vsctl(self._state, self._node,
                                 ['--timeout=%d' % timeout] + list(args))

    def local_path(self, path):
        """The local path behind another node's view of one."""
        from hvc_sim import shares
        return shares.local_path(path)

    def cluster_lock(self, path, timeout=None):
        return locks.cluster_lock(path, timeout=timeout)

    def cluster_facts(self, instances_folder):
        """This node's cluster as placement_sync's simulated source reads
        it (a ``placement_sync.model.Cluster``).
        """
        from placement_sync.sources import simulated as simulated_source
        return simulated_source.cluster(
            self._state, self._state.node(self._node).cluster,
            instances_folder)
