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

"""The simulated PathUtils."""

import os

from hvc_oswin_api import exceptions as os_win_exc
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.sim import fixtures as sim_fixtures


class TestPathUtils(sim_fixtures.SimulatedTestCase):
    """File operations with Windows' rules and os-win's
    errors (plain OSError).
    """

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(driver_fixtures.fixtures.TempDir()).path
        self.pathutils = self.utils('pathutils')
        self.src = os.path.join(self.tmp, 'src')
        self.dest = os.path.join(self.tmp, 'dest')
        for path in (self.src, self.dest):
            with open(path, 'w') as f:
                f.write(os.path.basename(path))

    def test_rename_onto_an_existing_file_fails_as_on_windows(self):
        self.assertRaises(OSError, self.pathutils.rename, self.src,
                          self.dest)
        with open(self.dest) as f:
            self.assertEqual('dest', f.read())
        os.remove(self.dest)
        self.pathutils.rename(self.src, self.dest)
        self.assertFalse(os.path.exists(self.src))

    def test_copyfile_onto_an_existing_file_fails_as_os_win(self):
        self.assertRaises(OSError, self.pathutils.copyfile, self.src,
                          self.dest)
        with open(self.dest) as f:
            self.assertEqual('dest', f.read())

    def test_faults_are_oserrors_as_os_win_raises(self):
        self.state.arm_fault('pathutils.check_create_dir')
        err = self.assertRaises(OSError, self.pathutils.check_create_dir,
                                self.tmp)
        self.assertNotIsInstance(err, os_win_exc.OSWinException)
