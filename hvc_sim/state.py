"""The simulated Hyper-V world's state, in one sqlite file.

Every change runs in a ``BEGIN IMMEDIATE`` transaction, so several
processes (one nova-compute per simulated node, placement_sync, ``hvc-sim``)
can read and write the same file safely.

The world holds failover clusters, each with its nodes and its Cluster
Shared Volumes (each CSV a real folder, so that disk files really are on
one CSV or another and really move), and standalone Hyper-V hosts in no
cluster. Besides, it holds the virtual machines Hyper-V would hold (owner
node, power state, disks, NICs, notes), the failover clusters' VM groups,
and faults armed to make the next call of a simulated os-win method fail.

A node is up, down or paused, or, as Windows Server 2016 and later have
it, isolated (out of the cluster's membership, its VMs running on) or
quarantined (kept out of the cluster, its VMs drained away). Like a
failover cluster, the world moves a
node's clustered VMs to the other nodes when the node goes down (they
restart there) or is drained (they live-migrate), each to the up node with
the most free memory that can hold it; a VM that no node can hold is left
off, its group Failed. Every change of a group's owner node is recorded,
in order, as the cluster's owner change notifications report it (what
os-win's ``get_vm_owner_change_listener_v2`` delivers).
"""

import logging

import collections
import contextlib
import dataclasses
import json
import os
import sqlite3
import stat
import time
import uuid

from hvc_oswin_api import paths

LOG = logging.getLogger(__name__)

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

# Hyper-V's EnabledState values (os_win.constants.HYPERV_VM_STATE_*) of a
# VM that runs (enabled, paused), and of one that is off.
VM_STATE_ENABLED = 2
VM_STATE_DISABLED = 3
VM_STATE_SHUTTING_DOWN = 4
VM_STATE_REBOOT = 10
VM_STATE_PAUSED = 32768
VM_STATE_SUSPENDED = 32769
_RUNNING_STATES = (VM_STATE_ENABLED, VM_STATE_PAUSED)

DEFAULT_NODE_VCPUS = 16
DEFAULT_NODE_MEMORY_MB = 65536
# Placement's limit on inventory amounts, which a CSV's size becomes.
MAX_VOLUME_GB = 2 ** 31 - 1
# What a pipe holds for a reader that has not connected yet.
PIPE_BUFFER = 64 * 1024
# How long a change waits for another process's transaction.
LOCK_TIMEOUT = 30
# Memory a simulated host keeps for itself (the parent partition).
HOST_RESERVED_MEMORY_MB = 2048
# How long the move of an offline VM group takes unless the world says
# otherwise: MoveClusterGroupEx returns while the move is in progress.
OFFLINE_MOVE_SECONDS = 0.3
# How long owner changes are kept for listeners that fell behind.
OWNER_CHANGES_KEPT_SECONDS = 3600
NODE_UP = 'up'
NODE_DOWN = 'down'
NODE_PAUSED = 'paused'
NODE_ISOLATED = 'isolated'
NODE_QUARANTINED = 'quarantined'
# Why a live migration between Hyper-V hosts refuses a clustered VM.
CLUSTERED_VM_MIGRATION = ('VM %r is clustered: its failover cluster moves '
                          'its group; uncluster it to move it out of its '
                          'cluster')


class SimulatorError(Exception):
    """The simulated cluster cannot do what was asked; says why."""


class VMNotFound(SimulatorError):
    """No such VM (on the node that asked, when one did)."""

    def __init__(self, vm_name, node=None):
        self.vm_name = vm_name
        self.node = node
        super().__init__('no VM %r%s' % (
            vm_name, '' if node is None else ' on node %s' % node))


class GroupMoveRefused(SimulatorError):
    """The cluster could not move a group as asked; it stays put."""

    def __init__(self, group_state, owner_node):
        super().__init__('the group stays %s on %s'
                         % ('online' if group_state == 0 else 'offline',
                            owner_node))
        self.group_state = group_state
        self.owner_node = owner_node


class ClusterGroupNotFound(VMNotFound):
    """No cluster group of that VM (os-win says: no such VM)."""

    def __init__(self, vm_name):
        super().__init__(vm_name)
        self.args = ('no cluster group %r' % vm_name,)


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    cluster: str  # None: a standalone host
    vcpus: int
    memory_mb: int
    state: str


@dataclasses.dataclass(frozen=True)
class VM:
    name: str
    id: str
    node: str
    state: int
    generation: int
    vcpus: int
    memory_mb: int
    notes: tuple
    instance_path: str
    started_at: float


@dataclasses.dataclass(frozen=True)
class Disk:
    vm_name: str
    path: str
    controller: str
    slot: int
    drive_type: str


@dataclasses.dataclass(frozen=True)
class Nic:
    vm_name: str
    name: str
    mac_address: str


@dataclasses.dataclass(frozen=True)
class OvsPort:
    node: str
    name: str
    bridge: str
    external_ids: dict


@dataclasses.dataclass(frozen=True)
class GroupStatus:
    owner_node: str
    cluster: str
    vm_state: int       # None: no VM of that name
    failure: str        # why it is Failed, or None
    moving_to: str      # the node the cluster moves it to, or None


@dataclasses.dataclass(frozen=True)
class ClusterGroup:
    name: str
    id: str
    owner_node: str
    max_failover_count: int
    failover_period: int
    auto_failback: bool
    cluster: str  # the owner node's


