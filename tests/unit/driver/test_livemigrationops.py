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

"""LiveMigrationOps against os-win (autospec)."""

import os
from unittest import mock

from os_win import exceptions as os_win_exc

from nova import exception
from nova import objects
from nova.objects import migrate_data as migrate_data_obj

from hvc_driver import exception as hvc_exc
from hvc_driver import layout
from hvc_driver import livemigrationops
from hvc_driver import volumeops
import hvc_names
from tests.unit.driver import test_vmops

CONF = test_vmops.driver_fixtures.CONF


class LiveMigrationOpsTestCase(test_vmops.OsWinVMOpsBase):

    def setUp(self):
        super().setUp()
        self.clusterutils.get_cluster_node_names.return_value = [
            'NODE1', 'node2', 'node3']
        self.ops = livemigrationops.LiveMigrationOps(
            self.hyperv, self.vmops, mock.Mock(), self.layout)
        self.instance = test_vmops._instance()
        self.instance.system_metadata[hvc_names.CSV_PROVIDER_KEY] = 'csv-rp'
        self.placement = self.useFixture(
            test_vmops.driver_fixtures.fixtures.MockPatch(
                'nova.scheduler.client.report.report_client_singleton')
        ).mock.return_value
        self.placement.get_allocs_for_consumer.return_value = {
            'allocations': {'node2-rp': {'resources': {'VCPU': 2}},
                            'csv-rp': {'resources': {'DISK_GB': 10}}}}
        self.post, self.recover = mock.Mock(), mock.Mock()
        self.data = migrate_data_obj.HyperVLiveMigrateData(
            is_shared_instance_path=True,
            migration=objects.Migration(dest_node='node2'))

    def test_destination_accepts_a_node_of_its_cluster(self):
        data = self.ops.check_can_live_migrate_destination(
            None, self.instance, {'hypervisor_hostname': 'node1'})
        self.assertTrue(data.is_shared_instance_path)

    def test_destination_refuses_a_copy_to_a_disk_not_on_its_csvs(self):
        # From another cluster the disks are copied to the CSV of the
        # allocation here; a provider that is no CSV of this cluster has
        # nowhere to copy them to.
        err = self.assertRaises(
            exception.MigrationPreCheckError,
            self.ops.check_can_live_migrate_destination, None,
            self.instance, {'hypervisor_hostname': 'elsewhere'})
        self.assertIn('csv-rp, which is not a Cluster Shared Volume of '
                      'cluster cluster1', str(err))

    def test_destination_refuses_a_disk_allocation_on_another_csv(self):
        self.placement.get_allocs_for_consumer.return_value = {
            'allocations': {'other-csv-rp': {'resources': {'DISK_GB': 10}}}}
        err = self.assertRaises(
            exception.MigrationPreCheckError,
            self.ops.check_can_live_migrate_destination, None,
            self.instance, {'hypervisor_hostname': 'node3'})
        self.assertIn('a live migration inside the cluster does not move '
                      'disks', str(err))

    def test_source_wants_the_vm_clustered_and_here(self):
        self.clusterutils.vm_exists.return_value = False
        self.assertRaises(exception.MigrationPreCheckError,
                          self.ops.check_can_live_migrate_source,
                          self.instance, self.data)
        self.clusterutils.vm_exists.return_value = True
        self.clusterutils.get_vm_host.return_value = 'node3'
        self.assertRaises(exception.MigrationPreCheckError,
                          self.ops.check_can_live_migrate_source,
                          self.instance, self.data)
        self.clusterutils.get_vm_host.return_value = 'NODE1'
        self.assertIs(self.data, self.ops.check_can_live_migrate_source(
            self.instance, self.data))

    def _migrate(self):
        self.ops.live_migration(mock.sentinel.context, self.instance,
                                'node2-host', self.post, self.recover, False,
                                self.data)

    def test_a_cluster_move_then_post(self):
        self._migrate()
        self.clusterutils.live_migrate_vm.assert_called_once_with(
            self.instance.name, 'node2', 600)
        self.post.assert_called_once_with(
            mock.sentinel.context, self.instance, 'node2-host', False,
            self.data)
        self.recover.assert_not_called()

    def test_a_failed_move_with_the_vm_here_recovers(self):
        self.clusterutils.live_migrate_vm.side_effect = (
            os_win_exc.ClusterGroupMigrationFailed(
                group_name='g', expected_state=0, expected_node='node2',
                group_state=0, owner_node='node1'))
        self.clusterutils.get_vm_host.return_value = 'node1'
        self._migrate()
        self.recover.assert_called_once_with(
            mock.sentinel.context, self.instance, 'node2-host', self.data)
        self.post.assert_not_called()

    def test_a_move_that_timed_out_but_arrived_is_posted(self):
        self.clusterutils.live_migrate_vm.side_effect = (
            os_win_exc.ClusterGroupMigrationTimeOut(group_name='g',
                                                    time_elapsed=600))
        self.clusterutils.get_vm_host.return_value = 'NODE2'
        self._migrate()
        self.post.assert_called_once()
        self.recover.assert_not_called()

    def test_a_vm_that_ended_up_on_a_third_node_is_an_error(self):
        # Neither post (nova would place it on node2) nor recover (on
        # node1): the truth is elsewhere, nova's ERROR says so.
        self.clusterutils.live_migrate_vm.side_effect = (
            os_win_exc.ClusterGroupMigrationFailed(
                group_name='g', expected_state=0, expected_node='node2',
                group_state=0, owner_node='node3'))
        self.clusterutils.get_vm_host.return_value = 'node3'
        err = self.assertRaises(hvc_exc.HyperVOperationFailed, self._migrate)
        self.assertIn('now on node3', str(err))
        self.post.assert_not_called()
        self.recover.assert_not_called()

    def test_the_node_the_vm_leaves_stops_its_reader_and_ovs_ports(self):
        self.conf.config(vswitch_name='ovs-switch', group='hyperv_cluster')
        with mock.patch.object(self.vmops._serialconsoleops,
                               'stop_log') as stop_log, \
                mock.patch.object(self.hyperv, 'ovs_vsctl') as ovs_vsctl:
            self.ops.post_live_migration_at_source(
                self.instance, test_vmops._vifs('ovs'))
        stop_log.assert_called_once_with(self.instance.name)
        self.assertIn('del-port', ovs_vsctl.call_args[0][0])


