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

"""``hvc-placement-sync report``'s text: states and names as placement
holds them.
"""

import testtools

from placement_sync import model
from placement_sync import plan
from placement_sync import report

AGGREGATE = 'a0000000-0000-0000-0000-000000000001'


class _Placement(object):
    """placement's answers for report.gather: {name: (total, reserved,
    used)} of CSV providers, and nodes, in one aggregate.
    """

    def __init__(self, csvs, nodes):
        self.providers = {'u%d' % i: (name, sizes)
                          for i, (name, sizes) in enumerate(csvs.items())}
        self.nodes = nodes

    def trait_exists(self, name):
        return True

    def list_providers(self, required=None, member_of=None):
        if member_of:
            return [{'uuid': 'n', 'name': n} for n in self.nodes]
        return [{'uuid': u, 'name': name}
                for u, (name, _sizes) in self.providers.items()]

    def get_aggregates(self, uuid):
        return 1, {AGGREGATE}

    def get_inventories(self, uuid):
        total, reserved, _used = self.providers[uuid][1]
        return 1, {model.DISK_GB: {'total': total, 'reserved': reserved,
                                   'allocation_ratio': 1.0}}

    def get_usages(self, uuid):
        return {model.DISK_GB: self.providers[uuid][1][2]}


class TestReport(testtools.TestCase):

    def _lines(self, csvs, nodes=('node1',)):
        return report.format_report(report.gather(
            _Placement(csvs, nodes))).splitlines()

    def test_full_is_not_draining(self):
        gone = 'hyperv-csv:c1:Old%s1234abcd)' % plan.DRAINING_MARK
        lines = self._lines({'hyperv-csv:c1:Full': (100, 0, 100),
                             'hyperv-csv:c1:Reserved': (100, 100, 0),
                             'hyperv-csv:c1:Live': (100, 0, 10),
                             gone: (100, 100, 5)})
        states = {line.split()[1]: line.split()[-1] for line in lines
                  if line.startswith('  csv ')}
        self.assertEqual({'Full': 'FULL', 'Reserved': 'FULL', 'Live': 'u2',
                          'Old': 'DRAINING'}, states)

    def test_control_characters_in_names_are_escaped(self):
        lines = self._lines({'hyperv-csv:c\n1:Vol\x1b1': (100, 0, 0)},
                            nodes=('node\r1', 'node2'))
        self.assertEqual([
            "cluster 'c\\n1'  (aggregate %s)" % AGGREGATE,
            "  nodes: 'node\\r1', node2"], lines[:2])
        self.assertTrue(lines[2].startswith("  csv 'Vol\\x1b1' "), lines[2])
        self.assertEqual(3, len(lines))
