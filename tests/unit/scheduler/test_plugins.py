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

"""hvc_scheduler's filter and weigher on nova's HostState (the functional
tests run them inside nova's scheduler).
"""

import subprocess
import sys

from nova import objects
from nova.scheduler import host_manager
import testtools

from hvc_scheduler import filters
from hvc_scheduler import moving
from hvc_scheduler import weighers

objects.register_all()


def _candidate(*disk_providers, node='node-rp'):
    allocations = {node: {'resources': {'VCPU': 1}}}
    for rp in disk_providers:
        allocations[rp] = {'resources': {'DISK_GB': 10}}
    return {'allocations': allocations, 'mappings': {}}


def _host(candidates=(), cluster=None):
    host = host_manager.HostState('host', 'node', 'cell')
    host.allocation_candidates = list(candidates)
    host.aggregates = [objects.Aggregate(
        metadata={'hyperv_cluster': cluster} if cluster else {})]
    return host


def _spec(cluster=None, csv=None, task_state=None):
    spec = objects.RequestSpec(instance_uuid='uuid')
    # What moving.placement_of looks up once per request.
    setattr(spec, moving._MEMO, None if cluster is None and csv is None
            else moving.Placement(cluster=cluster, csv_provider=csv,
                                  task_state=task_state))
    return spec


class TestKeepCSVFilter(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.filter = filters.HyperVClusterKeepCSVFilter()

    def test_a_node_of_the_cluster_keeps_only_the_own_csv(self):
        host = _host([_candidate('csv-a'), _candidate('csv-b'),
                      _candidate('csv-a', node='other')])
        self.assertTrue(self.filter.host_passes(host, _spec('c1', 'csv-a')))
        self.assertEqual([_candidate('csv-a'),
                          _candidate('csv-a', node='other')],
                         host.allocation_candidates)

    def test_a_node_without_the_own_csv_keeps_all(self):
        # Another cluster, or the own CSV full: the disks will move.
        candidates = [_candidate('csv-x'), _candidate('csv-y')]
        host = _host(candidates)
        self.assertTrue(self.filter.host_passes(host, _spec('c1', 'csv-a')))
        self.assertEqual(candidates, host.allocation_candidates)

    def test_boots_and_diskless_instances_are_not_touched(self):
        for spec in (_spec(), _spec('c1', None)):
            candidates = [_candidate('csv-a'), _candidate('csv-b')]
            host = _host(candidates)
            self.assertTrue(self.filter.host_passes(host, spec))
            self.assertEqual(candidates, host.allocation_candidates)

    def test_an_evacuation_stays_on_the_nodes_of_its_cluster(self):
        spec = _spec('c1', 'csv-a', task_state='rebuilding')
        own = _host([_candidate('csv-a'), _candidate('csv-b')], cluster='c1')
        self.assertTrue(self.filter.host_passes(own, spec))
        self.assertEqual([_candidate('csv-a')], own.allocation_candidates)
        # Another cluster, a standalone host, or the own CSV without room.
        for host in (_host([_candidate('csv-x')], cluster='c2'),
                     _host([_candidate('solo')]),
                     _host([_candidate('csv-b')], cluster='c1')):
            self.assertFalse(self.filter.host_passes(host, spec))
        diskless = _spec('c1', None, task_state='rebuilding')
        self.assertTrue(self.filter.host_passes(_host(cluster='c1'),
                                                diskless))
        self.assertFalse(self.filter.host_passes(_host(cluster='c2'),
                                                 diskless))

    def test_a_live_migration_needs_the_own_csv_in_its_cluster(self):
        spec = _spec('c1', 'csv-a', task_state='migrating')
        self.assertFalse(self.filter.host_passes(
            _host([_candidate('csv-b')], cluster='c1'), spec))
        # Elsewhere the disks are copied.
        self.assertTrue(self.filter.host_passes(
            _host([_candidate('csv-x')], cluster='c2'), spec))
        # A cold migration copies them to the other CSV.
        self.assertTrue(self.filter.host_passes(
            _host([_candidate('csv-b')], cluster='c1'),
            _spec('c1', 'csv-a', task_state='resize_prep')))

    def test_an_evacuation_of_an_instance_of_no_cluster_goes_anywhere(self):
        spec = _spec(None, 'solo-rp', task_state='rebuilding')
        host = _host([_candidate('csv-x')], cluster='c2')
        self.assertTrue(self.filter.host_passes(host, spec))


class TestSameClusterWeigher(testtools.TestCase):

    def test_nodes_of_the_instances_cluster_weigh_one(self):
        weigher = weighers.HyperVClusterSameClusterWeigher()
        spec = _spec('c1', 'csv-a')
        self.assertEqual(1, weigher._weigh_object(_host(cluster='c1'), spec))
        self.assertEqual(0, weigher._weigh_object(_host(cluster='c2'), spec))
        self.assertEqual(0, weigher._weigh_object(_host(), spec))
        self.assertEqual(0, weigher._weigh_object(_host(cluster='c1'),
                                                  _spec()))
        self.assertEqual(100.0, weigher.weight_multiplier(_host()))

    def test_an_aggregate_s_multiplier_wins(self):
        # As nova's weighers: the host aggregate's metadata, then the
        # option.
        weigher = weighers.HyperVClusterSameClusterWeigher()
        host = _host(cluster='c1')
        host.aggregates[0].metadata['same_cluster_weight_multiplier'] = '2.5'
        self.assertEqual(2.5, weigher.weight_multiplier(host))


class TestWhatTheSchedulerLoads(testtools.TestCase):

    def test_nothing_of_the_compute_driver(self):
        # nova-scheduler loads the plugins; the names they share with the
        # driver are in hvc_names.
        proc = subprocess.run(
            [sys.executable, '-c',
             'import sys\n'
             'from hvc_scheduler import filters, weighers\n'
             'print(sorted(m for m in sys.modules '
             'if m.startswith("hvc_driver")))'],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertEqual('[]', proc.stdout.strip())
