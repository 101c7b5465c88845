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

"""placement_sync's simulated source: every cluster of the world."""

import os

import fixtures
import testtools

from hvc_sim import state as sim_state
from placement_sync import exception
from placement_sync.sources import simulated


class TestSimulatedSource(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'world.sqlite')

    def test_every_cluster_and_no_standalone_host(self):
        state = sim_state.ClusterState(self.path)
        state.init('a', ['a1', 'a2'], [('V1', 100), ('V2', 50)])
        state.add_cluster('b', ['b1'], [('Data', 10)])
        state.add_host('solo')
        clusters = simulated.load(self.path)
        self.assertEqual(
            [('a', ('a1', 'a2'), ['V1', 'V2']), ('b', ('b1',), ['Data'])],
            [(c.name, c.nodes, [v.name for v in c.shared_volumes])
             for c in clusters])
        ids = {v.name: v.id for v in state.shared_volumes()}
        self.assertEqual(ids['Data'], clusters[1].shared_volumes[0].id)

    def test_a_missing_file_is_one_clear_error_and_is_not_made(self):
        err = self.assertRaises(exception.InvalidInventory, simulated.load,
                                self.path)
        self.assertIn('does not exist', str(err))
        self.assertFalse(os.path.exists(self.path))
