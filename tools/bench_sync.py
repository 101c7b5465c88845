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

"""Sync cost against a real placement: 50 clusters x 16 nodes x 4 CSVs.

Prints wall time and HTTP requests (reads, writes) for the first sync, a
no-op sync by a fresh process (cold: nothing cached) and a no-op sync by
the same process (warm: the periodic mode's steady state), against the
goals: first sync at most 4 writes per CSV plus 1 per node;
no-op sync zero writes and at most 2 requests per cluster. "fresh +
cache" is a new process given what the first one saw, as
``[placement_sync] cache_file`` hands it over between one-shot runs.

    .venv/bin/python tools/bench_sync.py [--clusters 50 --nodes 16 --csvs 4]
"""

import argparse
import time

from hvc_demo import scheduler_standin
from hvc_localcloud import placement_server
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

    with placement_server.PlacementServer() as server:
        def client():
            return placement_client.PlacementClient(
                placement_server.admin_adapter(server.endpoint))
        setup = client()
        start = time.monotonic()
        for cluster in clusters:
            for node in cluster.nodes:
                scheduler_standin.create_compute_node(setup, node)
        print('placement %s: %d compute node providers made in %.1fs' % (
            server.endpoint, n_nodes, time.monotonic() - start))
        print('%d clusters x %d nodes x %d CSVs = %d CSV providers\n' % (
            args.clusters, args.nodes, args.csvs, n_csvs))
        print('%-22s %8s %8s %8s  %s' % ('run', 'seconds', 'reads',
                                         'writes', 'goal'))
        warm = reconcile.Reconciler(client())
        first_goal = 4 * n_csvs + n_nodes
        noop_goal = 2 * args.clusters
        # Plus one write per placement, ever: defining the owner trait.
        _measure('first sync', warm, clusters,
                 'writes <= %d (4/CSV + 1/node) + 1' % first_goal,
                 lambda r, w: w <= first_goal + 1)
        warm.placement.requests.clear()
        _measure('no-op, fresh process', reconcile.Reconciler(client()),
                 clusters, 'writes = 0, requests <= %d (2/cluster)'
                 % noop_goal, lambda r, w: w == 0 and r + w <= noop_goal)
        _measure('no-op, fresh + cache', reconcile.Reconciler(
            client(), seen=warm.seen()), clusters,
            'writes = 0, requests <= %d (2/cluster)' % noop_goal,
            lambda r, w: w == 0 and r + w <= noop_goal)
        _measure('no-op, periodic (warm)', warm, clusters,
                 'writes = 0, requests <= %d (2/cluster)' % noop_goal,
                 lambda r, w: w == 0 and r + w <= noop_goal)
        print('\n+ 1: the first sync against a placement defines the owner '
              'trait %s (once per placement, not per cluster).\nA fresh '
              'process without a cache_file reads each CSV\'s inventory '
              'and traits once; with one, or in periodic mode, only when '
              'its generation moved.' % model.OWNER_TRAIT)


def _measure(label, reconciler, clusters, goal, met):
    start = time.monotonic()
    result = reconciler.sync(clusters)
    elapsed = time.monotonic() - start
    if result.errors:
        raise SystemExit('sync failed: %s' % result.errors[:3])
    reads = reconciler.placement.requests['reads']
    writes = reconciler.placement.requests['writes']
    print('%-22s %8.2f %8d %8d  %-40s %s' % (
        label, elapsed, reads, writes, goal,
        'met' if met(reads, writes) else 'NOT MET'), flush=True)


if __name__ == '__main__':
    main()
