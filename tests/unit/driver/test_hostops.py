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

"""HostOps: the node's VCPU and MEMORY_MB, never DISK_GB."""

import uuid

from os_win import exceptions as os_win_exc
from oslo_serialization import jsonutils

from nova.compute import provider_tree
from nova import exception

from hvc_driver import exception as hvc_exc
from hvc_driver import hostops
from hvc_driver import hyperv
from tests.unit.driver import fixtures as driver_fixtures

NODE = 'node1'


class HostOpsTestCase(driver_fixtures.OsWinTestCase):

    def setUp(self):
        super().setUp()
        hostutils = self.oswin.utils['hostutils']
        # Two sockets of 8 cores, 16 threads each; 256 GB, 200 GB free.
        hostutils.get_cpus_info.return_value = [
            {'Architecture': 9, 'Name': 'Xeon', 'Manufacturer': 'Intel',
             'MaxClockSpeed': 2400, 'NumberOfCores': 8,
             'NumberOfLogicalProcessors': 16}] * 2
        hostutils.get_memory_info.return_value = (262144 * 1024,
                                                  204800 * 1024)
        hostutils.get_windows_version.return_value = '10.0.20348'
        self.hyperv = hyperv.HyperV(driver_fixtures.CONF)
        self.hyperv.bind(NODE)
        self.hostops = hostops.HostOps(self.hyperv)

    def _tree(self, inventory=None, traits=(), aggregates=()):
        tree = provider_tree.ProviderTree()
        tree.new_root(NODE, str(uuid.uuid4()))
        if inventory:
            tree.update_inventory(NODE, inventory)
        tree.add_traits(NODE, *traits)
        tree.update_aggregates(NODE, list(aggregates))
        return tree

    def test_inventory_uses_nova_ratios_and_reserved(self):
        self.conf.config(cpu_allocation_ratio=None,
                         initial_cpu_allocation_ratio=8.0,
                         ram_allocation_ratio=1.5, reserved_host_cpus=2,
                         reserved_host_memory_mb=4096)
        tree = self._tree()
        self.hostops.update_provider_tree(tree, NODE)
        inventory = tree.data(NODE).inventory
        self.assertEqual({'VCPU', 'MEMORY_MB'}, set(inventory))
        self.assertEqual(
            {'total': 32, 'min_unit': 1, 'max_unit': 32, 'step_size': 1,
             'allocation_ratio': 8.0, 'reserved': 2}, inventory['VCPU'])
        self.assertEqual(
            {'total': 262144, 'min_unit': 1, 'max_unit': 262144,
             'step_size': 1, 'allocation_ratio': 1.5, 'reserved': 4096},
            inventory['MEMORY_MB'])

    def test_a_ratio_set_in_placement_stays_unless_nova_conf_sets_one(self):
        self.conf.config(cpu_allocation_ratio=None,
                         initial_cpu_allocation_ratio=16.0)
        tree = self._tree(inventory={
            'VCPU': {'total': 32, 'allocation_ratio': 3.0},
            'MEMORY_MB': {'total': 262144, 'allocation_ratio': 1.0}})
        self.hostops.update_provider_tree(tree, NODE)
        self.assertEqual(3.0,
                         tree.data(NODE).inventory['VCPU']['allocation_ratio'])
        self.conf.config(cpu_allocation_ratio=2.0)
        self.hostops.update_provider_tree(tree, NODE)
        self.assertEqual(2.0,
                         tree.data(NODE).inventory['VCPU']['allocation_ratio'])

    def test_disk_gb_is_never_reported_and_others_settings_stay(self):
        aggregate = str(uuid.uuid4())
        tree = self._tree(
            inventory={'DISK_GB': {'total': 500, 'allocation_ratio': 1.0},
                       'VCPU': {'total': 1, 'allocation_ratio': 1.0}},
            traits=('CUSTOM_SOMEONE_ELSE', 'COMPUTE_IMAGE_TYPE_VHD'),
            aggregates=(aggregate,))
        self.hostops.update_provider_tree(tree, NODE)
        data = tree.data(NODE)
        self.assertNotIn('DISK_GB', data.inventory)
        self.assertEqual({'CUSTOM_SOMEONE_ELSE', 'COMPUTE_IMAGE_TYPE_VHD'},
                         set(data.traits))
        self.assertEqual({aggregate}, set(data.aggregates))

    def test_another_node_is_refused(self):
        self.assertRaises(exception.NovaException,
                          self.hostops.update_provider_tree, self._tree(),
                          'node2')
        self.assertRaises(exception.NovaException,
                          self.hostops.get_available_resource, 'node2')

    def test_available_resource_is_the_nodes(self):
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.node.get_local_node_uuid', return_value='node-uuid'))
        resources = self.hostops.get_available_resource(NODE)
        self.assertEqual(
            {'uuid': 'node-uuid', 'vcpus': 32, 'memory_mb': 262144,
             'memory_mb_used': 262144 - 204800, 'local_gb': 0,
             'hypervisor_type': 'hyperv', 'hypervisor_version': 10000,
             'hypervisor_hostname': NODE},
            {k: resources[k] for k in (
                'uuid', 'vcpus', 'memory_mb', 'memory_mb_used', 'local_gb',
                'hypervisor_type', 'hypervisor_version',
                'hypervisor_hostname')})
        # No local disk, so no measure of it either: nova's scheduler
        # would compare 0 with the instances' disks nova counts on the
        # node and warn on every request.
        self.assertIsNone(resources['disk_available_least'])
        cpu_info = jsonutils.loads(resources['cpu_info'])
        self.assertEqual({'sockets': 2, 'cores': 8, 'threads': 2},
                         cpu_info['topology'])
        self.assertEqual('x86_64', cpu_info['arch'])
        self.assertEqual([('x86_64', 'hyperv', 'hvm')],
                         resources['supported_instances'])

    def test_host_ip_prefers_my_ip(self):
        self.conf.config(my_ip='192.0.2.10')
        self.assertEqual('192.0.2.10', self.hostops.get_host_ip_addr())
        self.oswin.utils['hostutils'].get_local_ips.assert_not_called()

    def test_os_win_errors_become_nova_exceptions(self):
        # Raw WMI errors and OSError too, in every public method.
        hostutils = self.oswin.utils['hostutils']
        hostutils.get_cpus_info.side_effect = os_win_exc.x_wmi(
            'Generic failure')
        for call in (lambda: self.hostops.update_provider_tree(
                         self._tree(), NODE),
                     lambda: self.hostops.get_available_resource(NODE)):
            err = self.assertRaises(hvc_exc.HyperVOperationFailed, call)
            self.assertIn('Generic failure', str(err))
        hostutils.get_windows_version.side_effect = (
            os_win_exc.HyperVException('no version'))
        self.assertRaises(hvc_exc.HyperVOperationFailed,
                          self.hostops.hypervisor_version)
        self.conf.config(my_ip=None)
        hostutils.get_local_ips.side_effect = OSError('no socket')
        self.assertRaises(hvc_exc.HyperVOperationFailed,
                          self.hostops.get_host_ip_addr)
