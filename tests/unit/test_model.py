import testtools

from placement_sync import model

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
