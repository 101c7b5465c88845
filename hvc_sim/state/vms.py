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

"""The virtual machines, as the Hyper-V hosts hold them."""

import json
import sqlite3
import time
import uuid

from hvc_sim.state import records


# Why a live migration between Hyper-V hosts refuses a clustered VM.
CLUSTERED_VM_MIGRATION = ('VM %r is clustered: its failover cluster moves '
                          'its group; uncluster it to move it out of its '
                          'cluster')


class VMs(object):
    """ClusterState's VMs, their disks, NICs and checkpoints, and their live
    migration between hosts.
    """

    # Virtual machines, as the Hyper-V hosts of the cluster hold them.

    def create_vm(self, name, node, generation, instance_path, notes=(),
                  state=records.VM_STATE_DISABLED):
        """Register a new VM on ``node``, powered off."""
        with self._db(write=True) as conn:
            self._require_node(conn, node)
            try:
                conn.execute(
                    'INSERT INTO vms (name, id, node, state, generation, '
                    'notes, instance_path) VALUES (?, ?, ?, ?, ?, ?, ?)',
                    (name, str(uuid.uuid4()).upper(), node, state,
                     generation, json.dumps(list(notes)), instance_path))
            except sqlite3.IntegrityError:
                raise records.SimulatorError('VM %r exists already' % name)

    def get_vm(self, name):
        """The VM called ``name``, or None."""
        with self._db() as conn:
            row = conn.execute('SELECT * FROM vms WHERE name = ?',
                               (name,)).fetchone()
        return _vm(row) if row else None

    def vms(self, node=None):
        with self._db() as conn:
            if node is None:
                rows = conn.execute('SELECT * FROM vms ORDER BY name')
            else:
                rows = conn.execute(
                    'SELECT * FROM vms WHERE node = ? ORDER BY name', (node,))
            return [_vm(r) for r in rows]

    def update_vm(self, name, owner=None, **fields):
        """Change columns of a VM; ``state`` also tracks its uptime.

        With ``owner``, only if that node runs the VM (VMNotFound if not),
        checked in the same transaction as the change.
        """
        self.change_vm(name, lambda vm: fields, owner=owner)

    def change_vm(self, name, change, owner=None):
        """Check and change a VM in one write transaction.

        ``change(vm)`` gets the VM as it is now and returns the columns to
        change (or nothing); ``restart=True`` among them restarts its
        uptime (a reset). With ``owner``, the VM must be on that node.
        """
        with self._db(write=True) as conn:
            row = self._require_vm(conn, name, owner)
            fields = dict(change(_vm(row)) or {})
            if fields:
                self._update_vm_row(conn, row, fields, owner)

    def _update_vm_row(self, conn, row, fields, owner):
        allowed = {'state', 'vcpus', 'memory_mb', 'node', 'notes', 'restart'}
        unknown = set(fields) - allowed
        if unknown:
            raise records.SimulatorError('cannot change %s of a VM'
                                         % ', '.join(sorted(unknown)))
        if 'notes' in fields:
            fields['notes'] = json.dumps(list(fields['notes']))
        if 'node' in fields:
            self._require_node(conn, fields['node'])
        if fields.pop('restart', False):
            fields['started_at'] = time.time()
        if 'state' in fields:
            running = fields['state'] in records.RUNNING_STATES
            was_running = row['state'] in records.RUNNING_STATES
            if running and not was_running:
                fields['started_at'] = time.time()
                # A Failed group is online again once its VM runs.
                conn.execute('DELETE FROM group_failures WHERE name = ?',
                             (row['name'],))
            elif not running:
                fields['started_at'] = None
        cols = sorted(fields)
        where, params = 'name = ?', [row['name']]
        if owner is not None:
            where, params = 'name = ? AND node = ?', [row['name'], owner]
        if not conn.execute(
                'UPDATE vms SET %s WHERE %s'
                % (', '.join('%s = ?' % c for c in cols), where),
                [fields[c] for c in cols] + params).rowcount:
            raise records.VMNotFound(row['name'], owner)

    def delete_vm(self, name, owner=None):
        """Remove a VM with its disk and NIC attachments (not the files).

        With ``owner``, only if that node runs it.
        """
        with self._db(write=True) as conn:
            if owner is None:
                deleted = conn.execute('DELETE FROM vms WHERE name = ?',
                                       (name,)).rowcount
            else:
                deleted = conn.execute(
                    'DELETE FROM vms WHERE name = ? AND node = ?',
                    (name, owner)).rowcount
            if not deleted:
                raise records.VMNotFound(name, owner)

    def add_disk(self, vm_name, path, controller, slot, drive_type,
                 owner=None, slots=None):
        """Attach a disk; ``slot=None`` takes the first free one of
        ``range(slots)``, chosen in the same transaction as the insert.
        Returns the slot.
        """
        with self._db(write=True) as conn:
            self._require_vm(conn, vm_name, owner)
            if slot is None:
                used = {r['slot'] for r in conn.execute(
                    'SELECT slot FROM vm_disks WHERE vm_name = ? AND '
                    'controller = ?', (vm_name, controller))}
                free = [s for s in range(slots) if s not in used]
                if not free:
                    raise records.SimulatorError(
                        'no free slot on controller %s of '
                        '%s' % (controller, vm_name))
                slot = free[0]
            try:
                conn.execute('INSERT INTO vm_disks VALUES (?, ?, ?, ?, ?)',
                             (vm_name, path, controller, slot, drive_type))
            except sqlite3.IntegrityError:
                raise records.SimulatorError('%s is attached to %s already'
                                             % (path, vm_name))
        return slot

    def remove_disk(self, vm_name, path):
        with self._db(write=True) as conn:
            if not conn.execute(
                    'DELETE FROM vm_disks WHERE vm_name = ? AND path = ?',
                    (vm_name, path)).rowcount:
                raise records.SimulatorError('%s is not attached to %s'
                                             % (path, vm_name))

    def disks(self, vm_name=None):
        with self._db() as conn:
            if vm_name is None:
                rows = conn.execute(
                    'SELECT * FROM vm_disks ORDER BY vm_name, controller, '
                    'slot')
            else:
                rows = conn.execute(
                    'SELECT * FROM vm_disks WHERE vm_name = ? '
                    'ORDER BY controller, slot', (vm_name,))
            return [records.Disk(**r) for r in rows]

    def add_nic(self, vm_name, name, mac_address=None, owner=None):
        with self._db(write=True) as conn:
            self._require_vm(conn, vm_name, owner)
            try:
                conn.execute('INSERT INTO vm_nics VALUES (?, ?, ?)',
                             (vm_name, name, mac_address))
            except sqlite3.IntegrityError:
                raise records.SimulatorError('%s has a NIC %r already'
                                             % (vm_name, name))

    def remove_nic(self, vm_name, name):
        with self._db(write=True) as conn:
            return bool(conn.execute(
                'DELETE FROM vm_nics WHERE vm_name = ? AND name = ?',
                (vm_name, name)).rowcount)

    def nics(self, vm_name=None):
        with self._db() as conn:
            if vm_name is None:
                rows = conn.execute(
                    'SELECT * FROM vm_nics ORDER BY vm_name, name')
            else:
                rows = conn.execute(
                    'SELECT * FROM vm_nics WHERE vm_name = ? ORDER BY name',
                    (vm_name,))
            return [records.Nic(**r) for r in rows]

    def nic_names(self, node):
        """The names of the NICs of the VMs of ``node`` (a set)."""
        with self._db() as conn:
            return {r['name'] for r in conn.execute(
                'SELECT vm_nics.name FROM vm_nics JOIN vms ON '
                'vms.name = vm_nics.vm_name WHERE vms.node = ?', (node,))}

    def add_snapshot(self, vm_name, name=None, owner=None):
        """A checkpoint of a VM; returns its path, as WMI names it."""
        path = 'hvc-sim:snapshot:%s:%s' % (vm_name, uuid.uuid4())
        with self._db(write=True) as conn:
            self._require_vm(conn, vm_name, owner)
            conn.execute('INSERT INTO vm_snapshots VALUES (?, ?, ?)',
                         (path, vm_name, name))
        return path

    def remove_snapshot(self, path):
        with self._db(write=True) as conn:
            if not conn.execute('DELETE FROM vm_snapshots WHERE path = ?',
                                (path,)).rowcount:
                raise records.SimulatorError('no snapshot %r' % path)

    def snapshots(self, vm_name):
        with self._db() as conn:
            return [r['path'] for r in conn.execute(
                'SELECT path FROM vm_snapshots WHERE vm_name = ?',
                (vm_name,))]

    def migrate_vm(self, name, node, instance_path, disk_paths, owner):
        """A live migration with storage between Hyper-V hosts: VM
        ``name``, which ``owner`` runs in no cluster, now runs on ``node``
        (another host, up) from ``instance_path``, each of its disks at
        ``disk_paths[its path]``, in the power state and uptime it had.

        One transaction, the preconditions checked again in it: nothing
        changes when one fails.
        """
        with self._db(write=True) as conn:
            self._require(conn)
            vm = self._require_vm(conn, name, owner)
            if conn.execute('SELECT 1 FROM cluster_groups WHERE name = ?',
                            (name,)).fetchone():
                raise records.SimulatorError(CLUSTERED_VM_MIGRATION % name)
            target = conn.execute('SELECT * FROM nodes WHERE name = ?',
                                  (node,)).fetchone()
            if target is None or target['state'] != records.NODE_UP:
                raise records.SimulatorError('host %r is %s' % (
                    node, 'unknown' if target is None else target['state']))
            if node == vm['node']:
                raise records.SimulatorError(
                    '%s runs on %s already' % (name, node))
            disks = conn.execute('SELECT * FROM vm_disks WHERE vm_name = ?',
                                 (name,)).fetchall()
            if {d['path'] for d in disks} != set(disk_paths):
                raise records.SimulatorError(
                    'the disks of %s changed while it '
                    'migrated' % name)
            conn.execute('UPDATE vms SET node = ?, instance_path = ? WHERE '
                         'name = ?', (node, instance_path, name))
            # Deleted and inserted anew: a new path may be another disk's
            # old one.
            conn.execute('DELETE FROM vm_disks WHERE vm_name = ?', (name,))
            conn.executemany(
                'INSERT INTO vm_disks VALUES (?, ?, ?, ?, ?)',
                [(name, disk_paths[d['path']], d['controller'], d['slot'],
                  d['drive_type']) for d in disks])


def _vm(row):
    fields = dict(row)
    fields['notes'] = tuple(json.loads(fields['notes']))
    return records.VM(**fields)
