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

"""Planning on its own: observed and desired state in, actions out."""

import dataclasses

import testtools

from placement_sync import model
from placement_sync import plan

AGG = 'a1b2c3d4-0000-4000-8000-000000000001'
OTHER_AGG = 'a1b2c3d4-0000-4000-8000-000000000002'
VOLUME = model.SharedVolume(id='v1', name='Volume1', total_gb=500,
                            traits=frozenset({'STORAGE_DISK_SSD'}))
CLUSTER = model.Cluster(name='c1', nodes=('n1', 'n2'),
                        shared_volumes=(VOLUME,))
[DESIRED] = model.desired_state([CLUSTER])
DESIRED = dataclasses.replace(DESIRED, placement_aggregate=AGG)
[WANT] = DESIRED.providers


def _provider(uuid=WANT.uuid, name=WANT.name, generation=7, **parts):
    return plan.Provider(uuid, name, generation, **parts)


def _published(**changes):
    """WANT as placement holds it once published, listed in AGG."""
    values = dict(inventories=WANT.inventory, traits=WANT.traits)
    values.update(changes)
    return _provider(**values)


def _kinds(step):
    return [type(a).__name__ for a in step.actions]


class TestInventory(testtools.TestCase):

    DESIRED = WANT.inventory

    def test_unchanged(self):
        observed = {'DISK_GB': dict(self.DESIRED['DISK_GB'])}
        self.assertIsNone(plan.inventory_to_write(observed, self.DESIRED))

    def test_change_keeps_other_classes(self):
        observed = {'DISK_GB': dict(self.DESIRED['DISK_GB'], total=400),
                    'CUSTOM_IOPS': {'total': 7}}
        merged = plan.inventory_to_write(observed, self.DESIRED)
        self.assertEqual(500, merged['DISK_GB']['total'])
        self.assertEqual({'total': 7}, merged['CUSTOM_IOPS'])
        self.assertEqual(400, observed['DISK_GB']['total'])  # not mutated

    def test_missing(self):
        self.assertEqual(self.DESIRED,
                         plan.inventory_to_write({}, self.DESIRED))

    def test_any_field_that_differs_is_written(self):
        # Not only total and reserved: an operator's allocation_ratio, or
        # a max_unit or step_size placement holds otherwise, is put right.
        wanted = self.DESIRED['DISK_GB']
        for field, value in (('allocation_ratio', 2.0),
                             ('max_unit', wanted['max_unit'] - 1),
                             ('step_size', 10), ('min_unit', 5),
                             ('total', wanted['total'] + 1),
                             ('reserved', wanted['reserved'] + 1)):
            observed = {'DISK_GB': dict(wanted, **{field: value})}
            self.assertEqual(self.DESIRED, plan.inventory_to_write(
                observed, self.DESIRED), field)

    def test_drain(self):
        observed = {'DISK_GB': dict(self.DESIRED['DISK_GB'], reserved=0)}
        drained = plan.drained(observed)
        self.assertEqual(500, drained['DISK_GB']['reserved'])
        self.assertIsNone(plan.drained(drained))
        self.assertIsNone(plan.drained({}))


