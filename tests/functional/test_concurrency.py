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

"""Four syncers at once, and a foreign writer on the same providers.

The test placement serves one request at a time, so the syncers'
requests interleave (which is what makes generations conflict) rather
than run truly in parallel.
"""

import dataclasses
import threading
import uuid

import hvc_names
from placement_sync import model
from placement_sync import placement as placement_client
from tests import fixtures as hvc_fixtures

SYNCERS = 4
ROUNDS = 3


class TestConcurrentSyncers(hvc_fixtures.PlacementTestCase):

    def _foreign_writer(self, node_uuids, added):
        """Adds an aggregate of its own to every node, as nova might."""
        client = self.client()
        for rp_uuid in node_uuids:
            agg = str(uuid.uuid4())
            while True:
                gen, aggs = client.get_aggregates(rp_uuid)
                try:
                    client.set_aggregates(rp_uuid, gen, aggs | {agg})
                    break
                except placement_client.GenerationConflict:
                    continue
            added.setdefault(rp_uuid, set()).add(agg)

    def test_converges_exactly_and_keeps_foreign_membership(self):
        clusters = [self.cluster(nodes=4, volumes=(('Volume1', 500),
                                                   ('Volume2', 300)))
                    for _ in range(2)]
        client = self.client()
        node_uuids = {n: client.list_providers(name=n)[0]['uuid']
                      for c in clusters for n in c.nodes}
        foreign = {}
        for round_no in range(ROUNDS):
            if round_no == 1:  # a CSV grows
                c = clusters[0]
                clusters[0] = dataclasses.replace(c, shared_volumes=(
                    dataclasses.replace(c.shared_volumes[0], total_gb=900),
                    c.shared_volumes[1]))
            if round_no == 2:  # a node leaves
                c = clusters[1]
                clusters[1] = dataclasses.replace(c, nodes=c.nodes[1:])
            errors = []

            def sync():
                try:
                    errors.extend(self.reconciler().sync(clusters).errors)
                except Exception as e:  # a crash must fail the test too
                    errors.append(repr(e))
            threads = [threading.Thread(target=sync)
                       for _ in range(SYNCERS)]
            threads.append(threading.Thread(
                target=self._foreign_writer,
                args=(list(node_uuids.values()), foreign)))
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
                self.assertFalse(t.is_alive(), 'a syncer hung')
            self.assertEqual([], errors)

        for cluster in clusters:
            agg = hvc_names.placement_aggregate_uuid(cluster.name)
            for vol in cluster.shared_volumes:
                rp = hvc_names.provider_uuid(cluster.name, vol.id)
                disk = client.get_inventories(rp)[1]['DISK_GB']
                self.assertEqual(vol.total_gb, disk['total'])
                self.assertEqual({agg}, client.get_aggregates(rp)[1])
                self.assertEqual({model.SHARING_TRAIT, model.OWNER_TRAIT},
                                 client.get_traits(rp)[1])
            for node in cluster.nodes:
                self.assertEqual(foreign[node_uuids[node]] | {agg},
                                 client.get_aggregates(node_uuids[node])[1])
        gone = clusters[1].name + '-node1'
        self.assertEqual(foreign[node_uuids[gone]],
                         client.get_aggregates(node_uuids[gone])[1])
        self.assertEqual(len(foreign), len(node_uuids))
        self.assertTrue(all(len(a) == ROUNDS for a in foreign.values()))
        # And one more run finds nothing to do.
        reconciler = self.reconciler()
        self.assertEqual([], reconciler.sync(clusters).changes)
        self.assertEqual(0, reconciler.placement.requests['writes'])
