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

"""The world's clusters, with their nodes and CSVs, and its standalone
hosts.
"""

import contextlib
import os
import sqlite3
import uuid

from hvc_sim.state import checks
from hvc_sim.state import db
from hvc_sim.state import records


DEFAULT_NODE_VCPUS = 16
DEFAULT_NODE_MEMORY_MB = 65536


class World(object):
    """ClusterState's clusters, nodes, hosts and CSVs."""

    @property
    def storage_root(self):
        """Where the CSVs' folders are made: beside the state file."""
        base, _ext = os.path.splitext(os.path.abspath(self.path))
        return base + '-storage'

    def init(self, cluster_name, nodes, volumes,
             vcpus=DEFAULT_NODE_VCPUS, memory_mb=DEFAULT_NODE_MEMORY_MB):
        """Create the world with its first cluster. ``volumes`` is a list
        of (name, total_gb).

        Everything is checked before the file is made; a file this call
        made is removed again if it fails.
        """
        checks.check_cluster(cluster_name, nodes, volumes, vcpus, memory_mb)
        existed = os.path.exists(self.path)
        try:
            with self._db(write=True, create=True) as conn:
                if conn.execute('SELECT 1 FROM world').fetchone():
                    raise records.SimulatorError(
                        '%s already holds a simulated '
                        'world' % self.path)
                conn.execute('INSERT INTO world VALUES (?)',
                             (db.SCHEMA_VERSION,))
                self._add_cluster(conn, cluster_name, nodes, volumes, vcpus,
                                  memory_mb)
        except records.SimulatorError:
            if not existed:
                for suffix in ('', '-wal', '-shm'):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(self.path + suffix)
            raise

    def add_cluster(self, cluster_name, nodes, volumes,
                    vcpus=DEFAULT_NODE_VCPUS,
                    memory_mb=DEFAULT_NODE_MEMORY_MB):
        """Another failover cluster, with its own nodes and CSVs."""
        checks.check_cluster(cluster_name, nodes, volumes, vcpus, memory_mb)
        with self._db(write=True) as conn:
            self._require(conn)
            self._add_cluster(conn, cluster_name, nodes, volumes, vcpus,
                              memory_mb)

    def _add_cluster(self, conn, cluster_name, nodes, volumes, vcpus,
                     memory_mb):
        try:
            conn.execute('INSERT INTO clusters VALUES (?)', (cluster_name,))
        except sqlite3.IntegrityError:
            raise records.SimulatorError(
                'cluster %r exists already' % cluster_name)
        for node in nodes:
            self._add_node(conn, node, cluster_name, vcpus, memory_mb)
        for name, total_gb in volumes:
            self._add_volume(conn, cluster_name, name, total_gb)

    def clusters(self):
        """The names of the clusters."""
        with self._db() as conn:
            self._require(conn)
            return [r['name'] for r in conn.execute(
                'SELECT name FROM clusters ORDER BY name')]

    def cluster_name(self):
        """The name of the only cluster (SimulatorError if there are
        several: name one).
        """
        with self._db() as conn:
            return self._the_cluster(conn, None)

    def _the_cluster(self, conn, cluster):
        """``cluster`` if it exists; for None, the only cluster."""
        self._require(conn)
        names = [r['name'] for r in conn.execute(
            'SELECT name FROM clusters ORDER BY name')]
        if cluster is not None:
            if cluster not in names:
                raise records.SimulatorError('no cluster %r (clusters: %s)'
                                             % (cluster, ', '.join(names)))
            return cluster
        if len(names) != 1:
            raise records.SimulatorError('%s holds the clusters %s: name one'
                                         % (self.path, ', '.join(names)))
        return names[0]

    def nodes(self, cluster=None):
        """Every node and standalone host, or the nodes of ``cluster``."""
        with self._db() as conn:
            self._require(conn)
            if cluster is None:
                rows = conn.execute('SELECT * FROM nodes ORDER BY name')
            else:
                rows = conn.execute('SELECT * FROM nodes WHERE cluster = ? '
                                    'ORDER BY name', (cluster,))
            return [records.Node(**r) for r in rows]

    def node(self, name):
        """The node or standalone host called ``name`` exactly, or None."""
        with self._db() as conn:
            self._require(conn)
            row = conn.execute('SELECT * FROM nodes WHERE name = ?',
                               (name,)).fetchone()
        return records.Node(**row) if row else None

    def shared_volumes(self, cluster=None):
        """Every CSV, or the CSVs of ``cluster``."""
        with self._db() as conn:
            self._require(conn)
            if cluster is None:
                rows = conn.execute('SELECT * FROM shared_volumes '
                                    'ORDER BY cluster, name')
            else:
                rows = conn.execute('SELECT * FROM shared_volumes WHERE '
                                    'cluster = ? ORDER BY name', (cluster,))
            return [records.SharedVolume(**r) for r in rows]

    def add_node(self, name, vcpus=DEFAULT_NODE_VCPUS,
                 memory_mb=DEFAULT_NODE_MEMORY_MB, cluster=None):
        """A node joins ``cluster`` (the only one, when not named)."""
        checks.check_count('vCPUs of a node', vcpus)
        checks.check_count('memory of a node (MB)', memory_mb)
        with self._db(write=True) as conn:
            cluster = self._the_cluster(conn, cluster)
            self._add_node(conn, name, cluster, vcpus, memory_mb)

    def add_host(self, name, vcpus=DEFAULT_NODE_VCPUS,
                 memory_mb=DEFAULT_NODE_MEMORY_MB):
        """A standalone Hyper-V host, in no cluster."""
        checks.check_count('vCPUs of a host', vcpus)
        checks.check_count('memory of a host (MB)', memory_mb)
        with self._db(write=True) as conn:
            self._require(conn)
            self._add_node(conn, name, None, vcpus, memory_mb)

    def remove_node(self, name):
        with self._db(write=True) as conn:
            self._require(conn)
            vms = [r['name'] for r in conn.execute(
                'SELECT name FROM vms WHERE node = ?', (name,))]
            if vms:
                raise records.SimulatorError('node %r still owns VMs: %s'
                                             % (name, ', '.join(vms)))
            if not conn.execute('DELETE FROM nodes WHERE name = ?',
                                (name,)).rowcount:
                raise records.SimulatorError('no node %r' % name)

    def resolve_node(self, name):
        """The world's spelling of node or host ``name``, or None.

        Windows compares computer names case-insensitively; so does the
        simulated world when a host names itself.
        """
        for node in self.nodes():
            if node.name.lower() == name.lower():
                return node.name
        return None

    def add_volume(self, name, total_gb, cluster=None):
        checks.check_volume_name(name)
        checks.check_size(total_gb)
        with self._db(write=True) as conn:
            cluster = self._the_cluster(conn, cluster)
            return self._add_volume(conn, cluster, name, total_gb)

    def resize_volume(self, name, total_gb, cluster=None):
        checks.check_size(total_gb)
        with self._db(write=True) as conn:
            cluster = self._the_cluster(conn, cluster)
            if not conn.execute(
                    'UPDATE shared_volumes SET total_gb = ? WHERE '
                    'cluster = ? AND name = ?',
                    (total_gb, cluster, name)).rowcount:
                raise records.SimulatorError(
                    'no shared volume %r in cluster %s'
                    % (name, cluster))

    def remove_volume(self, name, cluster=None):
        """The CSV leaves its cluster; its folder and files stay."""
        with self._db(write=True) as conn:
            cluster = self._the_cluster(conn, cluster)
            if not conn.execute('DELETE FROM shared_volumes WHERE '
                                'cluster = ? AND name = ?',
                                (cluster, name)).rowcount:
                raise records.SimulatorError(
                    'no shared volume %r in cluster %s'
                    % (name, cluster))

    def _add_node(self, conn, name, cluster, vcpus, memory_mb):
        checks.check_name('node', name)
        if any(row['name'].lower() == name.lower() for row in conn.execute(
                'SELECT name FROM nodes')):
            raise records.SimulatorError('node %r exists already' % name)
        conn.execute('INSERT INTO nodes (name, cluster, vcpus, memory_mb) '
                     'VALUES (?, ?, ?, ?)', (name, cluster, vcpus, memory_mb))

    def _add_volume(self, conn, cluster, name, total_gb):
        # A real CSV keeps its id for life; so does a simulated one.
        volume_id = str(uuid.uuid4())
        path = os.path.join(self.storage_root, cluster, name)
        try:
            conn.execute('INSERT INTO shared_volumes VALUES (?, ?, ?, ?, ?)',
                         (volume_id, cluster, name, total_gb, path))
        except sqlite3.IntegrityError:
            raise records.SimulatorError('shared volume %r exists already in '
                                         'cluster %s' % (name, cluster))
        os.makedirs(path, exist_ok=True)
        return volume_id