class TestPlanCsv(testtools.TestCase):

    def test_absent_is_created_whole(self):
        step = plan.plan_csv(WANT, AGG, None)
        [create] = step.actions
        self.assertEqual(plan.CreateProvider(
            WANT.uuid, WANT.name, WANT.inventory, WANT.traits, AGG), create)
        self.assertIn('create provider hyperv-csv:c1:Volume1',
                      create.describe())
        self.assertEqual(WANT.inventory, step.settled.inventories)

    def test_up_to_date_plans_nothing(self):
        provider = _published()
        step = plan.plan_csv(WANT, AGG, provider)
        self.assertEqual(([], [], []),
                         (step.actions, step.warnings, step.errors))
        self.assertEqual(provider, step.settled)

    def test_each_difference_is_one_action_at_the_observed_generation(self):
        foreign_trait = 'CUSTOM_SOMEONE_ELSE'
        provider = _published(
            name='hyperv-csv:c1:OldName',
            inventories={'DISK_GB': dict(WANT.inventory['DISK_GB'],
                                         total=400, max_unit=400)},
            traits=frozenset({foreign_trait}),
            aggregates=frozenset({OTHER_AGG}))
        step = plan.plan_csv(WANT, AGG, provider)
        self.assertEqual(['RenameProvider', 'SetInventories', 'AddTraits',
                          'SetAggregates'], _kinds(step))
        self.assertEqual({7}, {a.generation for a in step.actions})
        rename, inventory, traits, aggregates = step.actions
        self.assertEqual(WANT.name, rename.new_name)
        self.assertEqual(500, inventory.inventories['DISK_GB']['total'])
        # What others set is kept.
        self.assertEqual(WANT.traits | {foreign_trait}, traits.traits)
        self.assertEqual(WANT.traits, traits.added)
        self.assertEqual({AGG, OTHER_AGG}, aggregates.aggregates)

    def test_listed_member_is_not_joined_again(self):
        # aggregates None: listed in AGG, so it holds it.
        self.assertEqual([], plan.plan_csv(WANT, AGG, _published()).actions)

    def test_shrink_below_usage_is_written_with_a_warning(self):
        small = dataclasses.replace(WANT, volume=dataclasses.replace(
            VOLUME, total_gb=300))
        step = plan.plan_csv(small, AGG, _published(
            usages={'DISK_GB': 400}))
        self.assertEqual(['SetInventories'], _kinds(step))
        [warning] = step.warnings
        self.assertIn('offers 300 GB from now on but 400 GB are allocated',
                      warning)

    def test_name_held_by_someone_else_is_an_error(self):
        holder = _provider(uuid='f00d', traits=frozenset())
        step = plan.plan_csv(WANT, AGG, None, holder)
        self.assertEqual([], step.actions)
        [error] = step.errors
        self.assertIn('that placement_sync did not create', error)

    def test_name_held_by_our_provider_of_another_id(self):
        holder = _provider(uuid='f00d', traits=frozenset({model.OWNER_TRAIT}),
                           aggregates=frozenset({OTHER_AGG}))
        [error] = plan.plan_csv(WANT, AGG, None, holder).errors
        self.assertIn("has the volume's id changed?", error)

    def test_name_freed_by_a_retirement_is_taken(self):
        holder = _provider(uuid='f00d', traits=frozenset())
        step = plan.plan_csv(WANT, AGG, None, holder, freed={'f00d'})
        self.assertEqual(['CreateProvider'], _kinds(step))


class TestPlanMember(testtools.TestCase):

    def _ours(self, **changes):
        values = dict(uuid='0123abcd-gone', name='hyperv-csv:c1:Gone',
                      inventories=WANT.inventory,
                      traits=WANT.traits, aggregates=frozenset({AGG}),
                      usages={})
        values.update(changes)
        return _provider(**values)

    def test_gone_csv_without_allocations_is_deleted(self):
        step = plan.plan_member(DESIRED, self._ours())
        self.assertEqual(['DeleteProvider'], _kinds(step))
        self.assertTrue(plan.releases_name(step))

    def test_gone_csv_with_allocations_is_drained_and_renamed(self):
        step = plan.plan_member(DESIRED, self._ours(
            usages={'DISK_GB': 100}))
        self.assertEqual(['DrainProvider', 'RenameProvider'], _kinds(step))
        drain, rename = step.actions
        self.assertEqual(500, drain.inventories['DISK_GB']['reserved'])
        self.assertEqual('hyperv-csv:c1:Gone (draining 0123abcd)',
                         rename.new_name)
        self.assertTrue(plan.releases_name(step))
        [warning] = step.warnings
        self.assertIn('100 GB are still allocated', warning)

    def test_the_draining_name_of_a_longest_name_fits(self):
        name = 'hyperv-csv:c1:' + 'v' * (model.MAX_NAME - 14)
        self.assertEqual(model.MAX_NAME, len(name))
        step = plan.plan_member(DESIRED, self._ours(
            name=name, usages={'DISK_GB': 100}))
        _drain, rename = step.actions
        self.assertEqual(model.MAX_NAME, len(rename.new_name))
        self.assertTrue(rename.new_name.endswith(' (draining 0123abcd)'))

    def test_draining_csv_only_waits(self):
        drained = plan.drained(WANT.inventory)
        step = plan.plan_member(DESIRED, self._ours(
            name='hyperv-csv:c1:Gone (draining 0123abcd)',
            inventories=drained, usages={'DISK_GB': 100}))
        self.assertEqual([], step.actions)
        self.assertEqual(1, len(step.warnings))
        self.assertFalse(plan.releases_name(step))

    def test_another_clusters_csv_is_left_alone(self):
        step = plan.plan_member(DESIRED, self._ours(
            name='hyperv-csv:c2:Volume1'))
        self.assertEqual([], step.actions)
        self.assertIn('CSV of another cluster', step.warnings[0])

    def test_foreign_sharing_provider_is_left_alone(self):
        step = plan.plan_member(DESIRED, self._ours(
            traits=frozenset({model.SHARING_TRAIT})))
        self.assertEqual(([], []), (step.actions, step.warnings))

    def test_node_that_left_leaves_the_aggregate_only(self):
        node = _provider(uuid='node-3', name='n3',
                         inventories={'VCPU': {'total': 8}},
                         traits=frozenset(),
                         aggregates=frozenset({AGG, OTHER_AGG}))
        [leave] = plan.plan_member(DESIRED, node).actions
        self.assertEqual(({OTHER_AGG}, False), (leave.aggregates, leave.join))
        self.assertIn('remove n3 from aggregate', leave.describe())

    def test_stranger_is_reported_and_left_alone(self):
        stranger = _provider(uuid='sw', name='some-switch', inventories={},
                             traits=frozenset(), aggregates=frozenset({AGG}))
        step = plan.plan_member(DESIRED, stranger)
        self.assertEqual([], step.actions)
        self.assertIn('some-switch', step.warnings[0])


