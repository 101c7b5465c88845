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

"""``make demo`` runs, and shows what it claims."""

import subprocess
import sys

import testtools


class TestDemo(testtools.TestCase):

    def test_demo(self):
        result = subprocess.run(
            [sys.executable, '-m', 'hvc_demo'],
            capture_output=True, text=True, timeout=600)
        self.assertEqual(0, result.returncode, result.stdout + result.stderr)
        out = result.stdout
        self.assertIn('nothing to change', out)  # the second sync
        self.assertRegex(out, r'DISK_GB +\| +1\.0 \| +1 \| +500 \| +0 \| '
                              r'+1 \| +500 \|')  # openstack inventory list
        self.assertRegex(out, r'vm3 +on hv-node2, DISK_GB on hv-node2 +'
                              r'refused: no allocation candidate')
        self.assertIn('put 600 GB on the 500 GB Volume1', out)
        self.assertIn('free GB now Volume1 100, Volume2 150', out)
