"""``hvc-placement-sync report``: clusters, nodes and CSVs, from placement.

Reads only placement: the providers placement_sync owns, the aggregate
each one shares, and the other members of that aggregate (the nodes).
"""

import collections

from placement_sync import model


def gather(placement):
    """[(cluster name, aggregate, [node names], [csv rows])], sorted."""
    clusters = collections.defaultdict(list)
    if not placement.trait_exists(model.OWNER_TRAIT):
        return []  # placement_sync never ran against this placement.
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
               'draining': bool(disk) and disk['reserved'] == disk['total']}
        for agg in sorted(aggregates) or [None]:
            clusters[(cluster, agg)].append(row)
    result = []
    for (cluster, agg), volumes in sorted(clusters.items(),
                                          key=lambda kv: str(kv[0])):
        nodes = []
        if agg:
            nodes = sorted(
                p['name'] for p in placement.list_providers(
                    member_of=agg, required='!' + model.SHARING_TRAIT))
        result.append((cluster, agg, nodes,
                       sorted(volumes, key=lambda v: v['name'])))
    return result


def format_report(clusters):
    lines = []
    if not clusters:
        lines.append('no shared volume providers in placement yet')
    for cluster, agg, nodes, volumes in clusters:
        lines.append('cluster %s  (aggregate %s)' % (cluster, agg))
        lines.append('  nodes: %s' % (', '.join(nodes) or '(none)'))
        for v in volumes:
            state = '  DRAINING' if v['draining'] else ''
            lines.append('  csv %-16s DISK_GB %6d used / %6d total '
                         '(%d reserved)  %s%s' % (
                             v['name'], v['used_gb'], v['total_gb'],
                             v['reserved_gb'], v['uuid'], state))
    return '\n'.join(lines)
