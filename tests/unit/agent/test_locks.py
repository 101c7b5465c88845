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

"""The cluster-wide lock: a lock file on a CSV that one node at a time
holds open (no sharing on Windows, flock in the simulated world).
"""

import os
import subprocess
import sys
import time
from unittest import mock

import fixtures
import testtools

from hvc_agent import locks


class FakeKernel32(object):
    """CreateFileW and CloseHandle as Windows answers them: an open
    without sharing fails with ERROR_SHARING_VIOLATION while another
    handle of the file is open.
    """

    def __init__(self):
        self.open = {}
        self.calls = []

    def CreateFileW(self, path, access, share, security, disposition,
                    flags, template):
        self.calls.append((path, access, share, disposition))
        if path in self.open.values():
            self.error = 32
            return -1
        handle = len(self.calls)
        self.open[handle] = path
        return handle

    def CloseHandle(self, handle):
        del self.open[handle]


class TestClusterLock(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'hvc-instance-vm1.lock')

    def test_windows_opens_the_file_without_sharing_and_waits(self):
        kernel32 = FakeKernel32()
        self.useFixture(fixtures.MockPatchObject(
            locks, '_last_error', side_effect=lambda: kernel32.error))
        self.useFixture(fixtures.MockPatchObject(locks, 'RETRY_SECONDS',
                                                 0.01))
        # Another node holds it for a while.
        kernel32.open['other node'] = self.path
        released = []

        def sleep(seconds):
            if len(kernel32.calls) == 3:
                del kernel32.open['other node']
                released.append(True)
        self.useFixture(fixtures.MockPatch('time.sleep', side_effect=sleep))
        with locks.cluster_lock(self.path, kernel32=kernel32):
            self.assertEqual([True], released)
            self.assertEqual([self.path], list(kernel32.open.values()))
        self.assertEqual({}, kernel32.open)
        for path, access, share, disposition in kernel32.calls:
            self.assertEqual((self.path, 0, 4), (path, share, disposition))

    def test_another_error_is_raised(self):
        kernel32 = mock.Mock()
        kernel32.CreateFileW.return_value = -1
        self.useFixture(fixtures.MockPatchObject(locks, '_last_error',
                                                 return_value=5))
        self.assertRaises(OSError, locks.cluster_lock(
            self.path, kernel32=kernel32).__enter__)

    def test_another_process_waits_until_it_is_released(self):
        # The simulated world's nodes are processes of this machine.
        holder = subprocess.Popen(
            [sys.executable, '-c',
             'import sys, time\n'
             'from hvc_agent import locks\n'
             'with locks.cluster_lock(sys.argv[1]):\n'
             '    print("held", flush=True)\n'
             '    time.sleep(1)\n', self.path],
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(holder.wait)
        self.assertEqual('held\n', holder.stdout.readline())
        start = time.monotonic()
        with locks.cluster_lock(self.path):
            waited = time.monotonic() - start
        self.assertGreater(waited, 0.5)
        self.assertTrue(os.path.exists(self.path))
