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

"""A CSV's use outside nova, reserved by placement_sync, as nova sees it.

Nova's in-process deployment with the Hyper-V cluster driver on three
nodes of a simulated cluster (tests/functional/driver's set-up), the CSV
published by placement_sync, which asks nova's real compute API for the
instances' names. Run with stestr (testtools semantics).
"""

import math
import os

from hvc_localcloud import placement_server
from hvc_sim import state as sim_state
from placement_sync import capacity
from placement_sync import nova
from placement_sync import placement as placement_client
from placement_sync import reconcile
from placement_sync.sources import simulated as simulated_source
from tests.functional.driver import test_nova_cluster


class TestForeignFilesRefuseBoots(test_nova_cluster.HyperVClusterTestCase):

    def setUp(self):
        super().setUp()
        self.names = nova.InstanceNames(self._compute_proxy)
        self.reconciler = reconcile.Reconciler(
            placement_client.PlacementClient(placement_server.admin_adapter(
                self.placement.fixture.endpoint)),
            reserve=capacity.ReservePolicy(headroom_gb=5, step_gb=2),
            instance_names=self.names)

    def _sync(self):
        result = self.reconciler.sync(
            simulated_source.load(self.cluster.state_file))
        self.assertEqual([], result.errors)
        return result

    def _reserved(self):
        return self.placement_client().get_inventories(self.csv_rp)[1][
            'DISK_GB']['reserved']

    def placement_client(self):
        return self.reconciler.placement

    def test_a_boot_only_the_foreign_files_make_impossible_is_refused(self):
        flavor = self._flavor(disk=10)
        first = self._boot(flavor)
        self._sync()
        # Nova named the instance: its folder is its own. The image cache
        # is outside: the image grown to the flavor's 10 GB is a fixed
        # disk there.
        self.assertEqual(1, self.names.requests['reads'])
        self.assertEqual(
            {first['id']: first['OS-EXT-SRV-ATTR:instance_name']},
            self.names.names([first['id']]))
        cache_gb = math.ceil(sim_state.folder_physical_bytes(os.path.join(
            self.cluster.instances_path, '_base')) / capacity.GiB)
        self.assertEqual(10, cache_gb)
        self.assertEqual(cache_gb + 5, self._reserved())

        # An administrator leaves 80 GB of backups on the CSV.
        self.sim.add_file('Volume1', 'backups/sql.bak',
                          sim_state.parse_size('80G'))
        self._sync()
        self.assertEqual(95, self._reserved())
        # 10 GB more fit in 100 - 10 - 15, not beside the backups.
        refused = self._boot(flavor, expected_state='ERROR')
        self.assertIn('No valid host', refused['fault']['message'])
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            refused['id']))

        self.sim.remove_file('Volume1', 'backups/sql.bak')
        self._sync()
        self.assertEqual(15, self._reserved())
        second = self._boot(flavor)
        self.assertEqual(20, self._get_provider_usages(self.csv_rp)[
            'DISK_GB'])
        # The guests write into their thin disks (differencing children
        # of the cache): what they write is theirs, the reserve stays.
        for server in (first, second):
            [root] = [d.path for d in self.sim.disks(
                server['OS-EXT-SRV-ATTR:instance_name'])
                if os.path.basename(d.path).startswith('root.')]
            self.sim.write_to_disk(root, sim_state.parse_size('8G'))
        self.assertEqual([], self._sync().changes)
        self.assertEqual(15, self._reserved())
