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

"""The failover clusters' VM groups, and their moves."""

import logging
import sqlite3
import time
import uuid

from hvc_sim.state import records

LOG = logging.getLogger(__name__)

# How long the move of an offline VM group takes unless the world says
# otherwise: MoveClusterGroupEx returns while the move is in progress.
OFFLINE_MOVE_SECONDS = 0.3
# How long owner changes are kept for listeners that fell behind.
OWNER_CHANGES_KEPT_SECONDS = 3600


class Groups(object):
    """ClusterState's cluster groups."""

    # The failover cluster's VM groups (one per clustered VM).

    def add_cluster_group(self, vm_name, max_failover_count=1,
                          failover_period=6, auto_failback=True):
        """Cluster a VM: its group is owned by the VM's node."""
        with self._db(write=True) as conn:
            vm = self._require_vm(conn, vm_name)
            if conn.execute('SELECT cluster FROM nodes WHERE name = ?',
                            (vm['node'],)).fetchone()['cluster'] is None:
                raise records.SimulatorError(
                    '%s runs on %s, a host in no cluster'
                    % (vm_name, vm['node']))
            try:
                conn.execute(
                    'INSERT INTO cluster_groups VALUES (?, ?, ?, ?, ?, ?)',
                    (vm_name, str(uuid.uuid4()), vm['node'],
                     max_failover_count, failover_period,
                     int(bool(auto_failback))))
            except sqlite3.IntegrityError:
                raise records.SimulatorError(
                    'VM %r is clustered already' % vm_name)

    def move_vm(self, vm_name, node, restart=False):
        """Move a clustered VM, and its cluster group, to another node of
        its cluster: what a failover or a cluster move does behind nova's
        back. With ``restart``, a VM that runs restarts there, as after a
        failover (its node failed with it): its guest boots again.
        """
        with self._db(write=True) as conn:
            vm = self._require_vm(conn, vm_name)
            self._require_node(conn, node)
            if vm['node'] == node:
                raise records.SimulatorError(
                    'VM %r is on %s already: a failover '
                    'moves it to another node of its '
                    'cluster' % (vm_name, node))
            if not conn.execute('SELECT 1 FROM cluster_groups WHERE '
                                'name = ?', (vm_name,)).fetchone():
                raise records.SimulatorError(
                    'VM %r is not clustered: only the '
                    'failover cluster moves VMs'
                    % vm_name)
            here, there = (conn.execute(
                'SELECT cluster FROM nodes WHERE name = ?',
                (n,)).fetchone()['cluster'] for n in (vm['node'], node))
            if here != there:
                raise records.SimulatorError(
                    'node %r is not in the cluster of %s '
                    '(%s)' % (node, vm_name, here))
            state = conn.execute('SELECT state FROM nodes WHERE name = ?',
                                 (node,)).fetchone()['state']
            if state != records.NODE_UP:
                raise records.SimulatorError(
                    'node %s is %s: the cluster moves VMs '
                    'to up nodes only' % (node, state))
            restarted = restart and vm['state'] in records.RUNNING_STATES
            self._move(conn, vm_name, node,
                       records.VM_STATE_ENABLED if restarted else None)
        if restarted:
            self.write_boot_message(vm_name, node)

    def _move(self, conn, vm_name, node, restart_as=None):
        """The group of ``vm_name`` and its VM now on ``node``, which the
        owner change notifications report; ``restart_as``: the state the
        VM restarts in (its uptime starts again), or None to keep it.
        """
        conn.execute('UPDATE vms SET node = ? WHERE name = ?',
                     (node, vm_name))
        if restart_as is not None:
            conn.execute('UPDATE vms SET state = ?, started_at = ? WHERE '
                         'name = ?',
                         (restart_as, time.time()
                          if restart_as in records.RUNNING_STATES else None,
                          vm_name))
        conn.execute('UPDATE cluster_groups SET owner_node = ? '
                     'WHERE name = ?', (node, vm_name))
        cluster = conn.execute('SELECT cluster FROM nodes WHERE name = ?',
                               (node,)).fetchone()['cluster']
        now = time.time()
        conn.execute('INSERT INTO owner_changes (cluster, vm_name, node, at) '
                     'VALUES (?, ?, ?, ?)', (cluster, vm_name, node, now))
        conn.execute('DELETE FROM owner_changes WHERE at < ?',
                     (now - OWNER_CHANGES_KEPT_SECONDS,))

    _GROUPS = ('SELECT cluster_groups.*, nodes.cluster FROM cluster_groups '
               'JOIN nodes ON nodes.name = cluster_groups.owner_node')

    def get_cluster_group(self, name):
        with self._db() as conn:
            row = conn.execute(self._GROUPS + ' WHERE cluster_groups.name = ?',
                               (name,)).fetchone()
        return _group(row) if row else None

    def cluster_groups(self, cluster=None):
        with self._db() as conn:
            if cluster is None:
                rows = conn.execute(self._GROUPS +
                                    ' ORDER BY cluster_groups.name')
            else:
                rows = conn.execute(self._GROUPS + ' WHERE nodes.cluster = ? '
                                    'ORDER BY cluster_groups.name',
                                    (cluster,))
            return [_group(r) for r in rows]

    def delete_cluster_group(self, name, cluster=None):
        """Uncluster a VM (of ``cluster`` only, when named)."""
        with self._db(write=True) as conn:
            deleted = conn.execute(
                'DELETE FROM cluster_groups WHERE name = ? AND (? IS NULL '
                'OR owner_node IN (SELECT name FROM nodes WHERE '
                'cluster = ?))', (name, cluster, cluster)).rowcount
            if not deleted:
                raise records.ClusterGroupNotFound(name)

    def move_group(self, vm_name, node, cluster, running):
        """A move the cluster is asked for: the group of ``vm_name`` (in
        ``cluster``) and its VM to ``node``, with the VM running or off as
        ``running`` says. GroupMoveRefused, nothing changed, when the group
        cannot end up that way there.

        Done in this transaction when the world's group moves take no
        time (``set_group_move_seconds``); else started, and done once
        due by whichever process looks at the world first, as the cluster
        service does it whatever becomes of the caller (unless
        ``cancel_group_move`` comes first). Whether it is done.
        """
        with self._db(write=True) as conn:
            row = conn.execute(self._GROUPS + ' WHERE cluster_groups.name = ?'
                               ' AND nodes.cluster = ?',
                               (vm_name, cluster)).fetchone()
            if row is None:
                raise records.ClusterGroupNotFound(vm_name)
            self._check_group_move(conn, vm_name, node, cluster, running,
                                   row['owner_node'])
            seconds = self._group_move_seconds(conn, running)
            if seconds:
                conn.execute('INSERT OR REPLACE INTO group_moves VALUES '
                             '(?, ?, ?, ?)', (vm_name, node, int(running),
                                              time.time() + seconds))
                return False
            self._move_group(conn, vm_name, node)
            return True

    def _check_group_move(self, conn, vm_name, node, cluster, running,
                          owner):
        vm = self._require_vm(conn, vm_name)
        target = conn.execute('SELECT * FROM nodes WHERE name = ?',
                              (node,)).fetchone()
        is_running = vm['state'] in records.RUNNING_STATES
        if (target is None or target['cluster'] != cluster or
                target['state'] != 'up' or is_running != running):
            raise records.GroupMoveRefused(group_state=0 if is_running else 1,
                                           owner_node=owner)

    def _move_group(self, conn, vm_name, node):
        self._move(conn, vm_name, node)
        # Moved on purpose: no failback takes it elsewhere.
        conn.execute('DELETE FROM group_origins WHERE name = ?', (vm_name,))

    def _finish_due_moves(self, conn):
        """The group moves that are due, done; one that can no longer end
        as asked (its node went down, its VM changed state) fails, and the
        group stays where it is, as a real cluster's does.
        """
        for move in conn.execute('SELECT group_moves.*, nodes.cluster FROM '
                                 'group_moves JOIN cluster_groups USING '
                                 '(name) JOIN nodes ON nodes.name = '
                                 'cluster_groups.owner_node WHERE due <= ?',
                                 (time.time(),)).fetchall():
            conn.execute('DELETE FROM group_moves WHERE name = ?',
                         (move['name'],))
            try:
                self._check_group_move(conn, move['name'], move['node'],
                                       move['cluster'], bool(move['running']),
                                       None)
            except records.SimulatorError as e:
                LOG.info('The move of group %s to %s failed: %s',
                         move['name'], move['node'], e)
                continue
            self._move_group(conn, move['name'], move['node'])

    def group_status(self, vm_name):
        """What the cluster says of the group of ``vm_name`` at one moment
        (a GroupStatus), or None if it has none.
        """
        with self._db() as conn:
            row = conn.execute(
                'SELECT cluster_groups.owner_node, nodes.cluster, '
                'vms.state AS vm_state, group_failures.reason AS failure, '
                'group_moves.node AS moving_to FROM cluster_groups '
                'JOIN nodes ON nodes.name = cluster_groups.owner_node '
                'LEFT JOIN vms ON vms.name = cluster_groups.name '
                'LEFT JOIN group_failures ON group_failures.name = '
                'cluster_groups.name '
                'LEFT JOIN group_moves ON group_moves.name = '
                'cluster_groups.name WHERE cluster_groups.name = ?',
                (vm_name,)).fetchone()
        return records.GroupStatus(**row) if row else None

    def group_move(self, vm_name):
        """The node the cluster is moving the group of ``vm_name`` to, or
        None when it moves it nowhere.
        """
        with self._db() as conn:
            row = conn.execute('SELECT node FROM group_moves WHERE name = ?',
                               (vm_name,)).fetchone()
        return row['node'] if row else None

    def cancel_group_move(self, vm_name):
        """Cancel the move of the group of ``vm_name`` if it is not done
        yet; whether there was one to cancel.
        """
        with self._db(write=True) as conn:
            return bool(conn.execute('DELETE FROM group_moves WHERE name = ?',
                                     (vm_name,)).rowcount)

    def set_group_move_seconds(self, seconds):
        """How long a cluster group move takes from now on (0: none)."""
        if (isinstance(seconds, bool) or
                not isinstance(seconds, (int, float)) or
                not 0 <= seconds <= 3600):
            raise records.SimulatorError(
                'a group move takes 0 to 3600 seconds, not '
                '%r' % (seconds,))
        with self._db(write=True) as conn:
            conn.execute('INSERT OR REPLACE INTO settings VALUES '
                         "('group_move_seconds', ?)", (str(seconds),))

    @staticmethod
    def _group_move_seconds(conn, running):
        """How long a group move takes: as set, else none for a live move
        (os-win's live migration waits for it) and OFFLINE_MOVE_SECONDS
        for an offline one (which Windows completes after the call).
        """
        row = conn.execute("SELECT value FROM settings WHERE key = "
                           "'group_move_seconds'").fetchone()
        if row:
            return float(row['value'])
        return 0 if running else OFFLINE_MOVE_SECONDS


def _group(row):
    fields = dict(row)
    fields['auto_failback'] = bool(fields['auto_failback'])
    return records.ClusterGroup(**fields)
