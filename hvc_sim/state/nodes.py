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

"""Nodes failing, drained and back: the cluster moves their VMs."""

from hvc_sim.state import records


# Memory a simulated host keeps for itself (the parent partition).
HOST_RESERVED_MEMORY_MB = 2048


class Nodes(object):
    """ClusterState's node failures, drains and returns."""

    # Nodes failing, drained and back: the cluster moves their VMs.

    def node_down(self, node):
        """``node`` fails: each of its clustered VMs restarts on the up node
        with the most free memory that can hold it (an off or saved VM
        just moves); a VM that no node can hold moves off to the node with
        the most free memory, its group Failed. Its other VMs go down with
        it. Returns a Placement per clustered VM.
        """
        with self._db(write=True) as conn:
            cluster = self._set_node_state(
                conn, node, records.NODE_DOWN,
                (records.NODE_UP, records.NODE_PAUSED, records.NODE_ISOLATED))
            placements, restarted = self._evacuate(conn, cluster, node,
                                                   restart=True)
            conn.execute('UPDATE vms SET state = ?, started_at = NULL '
                         'WHERE node = ? AND name NOT IN (SELECT name FROM '
                         'cluster_groups)', (records.VM_STATE_DISABLED, node))
        for vm_name, new_node in restarted:
            self.write_boot_message(vm_name, new_node)
        return placements

    def drain(self, node):
        """Pause ``node`` and live-migrate its clustered VMs away, each to
        the up node with the most free memory that can hold it, as
        Suspend-ClusterNode -Drain does; a VM no node can hold stays (the
        drain is incomplete). A paused node takes no VMs. Returns a
        Placement per clustered VM.
        """
        with self._db(write=True) as conn:
            cluster = self._set_node_state(
                conn, node, records.NODE_PAUSED,
                (records.NODE_UP, records.NODE_PAUSED))
            placements, _restarted = self._evacuate(conn, cluster, node,
                                                    restart=False)
        return placements

    def node_up(self, node, failback=False):
        """A node that was down is up again; with ``failback``, the VMs
        that left it when it went down (and allow failback) come back.
        """
        return self._node_back(node, (records.NODE_DOWN,), failback)

    def resume(self, node, failback=False):
        """A paused node takes VMs again (Resume-ClusterNode); with
        ``failback``, the VMs drained from it come back (-Failback
        Immediate).
        """
        return self._node_back(node, (records.NODE_PAUSED,), failback)

    def isolate(self, node):
        """``node`` loses touch with the rest of its cluster (Windows
        Server 2016's compute resiliency): out of the membership, it takes
        no VM, while the VMs it runs go on running there, unmonitored.
        ``node_down`` ends the isolation as the cluster does once its
        resiliency period is over, ``heal`` as a node back in touch.
        """
        with self._db(write=True) as conn:
            self._set_node_state(conn, node, records.NODE_ISOLATED,
                                 (records.NODE_UP, records.NODE_PAUSED))

    def quarantine(self, node):
        """``node`` left the cluster too often: it is kept out (until
        ``heal``, Start-ClusterNode -ClearQuarantine) and its clustered
        VMs live-migrate to the up nodes, as a drain moves them. Returns a
        Placement per clustered VM it had.
        """
        with self._db(write=True) as conn:
            cluster = self._set_node_state(
                conn, node, records.NODE_QUARANTINED,
                (records.NODE_UP, records.NODE_PAUSED, records.NODE_DOWN,
                 records.NODE_ISOLATED))
            placements, _restarted = self._evacuate(conn, cluster, node,
                                                    restart=False)
        return placements

    def heal(self, node, failback=False):
        """An isolated node is in touch with its cluster again, or a
        quarantined one is let back in: up; with ``failback``, the VMs
        that left it come back.
        """
        return self._node_back(
            node, (records.NODE_ISOLATED, records.NODE_QUARANTINED), failback)

    def _node_back(self, node, was, failback):
        with self._db(write=True) as conn:
            cluster = self._set_node_state(conn, node, records.NODE_UP, was)
            back = []
            if failback:
                free = self._free_memory(conn, cluster)
                failed = self._failed(conn)
                for vm in self._vms_of_origin(conn, node):
                    need = (vm['memory_mb']
                            if vm['state'] in records.RUNNING_STATES else 0)
                    if free[node] < need or vm['name'] in failed:
                        continue
                    free[node] -= need
                    # Moved back live: it keeps running.
                    self._move(conn, vm['name'], node)
                    back.append(records.Placement(vm['name'], node))
        return back

    def _set_node_state(self, conn, node, state, allowed_from):
        self._require(conn)
        row = conn.execute('SELECT * FROM nodes WHERE name = ?',
                           (node,)).fetchone()
        if row is None or row['cluster'] is None:
            raise records.SimulatorError('no node %r in a cluster' % node)
        if row['state'] not in allowed_from:
            raise records.SimulatorError(
                'node %s is %s' % (node, row['state']))
        conn.execute('UPDATE nodes SET state = ? WHERE name = ?',
                     (state, node))
        return row['cluster']

    def _free_memory(self, conn, cluster):
        """{node: free MB} of the up nodes of ``cluster``, as their hosts
        count it (what the running VMs leave).
        """
        free = {r['name']: r['memory_mb'] - HOST_RESERVED_MEMORY_MB
                for r in conn.execute(
                    'SELECT * FROM nodes WHERE cluster = ? AND state = ?',
                    (cluster, records.NODE_UP))}
        for vm in conn.execute('SELECT node, memory_mb, state FROM vms'):
            if vm['node'] in free and vm['state'] in records.RUNNING_STATES:
                free[vm['node']] -= vm['memory_mb']
        return free

    def _failed(self, conn):
        return {r['name'] for r in conn.execute(
            'SELECT name FROM group_failures')}

    def _vms_of_origin(self, conn, node):
        return conn.execute(
            'SELECT vms.* FROM vms JOIN group_origins ON group_origins.name '
            '= vms.name JOIN cluster_groups ON cluster_groups.name = '
            'vms.name WHERE group_origins.node = ? AND '
            'cluster_groups.auto_failback ORDER BY vms.name',
            (node,)).fetchall()

    def _evacuate(self, conn, cluster, node, restart):
        """Place the clustered VMs of ``node`` on the other up nodes,
        biggest first. Returns the Placements, and the (VM, node) pairs of
        the VMs that restarted.
        """
        free = self._free_memory(conn, cluster)

        def need_of(vm):
            return (vm['memory_mb'] if vm['state'] in records.RUNNING_STATES
                    else 0)
        vms = sorted(conn.execute(
            'SELECT vms.* FROM vms JOIN cluster_groups ON cluster_groups.name '
            '= vms.name WHERE cluster_groups.owner_node = ?', (node,)),
            key=lambda vm: (-need_of(vm), vm['name']))
        placements, restarted = [], []
        for vm in vms:
            running = vm['state'] in records.RUNNING_STATES
            need = need_of(vm)
            fits = sorted((n for n in free if free[n] >= need),
                          key=lambda n: (-free[n], n))
            if fits:
                target = fits[0]
                free[target] -= need
                self._move(conn, vm['name'], target,
                           records.VM_STATE_ENABLED if restart and running
                           else None)
                if restart and running:
                    restarted.append((vm['name'], target))
                placements.append(records.Placement(vm['name'], target))
            elif restart and free:
                # The cluster gives the group to a node all the same; it
                # fails to come online there.
                target = sorted(free, key=lambda n: (-free[n], n))[0]
                reason = ('not enough memory on any node to restart it: it '
                          'needs %d MB, the most free is %d MB (on %s)'
                          % (need, free[target], target))
                self._move(conn, vm['name'], target, records.VM_STATE_DISABLED)
                conn.execute('INSERT OR REPLACE INTO group_failures '
                             'VALUES (?, ?)', (vm['name'], reason))
                placements.append(records.Placement(vm['name'], None, reason))
            else:
                placements.append(records.Placement(
                    vm['name'], None,
                    'no up node can hold it (%d MB)' % need if free else
                    'cluster %s has no other up node' % cluster))
                continue
            conn.execute('INSERT OR REPLACE INTO group_origins '
                         'VALUES (?, ?)', (vm['name'], node))
        return placements, restarted
