"""Sync cost against a real placement: 50 clusters x 16 nodes x 4 CSVs.

Prints wall time and HTTP requests (reads, writes) for the first sync, a
no-op sync by a fresh process (cold: nothing cached) and a no-op sync by
the same process (warm: the periodic mode's steady state), against the
goals of issue 2: first sync at most 4 writes per CSV plus 1 per node;
no-op sync zero writes and at most 2 requests per cluster.

    .venv/bin/python tools/bench_sync.py [--clusters 50 --nodes 16 --csvs 4]
"""

import argparse
import time

from hvc_devstack import placement as devstack
from placement_sync import model
from placement_sync import placement as placement_client
from placement_sync import reconcile


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--clusters', type=int, default=50)
    parser.add_argument('--nodes', type=int, default=16)
    parser.add_argument('--csvs', type=int, default=4)
    args = parser.parse_args()
    clusters = [model.Cluster(
        name='bench%03d' % c,
        nodes=tuple('bench%03d-node%02d' % (c, n) for n in range(args.nodes)),
        shared_volumes=tuple(
            model.SharedVolume(id='csv-%d' % v, name='Volume%d' % v,
                               total_gb=1000 + v)
            for v in range(args.csvs)))
        for c in range(args.clusters)]
    n_csvs = args.clusters * args.csvs
    n_nodes = args.clusters * args.nodes

    with devstack.PlacementServer() as server:
        def client():
            return placement_client.PlacementClient(
                devstack.admin_adapter(server.endpoint))
        setup = client()
        start = time.monotonic()
        for cluster in clusters:
            for node in cluster.nodes:
                devstack.create_compute_node(setup, node)
        print('placement %s: %d compute node providers made in %.1fs' % (
            server.endpoint, n_nodes, time.monotonic() - start))
        print('%d clusters x %d nodes x %d CSVs = %d CSV providers\n' % (
            args.clusters, args.nodes, args.csvs, n_csvs))
        print('%-22s %8s %8s %8s  %s' % ('run', 'seconds', 'reads',
                                         'writes', 'goal'))
        warm = reconcile.Reconciler(client())
        _measure('first sync', warm, clusters,
                 'writes <= %d (4/CSV + 1/node)' % (4 * n_csvs + n_nodes))
        warm.placement.requests.clear()
        _measure('no-op, fresh process', reconcile.Reconciler(client()),
                 clusters, 'writes = 0, requests <= %d (2/cluster)'
                 % (2 * args.clusters))
        _measure('no-op, periodic (warm)', warm, clusters,
                 'writes = 0, requests <= %d (2/cluster)'
                 % (2 * args.clusters))


def _measure(label, reconciler, clusters, goal):
    start = time.monotonic()
    result = reconciler.sync(clusters)
    elapsed = time.monotonic() - start
    if result.errors:
        raise SystemExit('sync failed: %s' % result.errors[:3])
    reqs = reconciler.placement.requests
    print('%-22s %8.2f %8d %8d  %s' % (label, elapsed, reqs['reads'],
                                       reqs['writes'], goal), flush=True)


if __name__ == '__main__':
    main()
