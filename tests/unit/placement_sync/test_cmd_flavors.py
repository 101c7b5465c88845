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

"""``hvc-placement-sync flavors``: its output and exit codes, with
openstacksdk's compute proxy autospecced (tests/functional/
test_host_aggregates.py runs it against nova's real API).
"""

import contextlib
import io
from unittest import mock

import fixtures
from openstack.compute.v2 import _proxy
from openstack.compute.v2 import flavor as sdk_flavor
import testtools

from placement_sync import cmd


def _flavor(name, disk, extra_specs=None, ephemeral=0, swap=0):
    return sdk_flavor.Flavor(id='id-' + name, name=name, disk=disk,
                             ephemeral=ephemeral, swap=swap,
                             extra_specs=extra_specs or {})


class TestFlavorsCommand(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.compute = mock.create_autospec(_proxy.Proxy, instance=True)
        self.flavors = [
            _flavor('m1.small', 20, swap=512),
            _flavor('m1.done', 10, {'resources:DISK_GB': '0',
                                    'resourcesCSV:DISK_GB': '10'}),
            _flavor('m1.gpu', 40, {'resources1:VGPU': '1'}),
            _flavor('m1.nodisk', 0),
        ]
        self.compute.flavors.return_value = self.flavors
        self.compute.fetch_flavor_extra_specs.side_effect = lambda f: f
        self.useFixture(fixtures.MockPatch(
            'placement_sync.clients.compute_proxy_factory',
            return_value=lambda: self.compute))
        self.conf = self.useFixture(fixtures.TempDir()).join('sync.conf')
        open(self.conf, 'w').close()

    def run_cmd(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cmd.main(['--config-file', self.conf] + list(argv))
        return status, out.getvalue(), err.getvalue()

    def test_named_flavor_is_converted_once(self):
        status, out, _err = self.run_cmd('flavors', 'm1.small', 'id-m1.done')
        self.assertEqual(0, status)
        self.assertEqual(
            'converted flavor m1.small (id-m1.small): set '
            'resources:DISK_GB=0, resourcesCSV:DISK_GB=21\n'
            'flavor m1.done (id-m1.done) is converted already\n', out)
        self.compute.create_flavor_extra_specs.assert_called_once_with(
            self.flavors[0], {'resources:DISK_GB': '0',
                              'resourcesCSV:DISK_GB': '21'})
        self.compute.flavors.assert_called_once_with(details=True,
                                                     is_public='none')

    def test_dry_run_writes_nothing(self):
        status, out, _err = self.run_cmd('--dry-run', 'flavors', 'm1.small')
        self.assertEqual(0, status)
        self.assertEqual('would convert flavor m1.small (id-m1.small): set '
                         'resources:DISK_GB=0, resourcesCSV:DISK_GB=21\n',
                         out)
        self.compute.create_flavor_extra_specs.assert_not_called()

    def test_all_converts_the_rest_and_fails_for_the_refused(self):
        status, out, _err = self.run_cmd('flavors', '--all')
        self.assertEqual(1, status)
        self.assertEqual([
            'flavor m1.done (id-m1.done) is converted already',
            'ERROR: flavor m1.gpu (id-m1.gpu) not converted: it has the '
            'request group(s) resources1, and nova needs a group_policy '
            'once the disk has one of its own: set group_policy first',
            'flavor m1.nodisk (id-m1.nodisk) asks for no disk: nothing to '
            'do',
            'converted flavor m1.small (id-m1.small): set '
            'resources:DISK_GB=0, resourcesCSV:DISK_GB=21'],
            out.splitlines())
        self.assertEqual(1, self.compute.create_flavor_extra_specs.call_count)

    def test_explicit_no_local_disk_is_left_alone(self):
        self.compute.flavors.return_value = [
            _flavor('m1.bfv', 20, {'resources:DISK_GB': '0'}),
            self.flavors[1]]
        status, out, _err = self.run_cmd('flavors', '--all')
        self.assertEqual(0, status)
        self.assertEqual([
            'flavor m1.bfv (id-m1.bfv) sets resources:DISK_GB=0 itself (no '
            'local disk): left as it is',
            'flavor m1.done (id-m1.done) is converted already'],
            out.splitlines())
        self.compute.create_flavor_extra_specs.assert_not_called()

    def test_csv_group_asking_for_other_resources_is_refused(self):
        self.compute.flavors.return_value = [
            _flavor('m1.csv', 20, {'resourcesCSV:VCPU': '1'}),
            # Merged by an earlier version: no host can boot it.
            _flavor('m1.merged', 20, {'resources:DISK_GB': '0',
                                      'resourcesCSV:DISK_GB': '20',
                                      'resourcesCSV:CUSTOM_IOPS': '100'}),
            self.flavors[0]]
        status, out, _err = self.run_cmd('flavors', '--all')
        self.assertEqual(1, status)
        self.assertEqual([
            'ERROR: flavor m1.csv (id-m1.csv) not converted: its request '
            'group resourcesCSV asks for VCPU, which no CSV provider has: '
            'the disk needs that group for itself',
            'ERROR: flavor m1.merged (id-m1.merged) not converted: its '
            'request group resourcesCSV asks for CUSTOM_IOPS, which no CSV '
            'provider has: the disk needs that group for itself',
            'converted flavor m1.small (id-m1.small): set '
            'resources:DISK_GB=0, resourcesCSV:DISK_GB=21'],
            out.splitlines())
        self.compute.create_flavor_extra_specs.assert_called_once_with(
            self.flavors[0], mock.ANY)

    def test_unknown_flavor_fails_and_the_others_are_converted(self):
        status, out, _err = self.run_cmd('flavors', 'nope', 'm1.small')
        self.assertEqual(1, status)
        self.assertIn('ERROR: no flavor named nope', out)
        self.assertIn('converted flavor m1.small', out)

    def test_bad_usage_exits_2_with_one_line(self):
        for argv in (['flavors'], ['--all', 'flavors', 'm1.small'],
                     ['--once', 'sync', 'm1.small'], ['report', '--all']):
            status, out, err = self.run_cmd(*argv)
            self.assertEqual(2, status, argv)
            self.assertEqual(1, len(err.splitlines()), (argv, err))
            self.assertEqual('', out)
        # Names after an option: argparse's usage, and exit 2 too.
        status, _out, err = self.run_cmd('flavors', '--all', 'm1.small')
        self.assertEqual(2, status)
        self.assertIn('unrecognized arguments: m1.small', err)
        self.compute.flavors.assert_not_called()
