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

"""The local cloud's own parts, without a cloud: processes, files, the
test image.
"""

import os
import stat
import subprocess
import sys
import time

import fixtures
from oslo_utils.imageutils import format_inspector
import testtools

from hvc_localcloud import images
from hvc_localcloud import ini
from hvc_localcloud import procs


class TestProcesses(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.log = os.path.join(self.tmp, 'log')

    def _spawn(self, code, **kwargs):
        record = procs.spawn([sys.executable, '-c', code], self.log,
                             **kwargs)
        self.addCleanup(procs.stop, record, 5)
        return record

    def test_stop_ends_the_whole_process_group(self):
        # A service that forks a child of its own, as uWSGI does.
        record = self._spawn(
            'import subprocess, sys, time\n'
            'subprocess.Popen([sys.executable, "-c", '
            '"import time; time.sleep(60)"])\n'
            'time.sleep(60)\n')
        deadline = time.monotonic() + 10
        while len(procs.group_members(record['pid'])) < 2:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)
        self.assertTrue(procs.alive(record))
        self.assertFalse(procs.stop(record, timeout=10))
        self.assertFalse(procs.alive(record))
        self.assertEqual([], procs.group_members(record['pid']))

    def test_a_process_that_ignores_its_signal_is_killed(self):
        record = self._spawn(
            'import signal, time\n'
            'signal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
            'print("ready", flush=True)\n'
            'time.sleep(60)\n')
        procs.wait_until(lambda: 'ready' in procs.tail(self.log), 'child',
                         record, self.log, 10)
        self.assertTrue(procs.stop(record, timeout=1))
        self.assertFalse(procs.alive(record))

    def test_a_recycled_pid_is_not_taken_for_the_service(self):
        record = self._spawn('import time; time.sleep(60)')
        other = dict(record, start_time=record['start_time'] - 1)
        self.assertTrue(procs.alive(record))
        self.assertFalse(procs.alive(other))

    def test_wait_until_names_the_log_of_a_service_that_died(self):
        record = self._spawn('import sys; print("bad option"); sys.exit(2)')
        error = self.assertRaises(
            procs.StartError, procs.wait_until, lambda: False, 'thing',
            record, self.log, 10)
        self.assertIn('thing exited while starting; see %s' % self.log,
                      str(error))
        self.assertIn('bad option', str(error))

    def test_run_reports_the_failed_command_and_its_log(self):
        error = self.assertRaises(
            procs.StartError, procs.run,
            [sys.executable, '-c', 'print("no database"); exit(3)'],
            self.log, what='db sync')
        self.assertIn('db sync failed (exit 3); see %s' % self.log,
                      str(error))
        self.assertIn('no database', str(error))

    def test_free_ports_are_distinct(self):
        ports = procs.free_ports(20)
        self.assertEqual(20, len(set(ports)))


class TestFiles(testtools.TestCase):

    def test_configuration_is_readable_by_its_owner_only(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'etc', 'x.conf')
        ini.write(path, {'DEFAULT': {'debug': False, 'skipped': None},
                         'database': {'connection': 'mysql+pymysql://a'},
                         'ml2': {'types': ('flat', 'vlan')}})
        self.assertEqual(0o600, stat.S_IMODE(os.stat(path).st_mode))
        with open(path) as f:
            self.assertEqual(
                '[DEFAULT]\ndebug = false\n\n'
                '[database]\nconnection = mysql+pymysql://a\n\n'
                '[ml2]\ntypes = flat,vlan\n', f.read())

    def test_the_test_image_is_a_vhd_for_glance(self):
        path = images.write_vhd(os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'x.vhd'), 1024 ** 3)
        inspector = format_inspector.detect_file_format(path)
        self.assertEqual('vhd', str(inspector))
        self.assertEqual(1024 ** 3, inspector.virtual_size)
        inspector.safety_check()
        # qemu-img, where there is one, agrees.
        try:
            out = subprocess.run(['qemu-img', 'info', '--output=json',
                                  path], stdout=subprocess.PIPE, text=True)
        except FileNotFoundError:
            return
        self.assertIn('"format": "vpc"', out.stdout)

    def test_the_tempest_image_is_a_vhdx_for_glance(self):
        path = images.write_vhdx(os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'x.vhdx'), 1024 ** 3)
        inspector = format_inspector.detect_file_format(path)
        self.assertEqual('vhdx', str(inspector))
        self.assertEqual(1024 ** 3, inspector.virtual_size)
        inspector.safety_check()
        self.assertEqual(4 * 1024 ** 2, os.path.getsize(path))
        # The check value of CRC-32C, the headers' and region tables'
        # checksum.
        self.assertEqual(0xe3069283, images.crc32c(b'123456789'))
        # qemu-img, where there is one, reads it (it checks the headers'
        # checksums) and finds nothing wrong in it.
        try:
            out = subprocess.run(['qemu-img', 'info', '--output=json',
                                  path], stdout=subprocess.PIPE, text=True)
        except FileNotFoundError:
            return
        self.assertIn('"format": "vhdx"', out.stdout)
        self.assertIn('"virtual-size": 1073741824', out.stdout)
        self.assertEqual(0, subprocess.run(['qemu-img', 'check', path],
                                           stdout=subprocess.PIPE).returncode)