@dataclasses.dataclass(frozen=True)
class OwnerChange:
    seq: int
    cluster: str
    vm_name: str
    node: str  # the new owner
    at: float


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where the cluster put a VM of a node that went down or drained."""
    vm_name: str
    node: str  # None: it stayed (drain) or could not start (Failed)
    reason: str = ''


@dataclasses.dataclass(frozen=True)
class SharedVolume:
    id: str
    cluster: str
    name: str
    total_gb: int
    # The folder that stands for the CSV's mount point on every node of its
    # cluster (C:\\ClusterStorage\\<name> on Windows).
    path: str


# A simulated virtual disk is a small JSON file that describes the disk
# (hvc_sim.oswin writes them); this is its mark.
VIRTUAL_DISK_MAGIC = 'hvc-sim-virtual-disk'
_VIRTUAL_DISK_HEAD = 4096
_SIZE_UNITS = {'': 1, 'K': 1024, 'M': 1024 ** 2, 'G': 1024 ** 3,
               'T': 1024 ** 4}


def physical_bytes(path):
    """What a file on a simulated CSV really takes on the volume.

    A simulated virtual disk takes what the disk would take on Hyper-V: a
    fixed disk its virtual size; a dynamic or differencing disk what its
    guest wrote into it (``physical_size``, set by ``write_to_disk``), or
    the small file itself while nothing is written. Any other file takes
    its length (a sparse file too: NTFS counts it so unless told
    otherwise).
    """
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        # A FIFO, a socket, a device, a link: no data of its own on the
        # volume (and reading a FIFO would wait for a writer for ever).
        return 0
    size = info.st_size
    if size > _VIRTUAL_DISK_HEAD:
        return size
    disk = virtual_disk(path)
    if disk is None:
        return size
    if disk.get('type') == _VHD_TYPE_FIXED:
        return disk['virtual_size']
    return disk.get('physical_size', size)


# os-win's VHD_TYPE_FIXED (hvc_oswin_api.constants, not imported here).
_VHD_TYPE_FIXED = 2


def virtual_disk(path):
    """The description of a simulated virtual disk, or None."""
    try:
        with open(path, 'rb') as f:
            disk = json.loads(f.read(_VIRTUAL_DISK_HEAD).decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(disk, dict) and disk.get('magic') == VIRTUAL_DISK_MAGIC:
        return disk
    return None


def parse_size(text):
    """Bytes from ``text``: a whole number with an optional unit K, M, G
    or T (powers of 1024), e.g. 512M or 20G.
    """
    text = text.strip().upper().rstrip('B').rstrip('I')
    number, unit = text, ''
    if text and text[-1] in _SIZE_UNITS:
        number, unit = text[:-1], text[-1]
    if not number.isdigit():
        raise SimulatorError('expected a size such as 512M or 20G, got %r'
                             % text)
    return int(number) * _SIZE_UNITS[unit]


def folder_physical_bytes(path):
    """What the files under ``path`` really take (0 if it is missing)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += physical_bytes(os.path.join(root, name))
            except FileNotFoundError:
                pass  # removed while we walked.
    return total


# What a simulated guest writes to its serial port as it boots: a Linux
# guest's console, as a console log shows it.
_BOOT_OUTPUT = """\
hvc-sim: {vm} booting on {node} at {at}
[    0.000000] Linux version 6.1.0-hvc-sim (a simulated guest)
[    0.000000] Command line: BOOT_IMAGE=/vmlinuz root=LABEL=root console=ttyS0
[    0.000000] Hypervisor detected: Microsoft Hyper-V
[    0.412000] hv_vmbus: Vmbus version:5.3
[    1.108000] EXT4-fs (sda1): mounted filesystem with ordered data mode
[    2.356000] cloud-init[301]: Cloud-init running 'init-local'
[    3.724000] cloud-init[412]: Cloud-init running 'init': datasource found
[    5.019000] cloud-init[498]: Cloud-init running 'modules:final'

{vm} login:
"""


