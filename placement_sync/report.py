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

"""``hvc-placement-sync report``: clusters, nodes and CSVs, placement's
view beside what the volumes really hold.

Placement's side: the providers placement_sync owns, the aggregate each
one shares, the other members of that aggregate (the nodes), each CSV's
DISK_GB used (allocated), reserved, total and free. The volume's side,
where the source measures it (oswin, simulated): its used and free space,
what it holds outside nova's allocations, and the reserve a sync would
set (``capacity``). A CSV whose placement reserve differs from that by
more than the headroom gets a warning: placement grants space the volume
no longer has, or holds back space that is free.
"""

import collections
import json

import hvc_names
from placement_sync import capacity
from placement_sync import model
from placement_sync import plan


def gather(placement, clusters=(), headroom_gb=0, instance_names=None):
    """{'clusters': [{name, aggregate, nodes, shared_volumes}],
    'warnings': [...]}, sorted. ``clusters``: the source's facts, for
    the volumes' side (measured volumes only); ``instance_names``: a
    nova.InstanceNames, or None.
    """
    measured = {hvc_names.provider_uuid(c.name, v.id): v
                for c in clusters for v in c.shared_volumes
                if v.usage is not None}
    by_cluster = collections.defaultdict(list)
    warnings = []
    if not placement.trait_exists(model.OWNER_TRAIT):
        # placement_sync never ran against this placement.
        return {'clusters': [], 'warnings': []}
    for provider in placement.list_providers(required=model.OWNER_TRAIT):
        _gen, aggregates = placement.get_aggregates(provider['uuid'])
        _gen, inventories = placement.get_inventories(provider['uuid'])
        usages = placement.get_usages(provider['uuid'])
        disk = inventories.get(model.DISK_GB, {})
        _prefix, cluster, volume = (provider['name'].split(':', 2) + ['?'])[:3]
        row = {'name': volume, 'uuid': provider['uuid'],
               'total_gb': disk.get('total', 0),
               'reserved_gb': disk.get('reserved', 0),
               'used_gb': usages.get(model.DISK_GB, 0),
               'free_gb': max(plan.capacity(inventories) - usages.get(
                   model.DISK_GB, 0), 0) if disk else 0,
               'volume': None}
        # Draining is placement_sync's own state (its volume is gone);
        # full is a live CSV with nothing left to offer.
        row['draining'] = plan.DRAINING_MARK in provider['name']
        row['full'] = bool(disk) and not row['free_gb']
        if provider['uuid'] in measured and disk:
            row['volume'] = _volume_side(
                placement, provider['uuid'], measured[provider['uuid']],
                instance_names, headroom_gb)
            warning = _disagreement(cluster, row, headroom_gb)
            if warning:
                warnings.append(warning)
        for agg in sorted(aggregates) or [None]:
            by_cluster[(cluster, agg)].append(row)
    result = []
    for (cluster, agg), volumes in sorted(by_cluster.items(),
                                          key=lambda kv: str(kv[0])):
        nodes = []
        if agg:
            nodes = sorted(
                p['name'] for p in placement.list_providers(
                    member_of=agg, required='!' + model.SHARING_TRAIT))
        result.append({'name': cluster, 'aggregate': agg, 'nodes': nodes,
                       'shared_volumes': sorted(volumes,
                                                key=lambda v: v['name'])})
    return {'clusters': result, 'warnings': warnings}


def _volume_side(placement, uuid, volume, instance_names, headroom_gb):
    _gen, allocations = placement.get_disk_allocations(uuid)
    names = instance_names.names(allocations) if (
        instance_names and allocations) else {}
    outside = capacity.outside_nova_bytes(volume.usage, allocations, names)
    policy = capacity.ReservePolicy(headroom_gb=headroom_gb)
    return {
        'used_gb': _gb(volume.usage.used_bytes),
        'free_gb': _gb(volume.usage.free_bytes),
        'outside_nova_gb': _gb(outside),
        'wanted_reserved_gb': capacity.reserve_gb(volume, outside, policy),
    }


def _gb(value):
    return round(value / capacity.GiB, 1)


def _disagreement(cluster, row, headroom_gb):
    volume = row['volume']
    if abs(volume['wanted_reserved_gb'] - row['reserved_gb']) <= headroom_gb:
        return None
    if volume['wanted_reserved_gb'] > row['reserved_gb']:
        what = ('placement offers %d GB but the volume has %.1f GB free'
                % (row['free_gb'], volume['free_gb']))
    else:
        what = 'placement holds back space the volume has free'
    return ('csv %s of cluster %s: placement reserves %d GB but the volume '
            'holds %.1f GB outside nova\'s allocations (a sync reserves %d '
            'GB): %s' % (_shown(row['name']), _shown(cluster),
                         row['reserved_gb'],
                         volume['outside_nova_gb'],
                         volume['wanted_reserved_gb'], what))


def _shown(name):
    """A name as one line of text shows it: escaped, as repr() does, when
    it holds a control (or other unprintable) character.
    """
    return name if name.isprintable() else repr(name)


def format_json(result):
    return json.dumps(result, indent=2, sort_keys=True)


def format_report(result):
    lines = []
    if not result['clusters']:
        lines.append('no shared volume providers in placement yet')
    for cluster in result['clusters']:
        lines.append('cluster %s  (aggregate %s)'
                     % (_shown(cluster['name']), cluster['aggregate']))
        lines.append('  nodes: %s' % (
            ', '.join(map(_shown, cluster['nodes'])) or '(none)'))
        for v in cluster['shared_volumes']:
            state = ('  DRAINING' if v['draining']
                     else '  FULL' if v['full'] else '')
            lines.append('  csv %-16s DISK_GB %6d used / %6d total '
                         '(%d reserved, %d free)  %s%s' % (
                             _shown(v['name']), v['used_gb'], v['total_gb'],
                             v['reserved_gb'], v['free_gb'], v['uuid'],
                             state))
            if v['volume']:
                lines.append('      %-16s volume %6.1f GB used, %.1f GB '
                             'free; %.1f GB outside nova\'s allocations' % (
                                 '', v['volume']['used_gb'],
                                 v['volume']['free_gb'],
                                 v['volume']['outside_nova_gb']))
    for warning in result['warnings']:
        lines.append('WARNING: %s' % warning)
    return '\n'.join(lines)
