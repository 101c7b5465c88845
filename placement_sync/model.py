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

"""Cluster facts, and the placement state they call for.

Everything here is pure: facts in, desired state out. The same facts give
the same uuids and names on every machine, so several copies of the tool
agree without talking to each other.
"""

import dataclasses
import re
import unicodedata

import hvc_names

DISK_GB = 'DISK_GB'
# os_traits.MISC_SHARES_VIA_AGGREGATE. os_traits is imported only to
# check trait names: hvc-agent serves the os-win source's facts on Windows
# without it (tools/agent_dependencies.py).
SHARING_TRAIT = 'MISC_SHARES_VIA_AGGREGATE'
# Marks the providers this project created, so they can be listed in one
# request and are never confused with somebody else's.
OWNER_TRAIT = 'CUSTOM_HYPERV_CLUSTER_CSV'

# Placement's limits (placement/schemas, placement/db/constants.py):
# inventory amounts are 32-bit integers, allocation ratios single-precision
# floats, provider names 200 characters and trait names 255 at most.
MAX_GB = 2 ** 31 - 1
MAX_ALLOCATION_RATIO = 3.40282e+38
MAX_NAME = 200
MAX_TRAIT = 255
CUSTOM_TRAIT = re.compile(r'^CUSTOM_[A-Z0-9_]+$')
# Placement and nova on MySQL/MariaDB store names as 3-byte UTF-8: a
# character beyond the Basic Multilingual Plane is a database error (500).
MAX_CODE_POINT = 0xFFFF
# Nova's aggregate names (nova.api.validation.parameter_types.name).
MAX_NOVA_NAME = 255
# Characters no name may hold: they break every line they are printed on,
# and a lone surrogate cannot be encoded at all.
_CONTROL = {'Cc': 'a control character', 'Cs': 'a lone surrogate'}


@dataclasses.dataclass(frozen=True)
class VolumeUsage:
    """What a CSV really holds, measured where the source can see it."""
    used_bytes: int
    free_bytes: int
    # ((folder name, bytes), ...): each folder in the CSV's instances
    # folder, named like its VM (nova's instance name).
    instance_folders: tuple = ()


@dataclasses.dataclass(frozen=True)
class SharedVolume:
    """A Cluster Shared Volume as the cluster reports it."""
    id: str
    name: str
    total_gb: int
    # The least DISK_GB kept from nova; a measured volume reserves more
    # when more is used outside nova's allocations (see capacity).
    reserved_gb: int = 0
    allocation_ratio: float = 1.0
    traits: frozenset = frozenset()
    # None: the source cannot see the volume (an inventory file).
    usage: VolumeUsage = None


@dataclasses.dataclass(frozen=True)
class OfflineVolume:
    """A CSV the cluster has but whose facts cannot be read now (offline,
    failed, its size unreadable). Its provider is kept as it is, never
    drained as if the CSV were gone.
    """
    id: str
    name: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Cluster:
    """A failover cluster: its nova compute hosts and its CSVs."""
    name: str
    nodes: tuple
    shared_volumes: tuple
    offline_volumes: tuple = ()


@dataclasses.dataclass(frozen=True)
class DesiredProvider:
    """The placement provider one CSV calls for."""
    uuid: str
    name: str
    cluster: str
    volume: SharedVolume
    # What to reserve when it is not the volume's reserved_gb: the
    # measured use outside nova (plan.with_measured_reserve).
    reserved_gb: int = None

    @property
    def inventory(self):
        vol = self.volume
        reserved = (vol.reserved_gb if self.reserved_gb is None
                    else self.reserved_gb)
        return {DISK_GB: {
            'total': vol.total_gb,
            'reserved': reserved,
            'min_unit': 1,
            'max_unit': vol.total_gb,
            'step_size': 1,
            'allocation_ratio': float(vol.allocation_ratio),
        }}

    @property
    def traits(self):
        return frozenset({SHARING_TRAIT, OWNER_TRAIT}) | self.volume.traits


@dataclasses.dataclass(frozen=True)
class DesiredCluster:
    name: str
    nodes: tuple
    providers: tuple
    host_aggregate_name: str
    # The placement aggregate the cluster's providers share: the nova host
    # aggregate's uuid when nova manages it, else a deterministic one.
    placement_aggregate: str = None
    # {provider uuid: OfflineVolume}: providers to leave as they are.
    offline: dict = dataclasses.field(default_factory=dict)


def as_plain(value):
    """A fact (a Cluster, say) as plain values, which JSON and hvc-agent's
    wire carry: each record a dict of its fields, a set a sorted tuple;
    ``cluster_from_plain`` makes the Cluster again.
    """
    if dataclasses.is_dataclass(value):
        return {f.name: as_plain(getattr(value, f.name))
                for f in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(as_plain(v) for v in value))
    if isinstance(value, (tuple, list)):
        return tuple(as_plain(v) for v in value)
    return value


def cluster_from_plain(data):
    """The Cluster of ``as_plain``'s values; ValueError for values of
    another shape (what the values hold is for validate_clusters).
    """
    try:
        return Cluster(
            name=data['name'], nodes=tuple(data['nodes']),
            shared_volumes=tuple(_volume_from_plain(volume)
                                 for volume in data['shared_volumes']),
            offline_volumes=tuple(OfflineVolume(**volume)
                                  for volume in data['offline_volumes']))
    except (KeyError, TypeError) as e:
        raise ValueError('not a cluster (%s: %s): %.200r'
                         % (type(e).__name__, e, data))


