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

"""MigrationOps' refusals, on the simulated cluster: each leaves the VM
running where it was, before anything is touched.
"""

import json
import os
from unittest import mock

from nova import exception
from nova import objects
from nova.virt import virtapi

from hvc_driver import layout
from hvc_driver import migrationops
from hvc_driver import vmops
from hvc_driver import volumeops
import hvc_names
from hvc_oswin_api import constants as os_win_const
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.driver import test_vmops


class _MigrationOpsBase(driver_fixtures.SimulatedTestCase):
    """MigrationOps on ``node``, with the migration of an instance of it
    to ``dest_node`` (nova's records and placement stand-ins).
    """

    dest_node = None

    def setUp(self):
        super().setUp()
        self.vmops = vmops.VMOps(self.hyperv, volumeops.VolumeOps(self.hyperv),
                                 mock.create_autospec(virtapi.VirtAPI,
                                                      instance=True))
        self.ops = migrationops.MigrationOps(self.hyperv, self.vmops,
                                             self.layout)
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.images.IMAGE_API.download',
            side_effect=test_vmops.fake_download))
        self.placement = self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.scheduler.client.report.report_client_singleton')
        ).mock.return_value
        self.migration = objects.Migration(
            id=1, uuid='0e5b5c3a-5d1e-4c8e-9d1a-2f3b4c5d6e7f',
            dest_node=self.dest_node, source_node=self.node)
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.objects.Migration.get_by_id',
            return_value=self.migration))

    def _instance(self, **sizes):
        instance = test_vmops._instance(**sizes)
        instance.migration_context = objects.MigrationContext(
            migration_id=1)
        return instance


class MigrationOpsTestCase(_MigrationOpsBase):

    dest_node = 'node2'

    def setUp(self):
        super().setUp()
        self.instance = self._instance(root_gb=1, ephemeral_gb=1)
        self.vmops.spawn(None, self.instance, test_vmops._image_meta(), [],
                         None)
        [volume] = self.hyperv.clusterutils.list_shared_volumes()
        self.csv_rp = self.layout.provider_of(volume)
        self.instance.system_metadata[hvc_names.CSV_PROVIDER_KEY] = self.csv_rp
        self._allocate(self.csv_rp)

    def _allocate(self, disk_provider):
        self.placement.get_allocs_for_consumer.return_value = {
            'allocations': {disk_provider: {'resources': {'DISK_GB': 2}}}}

    def _flavor(self, **sizes):
        flavor = objects.Flavor(**dict(
            {'name': 'new', 'root_gb': 1, 'ephemeral_gb': 1, 'swap': 0,
             'vcpus': 2, 'memory_mb': 2048}, **sizes))
        return flavor

    def _assert_refused(self, flavor, reason):
        err = self.assertRaises(
            exception.InstanceFaultRollback,
            self.ops.migrate_disk_and_power_off, None, self.instance,
            flavor, [], 0, 0)
        self.assertIn(reason, str(err.inner_exception))
        vm = self.cluster.state.get_vm(self.instance.name)
        self.assertEqual(('node1', os_win_const.HYPERV_VM_STATE_ENABLED),
                         (vm.node, vm.state))

    def test_disks_do_not_shrink(self):
        self._assert_refused(self._flavor(ephemeral_gb=0),
                             'disks do not shrink')

    def test_a_disk_allocation_on_no_csv_of_the_cluster_is_refused(self):
        self._allocate('other-rp')
        self._assert_refused(self._flavor(), 'other-rp, which is not a '
                             'Cluster Shared Volume of cluster cluster1')

    def test_to_another_cluster_the_vm_goes_and_its_disks_stay(self):
        self.migration.dest_node = 'b1'
        info = json.loads(self.ops.migrate_disk_and_power_off(
            None, self.instance, self._flavor(), [], 0, 0))
        inst_dir = self.layout.instance_dir(self.instance.name)
        # Reached from the other cluster through node1's admin share.
        self.assertEqual(
            {'cluster': 'cluster1', 'source_node': 'node1',
             'source_dir': self.hyperv.remote_path('node1', inst_dir)}, info)
        self.assertIsNone(self.cluster.state.get_vm(self.instance.name))
        self.assertIsNone(self.cluster.state.get_cluster_group(
            self.instance.name))
        self.assertTrue(os.path.exists(os.path.join(inst_dir, 'root.vhdx')))

    def test_a_move_within_the_cluster(self):
        self.ops.migrate_disk_and_power_off(None, self.instance,
                                            self._flavor(), [], 0, 0)
        vm = self.cluster.state.get_vm(self.instance.name)
        self.assertEqual(('node2', os_win_const.HYPERV_VM_STATE_DISABLED),
                         (vm.node, vm.state))


class TestResizeOnAStandaloneHost(_MigrationOpsBase):
    """A standalone host resizes in place: its disk allocation is its own
    (no CSV to check), and its own Hyper-V says the VM is there.
    """

    node = dest_node = 'solo'
    standalone_hosts = ('solo',)

    def setUp(self):
        super().setUp()
        self.assertTrue(self.hyperv.standalone)
        allocations = {'solo-rp': {'resources': {'DISK_GB': 1}}}
        self.placement.get_allocs_for_consumer.return_value = {
            'allocations': allocations}
        self.instance = self._instance(root_gb=1)
        self.vmops.spawn(None, self.instance, test_vmops._image_meta(), [],
                         None, allocations=allocations)

    def _root_size(self):
        root = self.ops._layout.disk_path(self.instance.name, layout.ROOT_DISK)
        return json.loads(open(root).read())['virtual_size']

    def test_resize_up_in_place_then_revert(self):
        bigger = objects.Flavor(name='bigger', root_gb=2, ephemeral_gb=0,
                                swap=0, vcpus=4, memory_mb=2048)
        disk_info = self.ops.migrate_disk_and_power_off(
            None, self.instance, bigger, [], 0, 0)
        self.instance.old_flavor = self.instance.flavor
        self.instance.flavor = bigger
        self.ops.finish_migration(None, self.migration, self.instance,
                                  disk_info, [], test_vmops._image_meta(),
                                  True, {}, None, True)
        vm = self.cluster.state.get_vm(self.instance.name)
        self.assertEqual(('solo', 4, os_win_const.HYPERV_VM_STATE_ENABLED),
                         (vm.node, vm.vcpus, vm.state))
        self.assertEqual(2 * 2 ** 30, self._root_size())
        self.assertIsNone(self.cluster.state.get_cluster_group(vm.name))

        self.instance.flavor = self.instance.old_flavor
        self.ops.finish_revert_migration(None, self.instance, self.migration,
                                         [], None, True)
        vm = self.cluster.state.get_vm(self.instance.name)
        self.assertEqual(('solo', self.instance.flavor.vcpus),
                         (vm.node, vm.vcpus))
        self.assertEqual(1 * 2 ** 30, self._root_size())
