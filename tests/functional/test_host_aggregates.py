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

"""placement_sync's nova host aggregates, against nova's real API.

Nova's in-process deployment (API, conductor, scheduler, three compute
services with nova's fake driver, nova's placement fixture); the sync talks
to nova's compute API through openstacksdk and to placement through its
own client, as in a deployment. Run with stestr (testtools semantics).
"""

import dataclasses

from nova.tests.functional import integrated_helpers

from hvc_localcloud import placement_server
import hvc_names
from placement_sync import flavor_cmd
from placement_sync import host_aggregates
from placement_sync import model
from placement_sync import placement as placement_client
from placement_sync import reconcile
from tests import fixtures as hvc_fixtures

NODES = ('hv1', 'hv2', 'hv3')


class TestHostAggregates(integrated_helpers.ProviderUsageBaseTestCase):

    compute_driver = 'fake.MediumFakeDriver'

    def setUp(self):
        self.flags(api_paste_config=hvc_fixtures.nova_api_paste_ini(),
                   group='wsgi')
        super().setUp()
        for host in NODES:
            self._start_compute(host)
        self.placement_client = placement_client.PlacementClient(
            placement_server.admin_adapter(self.placement.fixture.endpoint))

    def _compute_proxy(self):
        return hvc_fixtures.nova_compute_proxy(self.api_fixture)

    def _reconciler(self, dry_run=False):
        return reconcile.Reconciler(
            placement_client.PlacementClient(placement_server.admin_adapter(
                self.placement.fixture.endpoint)),
            host_aggregates.HostAggregates(self._compute_proxy),
            dry_run=dry_run)

    def _cluster(self, nodes=NODES):
        return model.Cluster(name='hvc1', nodes=tuple(nodes),
                             shared_volumes=(model.SharedVolume(
                                 id='v1', name='Volume1', total_gb=500),))

    def _aggregate(self):
        [agg] = [a for a in self.admin_api.api_get(
            '/os-aggregates').body['aggregates']
            if a['name'] == 'hyperv-cluster-hvc1']
        return agg

    def _placement_aggregates(self, rp_uuid):
        return set(self.placement_client.get_aggregates(rp_uuid)[1])

    def test_cluster_gets_one_host_aggregate_shared_with_its_csvs(self):
        result = self._reconciler().sync([self._cluster()])
        self.assertEqual([], result.errors)
        agg = self._aggregate()
        self.assertEqual(sorted(NODES), sorted(agg['hosts']))
        self.assertEqual({'hyperv_cluster': 'hvc1'}, agg['metadata'])
        csv = hvc_names.provider_uuid('hvc1', 'v1')
        self.assertEqual({agg['uuid']}, self._placement_aggregates(csv))
        for host in NODES:
            # Nova mirrored the host aggregate into placement.
            self.assertEqual({agg['uuid']}, self._placement_aggregates(
                self._get_provider_uuid_by_host(host)))

        again = self._reconciler()
        result = again.sync([self._cluster()])
        self.assertEqual([], result.changes)
        self.assertEqual(0, again.placement.requests['writes'])
        self.assertEqual(0, again.host_aggregates.requests['writes'])

    def test_host_names_match_as_nova_matches_them(self):
        # The cluster spells its nodes its own way; nova's spelling wins.
        cluster = self._cluster(nodes=('HV1', 'Hv2', 'hv3'))
        result = self._reconciler().sync([cluster])
        self.assertEqual(([], []), (result.errors, result.warnings))
        agg = self._aggregate()
        self.assertEqual(sorted(NODES), sorted(agg['hosts']))
        for host in NODES:
            self.assertEqual({agg['uuid']}, self._placement_aggregates(
                self._get_provider_uuid_by_host(host)))
        again = self._reconciler()
        self.assertEqual([], again.sync([cluster]).changes)
        self.assertEqual(0, again.host_aggregates.requests['writes'])
        self.assertEqual(0, again.placement.requests['writes'])

    def test_switching_to_host_aggregates_leaves_the_derived_one(self):
        reconciler = self._reconciler()
        reconciler.host_aggregates = None  # as with the option off
        self.assertEqual([], reconciler.sync([self._cluster()]).errors)
        derived = hvc_names.placement_aggregate_uuid('hvc1')
        csv = hvc_names.provider_uuid('hvc1', 'v1')
        self.assertEqual({derived}, self._placement_aggregates(csv))
        result = self._reconciler().sync([self._cluster()])
        self.assertEqual([], result.errors)
        agg = self._aggregate()['uuid']
        self.assertEqual({agg}, self._placement_aggregates(csv))
        for host in NODES:
            self.assertEqual({agg}, self._placement_aggregates(
                self._get_provider_uuid_by_host(host)))

    def test_node_leaves_and_unknown_host_waits(self):
        self._reconciler().sync([self._cluster()])
        agg_uuid = self._aggregate()['uuid']
        result = self._reconciler().sync([self._cluster(
            nodes=('hv2', 'hv3', 'hv4'))])
        self.assertEqual([], result.errors)
        self.assertEqual(['hv2', 'hv3'], sorted(self._aggregate()['hosts']))
        self.assertEqual(set(), self._placement_aggregates(
            self._get_provider_uuid_by_host('hv1')))
        self.assertTrue(any('hv4' in w and 'not a nova compute host yet' in w
                            for w in result.warnings), result.warnings)
        self._start_compute('hv4')
        result = self._reconciler().sync([self._cluster(
            nodes=('hv2', 'hv3', 'hv4'))])
        self.assertEqual([], result.warnings)
        self.assertEqual({agg_uuid}, self._placement_aggregates(
            self._get_provider_uuid_by_host('hv4')))

    def _aggregates_by_name(self):
        return {a['name']: a for a in self.admin_api.api_get(
            '/os-aggregates').body['aggregates']}

    def test_a_renamed_cluster_is_refused(self):
        self._reconciler().sync([self._cluster()])
        renamed = dataclasses.replace(self._cluster(), name='hvc1-renamed')
        result = self._reconciler().sync([renamed])
        [error] = result.errors
        self.assertIn('cluster hvc1-renamed is refused', error)
        self.assertEqual(['hyperv-cluster-hvc1'],
                         sorted(self._aggregates_by_name()))
        self.assertEqual(sorted(NODES), sorted(self._aggregate()['hosts']))

    def test_a_node_leaves_the_aggregate_of_a_cluster_no_longer_listed(
            self):
        self._reconciler().sync([self._cluster()])
        other = model.Cluster(name='hvc2', nodes=('hv3',), shared_volumes=(
            model.SharedVolume(id='v2', name='Volume2', total_gb=100),))
        result = self._reconciler().sync([other])
        self.assertEqual([], result.errors)
        self.assertIn('remove host hv3 from host aggregate hyperv-cluster-'
                      'hvc1: it is a node of cluster hvc2 now, and the '
                      'source no longer lists cluster hvc1', result.changes)
        aggregates = self._aggregates_by_name()
        self.assertEqual(['hv1', 'hv2'], sorted(
            aggregates['hyperv-cluster-hvc1']['hosts']))
        self.assertEqual(['hv3'], aggregates['hyperv-cluster-hvc2']['hosts'])
        # A second run: converged (nova mirrored the host's moves).
        result = self._reconciler().sync([other])
        self.assertEqual(([], []), (result.errors, result.changes))
        self.assertEqual({aggregates['hyperv-cluster-hvc2']['uuid']},
                         self._placement_aggregates(
                             self._get_provider_uuid_by_host('hv3')))

    def test_foreign_aggregate_with_our_name_is_a_clash(self):
        agg = self.admin_api.post_aggregate({'aggregate': {
            'name': 'hyperv-cluster-hvc1', 'availability_zone': 'az1'}})
        result = self._reconciler().sync([self._cluster()])
        self.assertEqual(1, len(result.errors))
        self.assertIn('did not create', result.errors[0])
        self.assertEqual([], self.admin_api.api_get(
            '/os-aggregates/%s' % agg['id']).body['aggregate']['hosts'])

    def test_dry_run_writes_nothing(self):
        reconciler = self._reconciler(dry_run=True)
        result = reconciler.sync([self._cluster()])
        self.assertTrue(any('create nova host aggregate' in c
                            for c in result.changes))
        self.assertEqual(0, reconciler.host_aggregates.requests['writes'])
        self.assertEqual(0, reconciler.placement.requests['writes'])
        self.assertEqual([], self.admin_api.api_get(
            '/os-aggregates').body['aggregates'])


