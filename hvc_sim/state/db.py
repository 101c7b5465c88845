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

"""The state file: its schema, and its transactions."""

import contextlib
import os
import sqlite3
import time

from hvc_sim.state import records


SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS world (
    schema_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS clusters (
    name TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS nodes (
    name TEXT PRIMARY KEY,
    -- NULL: a standalone Hyper-V host, in no cluster.
    cluster TEXT REFERENCES clusters(name),
    vcpus INTEGER NOT NULL,
    memory_mb INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'up'
);
CREATE TABLE IF NOT EXISTS shared_volumes (
    id TEXT PRIMARY KEY,
    cluster TEXT NOT NULL REFERENCES clusters(name),
    name TEXT NOT NULL,
    total_gb INTEGER NOT NULL,
    -- The folder that stands for its mount point, C:\\ClusterStorage\\NAME.
    path TEXT NOT NULL,
    UNIQUE (cluster, name)
);
"""

# Created on first use of a file, so that a file made by a version without
# some of these tables keeps working.
_VM_SCHEMA = """
CREATE TABLE IF NOT EXISTS vms (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    node TEXT NOT NULL,
    state INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    vcpus INTEGER NOT NULL DEFAULT 1,
    memory_mb INTEGER NOT NULL DEFAULT 512,
    notes TEXT NOT NULL DEFAULT '[]',
    instance_path TEXT NOT NULL,
    started_at REAL
);
CREATE TABLE IF NOT EXISTS vm_disks (
    vm_name TEXT NOT NULL REFERENCES vms(name) ON DELETE CASCADE,
    path TEXT NOT NULL,
    controller TEXT NOT NULL,
    slot INTEGER NOT NULL,
    drive_type TEXT NOT NULL,
    PRIMARY KEY (vm_name, path)
);
CREATE TABLE IF NOT EXISTS vm_nics (
    vm_name TEXT NOT NULL REFERENCES vms(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    mac_address TEXT,
    PRIMARY KEY (vm_name, name)
);
CREATE TABLE IF NOT EXISTS vm_boot_order (
    vm_name TEXT PRIMARY KEY REFERENCES vms(name) ON DELETE CASCADE,
    devices TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS vm_metering (
    vm_name TEXT NOT NULL REFERENCES vms(name) ON DELETE CASCADE,
    element TEXT NOT NULL,
    PRIMARY KEY (vm_name, element)
);
CREATE TABLE IF NOT EXISTS vm_serial_ports (
    vm_name TEXT NOT NULL REFERENCES vms(name) ON DELETE CASCADE,
    port_number INTEGER NOT NULL,
    connection TEXT NOT NULL,
    PRIMARY KEY (vm_name, port_number)
);
CREATE TABLE IF NOT EXISTS nic_vswitches (
    vm_name TEXT NOT NULL,
    nic_name TEXT NOT NULL,
    vswitch TEXT NOT NULL,
    PRIMARY KEY (vm_name, nic_name),
    FOREIGN KEY (vm_name, nic_name) REFERENCES vm_nics(vm_name, name)
        ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS nic_vlans (
    vm_name TEXT NOT NULL,
    nic_name TEXT NOT NULL,
    vlan_id INTEGER NOT NULL,
    PRIMARY KEY (vm_name, nic_name),
    FOREIGN KEY (vm_name, nic_name) REFERENCES vm_nics(vm_name, name)
        ON DELETE CASCADE
);
-- A switch port's extended ACLs (JSON of their WMI properties): a feature
-- of the port's allocation, so only a connected NIC has them; they move
-- with the VM and go with its NIC.
CREATE TABLE IF NOT EXISTS nic_acls (
    vm_name TEXT NOT NULL,
    nic_name TEXT NOT NULL,
    acl TEXT NOT NULL,
    FOREIGN KEY (vm_name, nic_name) REFERENCES nic_vswitches(vm_name, nic_name)
        ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS ovs_ports (
    node TEXT NOT NULL,
    name TEXT NOT NULL,
    bridge TEXT NOT NULL,
    external_ids TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (node, name)
);
CREATE TABLE IF NOT EXISTS cluster_groups (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    owner_node TEXT NOT NULL,
    max_failover_count INTEGER NOT NULL,
    failover_period INTEGER NOT NULL,
    auto_failback INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS vm_snapshots (
    path TEXT PRIMARY KEY,
    vm_name TEXT NOT NULL REFERENCES vms(name) ON DELETE CASCADE,
    name TEXT
);
CREATE TABLE IF NOT EXISTS smb_mappings (
    node TEXT NOT NULL,
    share TEXT NOT NULL,
    username TEXT,
    PRIMARY KEY (node, share)
);
CREATE TABLE IF NOT EXISTS pipe_readers (
    node TEXT NOT NULL,
    pipe TEXT NOT NULL,
    log_file TEXT NOT NULL,
    PRIMARY KEY (node, pipe)
);
CREATE TABLE IF NOT EXISTS pipe_buffers (
    node TEXT NOT NULL,
    pipe TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (node, pipe)
);
CREATE TABLE IF NOT EXISTS faults (
    method TEXT PRIMARY KEY,
    remaining INTEGER NOT NULL,
    message TEXT NOT NULL
);
-- Every change of a clustered VM's owner node, in order.
CREATE TABLE IF NOT EXISTS owner_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster TEXT NOT NULL,
    vm_name TEXT NOT NULL,
    node TEXT NOT NULL,
    at REAL NOT NULL
);
-- Groups the cluster could not bring online on any node (Failed).
CREATE TABLE IF NOT EXISTS group_failures (
    name TEXT PRIMARY KEY REFERENCES cluster_groups(name) ON DELETE CASCADE,
    reason TEXT NOT NULL
);
-- A move of a group the cluster is carrying out: done once due (a move
-- takes the world's group_move_seconds), unless cancelled first.
CREATE TABLE IF NOT EXISTS group_moves (
    name TEXT PRIMARY KEY REFERENCES cluster_groups(name) ON DELETE CASCADE,
    node TEXT NOT NULL,
    running INTEGER NOT NULL,
    due REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- The node a group left when that node went down or was drained: where a
-- failback takes it.
CREATE TABLE IF NOT EXISTS group_origins (
    name TEXT PRIMARY KEY REFERENCES cluster_groups(name) ON DELETE CASCADE,
    node TEXT NOT NULL
);
"""

# How long a change waits for another process's transaction.
LOCK_TIMEOUT = 30


class StateFile(object):
    """The sqlite file that holds the world: what every part of ClusterState
    works on.
    """

    def __init__(self, path):
        self.path = path
        self._vm_schema_ready = False

    @contextlib.contextmanager
    def _db(self, write=False, create=False):
        """A transaction on the state file; sqlite's errors become
        SimulatorError saying what is wrong with the file.

        Only ``create`` makes a file that does not exist.
        """
        try:
            if create:
                conn = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT,
                                       isolation_level=None)
            else:
                conn = sqlite3.connect('file:%s?mode=rw' % self.path,
                                       uri=True, timeout=LOCK_TIMEOUT,
                                       isolation_level=None)
        except sqlite3.Error as e:
            raise self._file_error(e) from e
        conn.row_factory = sqlite3.Row
        try:
            conn.execute('PRAGMA foreign_keys=ON')
            if create or not self._vm_schema_ready:
                # WAL is a property of the file: set once per state object,
                # not on every connection (it costs a lock and a read).
                conn.execute('PRAGMA journal_mode=WAL')
                if create:
                    conn.executescript(_SCHEMA)
                conn.executescript(_VM_SCHEMA)
                self._vm_schema_ready = True
            if conn.execute('SELECT 1 FROM group_moves WHERE due <= ? '
                            'LIMIT 1', (time.time(),)).fetchone():
                # The cluster finished them, whoever looks first.
                conn.execute('BEGIN IMMEDIATE')
                self._finish_due_moves(conn)
                conn.execute('COMMIT')
            conn.execute('BEGIN IMMEDIATE' if write else 'BEGIN')
            try:
                yield conn
            except BaseException:
                conn.execute('ROLLBACK')
                raise
            conn.execute('COMMIT')
        except sqlite3.Error as e:
            raise self._file_error(e) from e
        finally:
            conn.close()

    def _file_error(self, error):
        if not os.path.exists(self.path):
            return records.SimulatorError(
                'no simulated cluster in %s: the file does not exist '
                '(create it with "hvc-sim --state %s init ...")'
                % (self.path, self.path))
        reason = str(error)
        if 'locked' in reason:
            reason = ('another process holds it locked (for more than %d s)'
                      % LOCK_TIMEOUT)
        elif isinstance(error, sqlite3.DatabaseError) and (
                'not a database' in reason or 'malformed' in reason):
            reason = ('it is not a simulated cluster state file (%s)'
                      % reason)
        elif 'readonly' in reason or 'unable to open' in reason:
            reason = ('it (or its folder, which holds its journal) cannot '
                      'be written (%s)' % reason)
        return records.SimulatorError(
            'cannot use the simulated cluster state file '
            '%s: %s' % (self.path, reason))

    def _require(self, conn):
        tables = {r['name'] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if 'world' not in tables and 'cluster' in tables:
            raise records.SimulatorError(
                '%s was made by an older hvc-sim (one cluster per file): '
                'make it anew with "hvc-sim --state FILE init ..."'
                % self.path)
        if 'world' not in tables or not conn.execute(
                'SELECT 1 FROM world').fetchone():
            raise records.SimulatorError(
                'no simulated cluster in %s: create it with '
                '"hvc-sim --state %s init ..."' % (self.path, self.path))

    def _require_node(self, conn, node):
        self._require(conn)
        if not conn.execute('SELECT 1 FROM nodes WHERE name = ?',
                            (node,)).fetchone():
            raise records.SimulatorError('no node %r in the cluster' % node)

    def _require_vm(self, conn, name, owner=None):
        row = conn.execute('SELECT * FROM vms WHERE name = ?',
                           (name,)).fetchone()
        if row is None or (owner is not None and row['node'] != owner):
            raise records.VMNotFound(name, owner)
        return row