def _volume_from_plain(volume):
    usage = volume['usage']
    if usage is not None:
        usage = VolumeUsage(**dict(usage, instance_folders=tuple(
            tuple(folder) for folder in usage['instance_folders'])))
    return SharedVolume(**dict(volume, traits=frozenset(volume['traits']),
                               usage=usage))


def desired_state(clusters):
    """The desired state of every cluster, from the facts."""
    return [
        DesiredCluster(
            name=c.name,
            nodes=tuple(c.nodes),
            providers=tuple(
                DesiredProvider(uuid=hvc_names.provider_uuid(c.name, v.id),
                                name=hvc_names.provider_name(c.name, v.name),
                                cluster=c.name,
                                volume=v)
                for v in c.shared_volumes),
            host_aggregate_name=hvc_names.host_aggregate_name(c.name),
            offline={hvc_names.provider_uuid(c.name, v.id): v
                     for v in c.offline_volumes})
        for c in clusters]


def host_key(name):
    """A host name as nova compares it: case aside. Windows cluster node
    names ignore case, and so does nova's database (MySQL's collation):
    the cluster may say HV-NODE1 where nova says hv-node1.
    """
    return name.casefold()


def name_problem(value):
    """Why ``value`` cannot be a name, or None. An empty name is refused
    everywhere: placement's ``?name=`` would match every provider.
    """
    if not isinstance(value, str) or not value.strip():
        return 'must be a non-empty string, got %r' % (value,)
    for char in value:
        if ord(char) > MAX_CODE_POINT:
            return ('must not contain U+%X, beyond the Basic Multilingual '
                    'Plane (4 bytes in UTF-8), which placement and nova '
                    'cannot store, got %r' % (ord(char), value))
        kind = _CONTROL.get(unicodedata.category(char))
        if kind:
            return ('must not contain U+%04X, %s, got %r'
                    % (ord(char), kind, value))
    return None


def _nova_name_problem(value):
    """Why nova would refuse ``value`` in an aggregate's name, or None:
    printable characters only, no whitespace at either end.
    """
    for char in value:
        category = unicodedata.category(char)
        if category.startswith('C') or category in ('Zl', 'Zp'):
            return ('must not contain U+%04X, which is not printable: nova '
                    'refuses it in the host aggregate name, got %r'
                    % (ord(char), value))
    if value != value.strip():
        return ('must not begin or end with whitespace: nova refuses it in '
                'the host aggregate name, got %r' % value)
    if len(hvc_names.host_aggregate_name(value)) > MAX_NOVA_NAME:
        return ('makes a host aggregate name of %d characters; nova allows '
                '%d' % (len(hvc_names.host_aggregate_name(value)),
                        MAX_NOVA_NAME))
    return None


def cluster_problems(cluster):
    """What is wrong with a cluster's facts: [(field, problem)]."""
    problems = []
    problem = name_problem(cluster.name)
    if problem:
        problems.append(('name', problem))
    elif ':' in cluster.name:
        problems.append(('name', "must not contain ':', which separates the "
                         "parts of provider names, got %r" % cluster.name))
    else:
        problem = _nova_name_problem(cluster.name)
        if problem:
            problems.append(('name', problem))
    for i, node in enumerate(cluster.nodes):
        problem = name_problem(node)
        if problem:
            problems.append(('nodes[%d]' % i, problem))
    for i, volume in enumerate(cluster.offline_volumes):
        for field in ('id', 'name'):
            problem = name_problem(getattr(volume, field))
            if problem:
                problems.append(('offline_volumes[%d].%s' % (i, field),
                                 problem))
    return problems


def volume_problems(cluster_name, volume):
    """What is wrong with a shared volume's facts: [(field, problem)].

    Every source's facts pass here, so placement never refuses a write
    half-way through a run.
    """
    problems = [(field, name_problem(getattr(volume, field)))
                for field in ('id', 'name')
                if name_problem(getattr(volume, field))]
    if not _is_integer(volume.total_gb) or not (
            1 <= volume.total_gb <= MAX_GB):
        problems.append(('total_gb', 'must be between 1 and %d, got %r'
                         % (MAX_GB, volume.total_gb)))
    elif not _is_integer(volume.reserved_gb) or not (
            0 <= volume.reserved_gb <= volume.total_gb):
        problems.append(('reserved_gb', 'must be between 0 and total_gb '
                         '(%d), got %r' % (volume.total_gb,
                                           volume.reserved_gb)))
    ratio = volume.allocation_ratio
    # Compared as given: float() of a huge integer would overflow, and
    # infinity and NaN fail the comparison.
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or (
            not 0 < ratio <= MAX_ALLOCATION_RATIO):
        problems.append(('allocation_ratio', 'must be a finite number > 0 '
                         'and at most %g, got %r'
                         % (MAX_ALLOCATION_RATIO, ratio)))
    for trait in sorted(volume.traits, key=str):
        problem = trait_problem(trait)
        if problem:
            problems.append(('traits', problem))
    name = hvc_names.provider_name(cluster_name, volume.name)
    if isinstance(volume.name, str) and len(name) > MAX_NAME:
        problems.append(('name', 'makes a provider name of %d characters; '
                         'placement allows %d' % (len(name), MAX_NAME)))
    return problems


def trait_problem(trait):
    """Why placement would refuse the trait name, or None."""
    import os_traits
    if not isinstance(trait, str) or not (
            CUSTOM_TRAIT.match(trait) or trait in os_traits.get_traits()):
        return '%r is neither a standard trait nor CUSTOM_[A-Z0-9_]+' % (
            trait,)
    if len(trait) > MAX_TRAIT:
        return '%s... has %d characters; placement allows %d' % (
            trait[:20], len(trait), MAX_TRAIT)
    return None


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)