class TestPlanNode(testtools.TestCase):

    def test_no_provider_yet_is_a_warning(self):
        step = plan.plan_node(DESIRED, 'n1', ())
        self.assertEqual([], step.actions)
        self.assertIn('has no resource provider yet', step.warnings[0])

    def test_joins_keeping_other_aggregates(self):
        node = _provider(uuid='node-1', name='n1',
                         aggregates=frozenset({OTHER_AGG}))
        [join] = plan.plan_node(DESIRED, 'n1', (node,)).actions
        self.assertEqual({AGG, OTHER_AGG}, join.aggregates)
        self.assertEqual(7, join.generation)

    def test_already_joined_plans_nothing(self):
        node = _provider(uuid='node-1', name='n1', aggregates=frozenset({AGG}))
        self.assertEqual([], plan.plan_node(DESIRED, 'n1', (node,)).actions)


class TestPlanCluster(testtools.TestCase):

    def test_retirement_comes_first_and_frees_the_name(self):
        # Volume1 was replaced by a volume of the same name and a new id:
        # the old provider (allocated) still holds the name.
        old = _provider(uuid='0123abcd-old', name=WANT.name,
                        inventories=WANT.inventory, traits=WANT.traits,
                        aggregates=frozenset({AGG}), usages={'DISK_GB': 10})
        observed = plan.ObservedCluster(
            members=(old,), csvs={WANT.uuid: None},
            name_holders={WANT.uuid: old})
        steps = plan.plan_cluster(DESIRED, observed)
        self.assertEqual([('member', old.uuid), ('csv', WANT.uuid)],
                         [key for key, _step in steps])
        self.assertEqual(['DrainProvider', 'RenameProvider'],
                         _kinds(steps[0][1]))
        self.assertEqual(['CreateProvider'], _kinds(steps[1][1]))
        self.assertEqual([], steps[1][1].errors)

    def test_only_missing_nodes_are_planned(self):
        node = _provider(uuid='node-2', name='n2', aggregates=frozenset())
        observed = plan.ObservedCluster(csvs={WANT.uuid: _published()},
                                        nodes={'n2': (node,)})
        steps = plan.plan_cluster(DESIRED, observed)
        self.assertEqual([('csv', WANT.uuid), ('node', 'n2')],
                         [key for key, _step in steps])
        self.assertEqual(['SetAggregates'], _kinds(steps[1][1]))

    def test_offline_csv_is_reported_and_its_provider_kept(self):
        gone = model.OfflineVolume('v2', 'Volume2', 'its disk failed')
        desired = dataclasses.replace(DESIRED, offline={'rp-v2': gone})
        member = _provider(uuid='rp-v2', name='hyperv-csv:c1:Volume2',
                           inventories=WANT.inventory, traits=WANT.traits,
                           aggregates=frozenset({AGG}), usages={})
        observed = plan.ObservedCluster(members=(member,),
                                        csvs={WANT.uuid: _published()})
        steps = dict(plan.plan_cluster(desired, observed))
        self.assertNotIn(('member', 'rp-v2'), steps)
        offline = steps[('offline', 'rp-v2')]
        self.assertEqual([], offline.actions)
        self.assertIn('Volume2 (v2) of cluster c1 is offline: its disk '
                      'failed', offline.warnings[0])
