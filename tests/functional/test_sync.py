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

"""placement_sync against a real placement server."""

import dataclasses
import json
import os
import uuid

import fixtures
import requests

from hvc_demo import scheduler_standin
from hvc_localcloud import placement_server
import hvc_names
from hvc_sim.oswin.storage import vhdutils
from hvc_sim import state as sim_state
from placement_sync import cache
from placement_sync import capacity
from placement_sync import clients
from placement_sync import exception
from placement_sync import model
from placement_sync import reconcile
from placement_sync.sources import simulated as simulated_source
from tests import fixtures as hvc_fixtures


def _volume(cluster, name, **changes):
    vol = next(v for v in cluster.shared_volumes if v.name == name)
    return dataclasses.replace(vol, **changes)


class TestSync(hvc_fixtures.PlacementTestCase):

    def _state(self, cluster):
        """What placement holds for a cluster, as plain data."""
        client = self.client()
        agg = hvc_names.placement_aggregate_uuid(cluster.name)
        state = {'providers': {}, 'nodes': {}}
        for vol in cluster.shared_volumes:
            rp_uuid = hvc_names.provider_uuid(cluster.name, vol.id)
            rp = client.get_provider(rp_uuid)
            if rp is None:
                continue
            state['providers'][vol.name] = {
                'name': rp['name'],
                'generation': rp['generation'],
                'inventory': client.get_inventories(rp_uuid)[1],
                'traits': client.get_traits(rp_uuid)[1],
                'aggregates': client.get_aggregates(rp_uuid)[1],
            }
        for node in cluster.nodes:
            [found] = client.list_providers(name=node) or [None]
            if found:
                state['nodes'][node] = client.get_aggregates(
                    found['uuid'])[1]
        state['aggregate'] = agg
        return state

    def test_first_sync_creates_one_shared_provider_per_csv(self):
        cluster = self.cluster(volumes=(('Volume1', 500), ('Volume2', 300)))
        result = self.reconciler().sync([cluster])
        self.assertEqual([], result.errors)
        state = self._state(cluster)
        agg = state['aggregate']
        self.assertEqual({'Volume1', 'Volume2'}, set(state['providers']))
        vol1 = state['providers']['Volume1']
        self.assertEqual('hyperv-csv:%s:Volume1' % cluster.name, vol1['name'])
        disk = vol1['inventory']['DISK_GB']
        self.assertEqual((500, 0, 1, 500, 1, 1.0),
                         (disk['total'], disk['reserved'], disk['min_unit'],
                          disk['max_unit'], disk['step_size'],
                          disk['allocation_ratio']))
        self.assertEqual(['DISK_GB'], list(vol1['inventory']))
        self.assertEqual({'MISC_SHARES_VIA_AGGREGATE', model.OWNER_TRAIT},
                         vol1['traits'])
        self.assertEqual({agg}, vol1['aggregates'])
        for node, aggregates in state['nodes'].items():
            self.assertEqual({agg}, aggregates, node)
        self.assertEqual(3, len(state['nodes']))

    def test_second_sync_writes_nothing(self):
        cluster = self.cluster(volumes=(('Volume1', 500), ('Volume2', 300)))
        self.reconciler().sync([cluster])
        before = self._state(cluster)
        for reconciler in (self.reconciler(), self.reconciler()):
            result = reconciler.sync([cluster])
            self.assertEqual([], result.changes)
            self.assertEqual(0, reconciler.placement.requests['writes'])
        self.assertEqual(before, self._state(cluster))

    def test_warm_sync_reads_one_listing_per_cluster(self):
        cluster = self.cluster(volumes=(('Volume1', 500), ('Volume2', 300)))
        reconciler = self.reconciler()
        reconciler.sync([cluster])
        reconciler.placement.requests.clear()
        reconciler.sync([cluster])
        self.assertEqual({'reads': 1}, dict(reconciler.placement.requests))

    def test_cache_file_makes_a_fresh_process_cheap_and_stays_safe(self):
        cluster = self.cluster(volumes=(('Volume1', 500), ('Volume2', 300)))
        first = self.reconciler()
        first.sync([cluster])
        path = self.useFixture(fixtures.TempDir()).join('seen.json')
        cache.save(path, first.seen())

        fresh = reconcile.Reconciler(self.client(), seen=cache.load(path))
        self.assertEqual([], fresh.sync([cluster]).changes)
        self.assertEqual({'reads': 1}, dict(fresh.placement.requests))

        # Someone changes a provider behind the cache's back: its
        # generation moves, so the next process reads it and repairs it.
        client = self.client()
        vol1 = hvc_names.provider_uuid(cluster.name, 'Volume1-id')
        gen, inventories = client.get_inventories(vol1)
        inventories['DISK_GB']['total'] = 50
        inventories['DISK_GB']['max_unit'] = 50
        client.set_inventories(vol1, gen, inventories)
        stale = reconcile.Reconciler(self.client(), seen=cache.load(path))
        result = stale.sync([cluster])
        self.assertEqual(1, len(result.changes), result.changes)
        self.assertEqual(500, client.get_inventories(vol1)[1][
            'DISK_GB']['total'])

    def test_unreadable_cache_file_is_ignored(self):
        path = self.useFixture(fixtures.TempDir()).join('seen.json')
        with open(path, 'w') as f:
            f.write('{not json')
        logs = self.useFixture(fixtures.FakeLogger())
        self.assertEqual({}, cache.load(path))
        self.assertIn('ignoring the cache file', logs.output)
        cluster = self.cluster()
        self.assertEqual([], reconcile.Reconciler(
            self.client(), seen=cache.load(path)).sync([cluster]).errors)

    def test_csv_added_resized_removed(self):
        cluster = self.cluster(volumes=(('Volume1', 500), ('Volume2', 300)))
        self.reconciler().sync([cluster])
        grown = dataclasses.replace(cluster, shared_volumes=(
            _volume(cluster, 'Volume1', total_gb=800),
            model.SharedVolume(id='v3', name='Volume3', total_gb=100,
                               traits=frozenset({'STORAGE_DISK_SSD'}))))
        result = self.reconciler().sync([grown])
        self.assertEqual([], result.errors)
        state = self._state(grown)
        self.assertEqual(800, state['providers']['Volume1']['inventory'][
            'DISK_GB']['total'])
        self.assertEqual(800, state['providers']['Volume1']['inventory'][
            'DISK_GB']['max_unit'])
        self.assertIn('STORAGE_DISK_SSD',
                      state['providers']['Volume3']['traits'])
        # Volume2 had no allocations: it is gone.
        self.assertIsNone(self.client().get_provider(
            hvc_names.provider_uuid(cluster.name, 'Volume2-id')))

    def test_removed_csv_with_allocations_drains_then_goes(self):
        cluster = self.cluster(volumes=(('Volume1', 500), ('Volume2', 300)))
        self.reconciler().sync([cluster])
        client = self.client()
        vol2 = hvc_names.provider_uuid(cluster.name, 'Volume2-id')
        consumer = self._allocate(client, vol2, 100)
        shrunk = dataclasses.replace(
            cluster, shared_volumes=cluster.shared_volumes[:1])
        result = self.reconciler().sync([shrunk])
        self.assertEqual([], result.errors)
        self.assertTrue(any('draining' in w for w in result.warnings),
                        result.warnings)
        disk = client.get_inventories(vol2)[1]['DISK_GB']
        self.assertEqual(disk['total'], disk['reserved'])
        self.assertIsNotNone(client.get_provider(vol2))
        # Nothing new lands on a draining provider.
        err = self.assertRaises(exception.SyncError, self._allocate, client,
                                vol2, 1)
        self.assertIn('Unable to allocate inventory', str(err))
        scheduler_standin.release(client, consumer)
        self.reconciler().sync([shrunk])
        self.assertIsNone(client.get_provider(vol2))

    def test_offline_csv_keeps_its_provider(self):
        cluster = self.cluster(volumes=(('Volume1', 500), ('Volume2', 300)))
        self.reconciler().sync([cluster])
        client = self.client()
        vol2 = hvc_names.provider_uuid(cluster.name, 'Volume2-id')
        self._allocate(client, vol2, 10)
        before = client.get_provider(vol2)
        offline = dataclasses.replace(
            cluster,
            shared_volumes=(_volume(cluster, 'Volume1', total_gb=600),),
            offline_volumes=(model.OfflineVolume(
                'Volume2-id', 'Volume2',
                'its cluster resource Cluster Disk 2 is offline'),))
        for dry_run in (True, False):
            result = self.reconciler(dry_run=dry_run).sync([offline])
            self.assertEqual([], result.errors)
            self.assertEqual(['shared volume Volume2 (Volume2-id) of cluster '
                              '%s is offline: its cluster resource Cluster '
                              'Disk 2 is offline; its provider is left as it '
                              'is until it is back' % cluster.name],
                             result.warnings)
            # The others converge all the same.
            self.assertEqual(1, len(result.changes), result.changes)
        self.assertEqual(before, client.get_provider(vol2))
        self.assertEqual(0, client.get_inventories(vol2)[1]['DISK_GB'][
            'reserved'])
        self.assertEqual(600, client.get_inventories(hvc_names.provider_uuid(
            cluster.name, 'Volume1-id'))[1]['DISK_GB']['total'])

    def test_shrink_below_usage_is_written_and_reported(self):
        cluster = self.cluster()
        self.reconciler().sync([cluster])
        client = self.client()
        vol1 = hvc_names.provider_uuid(cluster.name, 'Volume1-id')
        self._allocate(client, vol1, 400)
        shrunk = dataclasses.replace(cluster, shared_volumes=(
            _volume(cluster, 'Volume1', total_gb=300),))
        result = self.reconciler().sync([shrunk])
        self.assertEqual([], result.errors)
        self.assertEqual(300, client.get_inventories(vol1)[1][
            'DISK_GB']['total'])
        self.assertTrue(any('400 GB are allocated' in w
                            for w in result.warnings), result.warnings)

    def test_node_added_and_removed(self):
        cluster = self.cluster(nodes=3)
        self.reconciler().sync([cluster])
        client = self.client()
        new_node = cluster.name + '-node4'
        scheduler_standin.create_compute_node(client, new_node)
        other_agg = str(uuid.uuid4())
        gone = cluster.nodes[0]
        gone_uuid = client.list_providers(name=gone)[0]['uuid']
        gen, aggs = client.get_aggregates(gone_uuid)
        client.set_aggregates(gone_uuid, gen, aggs | {other_agg})
        inventory_before = client.get_inventories(gone_uuid)[1]
        changed = dataclasses.replace(
            cluster, nodes=cluster.nodes[1:] + (new_node,))
        result = self.reconciler().sync([changed])
        self.assertEqual([], result.errors)
        state = self._state(changed)
        self.assertEqual({state['aggregate']}, state['nodes'][new_node])
        # The node that left keeps everything but the cluster's aggregate.
        self.assertEqual({other_agg}, client.get_aggregates(gone_uuid)[1])
        self.assertEqual(inventory_before,
                         client.get_inventories(gone_uuid)[1])

    def test_node_without_provider_is_picked_up_later(self):
        cluster = self.cluster(create_nodes=False)
        result = self.reconciler().sync([cluster])
        self.assertEqual([], result.errors)
        self.assertEqual(3, len(result.warnings))
        self.assertIn('has no resource provider yet', result.warnings[0])
        for node in cluster.nodes:
            scheduler_standin.create_compute_node(self.client(), node)
        result = self.reconciler().sync([cluster])
        self.assertEqual([], result.warnings)
        state = self._state(cluster)
        self.assertEqual(3, len(state['nodes']))

    def test_node_names_match_case_aside(self):
        # The cluster says HV-NODE1; nova and its provider say hv-node1.
        cluster = self.cluster()
        shouting = dataclasses.replace(
            cluster, nodes=tuple(n.upper() for n in cluster.nodes))
        result = self.reconciler().sync([shouting])
        self.assertEqual(([], []), (result.errors, result.warnings))
        self.assertEqual(3, len(self._state(cluster)['nodes']))
        for nodes in self._state(cluster)['nodes'].values():
            self.assertEqual(
                {hvc_names.placement_aggregate_uuid(cluster.name)}, nodes)
        again = self.reconciler()
        self.assertEqual([], again.sync([shouting]).changes)
        self.assertEqual(0, again.placement.requests['writes'])

    def test_empty_node_name_joins_nothing(self):
        # Past the sources' checks: '' must not match every provider.
        other = self.cluster()
        self.reconciler().sync([other])
        nameless = dataclasses.replace(self.cluster(create_nodes=False),
                                       nodes=('',))
        result = self.reconciler().sync([nameless])
        self.assertIn('has no resource provider yet', result.warnings[0])
        members = self.client().list_providers(
            member_of=hvc_names.placement_aggregate_uuid(nameless.name))
        self.assertEqual([hvc_names.provider_name(nameless.name, 'Volume1')],
                         [p['name'] for p in members])

    def test_foreign_aggregates_and_traits_are_kept(self):
        cluster = self.cluster()
        self.reconciler().sync([cluster])
        client = self.client()
        vol1 = hvc_names.provider_uuid(cluster.name, 'Volume1-id')
        foreign_agg = str(uuid.uuid4())
        gen, _aggs = client.get_aggregates(vol1)
        # Ours removed, a foreign one added: the sync must merge the two.
        gen = client.set_aggregates(vol1, gen, {foreign_agg})
        client.ensure_custom_traits({'CUSTOM_SOMEONE_ELSE'})
        _gen, traits = client.get_traits(vol1)
        client.set_traits(vol1, gen, traits - {model.SHARING_TRAIT} |
                          {'CUSTOM_SOMEONE_ELSE'})
        node = client.list_providers(name=cluster.nodes[0])[0]['uuid']
        gen, aggs = client.get_aggregates(node)
        client.set_aggregates(node, gen, {foreign_agg})  # ours removed
        result = self.reconciler().sync([cluster])
        self.assertEqual([], result.errors)
        self.assertIn('CUSTOM_SOMEONE_ELSE', client.get_traits(vol1)[1])
        self.assertIn(model.SHARING_TRAIT, client.get_traits(vol1)[1])
        agg = hvc_names.placement_aggregate_uuid(cluster.name)
        self.assertEqual({agg, foreign_agg}, client.get_aggregates(vol1)[1])
        self.assertEqual({agg, foreign_agg}, client.get_aggregates(node)[1])

    def test_name_clash_is_an_error_and_the_provider_is_left_alone(self):
        cluster = self.cluster(volumes=(('Volume1', 500), ('Volume2', 300)))
        client = self.client()
        squatter = str(uuid.uuid4())
        client.create_provider(
            squatter, hvc_names.provider_name(cluster.name, 'Volume1'))
        result = self.reconciler().sync([cluster])
        self.assertEqual(1, len(result.errors))
        self.assertIn('did not create', result.errors[0])
        self.assertEqual({}, client.get_inventories(squatter)[1])
        self.assertEqual(set(), client.get_traits(squatter)[1])
        # The other volume is published all the same.
        self.assertIsNotNone(client.get_provider(
            hvc_names.provider_uuid(cluster.name, 'Volume2-id')))

    def test_provider_placement_refuses_is_not_left_behind(self):
        cluster = self.cluster(volumes=(('Volume1', 500), ('Volume2', 300)))
        # Past the sources' checks: placement refuses the inventory.
        refused = dataclasses.replace(cluster, shared_volumes=(
            _volume(cluster, 'Volume1', allocation_ratio=1.0e+39),
            _volume(cluster, 'Volume2')))
        result = self.reconciler().sync([refused])
        [error] = result.errors
        self.assertIn('could not create provider hyperv-csv:%s:Volume1'
                      % cluster.name, error)
        # Only what was done is reported as done.
        self.assertEqual(['Volume2'], [
            c.split()[2].rsplit(':', 1)[1] for c in result.changes
            if c.startswith('create provider')])
        client = self.client()
        vol1 = hvc_names.provider_uuid(cluster.name, 'Volume1-id')
        self.assertIsNone(client.get_provider(vol1))
        self.assertEqual([], client.list_providers(
            name=hvc_names.provider_name(cluster.name, 'Volume1')))
        self.assertEqual([], self.reconciler().sync([cluster]).errors)
        self.assertIsNotNone(client.get_provider(vol1))

    def _unfinished_provider(self, cluster, volume_id, allocated_gb=0):
        """Ours, cut short after its owner trait, holding Volume1's name."""
        client = self.client()
        rp_uuid = hvc_names.provider_uuid(cluster.name, volume_id)
        gen = client.create_provider(rp_uuid, hvc_names.provider_name(
            cluster.name, 'Volume1'))['generation']
        client.ensure_custom_traits({model.OWNER_TRAIT})
        gen = client.set_traits(rp_uuid, gen, {model.OWNER_TRAIT})
        if allocated_gb:
            client.set_inventories(rp_uuid, gen, {'DISK_GB': {'total': 100}})
            self._allocate(client, rp_uuid, allocated_gb)
        return rp_uuid

    def test_unfinished_provider_holding_the_name_is_replaced(self):
        cluster = self.cluster()
        stale = self._unfinished_provider(cluster, 'old-id')
        result = self.reconciler().sync([cluster])
        self.assertEqual([], result.errors)
        client = self.client()
        self.assertIsNone(client.get_provider(stale))
        self.assertIsNotNone(client.get_provider(
            hvc_names.provider_uuid(cluster.name, 'Volume1-id')))

    def test_provider_with_allocations_is_never_deleted(self):
        cluster = self.cluster()
        stale = self._unfinished_provider(cluster, 'old-id', allocated_gb=10)
        result = self.reconciler().sync([cluster])
        [error] = result.errors
        self.assertIn('cannot create provider', error)
        self.assertIsNotNone(self.client().get_provider(stale))

    def test_new_csv_of_a_draining_ones_name(self):
        """A CSV replaced by another of the same name (a new id)."""
        cluster = self.cluster()
        self.reconciler().sync([cluster])
        client = self.client()
        old = hvc_names.provider_uuid(cluster.name, 'Volume1-id')
        consumer = self._allocate(client, old, 100)
        replaced = dataclasses.replace(cluster, shared_volumes=(
            _volume(cluster, 'Volume1', id='new-id'),))
        result = self.reconciler().sync([replaced])
        self.assertEqual([], result.errors)
        new = hvc_names.provider_uuid(cluster.name, 'new-id')
        self.assertEqual(hvc_names.provider_name(cluster.name, 'Volume1'),
                         client.get_provider(new)['name'])
        self.assertIn('(draining', client.get_provider(old)['name'])
        scheduler_standin.release(client, consumer)
        self.assertEqual([], self.reconciler().sync([replaced]).errors)
        self.assertIsNone(client.get_provider(old))

    def test_foreign_member_that_is_no_node_is_left_alone(self):
        cluster = self.cluster()
        self.reconciler().sync([cluster])
        client = self.client()
        stranger = str(uuid.uuid4())
        gen = client.create_provider(stranger, 'some-switch')['generation']
        agg = hvc_names.placement_aggregate_uuid(cluster.name)
        client.set_aggregates(stranger, gen, {agg})
        result = self.reconciler().sync([cluster])
        self.assertTrue(any('some-switch' in w and 'left alone' in w
                            for w in result.warnings), result.warnings)
        self.assertEqual({agg}, client.get_aggregates(stranger)[1])

    def test_another_clusters_csv_in_our_aggregate_is_left_alone(self):
        ours, theirs = self.cluster(), self.cluster()
        self.reconciler().sync([ours, theirs])
        client = self.client()
        stray = hvc_names.provider_uuid(theirs.name, 'Volume1-id')
        gen, aggs = client.get_aggregates(stray)
        client.set_aggregates(stray, gen, aggs | {
            hvc_names.placement_aggregate_uuid(ours.name)})
        result = self.reconciler().sync([ours])
        self.assertEqual([], result.errors)
        self.assertTrue(any('CSV of another cluster' in w
                            for w in result.warnings), result.warnings)
        disk = client.get_inventories(stray)[1]['DISK_GB']
        self.assertEqual(0, disk['reserved'])

    def test_names_with_spaces(self):
        cluster = self.cluster(volumes=(('Cluster Volume 1', 100),))
        self.assertEqual([], self.reconciler().sync([cluster]).errors)
        reconciler = self.reconciler()
        self.assertEqual([], reconciler.sync([cluster]).changes)
        self.assertEqual(
            1, len(self.client().list_providers(name=hvc_names.provider_name(
                cluster.name, 'Cluster Volume 1'))))

    def test_dry_run_writes_nothing(self):
        cluster = self.cluster()
        reconciler = self.reconciler(dry_run=True)
        result = reconciler.sync([cluster])
        self.assertEqual(0, reconciler.placement.requests['writes'])
        self.assertTrue(any('create provider' in c for c in result.changes))
        self.assertEqual({}, self._state(cluster)['providers'])

    def test_dry_run_says_what_the_run_does(self):
        cluster = self.cluster(volumes=(('Volume1', 500), ('Volume2', 300),
                                        ('Volume3', 100)))
        self.reconciler().sync([cluster])
        self._allocate(self.client(), hvc_names.provider_uuid(
            cluster.name, 'Volume2-id'), 100)
        # A node leaves, a CSV grows, one allocated CSV and one empty go.
        changed = dataclasses.replace(
            cluster, nodes=cluster.nodes[1:], shared_volumes=(
                _volume(cluster, 'Volume1', total_gb=800),))
        planned = self.reconciler(dry_run=True).sync([changed])
        done = self.reconciler().sync([changed])
        self.assertEqual([], done.errors)
        self.assertEqual(5, len(done.changes), done.changes)
        self.assertEqual(planned.changes, done.changes)
        self.assertEqual(planned.warnings, done.warnings)

    def test_placement_down_is_a_clear_error(self):
        conf = self.conf(
            endpoint='http://127.0.0.1:%d' % placement_server.free_port())
        reconciler = self.reconciler()
        reconciler.placement = clients.placement_client(conf)
        err = self.assertRaises(exception.ServiceUnavailable,
                                reconciler.sync, [self.cluster(
                                    create_nodes=False)])
        self.assertIn('cannot reach placement at http://127.0.0.1:', str(err))

    def test_transient_server_errors_are_retried(self):
        # What placement answers while its database is deadlocked or
        # it restarts behind a proxy: once per method.
        failures = {'GET': [500, 504], 'POST': [503], 'PUT': [502]}
        endpoint, failed = self._flaky_proxy(failures)
        reconciler = reconcile.Reconciler(
            clients.placement_client(self.conf(endpoint=endpoint)))
        cluster = self.cluster()
        self.assertEqual([], reconciler.sync([cluster]).errors)
        self.assertEqual(4, len(failed))
        self.assertIsNotNone(self.client().get_provider(
            hvc_names.provider_uuid(cluster.name, 'Volume1-id')))

    def _flaky_proxy(self, failures):
        """A proxy to placement that first answers, per method, each of
        ``failures[method]`` once; returns (endpoint, [answered codes]).
        """
        failed = []
        target = self.endpoint

        class Handler(hvc_fixtures.QuietHandler):
            def handle_one(self):
                body = self.rfile.read(
                    int(self.headers.get('Content-Length') or 0))
                pending = failures.get(self.command)
                if pending:
                    code = pending.pop(0)
                    failed.append(code)
                    self._answer(code, json.dumps({'errors': [{
                        'status': code, 'title': 'DBDeadlock'}]}).encode(),
                        {'Content-Type': 'application/json'})
                    return
                resp = requests.request(
                    self.command, target + self.path, data=body,
                    headers={k: v for k, v in self.headers.items()
                             if k.lower() != 'host'})
                self._answer(resp.status_code, resp.content, {
                    k: v for k, v in resp.headers.items()
                    if k.lower() not in ('content-length', 'connection',
                                         'transfer-encoding')})

            def _answer(self, code, content, headers):
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header('Content-Length', str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = handle_one

        return hvc_fixtures.serve_http(self, Handler), failed

    # A cluster renamed, or a node moved, in the source.

    def _candidates(self, disk_gb):
        return self.client().request(
            'GET', '/allocation_candidates?resources=DISK_GB:%d' % disk_gb,
            expect=('allocation_requests',))['allocation_requests']

    def test_a_renamed_cluster_is_refused_not_published_twice(self):
        cluster = self.cluster(volumes=(('Volume1', 100),))
        self.reconciler().sync([cluster])
        old_rp = hvc_names.provider_uuid(cluster.name, 'Volume1-id')
        self._allocate(self.client(), old_rp, 80)
        renamed = dataclasses.replace(cluster, name=cluster.name + '-new')
        result = self.reconciler().sync([renamed])
        [error] = result.errors
        self.assertIn('cluster %s is refused: its shared volume Volume1 (id '
                      'Volume1-id) is published already as provider '
                      'hyperv-csv:%s:Volume1' % (renamed.name, cluster.name),
                      error)
        self.assertEqual([], result.changes)
        self.assertIsNone(self.client().get_provider(
            hvc_names.provider_uuid(renamed.name, 'Volume1-id')))
        # 20 GB are left on the volume, and nowhere else.
        self.assertEqual([], [c for c in self._candidates(80)
                              if old_rp in c['allocations'] or
                              renamed.name in str(c)])
        for node in cluster.nodes:
            [found] = self.client().list_providers(name=node)
            self.assertEqual(
                {hvc_names.placement_aggregate_uuid(cluster.name)},
                self.client().get_aggregates(found['uuid'])[1])
        # Its old name back: nothing to do.
        self.assertEqual(([], []), (
            lambda r: (r.errors, r.changes))(self.reconciler().sync(
                [cluster])))

    def test_the_same_volume_id_in_a_cluster_of_other_nodes_is_no_rename(
            self):
        # Another copy of this tool publishes a cluster of other nodes
        # whose volume ids happen to be the same strings.
        theirs = self.cluster(volumes=(('Volume1', 100),))
        self.reconciler().sync([theirs])
        ours = self.cluster(volumes=(('Volume1', 100),))
        result = self.reconciler().sync([ours])
        self.assertEqual([], result.errors)
        self.assertIsNotNone(self.client().get_provider(
            hvc_names.provider_uuid(ours.name, 'Volume1-id')))

    def test_a_node_leaves_the_aggregate_of_a_cluster_no_longer_listed(
            self):
        old = self.cluster(volumes=(('Old', 100),))
        self.reconciler().sync([old])
        new = self.cluster(volumes=(('New', 100),), nodes=2)
        moved = old.nodes[0]
        new = dataclasses.replace(new, nodes=new.nodes + (moved,))
        result = self.reconciler().sync([new])
        self.assertEqual([], result.errors)
        self.assertTrue(any(
            'remove %s from aggregate %s: it is a node of cluster %s, and the '
            'source no longer lists cluster %s' % (
                moved, hvc_names.placement_aggregate_uuid(old.name), new.name,
                old.name) in c for c in result.changes), result.changes)
        [found] = self.client().list_providers(name=moved)
        self.assertEqual({hvc_names.placement_aggregate_uuid(new.name)},
                         self.client().get_aggregates(found['uuid'])[1])

    # Allocations, as nova's scheduler makes them.

    def _allocate(self, client, rp_uuid, disk_gb):
        consumer = str(uuid.uuid4())
        scheduler_standin.claim(client, {'allocations': {
            rp_uuid: {'resources': {'DISK_GB': disk_gb}}}}, consumer)
        return consumer


class StaticNames(object):
    """Instance names as nova's API would tell them (nova.InstanceNames);
    tests/functional/test_measured_capacity.py asks the real one.
    """

    def __init__(self, names):
        self.known = names

    def names(self, consumers):
        return {c: self.known.get(c) for c in consumers}


class TestMeasuredReserve(hvc_fixtures.PlacementTestCase):
    """A simulated CSV's use outside nova moves its provider's reserve."""

    policy = capacity.ReservePolicy(headroom_gb=5, step_gb=2)

    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        self.state_file = os.path.join(tmp, 'sim.db')
        self.sim = sim_state.ClusterState(self.state_file)
        self.name = self.unique()
        self.sim.init(self.name, ['%s-node1' % self.name], [('Volume1', 100)])
        self.node_rp = scheduler_standin.create_compute_node(
            self.client(), '%s-node1' % self.name)
        self.volume = self.sim.volume('Volume1')
        self.csv = hvc_names.provider_uuid(self.name, self.volume.id)
        self.names = StaticNames({})

    def _reconciler(self, names=None):
        return reconcile.Reconciler(
            self.client(), reserve=self.policy,
            instance_names=self.names if names is None else names)

    def _sync(self, reconciler=None):
        reconciler = reconciler or self._reconciler()
        result = reconciler.sync(simulated_source.load(self.state_file))
        self.assertEqual([], result.errors)
        return result

    def _reserved(self):
        return self.client().get_inventories(self.csv)[1]['DISK_GB'][
            'reserved']

    def _fits(self, disk_gb):
        """Whether placement offers the node with disk_gb on the CSV."""
        candidates = self.client().request(
            'GET', '/allocation_candidates?resources=VCPU:1,DISK_GB:%d'
            % disk_gb)['allocation_requests']
        return any({self.node_rp, self.csv} <= set(c['allocations'])
                   for c in candidates)

    def _instance(self, vm_name, consumer, allocated_gb, written):
        """An instance's folder with a dynamic root disk that holds
        ``written``, and its allocation.
        """
        folder = os.path.join(self.volume.path, 'OpenStack', 'Instances',
                              vm_name)
        os.makedirs(folder)
        root = os.path.join(folder, 'root.vhdx')
        vhdutils.VHDUtils(self.sim, None).create_dynamic_vhd(
            root, allocated_gb * capacity.GiB)
        self.sim.write_to_disk(root, sim_state.parse_size(written))
        consumer = str(uuid.uuid5(uuid.NAMESPACE_DNS, consumer))
        scheduler_standin.claim(self.client(), {'allocations': {
            self.csv: {'resources': {'DISK_GB': allocated_gb}}}}, consumer)
        self.names.known[consumer] = vm_name

    def test_foreign_files_added_and_removed_move_the_reserve(self):
        self._sync()
        self.assertEqual(5, self._reserved())  # the headroom alone
        self.assertTrue(self._fits(90))
        self.sim.add_file('Volume1', 'OpenStack/Instances/_base/img.vhdx',
                          sim_state.parse_size('20G'))
        self.sim.add_file('Volume1', 'admin/backup.bak',
                          sim_state.parse_size('14500M'))
        result = self._sync()
        self.assertEqual(
            ['set DISK_GB on hyperv-csv:%s:Volume1: total 100 GB, reserved '
             '40 GB, ratio 1.0 (34.2 GB used outside nova\'s allocations, 5 '
             'GB headroom, at least 0 GB)' % self.name], result.changes)
        self.assertEqual(40, self._reserved())
        self.assertFalse(self._fits(61))  # only the files make it not fit
        self.assertTrue(self._fits(60))
        self.sim.remove_file('Volume1', 'admin/backup.bak')
        self._sync()
        self.assertEqual(25, self._reserved())
        self.assertTrue(self._fits(75))

    def test_thin_disks_count_for_their_allocation(self):
        self._sync()
        self._instance('instance-00000001', 'c1', 40, '3G')
        self._instance('instance-00000002', 'c2', 10, '10G')
        self.sim.add_file('Volume1', 'OpenStack/Instances/_base/img.vhdx',
                          sim_state.parse_size('10G'))
        self._sync()
        # 10 GB of image cache outside; the instances' 13 GB are theirs,
        # and the 37 GB the first has not written stay allocated to it.
        self.assertEqual(15, self._reserved())
        self.assertTrue(self._fits(35))
        self.assertFalse(self._fits(36))
        # Without nova's names every folder counts as outside: more is
        # reserved, never less, and the log says why.
        logs = self.useFixture(fixtures.FakeLogger())
        self._sync(reconcile.Reconciler(self.client(), reserve=self.policy))
        self.assertEqual(28, self._reserved())
        self.assertIn('no nova credentials', logs.output)

    def test_a_small_change_writes_nothing_and_costs_one_listing(self):
        reconciler = self._reconciler()
        self._sync(reconciler)
        self._sync(reconciler)  # it knows its new provider's generation
        gen = self.client().get_provider(self.csv)['generation']
        self.sim.add_file('Volume1', 'console.log', capacity.GiB)
        reconciler.placement.requests.clear()
        self.assertEqual([], self._sync(reconciler).changes)
        self.assertEqual({'reads': 1}, dict(reconciler.placement.requests))
        self.assertEqual(gen, self.client().get_provider(self.csv)[
            'generation'])
        self.sim.add_file('Volume1', 'upload.part', capacity.GiB)
        self.assertEqual(1, len(self._sync(reconciler).changes))
        self.assertEqual(7, self._reserved())
        # An allocation moves the generation: the provider (inventories,
        # traits, allocations) is read once, then the listing suffices.
        self._instance('instance-00000003', 'c3', 10, '1G')
        reconciler.placement.requests.clear()
        self.assertEqual([], self._sync(reconciler).changes)
        self.assertEqual({'reads': 4}, dict(reconciler.placement.requests))
        reconciler.placement.requests.clear()
        self._sync(reconciler)
        self.assertEqual({'reads': 1}, dict(reconciler.placement.requests))

    def test_cache_file_keeps_the_allocations(self):
        first = self._reconciler()
        self._sync(first)
        self._instance('instance-00000004', 'c4', 10, '1G')
        self._sync(first)
        path = self.useFixture(fixtures.TempDir()).join('seen.json')
        cache.save(path, first.seen())
        fresh = reconcile.Reconciler(self.client(), seen=cache.load(path),
                                     reserve=self.policy,
                                     instance_names=self.names)
        self.assertEqual([], self._sync(fresh).changes)
        self.assertEqual({'reads': 1}, dict(fresh.placement.requests))