class CopyInTestCase(test_vmops.OsWinVMOpsBase):
    """A live migration from another cluster or host, at the destination:
    the directory for the copy, and what a failed one leaves.
    """

    def setUp(self):
        super().setUp()
        self.ops = livemigrationops.LiveMigrationOps(
            self.hyperv, self.vmops, volumeops.VolumeOps(self.hyperv),
            self.layout)
        self.instance = test_vmops._instance()
        # No DISK_GB on a CSV: the directory goes under instances_path.
        self.useFixture(test_vmops.driver_fixtures.fixtures.MockPatch(
            'nova.scheduler.client.report.report_client_singleton')
        ).mock.return_value.get_allocs_for_consumer.return_value = {
            'allocations': {'node2-rp': {'resources': {'VCPU': 2}}}}
        self.data = migrate_data_obj.HyperVLiveMigrateData(
            is_shared_instance_path=False)
        self.lmutils = self.oswin.utils['livemigrationutils']
        # The instance as the database has it (nova's is older).
        self.saved = test_vmops._instance()
        self.useFixture(test_vmops.driver_fixtures.fixtures.MockPatch(
            'nova.objects.Instance.get_by_uuid', return_value=self.saved))
        self.save = self.useFixture(
            test_vmops.driver_fixtures.fixtures.MockPatchObject(
                self.saved, 'save')).mock
        self.arrival_dir = os.path.join(CONF.instances_path,
                                        self.instance.name)

    def _arrived(self, names):
        """The arrival directory holds these files (os-win has no
        listing: the seam lists the real directory).
        """
        self.saved.system_metadata[hvc_names.ARRIVAL_DIR_KEY] = (
            self.arrival_dir)
        self.pathutils.exists.return_value = True
        os.makedirs(self.arrival_dir)
        for name in names:
            open(os.path.join(self.arrival_dir, name), 'w').close()

    def test_the_destination_makes_the_directory_and_names_it(self):
        self.ops.pre_live_migration(None, self.instance, None, self.data)
        # A planned VM a failed attempt left would refuse the migration.
        self.lmutils.destroy_existing_planned_vm.assert_called_once_with(
            self.instance.name)
        self.pathutils.check_create_dir.assert_called_once_with(
            self.arrival_dir)
        self.assertEqual(self.arrival_dir, self.saved.system_metadata[
            hvc_names.ARRIVAL_DIR_KEY])
        self.save.assert_called_once_with()
        self.assertNotIn(hvc_names.ARRIVAL_DIR_KEY,
                         self.instance.system_metadata)

    def test_a_failed_copy_leaves_nothing_at_the_destination(self):
        self._arrived([layout.CONFIG_DRIVE])
        self.ops.rollback_live_migration_at_destination(
            None, self.instance, [], self.data)
        self.lmutils.destroy_existing_planned_vm.assert_called_once_with(
            self.instance.name)
        self.pathutils.check_remove_dir.assert_called_once_with(
            self.arrival_dir)
        self.assertNotIn(hvc_names.ARRIVAL_DIR_KEY,
                         self.saved.system_metadata)

    def test_a_directory_with_disks_in_it_is_not_removed(self):
        self._arrived([layout.CONFIG_DRIVE, 'root.vhdx'])
        self.ops.rollback_live_migration_at_destination(
            None, self.instance, [], self.data)
        self.pathutils.check_remove_dir.assert_not_called()

    # Aborting.

    def _group(self, queued):
        self.clusterutils.vm_exists.return_value = True
        self.clusterutils.get_cluster_group_state_info.return_value = {
            'owner_node': 'node1', 'state': 0, 'status_info': 0,
            'migration_queued': queued}

    def test_a_cluster_move_in_flight_is_cancelled(self):
        self._group(queued=True)
        self.ops.abort(self.instance)
        cancel = self.clusterutils.cancel_cluster_group_migration
        cancel.assert_called_once_with(
            self.instance.name, 0,
            CONF.hyperv_cluster.live_migration_timeout or None)

    def test_a_group_moving_nowhere_is_left_alone(self):
        self._group(queued=False)
        self.ops.abort(self.instance)
        self.clusterutils.cancel_cluster_group_migration.assert_not_called()

    def test_a_storage_migration_has_its_jobs_stopped(self):
        self.clusterutils.vm_exists.return_value = False
        self.vmutils.vm_exists.return_value = True
        self.ops.abort(self.instance)
        self.vmutils.stop_vm_jobs.assert_called_once_with(self.instance.name)
