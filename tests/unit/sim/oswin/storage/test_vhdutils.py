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

"""The simulated VHDUtils."""

import os

from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.sim import fixtures as sim_fixtures


class TestVHDUtils(sim_fixtures.SimulatedTestCase):

    def test_dynamic_differencing_resize(self):
        vhdutils = self.utils('vhdutils')
        tmp = self.useFixture(driver_fixtures.fixtures.TempDir()).path
        base = os.path.join(tmp, 'base.vhdx')
        vhdutils.create_dynamic_vhd(base, 1024 ** 3)
        self.assertEqual('VHDX', vhdutils.get_vhd_format(base))
        child = os.path.join(tmp, 'child.vhdx')
        vhdutils.create_differencing_vhd(child, base)
        self.assertEqual(base, vhdutils.get_vhd_parent_path(child))
        vhdutils.resize_vhd(child, 2 * 1024 ** 3, is_file_max_size=False)
        info = vhdutils.get_vhd_info(child)
        self.assertEqual(
            (2 * 1024 ** 3, base, constants.VHD_TYPE_DIFFERENCING),
            (info['VirtualSize'], info['ParentPath'],
             info['ProviderSubtype']))
        self.assertRaises(os_win_exc.VHDException, vhdutils.resize_vhd,
                          child, 1024)
        self.assertRaises(os_win_exc.VHDException, vhdutils.get_vhd_info,
                          os.path.join(tmp, 'missing.vhdx'))

    def test_a_plain_file_reads_as_a_fixed_disk(self):
        tmp = self.useFixture(driver_fixtures.fixtures.TempDir()).path
        image = os.path.join(tmp, 'image.vhd')
        with open(image, 'wb') as f:
            f.write(b'\0' * 4096)
        info = self.utils('vhdutils').get_vhd_size(image)
        self.assertEqual(4096, info['VirtualSize'])
        self.assertEqual('VHD', self.utils('vhdutils').get_vhd_format(image))
