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

"""The names the driver, the scheduler plugins and hvc-placement-sync
share: fixed for ever, and each read back as it was made.
"""

import testtools

import hvc_names


class TestNames(testtools.TestCase):

    def test_uuids_are_stable_and_distinct(self):
        # Pinned: a change would orphan every provider ever published.
        self.assertEqual('478c6066-4e94-5c01-9a2f-af726322d858',
                         hvc_names.provider_uuid('c1', 'v1'))
        self.assertNotEqual(hvc_names.provider_uuid('c1', 'v1'),
                            hvc_names.provider_uuid('c2', 'v1'))
        self.assertNotEqual(hvc_names.placement_aggregate_uuid('c1'),
                            hvc_names.provider_uuid('c1', ''))

    def test_a_provider_name_gives_its_cluster_back(self):
        name = hvc_names.provider_name('cluster-a', 'Volume:1')
        self.assertEqual('hyperv-csv:cluster-a:Volume:1', name)
        self.assertEqual('cluster-a',
                         hvc_names.cluster_of_provider_name(name))
        for other in ('hv-node1', 'hyperv-csv:cluster-a',
                      'hyperv-csv::Volume1', 'other:cluster-a:Volume1'):
            self.assertIsNone(hvc_names.cluster_of_provider_name(other),
                              other)

    def test_the_metadata_keys_are_what_deployed_instances_carry(self):
        # Instances and aggregates made by earlier releases keep them.
        self.assertEqual(
            ('hyperv_cluster', 'hyperv_cluster_csv_provider',
             'hyperv_standalone_host', 'hyperv_cluster_arrival_dir',
             'hyperv_cluster', 'hyperv-cluster-c1'),
            (hvc_names.CLUSTER_KEY, hvc_names.CSV_PROVIDER_KEY,
             hvc_names.STANDALONE_HOST_KEY, hvc_names.ARRIVAL_DIR_KEY,
             hvc_names.HOST_AGGREGATE_CLUSTER_KEY,
             hvc_names.host_aggregate_name('c1')))
