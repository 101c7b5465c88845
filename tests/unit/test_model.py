import testtools

from placement_sync import model
from placement_sync import reconcile

VOLUME = model.SharedVolume(id='v1', name='Volume1', total_gb=500,
                            reserved_gb=20, allocation_ratio=1.0,
                            traits=frozenset({'STORAGE_DISK_SSD'}))
CLUSTER = model.Cluster(name='c1', nodes=('n1', 'n2'),
                        shared_volumes=(VOLUME,))


class TestDesiredState(testtools.TestCase):

    def test_provider_from_facts(self):
        [cluster] = model.desired_state([CLUSTER])
        [provider] = cluster.providers
        self.assertEqual(model.provider_uuid('c1', 'v1'), provider.uuid)
        self.assertEqual('hyperv-csv:c1:Volume1', provider.name)
        self.assertEqual({'DISK_GB': {
            'total': 500, 'reserved': 20, 'min_unit': 1, 'max_unit': 500,
            'step_size': 1, 'allocation_ratio': 1.0}}, provider.inventory)
        self.assertEqual({'MISC_SHARES_VIA_AGGREGATE', model.OWNER_TRAIT,
                          'STORAGE_DISK_SSD'}, provider.traits)
        self.assertEqual('hyperv-cluster-c1', cluster.host_aggregate_name)

    def test_uuids_are_stable_and_distinct(self):
        # Pinned: a change would orphan every provider ever published.
        self.assertEqual('478c6066-4e94-5c01-9a2f-af726322d858',
                         model.provider_uuid('c1', 'v1'))
        self.assertNotEqual(model.provider_uuid('c1', 'v1'),
                            model.provider_uuid('c2', 'v1'))
        self.assertNotEqual(model.placement_aggregate_uuid('c1'),
                            model.provider_uuid('c1', ''))


class TestPlan(testtools.TestCase):

    DESIRED = model.desired_state([CLUSTER])[0].providers[0].inventory

    def test_inventory_unchanged(self):
        observed = {'DISK_GB': dict(self.DESIRED['DISK_GB'])}
        self.assertIsNone(reconcile.inventory_to_write(observed,
                                                       self.DESIRED))

    def test_inventory_change_keeps_other_classes(self):
        observed = {'DISK_GB': dict(self.DESIRED['DISK_GB'], total=400),
                    'CUSTOM_IOPS': {'total': 7}}
        merged = reconcile.inventory_to_write(observed, self.DESIRED)
        self.assertEqual(500, merged['DISK_GB']['total'])
        self.assertEqual({'total': 7}, merged['CUSTOM_IOPS'])
        self.assertEqual(400, observed['DISK_GB']['total'])  # not mutated

    def test_inventory_missing(self):
        self.assertEqual(self.DESIRED,
                         reconcile.inventory_to_write({}, self.DESIRED))

    def test_drain(self):
        observed = {'DISK_GB': dict(self.DESIRED['DISK_GB'], reserved=0)}
        drained = reconcile.drained(observed)
        self.assertEqual(500, drained['DISK_GB']['reserved'])
        self.assertIsNone(reconcile.drained(drained))
        self.assertIsNone(reconcile.drained({}))
