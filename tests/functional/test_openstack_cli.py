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

"""The CSV providers as operators see them: the real openstack CLI."""

import json
import os
import subprocess
import sys

import hvc_names
from placement_sync import model
from tests import fixtures as hvc_fixtures


class TestOpenstackCli(hvc_fixtures.PlacementTestCase):

    def openstack(self, *args):
        env = dict(os.environ, OS_AUTH_TYPE='admin_token',
                   OS_ENDPOINT=self.endpoint, OS_TOKEN='admin',
                   OS_PLACEMENT_API_VERSION='1.39')
        result = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), 'openstack')] +
            list(args) + ['-f', 'json'],
            env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(0, result.returncode, result.stderr)
        return json.loads(result.stdout)

    def test_csv_provider_inventory_traits_aggregates(self):
        cluster = self.cluster(volumes=(('Volume1', 500),))
        self.assertEqual([], self.reconciler().sync([cluster]).errors)
        name = hvc_names.provider_name(cluster.name, 'Volume1')
        [provider] = self.openstack('resource', 'provider', 'list',
                                    '--name', name)
        self.assertEqual(hvc_names.provider_uuid(cluster.name, 'Volume1-id'),
                         provider['uuid'])
        [disk] = self.openstack('resource', 'provider', 'inventory', 'list',
                                provider['uuid'])
        self.assertEqual(('DISK_GB', 500, 0, 500), (
            disk['resource_class'], disk['total'], disk['reserved'],
            disk['max_unit']))
        traits = {t['name'] for t in self.openstack(
            'resource', 'provider', 'trait', 'list', provider['uuid'])}
        self.assertEqual({'MISC_SHARES_VIA_AGGREGATE', model.OWNER_TRAIT},
                         traits)
        [agg] = self.openstack('resource', 'provider', 'aggregate', 'list',
                               provider['uuid'])
        members = {p['name'] for p in self.openstack(
            'resource', 'provider', 'list', '--member-of', agg['uuid'])}
        self.assertEqual(set(cluster.nodes) | {name}, members)
        # The scheduler's view: the nodes with the CSV's disk.
        candidates = self.openstack(
            'allocation', 'candidate', 'list', '--resource', 'VCPU=1',
            '--resource', 'DISK_GB=100', '--member-of', agg['uuid'])
        disk_from = {c['resource provider'] for c in candidates
                     if 'DISK_GB' in c['allocation']}
        self.assertEqual({provider['uuid']}, disk_from)