class ClusterState(object):
    """One simulated cluster, stored in ``path``."""

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
            return SimulatorError(
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
        return SimulatorError('cannot use the simulated cluster state file '
                              '%s: %s' % (self.path, reason))

    def _require(self, conn):
        tables = {r['name'] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if 'world' not in tables and 'cluster' in tables:
            raise SimulatorError(
                '%s was made by an older hvc-sim (one cluster per file): '
                'make it anew with "hvc-sim --state FILE init ..."'
                % self.path)
        if 'world' not in tables or not conn.execute(
                'SELECT 1 FROM world').fetchone():
            raise SimulatorError(
                'no simulated cluster in %s: create it with '
                '"hvc-sim --state %s init ..."' % (self.path, self.path))

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
        _check_cluster(cluster_name, nodes, volumes, vcpus, memory_mb)
        existed = os.path.exists(self.path)
        try:
            with self._db(write=True, create=True) as conn:
                if conn.execute('SELECT 1 FROM world').fetchone():
                    raise SimulatorError('%s already holds a simulated '
                                         'world' % self.path)
                conn.execute('INSERT INTO world VALUES (?)',
                             (SCHEMA_VERSION,))
                self._add_cluster(conn, cluster_name, nodes, volumes, vcpus,
                                  memory_mb)
        except SimulatorError:
            if not existed:
                for suffix in ('', '-wal', '-shm'):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(self.path + suffix)
            raise

    def add_cluster(self, cluster_name, nodes, volumes,
                    vcpus=DEFAULT_NODE_VCPUS,
                    memory_mb=DEFAULT_NODE_MEMORY_MB):
        """Another failover cluster, with its own nodes and CSVs."""
        _check_cluster(cluster_name, nodes, volumes, vcpus, memory_mb)
        with self._db(write=True) as conn:
            self._require(conn)
            self._add_cluster(conn, cluster_name, nodes, volumes, vcpus,
                              memory_mb)

    def _add_cluster(self, conn, cluster_name, nodes, volumes, vcpus,
                     memory_mb):
        try:
            conn.execute('INSERT INTO clusters VALUES (?)', (cluster_name,))
        except sqlite3.IntegrityError:
            raise SimulatorError('cluster %r exists already' % cluster_name)
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
                raise SimulatorError('no cluster %r (clusters: %s)'
                                     % (cluster, ', '.join(names)))
            return cluster
        if len(names) != 1:
            raise SimulatorError('%s holds the clusters %s: name one'
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
            return [Node(**r) for r in rows]

    def node(self, name):
        """The node or standalone host called ``name`` exactly, or None."""
        with self._db() as conn:
            self._require(conn)
            row = conn.execute('SELECT * FROM nodes WHERE name = ?',
                               (name,)).fetchone()
        return Node(**row) if row else None

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
            return [SharedVolume(**r) for r in rows]

    def add_node(self, name, vcpus=DEFAULT_NODE_VCPUS,
                 memory_mb=DEFAULT_NODE_MEMORY_MB, cluster=None):
        """A node joins ``cluster`` (the only one, when not named)."""
        _check_count('vCPUs of a node', vcpus)
        _check_count('memory of a node (MB)', memory_mb)
        with self._db(write=True) as conn:
            cluster = self._the_cluster(conn, cluster)
            self._add_node(conn, name, cluster, vcpus, memory_mb)

    def add_host(self, name, vcpus=DEFAULT_NODE_VCPUS,
                 memory_mb=DEFAULT_NODE_MEMORY_MB):
        """A standalone Hyper-V host, in no cluster."""
        _check_count('vCPUs of a host', vcpus)
        _check_count('memory of a host (MB)', memory_mb)
        with self._db(write=True) as conn:
            self._require(conn)
            self._add_node(conn, name, None, vcpus, memory_mb)

    def remove_node(self, name):
        with self._db(write=True) as conn:
            self._require(conn)
            vms = [r['name'] for r in conn.execute(
                'SELECT name FROM vms WHERE node = ?', (name,))]
            if vms:
                raise SimulatorError('node %r still owns VMs: %s'
                                     % (name, ', '.join(vms)))
            if not conn.execute('DELETE FROM nodes WHERE name = ?',
                                (name,)).rowcount:
                raise SimulatorError('no node %r' % name)

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
        _check_volume_name(name)
        _check_size(total_gb)
        with self._db(write=True) as conn:
            cluster = self._the_cluster(conn, cluster)
            return self._add_volume(conn, cluster, name, total_gb)

    def resize_volume(self, name, total_gb, cluster=None):
        _check_size(total_gb)
        with self._db(write=True) as conn:
            cluster = self._the_cluster(conn, cluster)
            if not conn.execute(
                    'UPDATE shared_volumes SET total_gb = ? WHERE '
                    'cluster = ? AND name = ?',
                    (total_gb, cluster, name)).rowcount:
                raise SimulatorError('no shared volume %r in cluster %s'
                                     % (name, cluster))

    def remove_volume(self, name, cluster=None):
        """The CSV leaves its cluster; its folder and files stay."""
        with self._db(write=True) as conn:
            cluster = self._the_cluster(conn, cluster)
            if not conn.execute('DELETE FROM shared_volumes WHERE '
                                'cluster = ? AND name = ?',
                                (cluster, name)).rowcount:
                raise SimulatorError('no shared volume %r in cluster %s'
                                     % (name, cluster))

    # What is on a CSV besides the VMs' disks: an image cache, an upload
    # in progress, an administrator's files, other VMs of the cluster.

    def volume(self, name, cluster=None):
        """The CSV ``name`` of ``cluster`` (the only one, when not named)."""
        with self._db() as conn:
            cluster = self._the_cluster(conn, cluster)
            row = conn.execute('SELECT * FROM shared_volumes WHERE '
                               'cluster = ? AND name = ?',
                               (cluster, name)).fetchone()
        if row is None:
            raise SimulatorError('no shared volume %r in cluster %s'
                                 % (name, cluster))
        return SharedVolume(**row)

    def volume_used_bytes(self, name, cluster=None):
        """What the files on a CSV really take (see ``physical_bytes``)."""
        return folder_physical_bytes(self.volume(name, cluster).path)

    def add_file(self, volume_name, relative_path, size_bytes, cluster=None):
        """A file of ``size_bytes`` on a CSV that is no VM's disk (made
        sparse: it costs this machine nothing). Refused when the volume
        has not that much free, as Windows refuses it.
        """
        volume = self.volume(volume_name, cluster)
        path = self._path_on(volume, relative_path)
        if os.path.exists(path):
            raise SimulatorError('%s exists already' % path)
        free = (volume.total_gb * _SIZE_UNITS['G'] -
                folder_physical_bytes(volume.path))
        if size_bytes > free:
            raise SimulatorError(
                'not enough space on shared volume %s: %d bytes free, %d '
                'asked for' % (volume.name, max(free, 0), size_bytes))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.truncate(size_bytes)
        return path

    def remove_file(self, volume_name, relative_path, cluster=None):
        path = self._path_on(self.volume(volume_name, cluster),
                             relative_path)
        try:
            os.remove(path)
        except FileNotFoundError:
            raise SimulatorError('no file %s' % path)
        except IsADirectoryError:
            raise SimulatorError('%s is a folder, not a file' % path)

    def _path_on(self, volume, relative_path):
        parts = [p for p in relative_path.replace('\\', '/').split('/')
                 if p not in ('', '.')]
        if not parts or '..' in parts:
            raise SimulatorError('a file on a shared volume needs a path '
                                 'inside it, got %r' % relative_path)
        return os.path.join(volume.path, *parts)

    def write_to_disk(self, path, physical_size):
        """A guest wrote into a dynamic or differencing simulated disk: it
        now takes ``physical_size`` bytes on its volume (at most its
        virtual size).
        """
        disk = virtual_disk(path) if os.path.isfile(path) else None
        if disk is None or disk.get('type') == _VHD_TYPE_FIXED:
            raise SimulatorError('%s is not a dynamic or differencing '
                                 'simulated disk' % path)
        if not 0 <= physical_size <= disk['virtual_size']:
            raise SimulatorError(
                'a disk of %d bytes cannot take %d bytes'
                % (disk['virtual_size'], physical_size))
        disk['physical_size'] = physical_size
        tmp = path + '.writing'
        with open(tmp, 'w') as f:
            json.dump(disk, f)
        os.replace(tmp, path)

    # Virtual machines, as the Hyper-V hosts of the cluster hold them.

    def create_vm(self, name, node, generation, instance_path, notes=(),
                  state=VM_STATE_DISABLED):
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
                raise SimulatorError('VM %r exists already' % name)

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
            raise SimulatorError('cannot change %s of a VM'
                                 % ', '.join(sorted(unknown)))
        if 'notes' in fields:
            fields['notes'] = json.dumps(list(fields['notes']))
        if 'node' in fields:
            self._require_node(conn, fields['node'])
        if fields.pop('restart', False):
            fields['started_at'] = time.time()
        if 'state' in fields:
            running = fields['state'] in _RUNNING_STATES
            was_running = row['state'] in _RUNNING_STATES
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
            raise VMNotFound(row['name'], owner)

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
                raise VMNotFound(name, owner)

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
                    raise SimulatorError('no free slot on controller %s of '
                                         '%s' % (controller, vm_name))
                slot = free[0]
            try:
                conn.execute('INSERT INTO vm_disks VALUES (?, ?, ?, ?, ?)',
                             (vm_name, path, controller, slot, drive_type))
            except sqlite3.IntegrityError:
                raise SimulatorError('%s is attached to %s already'
                                     % (path, vm_name))
        return slot

    def remove_disk(self, vm_name, path):
        with self._db(write=True) as conn:
            if not conn.execute(
                    'DELETE FROM vm_disks WHERE vm_name = ? AND path = ?',
                    (vm_name, path)).rowcount:
                raise SimulatorError('%s is not attached to %s'
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
            return [Disk(**r) for r in rows]

    def add_nic(self, vm_name, name, mac_address=None, owner=None):
        with self._db(write=True) as conn:
            self._require_vm(conn, vm_name, owner)
            try:
                conn.execute('INSERT INTO vm_nics VALUES (?, ?, ?)',
                             (vm_name, name, mac_address))
            except sqlite3.IntegrityError:
                raise SimulatorError('%s has a NIC %r already'
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
            return [Nic(**r) for r in rows]

    def nic_names(self, node):
        """The names of the NICs of the VMs of ``node`` (a set)."""
        with self._db() as conn:
            return {r['name'] for r in conn.execute(
                'SELECT vm_nics.name FROM vm_nics JOIN vms ON '
                'vms.name = vm_nics.vm_name WHERE vms.node = ?', (node,))}

    # A VM's boot order: generation 1, device kinds (os-win's
    # BOOT_DEVICE_*); generation 2, drive paths. None until it is set
    # (Hyper-V's default).

    def set_boot_order(self, vm_name, devices, owner=None):
        with self._db(write=True) as conn:
            self._require_vm(conn, vm_name, owner)
            conn.execute('INSERT OR REPLACE INTO vm_boot_order '
                         'VALUES (?, ?)', (vm_name, json.dumps(devices)))

    def boot_order(self, vm_name):
        with self._db() as conn:
            row = conn.execute('SELECT devices FROM vm_boot_order WHERE '
                               'vm_name = ?', (vm_name,)).fetchone()
            return None if row is None else json.loads(row['devices'])

    # Hyper-V's resource metering, turned on for a VM (its processors,
    # memory and disks: element '') or for one of its NICs' switch ports
    # (element: the NIC's name). It is a setting of the VM: it moves with
    # it.

    def meter(self, vm_name, element='', owner=None):
        with self._db(write=True) as conn:
            self._require_vm(conn, vm_name, owner)
            conn.execute('INSERT OR IGNORE INTO vm_metering VALUES (?, ?)',
                         (vm_name, element))

    def metered(self, vm_name):
        """The elements of ``vm_name`` that Hyper-V meters."""
        with self._db() as conn:
            return {r['element'] for r in conn.execute(
                'SELECT element FROM vm_metering WHERE vm_name = ?',
                (vm_name,))}

    # The serial ports of a VM (COM1, COM2) and what they connect to.

    def set_serial_port(self, vm_name, port_number, connection, owner=None):
        with self._db(write=True) as conn:
            self._require_vm(conn, vm_name, owner)
            conn.execute('INSERT OR REPLACE INTO vm_serial_ports '
                         'VALUES (?, ?, ?)',
                         (vm_name, port_number, connection))

    def serial_ports(self, vm_name):
        """{port number: connection} of a VM."""
        with self._db() as conn:
            return {r['port_number']: r['connection'] for r in conn.execute(
                'SELECT * FROM vm_serial_ports WHERE vm_name = ?',
                (vm_name,))}

    # Hyper-V virtual switch ports of the NICs, and each node's Open
    # vSwitch ports (its OVS database).

    def connect_nic(self, node, nic_name, vswitch):
        """Connect the NIC called ``nic_name`` of a VM ``node`` runs to a
        virtual switch; False if ``node`` runs no VM with such a NIC.
        """
        with self._db(write=True) as conn:
            row = conn.execute(
                'SELECT vm_nics.vm_name FROM vm_nics JOIN vms ON '
                'vms.name = vm_nics.vm_name WHERE vms.node = ? AND '
                'vm_nics.name = ?', (node, nic_name)).fetchone()
            if row is None:
                return False
            conn.execute('INSERT OR REPLACE INTO nic_vswitches '
                         'VALUES (?, ?, ?)',
                         (row['vm_name'], nic_name, vswitch))
            return True

    def set_nic_vlan(self, node, nic_name, vlan_id):
        """Tag the switch port of the NIC ``nic_name`` of a VM ``node``
        runs with VLAN ``vlan_id`` (access mode); False if ``node`` runs no
        VM with such a NIC.
        """
        with self._db(write=True) as conn:
            row = conn.execute(
                'SELECT vm_nics.vm_name FROM vm_nics JOIN vms ON '
                'vms.name = vm_nics.vm_name WHERE vms.node = ? AND '
                'vm_nics.name = ?', (node, nic_name)).fetchone()
            if row is None:
                return False
            conn.execute('INSERT OR REPLACE INTO nic_vlans VALUES (?, ?, ?)',
                         (row['vm_name'], nic_name, vlan_id))
            return True

    def nic_vlans(self, vm_name):
        """{NIC name: VLAN id} of the tagged NICs of VM ``vm_name``."""
        with self._db() as conn:
            return {r['nic_name']: r['vlan_id'] for r in conn.execute(
                'SELECT * FROM nic_vlans WHERE vm_name = ?', (vm_name,))}

    def nic_vswitches(self, node=None, vm_name=None):
        """{NIC name: virtual switch} of the connected NICs of the VMs of
        ``node``, or of VM ``vm_name``.
        """
        query = ('SELECT nic_vswitches.* FROM nic_vswitches JOIN vms ON '
                 'vms.name = nic_vswitches.vm_name WHERE 1')
        params = []
        if node is not None:
            query += ' AND vms.node = ?'
            params.append(node)
        if vm_name is not None:
            query += ' AND vms.name = ?'
            params.append(vm_name)
        with self._db() as conn:
            return {r['nic_name']: r['vswitch']
                    for r in conn.execute(query, params)}

    def change_ovs_ports(self, node, change):
        """Change the OVS ports of ``node`` in one transaction, as one
        ovs-vsctl run does.

        ``change(ports, nic_vswitches)`` gets {port name: {'bridge': ...,
        'external_ids': {...}}} and the node's {NIC name: virtual switch},
        and changes ``ports`` in place (or raises: nothing changes).
        """
        with self._db(write=True) as conn:
            ports = {r['name']: {'bridge': r['bridge'],
                                 'external_ids': json.loads(
                                     r['external_ids'])}
                     for r in conn.execute(
                         'SELECT * FROM ovs_ports WHERE node = ?', (node,))}
            nics = {r['nic_name']: r['vswitch'] for r in conn.execute(
                'SELECT nic_vswitches.* FROM nic_vswitches JOIN vms ON '
                'vms.name = nic_vswitches.vm_name WHERE vms.node = ?',
                (node,))}
            result = change(ports, nics)
            conn.execute('DELETE FROM ovs_ports WHERE node = ?', (node,))
            conn.executemany(
                'INSERT INTO ovs_ports VALUES (?, ?, ?, ?)',
                [(node, name, port['bridge'],
                  json.dumps(port['external_ids'], sort_keys=True))
                 for name, port in sorted(ports.items())])
            return result

    def ovs_ports(self, node=None):
        with self._db() as conn:
            if node is None:
                rows = conn.execute(
                    'SELECT * FROM ovs_ports ORDER BY node, name')
            else:
                rows = conn.execute(
                    'SELECT * FROM ovs_ports WHERE node = ? ORDER BY name',
                    (node,))
            return [OvsPort(node=r['node'], name=r['name'],
                            bridge=r['bridge'],
                            external_ids=json.loads(r['external_ids']))
                    for r in rows]

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
                raise SimulatorError('no snapshot %r' % path)

    def snapshots(self, vm_name):
        with self._db() as conn:
            return [r['path'] for r in conn.execute(
                'SELECT path FROM vm_snapshots WHERE vm_name = ?',
                (vm_name,))]

    # SMB shares mapped on a node (for SMB volumes).

    def map_share(self, node, share, username=None):
        with self._db(write=True) as conn:
            conn.execute('INSERT OR REPLACE INTO smb_mappings '
                         'VALUES (?, ?, ?)', (node, share, username))

    def unmap_share(self, node, share):
        with self._db(write=True) as conn:
            return bool(conn.execute(
                'DELETE FROM smb_mappings WHERE node = ? AND share = ?',
                (node, share)).rowcount)

    def mapped_shares(self, node):
        with self._db() as conn:
            return [r['share'] for r in conn.execute(
                'SELECT share FROM smb_mappings WHERE node = ? '
                'ORDER BY share', (node,))]

    # The failover cluster's VM groups (one per clustered VM).

    def add_cluster_group(self, vm_name, max_failover_count=1,
                          failover_period=6, auto_failback=True):
        """Cluster a VM: its group is owned by the VM's node."""
        with self._db(write=True) as conn:
            vm = self._require_vm(conn, vm_name)
            if conn.execute('SELECT cluster FROM nodes WHERE name = ?',
                            (vm['node'],)).fetchone()['cluster'] is None:
                raise SimulatorError('%s runs on %s, a host in no cluster'
                                     % (vm_name, vm['node']))
            try:
                conn.execute(
                    'INSERT INTO cluster_groups VALUES (?, ?, ?, ?, ?, ?)',
                    (vm_name, str(uuid.uuid4()), vm['node'],
                     max_failover_count, failover_period,
                     int(bool(auto_failback))))
            except sqlite3.IntegrityError:
                raise SimulatorError('VM %r is clustered already' % vm_name)

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
                raise SimulatorError('VM %r is on %s already: a failover '
                                     'moves it to another node of its '
                                     'cluster' % (vm_name, node))
            if not conn.execute('SELECT 1 FROM cluster_groups WHERE '
                                'name = ?', (vm_name,)).fetchone():
                raise SimulatorError('VM %r is not clustered: only the '
                                     'failover cluster moves VMs'
                                     % vm_name)
            here, there = (conn.execute(
                'SELECT cluster FROM nodes WHERE name = ?',
                (n,)).fetchone()['cluster'] for n in (vm['node'], node))
            if here != there:
                raise SimulatorError('node %r is not in the cluster of %s '
                                     '(%s)' % (node, vm_name, here))
            state = conn.execute('SELECT state FROM nodes WHERE name = ?',
                                 (node,)).fetchone()['state']
            if state != NODE_UP:
                raise SimulatorError('node %s is %s: the cluster moves VMs '
                                     'to up nodes only' % (node, state))
            restarted = restart and vm['state'] in _RUNNING_STATES
            self._move(conn, vm_name, node,
                       VM_STATE_ENABLED if restarted else None)
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
                          if restart_as in _RUNNING_STATES else None,
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

    # What the failover cluster's owner change notifications report.

    def last_owner_change(self):
        """The sequence number of the last owner change (0: none yet)."""
        with self._db() as conn:
            row = conn.execute('SELECT MAX(seq) AS seq FROM '
                               'owner_changes').fetchone()
        return row['seq'] or 0

    def owner_changes(self, cluster, after, fault=None):
        """The owner changes of ``cluster`` after sequence ``after``; with
        ``fault`` (a method's name), also whether a fault is armed for it
        (one read: a listener asks ten times a second): (changes, armed).
        """
        with self._db() as conn:
            changes = [OwnerChange(**r) for r in conn.execute(
                'SELECT * FROM owner_changes WHERE cluster = ? AND seq > ? '
                'ORDER BY seq', (cluster, after))]
            if fault is None:
                return changes
            return changes, conn.execute(
                'SELECT 1 FROM faults WHERE method = ?',
                (fault,)).fetchone() is not None

    def group_failure(self, name):
        """Why the group of ``name`` is Failed, or None if it is not."""
        with self._db() as conn:
            row = conn.execute('SELECT reason FROM group_failures WHERE '
                               'name = ?', (name,)).fetchone()
        return row['reason'] if row else None

    # Nodes failing, drained and back: the cluster moves their VMs.

    def node_down(self, node):
        """``node`` fails: each of its clustered VMs restarts on the up node
        with the most free memory that can hold it (an off or saved VM
        just moves); a VM that no node can hold moves off to the node with
        the most free memory, its group Failed. Its other VMs go down with
        it. Returns a Placement per clustered VM.
        """
        with self._db(write=True) as conn:
            cluster = self._set_node_state(conn, node, NODE_DOWN,
                                           (NODE_UP, NODE_PAUSED,
                                            NODE_ISOLATED))
            placements, restarted = self._evacuate(conn, cluster, node,
                                                   restart=True)
            conn.execute('UPDATE vms SET state = ?, started_at = NULL '
                         'WHERE node = ? AND name NOT IN (SELECT name FROM '
                         'cluster_groups)', (VM_STATE_DISABLED, node))
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
            cluster = self._set_node_state(conn, node, NODE_PAUSED,
                                           (NODE_UP, NODE_PAUSED))
            placements, _restarted = self._evacuate(conn, cluster, node,
                                                    restart=False)
        return placements

    def node_up(self, node, failback=False):
        """A node that was down is up again; with ``failback``, the VMs
        that left it when it went down (and allow failback) come back.
        """
        return self._node_back(node, (NODE_DOWN,), failback)

    def resume(self, node, failback=False):
        """A paused node takes VMs again (Resume-ClusterNode); with
        ``failback``, the VMs drained from it come back (-Failback
        Immediate).
        """
        return self._node_back(node, (NODE_PAUSED,), failback)

    def isolate(self, node):
        """``node`` loses touch with the rest of its cluster (Windows
        Server 2016's compute resiliency): out of the membership, it takes
        no VM, while the VMs it runs go on running there, unmonitored.
        ``node_down`` ends the isolation as the cluster does once its
        resiliency period is over, ``heal`` as a node back in touch.
        """
        with self._db(write=True) as conn:
            self._set_node_state(conn, node, NODE_ISOLATED,
                                 (NODE_UP, NODE_PAUSED))

    def quarantine(self, node):
        """``node`` left the cluster too often: it is kept out (until
        ``heal``, Start-ClusterNode -ClearQuarantine) and its clustered
        VMs live-migrate to the up nodes, as a drain moves them. Returns a
        Placement per clustered VM it had.
        """
        with self._db(write=True) as conn:
            cluster = self._set_node_state(
                conn, node, NODE_QUARANTINED,
                (NODE_UP, NODE_PAUSED, NODE_DOWN, NODE_ISOLATED))
            placements, _restarted = self._evacuate(conn, cluster, node,
                                                    restart=False)
        return placements

    def heal(self, node, failback=False):
        """An isolated node is in touch with its cluster again, or a
        quarantined one is let back in: up; with ``failback``, the VMs
        that left it come back.
        """
        return self._node_back(node, (NODE_ISOLATED, NODE_QUARANTINED),
                               failback)

    def _node_back(self, node, was, failback):
        with self._db(write=True) as conn:
            cluster = self._set_node_state(conn, node, NODE_UP, was)
            back = []
            if failback:
                free = self._free_memory(conn, cluster)
                failed = self._failed(conn)
                for vm in self._vms_of_origin(conn, node):
                    need = (vm['memory_mb'] if vm['state'] in _RUNNING_STATES
                            else 0)
                    if free[node] < need or vm['name'] in failed:
                        continue
                    free[node] -= need
                    # Moved back live: it keeps running.
                    self._move(conn, vm['name'], node)
                    back.append(Placement(vm['name'], node))
        return back

    def _set_node_state(self, conn, node, state, allowed_from):
        self._require(conn)
        row = conn.execute('SELECT * FROM nodes WHERE name = ?',
                           (node,)).fetchone()
        if row is None or row['cluster'] is None:
            raise SimulatorError('no node %r in a cluster' % node)
        if row['state'] not in allowed_from:
            raise SimulatorError('node %s is %s' % (node, row['state']))
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
                    (cluster, NODE_UP))}
        for vm in conn.execute('SELECT node, memory_mb, state FROM vms'):
            if vm['node'] in free and vm['state'] in _RUNNING_STATES:
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
            return (vm['memory_mb'] if vm['state'] in _RUNNING_STATES
                    else 0)
        vms = sorted(conn.execute(
            'SELECT vms.* FROM vms JOIN cluster_groups ON cluster_groups.name '
            '= vms.name WHERE cluster_groups.owner_node = ?', (node,)),
            key=lambda vm: (-need_of(vm), vm['name']))
        placements, restarted = [], []
        for vm in vms:
            running = vm['state'] in _RUNNING_STATES
            need = need_of(vm)
            fits = sorted((n for n in free if free[n] >= need),
                          key=lambda n: (-free[n], n))
            if fits:
                target = fits[0]
                free[target] -= need
                self._move(conn, vm['name'], target,
                           VM_STATE_ENABLED if restart and running else None)
                if restart and running:
                    restarted.append((vm['name'], target))
                placements.append(Placement(vm['name'], target))
            elif restart and free:
                # The cluster gives the group to a node all the same; it
                # fails to come online there.
                target = sorted(free, key=lambda n: (-free[n], n))[0]
                reason = ('not enough memory on any node to restart it: it '
                          'needs %d MB, the most free is %d MB (on %s)'
                          % (need, free[target], target))
                self._move(conn, vm['name'], target, VM_STATE_DISABLED)
                conn.execute('INSERT OR REPLACE INTO group_failures '
                             'VALUES (?, ?)', (vm['name'], reason))
                placements.append(Placement(vm['name'], None, reason))
            else:
                placements.append(Placement(
                    vm['name'], None,
                    'no up node can hold it (%d MB)' % need if free else
                    'cluster %s has no other up node' % cluster))
                continue
            conn.execute('INSERT OR REPLACE INTO group_origins '
                         'VALUES (?, ?)', (vm['name'], node))
        return placements, restarted

    def write_boot_message(self, vm_name, node):
        """The simulated guest writes to its serial ports as it boots on
        ``node``.
        """
        text = _BOOT_OUTPUT.format(
            vm=vm_name, node=node, at=time.strftime('%Y-%m-%dT%H:%M:%S'))
        for pipe in self.serial_ports(vm_name).values():
            self._guest_writes(vm_name, node, pipe, text)

    def type_into_pipe(self, node, pipe, data):
        """What a serial console client types into ``pipe`` on ``node``
        (bytes): the guest's getty there echoes it, and answers each line
        with its login prompt. Nothing if no VM running there has its
        serial port on that pipe.
        """
        with self._db() as conn:
            row = conn.execute(
                'SELECT vms.name FROM vms JOIN vm_serial_ports ON '
                'vm_serial_ports.vm_name = vms.name WHERE vms.node = ? AND '
                'vms.state = ? AND vm_serial_ports.connection = ?',
                (node, VM_STATE_ENABLED, pipe)).fetchone()
        if row is None:
            return
        typed = data.decode('utf-8', 'replace')
        typed = typed.replace('\r\n', '\r').replace('\n', '\r')
        text = typed.replace('\r', '\r\n%s login: ' % row['name'])
        self._guest_writes(row['name'], node, pipe, text)

    def _guest_writes(self, vm_name, node, pipe, text):
        """The guest writes ``text`` to its serial port's ``pipe`` on
        ``node``: to the log of the reader connected there, or into the
        pipe's buffer until a reader connects.
        """
        log_file = self.write_to_pipe(node, pipe, text)
        if not log_file:
            return
        try:
            with open(log_file, 'a') as log:
                log.write(text)
        except OSError as e:
            LOG.debug('No console log for %s: %s', vm_name, e)

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
                raise ClusterGroupNotFound(name)

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
                raise ClusterGroupNotFound(vm_name)
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
        is_running = vm['state'] in _RUNNING_STATES
        if (target is None or target['cluster'] != cluster or
                target['state'] != 'up' or is_running != running):
            raise GroupMoveRefused(group_state=0 if is_running else 1,
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
            except SimulatorError as e:
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
        return GroupStatus(**row) if row else None

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
            raise SimulatorError('a group move takes 0 to 3600 seconds, not '
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
                raise SimulatorError(CLUSTERED_VM_MIGRATION % name)
            target = conn.execute('SELECT * FROM nodes WHERE name = ?',
                                  (node,)).fetchone()
            if target is None or target['state'] != NODE_UP:
                raise SimulatorError('host %r is %s' % (
                    node, 'unknown' if target is None else target['state']))
            if node == vm['node']:
                raise SimulatorError('%s runs on %s already' % (name, node))
            disks = conn.execute('SELECT * FROM vm_disks WHERE vm_name = ?',
                                 (name,)).fetchall()
            if {d['path'] for d in disks} != set(disk_paths):
                raise SimulatorError('the disks of %s changed while it '
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

    # The named pipes VMs' serial ports connect to, by node: what a
    # simulated guest writes waits in the pipe's buffer until a reader
    # connects, then goes to that reader's log file.

    def register_pipe_reader(self, node, pipe, log_file):
        """Connect a reader; returns what waited in the pipe's buffer."""
        with self._db(write=True) as conn:
            conn.execute('INSERT OR REPLACE INTO pipe_readers '
                         'VALUES (?, ?, ?)', (node, pipe, log_file or ''))
            row = conn.execute('SELECT data FROM pipe_buffers WHERE '
                               'node = ? AND pipe = ?',
                               (node, pipe)).fetchone()
            conn.execute('DELETE FROM pipe_buffers WHERE node = ? AND '
                         'pipe = ?', (node, pipe))
        return row['data'] if row else ''

    def unregister_pipe_reader(self, node, pipe, log_file):
        """Only if that reader is still the registered one."""
        with self._db(write=True) as conn:
            conn.execute('DELETE FROM pipe_readers WHERE node = ? AND '
                         'pipe = ? AND log_file = ?',
                         (node, pipe, log_file or ''))

    def write_to_pipe(self, node, pipe, text):
        """The log file of the reader of ``pipe`` on ``node``, for the
        caller to write ``text`` to; or None: ``text`` was buffered.
        """
        with self._db(write=True) as conn:
            row = conn.execute('SELECT log_file FROM pipe_readers WHERE '
                               'node = ? AND pipe = ?',
                               (node, pipe)).fetchone()
            if row is not None:
                return row['log_file']
            old = conn.execute('SELECT data FROM pipe_buffers WHERE '
                               'node = ? AND pipe = ?',
                               (node, pipe)).fetchone()
            data = ((old['data'] if old else '') + text)[-PIPE_BUFFER:]
            conn.execute('INSERT OR REPLACE INTO pipe_buffers '
                         'VALUES (?, ?, ?)', (node, pipe, data))
        return None

    # Faults: make the next ``count`` calls of a simulated os-win method
    # fail, as a real host does now and then.

    def arm_fault(self, method, count=1, message=None):
        _check_count('the count of a fault', count)
        with self._db(write=True) as conn:
            conn.execute('INSERT OR REPLACE INTO faults VALUES (?, ?, ?)',
                         (method, count,
                          message or 'simulated failure of %s' % method))

    def take_fault(self, method):
        """The message of an armed fault of ``method`` (used up), or None."""
        # Almost every call finds no fault: look without the write lock.
        with self._db() as conn:
            if not conn.execute('SELECT 1 FROM faults WHERE method = ?',
                                (method,)).fetchone():
                return None
        with self._db(write=True) as conn:
            row = conn.execute('SELECT * FROM faults WHERE method = ?',
                               (method,)).fetchone()
            if row is None:
                return None
            if row['remaining'] > 1:
                conn.execute('UPDATE faults SET remaining = remaining - 1 '
                             'WHERE method = ?', (method,))
            else:
                conn.execute('DELETE FROM faults WHERE method = ?',
                             (method,))
            return row['message']

    def faults(self):
        with self._db() as conn:
            return {r['method']: r['remaining']
                    for r in conn.execute('SELECT * FROM faults')}

    def _require_node(self, conn, node):
        self._require(conn)
        if not conn.execute('SELECT 1 FROM nodes WHERE name = ?',
                            (node,)).fetchone():
            raise SimulatorError('no node %r in the cluster' % node)

    def _require_vm(self, conn, name, owner=None):
        row = conn.execute('SELECT * FROM vms WHERE name = ?',
                           (name,)).fetchone()
        if row is None or (owner is not None and row['node'] != owner):
            raise VMNotFound(name, owner)
        return row

    def _add_node(self, conn, name, cluster, vcpus, memory_mb):
        _check_name('node', name)
        if any(row['name'].lower() == name.lower() for row in conn.execute(
                'SELECT name FROM nodes')):
            raise SimulatorError('node %r exists already' % name)
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
            raise SimulatorError('shared volume %r exists already in '
                                 'cluster %s' % (name, cluster))
        os.makedirs(path, exist_ok=True)
        return volume_id


def _check_cluster(cluster_name, nodes, volumes, vcpus, memory_mb):
    _check_name('cluster', cluster_name, forbidden=':')
    _check_folder_name('cluster', cluster_name)
    _check_count('vCPUs of a node', vcpus)
    _check_count('memory of a node (MB)', memory_mb)
    for name in nodes:
        _check_name('node', name)
    for name, total_gb in volumes:
        _check_volume_name(name)
        _check_size(total_gb)
    for what, names in (('node', [n.lower() for n in nodes]),
                        ('shared volume', [v[0] for v in volumes])):
        for name, count in collections.Counter(names).items():
            if count > 1:
                raise SimulatorError('%s %r is listed %d times'
                                     % (what, name, count))


def _check_name(what, name, forbidden=''):
    """Names are what nodes, placement providers and aggregates are found
    by: an empty one would match anything.
    """
    if not isinstance(name, str) or not name.strip():
        raise SimulatorError('a %s needs a name, got %r' % (what, name))
    bad = sorted(set(forbidden) & set(name))
    if bad:
        raise SimulatorError('%s name %r must not contain %s'
                             % (what, name, ' '.join(repr(c) for c in bad)))


def _check_volume_name(name):
    _check_name('shared volume', name)
    _check_folder_name('shared volume', name)


def _check_folder_name(what, name):
    """A cluster's and a CSV's names are folders of the world's storage
    (a CSV's mount point is C:\\ClusterStorage\\<name> on Windows): one
    folder name each, or it would land outside the storage, or in another
    CSV's folder and be counted twice.
    """
    problem = paths.component_problem(name)
    if problem:
        raise SimulatorError('%s name %r cannot name a folder: it %s'
                             % (what, name, problem))


def _check_count(what, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SimulatorError('%s must be a whole number of at least 1, got '
                             '%r' % (what, value))


def _check_size(total_gb):
    if (isinstance(total_gb, bool) or not isinstance(total_gb, int) or
            not 1 <= total_gb <= MAX_VOLUME_GB):
        raise SimulatorError('a shared volume needs a size between 1 and %d '
                             'GB, got %r' % (MAX_VOLUME_GB, total_gb))


def _vm(row):
    fields = dict(row)
    fields['notes'] = tuple(json.loads(fields['notes']))
    return VM(**fields)


def _group(row):
    fields = dict(row)
    fields['auto_failback'] = bool(fields['auto_failback'])
    return ClusterGroup(**fields)
