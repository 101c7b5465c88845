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

"""[placement_sync] options checked at start-up: one line, exit 2."""

import contextlib
import io

import fixtures
import testtools

from placement_sync import cmd


class TestReserveOptions(testtools.TestCase):

    def run_cmd(self, **options):
        path = self.useFixture(fixtures.TempDir()).join('sync.conf')
        with open(path, 'w') as f:
            f.write('[placement_sync]\nsource = simulated\n' + ''.join(
                '%s = %s\n' % kv for kv in options.items()))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cmd.main(['--config-file', path, '--once'])
        self.assertEqual(2, status, err.getvalue())
        self.assertEqual('', out.getvalue())
        self.assertEqual(1, len(err.getvalue().splitlines()), err.getvalue())
        return err.getvalue()

    def test_beyond_placement_sizes(self):
        for name in ('reserve_headroom_gb', 'reserve_step_gb'):
            err = self.run_cmd(**{name: 99999999999999999999})
            self.assertIn(name, err)
            self.assertIn('is not valid: Should be less than or equal to', err)

    def test_step_larger_than_the_headroom(self):
        err = self.run_cmd(reserve_headroom_gb=5, reserve_step_gb=7)
        self.assertEqual('hvc-placement-sync: [placement_sync] '
                         'reserve_step_gb (7) must be at most '
                         'reserve_headroom_gb (5), or the headroom is not '
                         'kept\n', err)
