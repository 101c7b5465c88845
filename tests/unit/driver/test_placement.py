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

"""What the driver writes to placement, as pure functions of what it
holds: the allocation a move wants.
"""

import types

import testtools

from hvc_driver import placement

NODE1, NODE2, CSV, CSV2 = 'rp-node1', 'rp-node2', 'rp-csv', 'rp-csv2'


class TestAllocationOnTheNode(testtools.TestCase):

    def _on_node2(self, held):
        flavor = types.SimpleNamespace(vcpus=2, memory_mb=1024)
        return placement.node_resources_on(held, NODE2, flavor)

    def test_node_resources_move_and_the_disk_stays(self):
        self.assertEqual(
            {NODE2: {'VCPU': 2, 'MEMORY_MB': 1024}, CSV: {'DISK_GB': 10}},
            self._on_node2({NODE1: {'VCPU': 2, 'MEMORY_MB': 1024},
                            CSV: {'DISK_GB': 10}}))

    def test_an_evacuation_s_double_claim_is_dropped(self):
        # Nova's evacuation keeps the old node's claim until that node's
        # nova-compute starts; the VM runs here only.
        self.assertEqual(
            {NODE2: {'VCPU': 2, 'MEMORY_MB': 1024}, CSV: {'DISK_GB': 10}},
            self._on_node2({NODE1: {'VCPU': 2, 'MEMORY_MB': 1024},
                            NODE2: {'VCPU': 2, 'MEMORY_MB': 1024},
                            CSV: {'DISK_GB': 10}}))

    def test_what_nova_dropped_comes_from_the_flavor(self):
        self.assertEqual(
            {NODE2: {'VCPU': 2, 'MEMORY_MB': 1024}, CSV: {'DISK_GB': 10}},
            self._on_node2({CSV: {'DISK_GB': 10}}))

    def test_other_resources_of_the_old_node_stay(self):
        self.assertEqual(
            {NODE1: {'DISK_GB': 5}, NODE2: {'VCPU': 2, 'MEMORY_MB': 1024}},
            self._on_node2({NODE1: {'VCPU': 2, 'MEMORY_MB': 1024,
                                    'DISK_GB': 5}}))


class TestARefusedMoveReleasesItsOtherDisk(testtools.TestCase):

    def test_only_the_disk_beside_the_own_csv_goes(self):
        held = {NODE1: {'VCPU': 2, 'MEMORY_MB': 1024}, CSV: {'DISK_GB': 10},
                CSV2: {'DISK_GB': 10}, NODE2: {'DISK_GB': 5, 'VCPU': 1}}
        self.assertEqual(
            {NODE1: {'VCPU': 2, 'MEMORY_MB': 1024}, CSV: {'DISK_GB': 10},
             NODE2: {'DISK_GB': 5, 'VCPU': 1}},
            placement.without_disk_beside(held, CSV))
