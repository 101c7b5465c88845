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

import os_traits
import testtools

import hvc_names
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
        self.assertEqual(hvc_names.provider_uuid('c1', 'v1'), provider.uuid)
        self.assertEqual('hyperv-csv:c1:Volume1', provider.name)
        self.assertEqual({'DISK_GB': {
            'total': 500, 'reserved': 20, 'min_unit': 1, 'max_unit': 500,
            'step_size': 1, 'allocation_ratio': 1.0}}, provider.inventory)
        self.assertEqual({'MISC_SHARES_VIA_AGGREGATE', model.OWNER_TRAIT,
                          'STORAGE_DISK_SSD'}, provider.traits)
        self.assertEqual('hyperv-cluster-c1', cluster.host_aggregate_name)

    def test_the_sharing_trait_is_os_traits_own(self):
        self.assertEqual(os_traits.MISC_SHARES_VIA_AGGREGATE,
                         model.SHARING_TRAIT)


class TestVolumeFigures(testtools.TestCase):
    """Refused before any write: placement refuses them mid-run."""

    def test_reserved_gb_between_0_and_total(self):
        for reserved in (-1, 501, 1.5, True):
            volume = model.SharedVolume(id='v1', name='Volume1',
                                        total_gb=500, reserved_gb=reserved)
            self.assertEqual(['reserved_gb'], [
                f for f, _p in model.volume_problems('c1', volume)],
                reserved)
        for reserved in (0, 500):
            volume = model.SharedVolume(id='v1', name='Volume1',
                                        total_gb=500, reserved_gb=reserved)
            self.assertEqual([], model.volume_problems('c1', volume))


class TestNamesPlacementAndNovaRefuse(testtools.TestCase):
    """Refused before any write, with the field named: placement on
    MariaDB answers 500 to a 4-byte character, nova refuses an aggregate
    name with whitespace at an end or an unprintable character.
    """

    def _problems(self, name='c1', node='n1', volume_name='Volume1',
                  volume_id='v1'):
        cluster = model.Cluster(
            name=name, nodes=(node,), shared_volumes=(),
            offline_volumes=(model.OfflineVolume('v9', 'Off\x1b', 'off'),))
        volume = model.SharedVolume(id=volume_id, name=volume_name,
                                    total_gb=10)
        return (model.cluster_problems(cluster) +
                model.volume_problems(name, volume))

    def _fields(self, **names):
        return [field for field, _problem in self._problems(**names)
                if field != 'offline_volumes[0].name']

    def test_characters_beyond_the_bmp(self):
        emoji = 'Vol\U0001F600'
        for kwargs, field in ((dict(volume_name=emoji), 'name'),
                              (dict(volume_id=emoji), 'id'),
                              (dict(node=emoji), 'nodes[0]'),
                              (dict(name=emoji), 'name')):
            problems = dict(self._problems(**kwargs))
            self.assertIn(field, problems, kwargs)
            self.assertIn('must not contain U+1F600, beyond the Basic '
                          'Multilingual Plane', problems[field])

    def test_control_characters(self):
        self.assertEqual(
            [('offline_volumes[0].name', "must not contain U+001B, a "
              "control character, got 'Off\\x1b'")], self._problems())
        for kwargs in (dict(volume_name='Vol\n1'), dict(node='n\t1'),
                       dict(name='c\r1')):
            self.assertEqual(1, len(self._fields(**kwargs)), kwargs)

    def test_cluster_names_nova_refuses(self):
        for name, problem in (
                ('c1 ', 'must not begin or end with whitespace'),
                ('\u3000c1', 'must not begin or end with whitespace'),
                ('c\u200b1', 'must not contain U+200B, which is not '
                             'printable'),
                ('c' * 241, 'makes a host aggregate name of 256 characters; '
                            'nova allows 255')):
            [(field, text)] = model.cluster_problems(
                model.Cluster(name=name, nodes=('n1',), shared_volumes=()))
            self.assertEqual('name', field)
            self.assertIn(problem, text, name)
        self.assertEqual([], self._fields(name='c 1'))
        self.assertEqual([], self._fields(name='Clüster-ß'))
