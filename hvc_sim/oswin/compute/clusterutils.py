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

"""os_win.utils.compute.clusterutils on the simulated cluster."""

import os
import threading
import time

from oslo_log import log as logging

from hvc_oswin_api import cluster_wmi
from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin import base
from hvc_sim import state as sim_state

LOG = logging.getLogger(__name__)


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


class ClusterUtils(base.SimulatedUtils):
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

    @base.faultable(os_win_exc.HyperVClusterException)
    def check_cluster_state(self):
        # As os-win: the cluster has a node; whether it is this one is the
        # caller's to check.
        if not self._state.nodes(cluster=self._cluster()):
            raise os_win_exc.HyperVClusterException(
                'Not enough cluster nodes.')

    def get_node_name(self):
        return self._node

    @base.faultable(os_win_exc.HyperVClusterException)
    def get_cluster_node_names(self):
        return [n.name for n in self._state.nodes(cluster=self._cluster())]

    @base.faultable(os_win_exc.HyperVClusterException)
    def vm_exists(self, vm_name):
        return self._group(vm_name) is not None

    @base.faultable(os_win_exc.HyperVClusterException)
    def add_vm_to_cluster(self, vm_name, max_failover_count=1,
                          failover_period=6, auto_failback=True):
        vm = self._state.get_vm(vm_name)
        if vm is None or self._state.node(vm.node).cluster != self._cluster():
            raise os_win_exc.HyperVVMNotFoundException(vm_name=vm_name)
        self._state.add_cluster_group(vm_name, max_failover_count,
                                      failover_period, auto_failback)

    @base.faultable(os_win_exc.HyperVClusterException)
    def delete(self, vm_name):
        # One transaction: a group gone meanwhile is not found, as in
        # os-win (HyperVVMNotFoundException).
        self._state.delete_cluster_group(vm_name, cluster=self._cluster())

    @base.faultable(os_win_exc.ClusterException)
    def get_vm_host(self, vm_name):
        group = self._group(vm_name)
        if group is None:
            raise os_win_exc.ClusterObjectNotFound(resource=vm_name)
        return group.owner_node

    @base.faultable(os_win_exc.HyperVClusterException)
    def list_instances(self):
        return [g.name for g in self._groups()]

    @base.faultable(os_win_exc.HyperVClusterException)
    def list_instance_uuids(self):
        return [g.id for g in self._groups()]

    @base.faultable(os_win_exc.ClusterException)
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

    @base.faultable(os_win_exc.ClusterException)
    def cancel_cluster_group_migration(self, group_name, expected_state,
                                       timeout=None):
        """As os-win's: cancel the group's move if one is in progress; a
        group that is moving nowhere is left as it is.
        """
        if self._group(group_name) is None:
            raise os_win_exc.ClusterObjectNotFound(resource=group_name)
        if self._state.cancel_group_move(group_name):
            LOG.info('Cancelled the move of cluster group %s', group_name)

    @base.faultable(os_win_exc.ClusterException)
    def get_cluster_group_state_info(self, group_name):
        # One read, as the cluster answers one query: a move that ends
        # between two reads would look failed.
        status = self._state.group_status(group_name)
        if status is None or status.cluster != self._cluster():
            raise os_win_exc.ClusterObjectNotFound(resource=group_name)
        if status.failure is not None:
            state = constants.CLUSTER_GROUP_FAILED
        elif status.vm_state in base.RUNNING:
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

    @base.faultable(os_win_exc.HyperVClusterException)
    def get_cluster_node_states(self):
        # Told from MSCluster_Node's properties as on Windows.
        return {n.name: cluster_wmi.node_state(*_NODE_WMI[n.state])
                for n in self._state.nodes(cluster=self._cluster())}

    def stop_vm_owner_change_listeners(self):
        self._listeners_stopped.set()

    @base.faultable(os_win_exc.HyperVClusterException)
    def get_cluster_name(self):
        return self._cluster()

    @base.faultable(os_win_exc.HyperVClusterException)
    def list_shared_volumes(self):
        return [cluster_wmi.SharedVolume(id=v.id, name=v.name, path=v.path,
                                         online=True)
                for v in self._state.shared_volumes(cluster=self._cluster())]

    # Moving a VM group that is offline is what Move-ClusterVirtualMachineRole
    # does with a VM that is off; os-win does it with its private
    # _migrate_vm.
    @base.faultable(os_win_exc.ClusterException)
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
