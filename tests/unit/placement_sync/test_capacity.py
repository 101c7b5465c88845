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

"""The reserve of a measured CSV: what it holds outside nova."""

import testtools

from placement_sync import capacity
from placement_sync import model
from placement_sync import plan

GiB = capacity.GiB


def _volume(used_gb, folders=(), total_gb=100, reserved_gb=0):
    return model.SharedVolume(
        id='v1', name='Volume1', total_gb=total_gb, reserved_gb=reserved_gb,
        usage=model.VolumeUsage(
            used_bytes=int(used_gb * GiB),
            free_bytes=int((total_gb - used_gb) * GiB),
            instance_folders=tuple((n, int(gb * GiB)) for n, gb in folders)))


class TestOutsideNova(testtools.TestCase):

    def test_thin_disks_keep_their_whole_allocation(self):
        # vm1 wrote 3 GB of its 40; vm2's fixed disk and log exceed its 10.
        volume = _volume(used_gb=3 + 10.5 + 20,
                         folders=(('vm1', 3), ('vm2', 10.5)))
        outside = capacity.outside_nova_bytes(
            volume.usage, {'c1': 40, 'c2': 10}, {'c1': 'vm1', 'c2': 'vm2'})
        # 20 GB of image cache and files, and vm2's 0.5 GB beyond its 10.
        self.assertEqual(20.5 * GiB, outside)
        reserved = capacity.reserve_gb(volume, outside,
                                       capacity.ReservePolicy(5, 2))
        self.assertEqual(26, reserved)  # ceil(20.5) + 5
        # What nova may still hand out is at most the real free space less
        # the headroom: the 37 GB vm1 has not written stay vm1's.
        offered = volume.total_gb - reserved - 50
        self.assertEqual(24, offered)
        self.assertLessEqual(offered, volume.usage.free_bytes / GiB - 37 - 5)

    def test_folders_of_no_consumer_and_consumers_of_no_folder(self):
        volume = _volume(used_gb=12, folders=(('leftover', 8), ('vm1', 4)))
        # 'm1' is a migration's consumer (no server); c9 was not told.
        outside = capacity.outside_nova_bytes(
            volume.usage, {'c1': 10, 'm1': 10, 'c9': 5},
            {'c1': 'vm1', 'm1': None})
        self.assertEqual(8 * GiB, outside)

    def test_a_folder_counts_for_one_consumer_only(self):
        volume = _volume(used_gb=4, folders=(('vm1', 4),))
        self.assertEqual(0, capacity.outside_nova_bytes(
            volume.usage, {'a': 10, 'b': 10}, {'a': 'vm1', 'b': 'vm1'}))
        self.assertEqual(0, capacity.outside_nova_bytes(
            _volume(used_gb=0).usage, {}, {}))


class TestReserve(testtools.TestCase):

    policy = capacity.ReservePolicy(headroom_gb=5, step_gb=2)

    def test_floor_headroom_rounding_and_cap(self):
        self.assertEqual(7, capacity.reserve_gb(
            _volume(1.2), int(1.2 * GiB), self.policy))
        self.assertEqual(30, capacity.reserve_gb(
            _volume(1.2, reserved_gb=30), int(1.2 * GiB), self.policy))
        self.assertEqual(100, capacity.reserve_gb(
            _volume(98), 98 * GiB, self.policy))

    def test_small_changes_keep_the_current_reserve(self):
        volume = _volume(10)
        for current, outside_gb, wanted in (
                (15, 10, 15),      # as it is
                (15, 11, 15),      # +1 < step: kept, still covers 11
                (15, 9, 15),       # -1: kept
                (15, 12, 17),      # +2: written
                (15, 7.5, 13),     # -2: written
                (15, 16, 21),      # placement no longer covers: written
                (None, 10, 15)):   # a new provider
            self.assertEqual(wanted, capacity.reserve_gb(
                volume, int(outside_gb * GiB), self.policy, current),
                (current, outside_gb))
        # Below the configured floor: written whatever the step.
        self.assertEqual(20, capacity.reserve_gb(
            _volume(10, reserved_gb=20), 0,
            capacity.ReservePolicy(5, step_gb=50), current=19))


class TestPlan(testtools.TestCase):

    def test_measured_reserve_is_planned_with_its_reason(self):
        volume = _volume(used_gb=23, folders=(('vm1', 3),))
        want = model.desired_state([model.Cluster(
            'c', ('n1',), (volume,))])[0].providers[0]
        inventories = {'DISK_GB': dict(want.inventory['DISK_GB'],
                                       reserved=0)}
        provider = plan.Provider(want.uuid, want.name, 4, inventories,
                                 want.traits, frozenset({'agg'}),
                                 allocations={'c1': 40})
        step = plan.plan_csv(want, 'agg', provider,
                             reserve=capacity.ReservePolicy(5, 2),
                             instance_names={'c1': 'vm1'})
        [action] = step.actions
        self.assertEqual(25, action.inventories['DISK_GB']['reserved'])
        self.assertEqual(
            'set DISK_GB on hyperv-csv:c:Volume1: total 100 GB, reserved 25 '
            'GB, ratio 1.0 (20.0 GB used outside nova\'s allocations, 5 GB '
            'headroom, at least 0 GB)', action.describe())
        # Without a policy, or for an unmeasured volume: reserved_gb.
        self.assertEqual([], plan.plan_csv(want, 'agg', provider).actions)
        self.assertEqual(step.settled.allocations, {'c1': 40})
