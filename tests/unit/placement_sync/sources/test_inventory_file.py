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

import os
import tempfile

import testtools
import yaml

from placement_sync import exception
from placement_sync import model
from placement_sync import sources
from placement_sync.sources import inventory_file

GOOD = {'clusters': [{
    'name': 'cluster1', 'nodes': ['node1', 'node2', 'node3'],
    'shared_volumes': [
        {'id': '0b7c8a2e-3f7d-4a51-9d55-2a8f9c1e6b10', 'name': 'Volume1',
         'total_gb': 500, 'reserved_gb': 10, 'allocation_ratio': 1.5,
         'traits': ['STORAGE_DISK_SSD', 'CUSTOM_FAST']},
        {'id': 'v2', 'name': 'Volume2', 'total_gb': 100}]}]}


def _with(path, value):
    """GOOD with the field at ``path`` (a list of keys) set to value."""
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


class TestParse(testtools.TestCase):

    def test_good_file(self):
        [cluster] = inventory_file.parse(GOOD)
        self.assertEqual(('node1', 'node2', 'node3'), cluster.nodes)
        vol1, vol2 = cluster.shared_volumes
        self.assertEqual((500, 10, 1.5), (vol1.total_gb, vol1.reserved_gb,
                                          vol1.allocation_ratio))
        self.assertEqual({'STORAGE_DISK_SSD', 'CUSTOM_FAST'}, vol1.traits)
        self.assertEqual((0, 1.0, frozenset()), (
            vol2.reserved_gb, vol2.allocation_ratio, vol2.traits))

    def _error(self, data):
        return str(self.assertRaises(exception.InvalidInventory,
                                     inventory_file.parse, data))

    def test_each_bad_field_is_named(self):
        vol = ['clusters', 0, 'shared_volumes', 1]
        cases = [
            (vol + ['total_gb'], 0,
             'clusters[0].shared_volumes[1].total_gb: must be between 1 and'),
            (vol + ['total_gb'], 2 ** 31,
             'clusters[0].shared_volumes[1].total_gb: must be between 1 and'),
            (vol + ['total_gb'], '500',
             "clusters[0].shared_volumes[1].total_gb: must be an integer, "
             "got '500'"),
            (vol + ['total_gb'], KeyError,
             'clusters[0].shared_volumes[1].total_gb: must be an integer'),
            (vol + ['reserved_gb'], 101,
             'clusters[0].shared_volumes[1].reserved_gb: must be between 0 '
             'and total_gb (100), got 101'),
            # placement would refuse it half-way through a run.
            (vol + ['reserved_gb'], -1,
             'clusters[0].shared_volumes[1].reserved_gb: must be between 0 '
             'and total_gb (100), got -1'),
            (vol + ['allocation_ratio'], 0,
             'clusters[0].shared_volumes[1].allocation_ratio: must be a '
             'finite number > 0'),
            (vol + ['allocation_ratio'], float('inf'),
             'clusters[0].shared_volumes[1].allocation_ratio: must be a '
             'finite number > 0'),
            (vol + ['allocation_ratio'], True,
             'clusters[0].shared_volumes[1].allocation_ratio: must be a '
             'number'),
            # Above placement's single-precision float column.
            (vol + ['allocation_ratio'], 1.0e+39,
             'clusters[0].shared_volumes[1].allocation_ratio: must be a '
             'finite number > 0 and at most 3.40282e+38, got 1e+39'),
            (vol + ['allocation_ratio'], 10 ** 400,
             'clusters[0].shared_volumes[1].allocation_ratio: must be a '
             'finite number > 0 and at most'),
            (vol + ['traits'], ['custom_lower'],
             "clusters[0].shared_volumes[1].traits[0]: 'custom_lower'"),
            (vol + ['traits'], ['STORAGE_DISK_SSD', 'CUSTOM_' + 'X' * 250],
             'clusters[0].shared_volumes[1].traits[1]: CUSTOM_XXXXXXXXXXXXX'
             '... has 257 characters; placement allows 255'),
            (vol + ['id'], '', 'clusters[0].shared_volumes[1].id'),
            (vol + ['name'], 'x' * 200,
             'clusters[0].shared_volumes[1].name: makes a provider name of'),
            (vol + ['size'], 3, "clusters[0].shared_volumes[1]: unknown "
                                "key(s) size"),
            (['clusters', 0, 'nodes'], [], 'clusters[0].nodes: must be a '
                                           'non-empty list'),
            (['clusters', 0, 'nodes'], ['node1', 7], 'clusters[0].nodes[1]'),
            (['clusters', 0, 'nodes'], ['node1', ''],
             "clusters[0].nodes[1]: must be a non-empty string, got ''"),
            (vol + ['name'], ' ', 'clusters[0].shared_volumes[1].name: must '
                                  'be a non-empty string'),
            (['clusters', 0, 'name'], None, 'clusters[0].name'),
            (['clusters', 0, 'name'], 'a:b',
             "clusters[0].name: must not contain ':'"),
            (['clusters', 0, 'shared_volumes'], KeyError,
             'clusters[0].shared_volumes: must be a list (empty if'),
        ]
        for path, value, message in cases:
            self.assertIn(message, self._error(_with(path, value)),
                          (path, value))

    def test_all_problems_reported_at_once(self):
        data = _with(['clusters', 0, 'name'], '')
        data['clusters'][0]['shared_volumes'][0]['total_gb'] = -1
        error = self._error(data)
        self.assertIn('clusters[0].name', error)
        self.assertIn('clusters[0].shared_volumes[0].total_gb', error)

    def test_empty_volume_list_is_allowed(self):
        [cluster] = inventory_file.parse(_with(
            ['clusters', 0, 'shared_volumes'], []))
        self.assertEqual((), cluster.shared_volumes)

    def test_every_source_is_checked(self):
        # Facts from os-win or the simulator pass the same checks.
        bad = model.Cluster(name='c1', nodes=('n1',), shared_volumes=(
            model.SharedVolume(id='v', name='Tiny', total_gb=0),
            model.SharedVolume(id='w', name='Wide', total_gb=1,
                               allocation_ratio=1.0e+39,
                               traits=frozenset({'CUSTOM_' + 'X' * 300}))))
        error = str(self.assertRaises(exception.InvalidInventory,
                                      sources.validate_clusters, [bad]))
        self.assertIn("cluster 'c1', shared volume 'Tiny': total_gb must be "
                      "between 1 and", error)
        self.assertIn("cluster 'c1', shared volume 'Wide': allocation_ratio "
                      "must be a finite number > 0 and at most", error)
        self.assertIn("cluster 'c1', shared volume 'Wide': traits "
                      "CUSTOM_XXXXXXXXXXXXX... has 307 characters", error)

    def test_empty_names_from_any_source(self):
        # An empty node name would match every provider in placement.
        bad = model.Cluster(name='', nodes=('n1', ''), shared_volumes=(
            model.SharedVolume(id='', name='', total_gb=10),),
            offline_volumes=(model.OfflineVolume('', 'V2', 'offline'),))
        error = str(self.assertRaises(exception.InvalidInventory,
                                      sources.validate_clusters, [bad]))
        for field in ('name', 'nodes[1]', 'offline_volumes[0].id'):
            self.assertIn("cluster '': %s must be a non-empty string" % field,
                          error)
        for field in ('id', 'name'):
            self.assertIn("cluster '', shared volume '': %s must be a "
                          "non-empty string" % field, error)

    def test_node_names_are_compared_case_aside(self):
        one = model.Cluster(name='c1', nodes=('HV-NODE1', 'hv-node1'),
                            shared_volumes=())
        two = model.Cluster(name='c2', nodes=('Hv-Node1',), shared_volumes=())
        error = str(self.assertRaises(exception.InvalidInventory,
                                      sources.validate_clusters, [one, two]))
        self.assertIn("cluster 'c1': node 'hv-node1' is listed 2 times", error)
        self.assertIn("node 'Hv-Node1' is in clusters 'c1' and 'c2'", error)

    def test_top_level_shape(self):
        self.assertIn("'clusters' list", self._error([]))
        self.assertIn("'clusters' list", self._error({'cluster': []}))

    def test_duplicates_across_the_file(self):
        data = yaml.safe_load(yaml.safe_dump(GOOD))
        second = yaml.safe_load(yaml.safe_dump(GOOD['clusters'][0]))
        second['name'] = 'cluster2'
        data['clusters'].append(second)
        error = str(self.assertRaises(
            exception.InvalidInventory, sources.validate_clusters,
            inventory_file.parse(data)))
        self.assertIn("node 'node1' is in clusters 'cluster1' and "
                      "'cluster2'", error)
        data['clusters'][1]['name'] = 'cluster1'
        self.assertIn("cluster 'cluster1' is listed 2 times", str(
            self.assertRaises(exception.InvalidInventory,
                              sources.validate_clusters,
                              inventory_file.parse(data))))

    def _load(self, text):
        fd, path = tempfile.mkstemp(suffix='.yaml')
        self.addCleanup(os.unlink, path)
        with os.fdopen(fd, 'w') as f:
            f.write(text)
        return path

    def test_a_key_given_twice_is_refused(self):
        # YAML itself keeps the last: [] would retire every CSV, and the
        # second total_gb would resize the volume without a word.
        path = self._load(
            'clusters:\n'
            '  - name: c1\n'
            '    nodes: [n1, n2]\n'
            '    shared_volumes:\n'
            '      - {id: v1, name: Volume1, total_gb: 500, total_gb: 50}\n'
            '    shared_volumes: []\n')
        error = str(self.assertRaises(exception.InvalidInventory,
                                      inventory_file.load, path))
        self.assertEqual(
            'inventory file %s, line 5: clusters[0].shared_volumes[0].'
            'total_gb is given twice (first on line 5); line 6: '
            'clusters[0].shared_volumes is given twice (first on line 4)'
            % path, error)

    def test_anchors_and_merge_keys_still_load(self):
        path = self._load(
            'defaults: &ssd {total_gb: 100, traits: [STORAGE_DISK_SSD]}\n'
            'clusters:\n'
            '  - name: c1\n'
            '    nodes: [n1]\n'
            '    shared_volumes:\n'
            '      - {<<: *ssd, id: v1, name: Volume1}\n'
            '      - {<<: *ssd, id: v2, name: Volume2, total_gb: 200}\n')
        error = str(self.assertRaises(exception.InvalidInventory,
                                      inventory_file.load, path))
        self.assertIn('unknown top-level key(s): defaults', error)
        self.assertNotIn('twice', error)

    def test_unreadable_and_invalid_yaml(self):
        self.assertIn('cannot read inventory file /nonexistent',
                      str(self.assertRaises(exception.InvalidInventory,
                                            inventory_file.load,
                                            '/nonexistent')))
        fd, path = tempfile.mkstemp()
        self.addCleanup(os.unlink, path)
        with os.fdopen(fd, 'w') as f:
            f.write('clusters: [\n')
        self.assertIn('is not valid YAML', str(self.assertRaises(
            exception.InvalidInventory, inventory_file.load, path)))
