"""The simulated cluster's state, in one sqlite file.

Every change runs in a ``BEGIN IMMEDIATE`` transaction, so several
processes (one nova-compute per simulated node, placement_sync, ``hvc-sim``)
can read and write the same file safely.
"""

import contextlib
import dataclasses
import sqlite3
import uuid

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cluster (
    name TEXT NOT NULL,
    schema_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS nodes (
    name TEXT PRIMARY KEY,
    vcpus INTEGER NOT NULL,
    memory_mb INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'up'
);
CREATE TABLE IF NOT EXISTS shared_volumes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    total_gb INTEGER NOT NULL
);
"""

DEFAULT_NODE_VCPUS = 16
DEFAULT_NODE_MEMORY_MB = 65536


class SimulatorError(Exception):
    """The simulated cluster cannot do what was asked; says why."""


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    vcpus: int
    memory_mb: int
    state: str


@dataclasses.dataclass(frozen=True)
class SharedVolume:
    id: str
    name: str
    total_gb: int

    @property
    def path(self):
        # Where a Hyper-V node mounts it.
        return 'C:\\ClusterStorage\\%s' % self.name


class ClusterState(object):
    """One simulated cluster, stored in ``path``."""

    def __init__(self, path):
        self.path = path

    @contextlib.contextmanager
    def _db(self, write=False, create=False):
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute('PRAGMA journal_mode=WAL')
            if create:
                conn.executescript(_SCHEMA)
            conn.execute('BEGIN IMMEDIATE' if write else 'BEGIN')
            try:
                yield conn
            except BaseException:
                conn.execute('ROLLBACK')
                raise
            conn.execute('COMMIT')
        finally:
            conn.close()

    def _require(self, conn):
        try:
            row = conn.execute('SELECT name FROM cluster').fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is None:
            raise SimulatorError(
                'no simulated cluster in %s: create it with '
                '"hvc-sim --state %s init ..."' % (self.path, self.path))
        return row['name']

    def init(self, cluster_name, nodes, volumes,
             vcpus=DEFAULT_NODE_VCPUS, memory_mb=DEFAULT_NODE_MEMORY_MB):
        """Create the cluster. ``volumes`` is a list of (name, total_gb)."""
        with self._db(write=True, create=True) as conn:
            if conn.execute('SELECT 1 FROM cluster').fetchone():
                raise SimulatorError('%s already holds a cluster'
                                     % self.path)
            conn.execute('INSERT INTO cluster VALUES (?, ?)',
                         (cluster_name, SCHEMA_VERSION))
            for node in nodes:
                self._add_node(conn, node, vcpus, memory_mb)
            for name, total_gb in volumes:
                self._add_volume(conn, name, total_gb)

    def cluster_name(self):
        with self._db() as conn:
            return self._require(conn)

    def nodes(self):
        with self._db() as conn:
            self._require(conn)
            return [Node(**r) for r in conn.execute(
                'SELECT * FROM nodes ORDER BY name')]

    def shared_volumes(self):
        with self._db() as conn:
            self._require(conn)
            return [SharedVolume(**r) for r in conn.execute(
                'SELECT * FROM shared_volumes ORDER BY name')]

    def add_node(self, name, vcpus=DEFAULT_NODE_VCPUS,
                 memory_mb=DEFAULT_NODE_MEMORY_MB):
        with self._db(write=True) as conn:
            self._require(conn)
            self._add_node(conn, name, vcpus, memory_mb)

    def remove_node(self, name):
        with self._db(write=True) as conn:
            self._require(conn)
            if not conn.execute('DELETE FROM nodes WHERE name = ?',
                                (name,)).rowcount:
                raise SimulatorError('no node %r' % name)

    def add_volume(self, name, total_gb):
        with self._db(write=True) as conn:
            self._require(conn)
            return self._add_volume(conn, name, total_gb)

    def resize_volume(self, name, total_gb):
        _check_size(total_gb)
        with self._db(write=True) as conn:
            self._require(conn)
            if not conn.execute(
                    'UPDATE shared_volumes SET total_gb = ? WHERE name = ?',
                    (total_gb, name)).rowcount:
                raise SimulatorError('no shared volume %r' % name)

    def remove_volume(self, name):
        with self._db(write=True) as conn:
            self._require(conn)
            if not conn.execute('DELETE FROM shared_volumes WHERE name = ?',
                                (name,)).rowcount:
                raise SimulatorError('no shared volume %r' % name)

    def _add_node(self, conn, name, vcpus, memory_mb):
        try:
            conn.execute('INSERT INTO nodes (name, vcpus, memory_mb) '
                         'VALUES (?, ?, ?)', (name, vcpus, memory_mb))
        except sqlite3.IntegrityError:
            raise SimulatorError('node %r exists already' % name)

    def _add_volume(self, conn, name, total_gb):
        _check_size(total_gb)
        # A real CSV keeps its id for life; so does a simulated one.
        volume_id = str(uuid.uuid4())
        try:
            conn.execute('INSERT INTO shared_volumes VALUES (?, ?, ?)',
                         (volume_id, name, total_gb))
        except sqlite3.IntegrityError:
            raise SimulatorError('shared volume %r exists already' % name)
        return volume_id


def _check_size(total_gb):
    if not isinstance(total_gb, int) or total_gb < 1:
        raise SimulatorError('a shared volume needs a size of at least 1 GB, '
                             'got %r' % (total_gb,))