class TestFlavorsCommand(integrated_helpers.ProviderUsageBaseTestCase):
    """``hvc-placement-sync flavors`` against nova's real compute API."""

    compute_driver = 'fake.MediumFakeDriver'

    def setUp(self):
        self.flags(api_paste_config=hvc_fixtures.nova_api_paste_ini(),
                   group='wsgi')
        super().setUp()

    def _converter(self):
        return flavor_cmd.FlavorConverter(
            lambda: hvc_fixtures.nova_compute_proxy(self.api_fixture))

    def _specs(self, flavor_id):
        return self.admin_api.api_get(
            '/flavors/%s/os-extra_specs' % flavor_id).body['extra_specs']

    def test_converts_idempotently_and_refuses_what_it_must_not_touch(self):
        small = self._create_flavor(name='hvc.small', disk=20, ephemeral=5)
        private = self._create_flavor(name='hvc.private', disk=10,
                                      ephemeral=0, swap=1536,
                                      is_public=False)
        gpu = self._create_flavor(name='hvc.gpu', disk=40,
                                  extra_spec={'resources1:VGPU': '1'})
        converter = self._converter()
        lines, ok = converter.convert(['hvc.small', 'hvc.private'],
                                      dry_run=True)
        self.assertTrue(ok)
        self.assertEqual(0, converter.requests['writes'])
        self.assertEqual({}, self._specs(small))
        lines, ok = converter.convert(['hvc.small', 'hvc.private', 'hvc.gpu'])
        self.assertFalse(ok)
        self.assertEqual({'resources:DISK_GB': '0',
                          'resourcesCSV:DISK_GB': '25'}, self._specs(small))
        # Swap of 1536 MB asks for 2 GB, as nova rounds it.
        self.assertEqual({'resources:DISK_GB': '0',
                          'resourcesCSV:DISK_GB': '12'}, self._specs(private))
        self.assertEqual({'resources1:VGPU': '1'}, self._specs(gpu))
        self.assertIn('ERROR: flavor hvc.gpu', lines[2])
        again = self._converter()
        lines, ok = again.convert(['hvc.small', 'hvc.private'])
        self.assertTrue(ok)
        self.assertEqual(0, again.requests['writes'])
        self.assertEqual(['flavor hvc.small (%s) is converted already'
                          % small, 'flavor hvc.private (%s) is converted '
                          'already' % private], lines)
