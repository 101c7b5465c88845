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

"""What a simulated CSV really holds: hvc-sim df, add-file, remove-file,
write-disk, and the simulated os-win's PhysicalSize.
"""

import contextlib
import io
import json
import os

import fixtures
import testtools

from hvc_oswin_api import constants
from hvc_sim import cmd
from hvc_sim.oswin.storage import vhdutils as sim_vhdutils
from hvc_sim import state as sim_state

GiB = 1024 ** 3


class TestCsvUsage(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'sim.db')
        self.assertEqual(0, self.run_cmd(
            'init', '--cluster', 'c1', '--node', 'n1',
            '--csv', 'Volume1=100', '--csv', 'Volume2=10')[0])
        self.state = sim_state.ClusterState(self.path)
        self.volume1 = self.state.volume('Volume1')

    def run_cmd(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cmd.main(['--state', self.path] + list(argv))
        return status, out.getvalue(), err.getvalue()

    def df(self):
        status, out, err = self.run_cmd('df', '--json')
        self.assertEqual(0, status, err)
        return {row['name']: row for row in json.loads(out)}

    def test_files_added_and_removed_move_the_used_space(self):
        self.assertEqual(0, self.df()['Volume1']['used_bytes'])
        status, out, _err = self.run_cmd('add-file', 'Volume1',
                                         'backups/db.bak', '20G')
        self.assertEqual(0, status)
        self.assertEqual(os.path.join(self.volume1.path, 'backups', 'db.bak'),
                         out.strip())
        self.run_cmd('add-file', 'Volume1', 'iso\\win.iso', '512M')
        row = self.df()['Volume1']
        self.assertEqual(20 * GiB + 512 * 1024 ** 2, row['used_bytes'])
        self.assertEqual(100 * GiB - row['used_bytes'], row['free_bytes'])
        self.assertEqual(0, self.df()['Volume2']['used_bytes'])
        self.assertEqual(0, self.run_cmd('remove-file', 'Volume1',
                                         'backups/db.bak')[0])
        self.assertEqual(512 * 1024 ** 2, self.df()['Volume1']['used_bytes'])
        status, out, _err = self.run_cmd('df')
        self.assertRegex(out, r'c1 +Volume1 +100.0 +0.5 +99.5')

    def test_refusals(self):
        for argv, message in (
                (('add-file', 'Volume2', 'big', '11G'),
                 'not enough space on shared volume Volume2'),
                (('add-file', 'Volume1', '../escape', '1G'),
                 'needs a path inside it'),
                (('add-file', 'Volume9', 'f', '1G'), "no shared volume "),
                (('remove-file', 'Volume1', 'missing'), 'no file'),
                (('write-disk', self.path, '1G'),
                 'is not a dynamic or differencing simulated disk')):
            status, _out, err = self.run_cmd(*argv)
            self.assertEqual(1, status, argv)
            self.assertIn(message, err)
            self.assertEqual(1, len(err.splitlines()), err)
        self.run_cmd('add-file', 'Volume1', 'f', '1G')
        status, _out, err = self.run_cmd('add-file', 'Volume1', 'f', '1G')
        self.assertIn('exists already', err)
        self.assertRaises(SystemExit, self.run_cmd, 'add-file', 'Volume1',
                          'g', 'lots')

    def test_virtual_disks_take_what_they_would_hold(self):
        vhdutils = sim_vhdutils.VHDUtils(self.state, 'n1')
        folder = os.path.join(self.volume1.path, 'instance-1')
        os.makedirs(folder)
        dynamic = os.path.join(folder, 'root.vhdx')
        vhdutils.create_dynamic_vhd(dynamic, 40 * GiB)
        small = os.path.getsize(dynamic)
        self.assertEqual(small, sim_state.physical_bytes(dynamic))
        self.assertEqual(0, self.run_cmd('write-disk', dynamic, '3G')[0])
        self.assertEqual(3 * GiB, sim_state.physical_bytes(dynamic))
        # The simulated os-win says the same, and the disk is unchanged.
        info = vhdutils.get_vhd_info(dynamic)
        self.assertEqual((3 * GiB, 40 * GiB, constants.VHD_TYPE_DYNAMIC),
                         (info['PhysicalSize'], info['VirtualSize'],
                          info['ProviderSubtype']))
        child = os.path.join(folder, 'child.vhdx')
        vhdutils.create_differencing_vhd(child, dynamic)
        self.assertEqual(dynamic, vhdutils.get_vhd_parent_path(child))
        status, _out, err = self.run_cmd('write-disk', dynamic, '41G')
        self.assertIn('cannot take', err)
        # A grown image becomes a fixed disk: it takes its whole size.
        image = os.path.join(self.volume1.path, 'image.vhd')
        with open(image, 'wb') as f:
            f.write(b'\0' * 8192)
        vhdutils.resize_vhd(image, 2 * GiB)
        self.assertEqual(2 * GiB, sim_state.physical_bytes(image))
        self.assertEqual(
            3 * GiB + 2 * GiB + os.path.getsize(child),
            self.state.volume_used_bytes('Volume1'))
