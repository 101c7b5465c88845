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

"""The simulated DiskUtils: the capacity of the disk that holds a path."""

import os
import shutil

from hvc_oswin_api import exceptions as os_win_exc
from tests.unit.sim import fixtures as sim_fixtures


class TestDiskUtils(sim_fixtures.WorldTestCase):

    def test_a_local_path_is_on_this_machines_disk(self):
        usage = shutil.disk_usage(self.solo_disk)
        total, free = self.utils('diskutils', 'solo').get_disk_capacity(
            self.solo_disk)
        self.assertEqual(usage.total, total)
        # Others write to this machine's disk meanwhile.
        self.assertAlmostEqual(usage.free, free, delta=256 * sim_fixtures.MB)

    def test_a_csv_path_is_on_its_csv(self):
        path = self.instances_dir('Data', 'cluster2')
        os.makedirs(path)
        self.state.add_file('Data', 'images/a.vhdx', 10 * 1024 ** 3,
                            cluster='cluster2')
        self.assertEqual(
            (50 * 1024 ** 3, 40 * 1024 ** 3),
            self.utils('diskutils', 'b1').get_disk_capacity(path))

    def test_errors_as_os_win_raises_them(self):
        diskutils = self.utils('diskutils', 'solo')
        missing = os.path.join(self.solo_disk, 'missing')
        err = self.assertRaises(os_win_exc.OSWinException,
                                diskutils.get_disk_capacity, missing)
        self.assertEqual(3, err.error_code)
        self.assertEqual((0, 0), diskutils.get_disk_capacity(
            missing, ignore_errors=True))
        self.state.arm_fault('diskutils.get_disk_capacity', count=2)
        self.assertRaises(os_win_exc.OSWinException,
                          diskutils.get_disk_capacity, self.solo_disk)
        self.assertEqual((0, 0), diskutils.get_disk_capacity(
            self.solo_disk, ignore_errors=True))
