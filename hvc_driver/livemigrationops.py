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

"""Live migration: a cluster move inside a cluster, a copy out of it.

Inside a failover cluster a live migration moves the VM's cluster group to
the other node (os-win's ``ClusterUtils.live_migrate_vm``): memory only, the
disks stay on their CSV, the VM stays clustered, and a move that fails
leaves the VM running on the source (the cluster moves it back).

To a node of another cluster, or between a cluster and a standalone
Hyper-V host, the storage moves with the VM: the destination makes the
instance's directory on the storage of its DISK_GB allocation (the CSV
placement chose, or a standalone host's instances_path) and names it in
the instance's system metadata; the source copies the config drive there
(Hyper-V's storage migration moves no DVD image), unclusters the VM and
live-migrates it with its disks to that directory (a Hyper-V "virtual
system and storage" migration, which copies every disk of the instance's
directory with its parents); the destination clusters it on arrival. A
move that fails leaves the VM running on the source, clustered again.

Nova's contract around both:

- destination: ``check_can_live_migrate_destination`` (which of the two,
  and is the disk allocation where the disks will be?),
  ``pre_live_migration`` (SMB shares of the volumes mapped; the directory
  for a copy), ``post_live_migration_at_destination`` (clustered, if it
  came from outside; the console log reader and the Open vSwitch ports now
  run here), ``rollback_live_migration_at_destination`` (the VM runs on
  the source: only what this node made for it goes);
- source: ``check_can_live_migrate_source``, ``live_migration`` (the move,
  then nova's ``post_method``, or ``recover_method`` with the VM back
  where it was), ``post_live_migration_at_source`` (reader and OVS ports
  stop here); nova's cleanup of the source then leaves the VM alone, as it
  runs elsewhere, and after a copy the source's directory is gone already.
"""


from oslo_log import log as logging

import nova.conf
from nova import exception
from nova import objects
from nova.objects import migrate_data as migrate_data_obj

from hvc_driver import exception as hvc_exc
from hvc_driver import hyperv as seam
from hvc_driver import layout
from hvc_driver import placement
import hvc_names
from hvc_oswin_api import constants as os_win_const

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF


def _copies(migrate_data):
    """Whether this live migration copies the disks (from or to another
    cluster or a standalone host) rather than moving a cluster group.
    """
    return not migrate_data.is_shared_instance_path


def copied_out(migrate_data):
    """Whether nova's cleanup of a source node follows a live migration
    that copied the disks away (the migrate data nova passes, or None).
    """
    return (isinstance(migrate_data,
                       migrate_data_obj.HyperVLiveMigrateData) and
            'is_shared_instance_path' in migrate_data and
            _copies(migrate_data))


class LiveMigrationOps(seam.UsesHyperV):

    def __init__(self, hyperv, vmops, volumeops, instance_layout):
        self._hyperv = hyperv
        self._vmops = vmops
        self._volumeops = volumeops
        self._layout = instance_layout
        # The instances this node is live-migrating away now (uuids).
        self._outgoing = set()

    def is_migrating(self, instance_uuid):
        """Whether this node's live migration of the instance runs now:
        nova's post-migration (which drops the source's allocation) runs
        inside it, after the destination cleared the instance's task.
        """
        return instance_uuid in self._outgoing

    # On the destination.

    @hvc_exc.translate_oswin_errors('check a live migration to this node')
    def check_can_live_migrate_destination(self, context, instance,
                                           src_compute_info):
        source = src_compute_info['hypervisor_hostname']
        allocations = placement.allocations_of(context, instance)
        if self._hyperv.in_this_cluster(source):
            self._check_cluster_move(instance, allocations)
            return migrate_data_obj.HyperVLiveMigrateData(
                is_shared_instance_path=True)
        try:
            # Where the disks will be copied to: on a CSV of this cluster
            # (or this standalone host's own disk), or nowhere.
            self._layout.csv_of(allocations)
        except layout.DiskNotOnThisCluster as e:
            raise exception.MigrationPreCheckError(
                reason='%s cannot live-migrate to %s: %s' % (
                    instance.uuid, self._hyperv.node, e))
        self._hyperv.livemigrationutils.check_live_migration_config()
        return migrate_data_obj.HyperVLiveMigrateData(
            is_shared_instance_path=False)

    def _check_cluster_move(self, instance, allocations):
        """The instance's DISK_GB allocation for this node must be on the
        CSV that holds its disks: a cluster move does not move them.
        (The scheduler filter HyperVClusterKeepCSVFilter keeps live
        migrations inside the cluster on the instance's CSV, and fails the
        nodes of its cluster when that CSV has no room for nova's second
        claim; only a scheduler without it gets here.)
        """
        held_by = instance.system_metadata.get(hvc_names.CSV_PROVIDER_KEY)
        wanted = [rp for rp, alloc in allocations.items()
                  if alloc['resources'].get('DISK_GB')]
        if wanted and wanted != [held_by]:
            raise exception.MigrationPreCheckError(
                reason='the scheduler allocated the disk of %s on provider '
                       '%s, but its disks are on CSV provider %s; a live '
                       'migration inside the cluster does not move disks '
                       '(nova claims the disk a second time during the '
                       'move: its CSV needs room for it; a cold migration '
                       'copies the disks to another CSV instead)'
                       % (instance.uuid, ', '.join(wanted), held_by))

    @hvc_exc.translate_oswin_errors('prepare a live migration to this node')
    def pre_live_migration(self, context, instance, block_device_info,
                           migrate_data):
        if _copies(migrate_data):
            self._make_arrival_dir(context, instance)
        # The VM's SMB volumes must be reachable from here when it comes.
        self._volumeops.map_shares(block_device_info)
        return migrate_data

    def _make_arrival_dir(self, context, instance):
        """The empty directory the source copies the disks to, on the
        storage of this node's DISK_GB allocation, named in the instance's
        system metadata for the source.
        """
        vm_name = instance.name
        if self._vmutils.vm_exists(vm_name):
            raise exception.InstanceExists(name=vm_name)
        volume = self._layout.csv_of(
            placement.allocations_of(context, instance))
        arrival_dir = self._layout.new_instance_dir(vm_name, volume)
        if self._pathutils.exists(arrival_dir):
            # Another instance's, or a copy nobody cleaned up: not ours to
            # fill or to remove.
            raise exception.DestinationDiskExists(path=arrival_dir)
        # What a failed attempt may have left: Hyper-V's planned VM of it
        # here would refuse the migration.
        self._hyperv.livemigrationutils.destroy_existing_planned_vm(vm_name)
        self._pathutils.check_create_dir(arrival_dir)
        # Saved on an object of its own: nova's may carry changes of its
        # own that are not for this node to save.
        fresh = objects.Instance.get_by_uuid(
            context, instance.uuid, expected_attrs=['system_metadata'])
        fresh.system_metadata[hvc_names.ARRIVAL_DIR_KEY] = arrival_dir
        fresh.save()
        LOG.info('%s will arrive in %s', vm_name, arrival_dir,
                 instance=instance)

    @hvc_exc.translate_oswin_errors('take over a live-migrated instance')
    def post_live_migration_at_destination(self, context, instance,
                                           network_info):
        vm_name = instance.name
        if self._clusterutils.vm_exists(vm_name):
            owner = self._clusterutils.get_vm_host(vm_name)
            if not self._hyperv.is_this_node(owner):
                raise hvc_exc.InstanceOnAnotherNode(
                    vm_name=vm_name, owner=owner, node=self._hyperv.node)
            copied_in = False
        elif self._vmutils.vm_exists(vm_name):
            copied_in = True
        else:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        # nova's record of it first (saved by nova after this call), then
        # what runs here for it.
        self._vmops.storage_of(instance,
                               placement.allocations_of(context, instance))
        arrival_dir = self._arrival_dir(context, instance, consume=True)
        if copied_in:
            # The copy the source made of its config drive (see _copy_out).
            config_drive = self._layout.existing_file(
                vm_name, layout.CONFIG_DRIVE, arrival_dir)
            if config_drive:
                self._vmops.attach_config_drive(vm_name, config_drive)
        self._vmops.take_over(instance, network_info)
        if copied_in:
            # From another cluster or host: it joins this node's cluster
            # (if it is in one).
            self._vmops.cluster(vm_name)

    @hvc_exc.translate_oswin_errors('roll back a live migration to this '
                                    'node', instance_not_found=False)
    def rollback_live_migration_at_destination(self, context, instance,
                                               network_info, migrate_data):
        """The move failed and the VM runs on the source: leave it; only
        what this node may have started or made for it goes (the
        directory a copy was to go to, if it stayed empty).
        """
        self._vmops.let_go(instance, network_info)
        if migrate_data is None or not _copies(migrate_data):
            return
        if self._vmutils.vm_exists(instance.name):
            LOG.warning('The live migration of %s failed, but it arrived '
                        'here', instance.name, instance=instance)
            return
        # The planned VM a failed migration may leave here (what nova's
        # cleanup flags of Hyper-V's migrate data are for).
        self._hyperv.livemigrationutils.destroy_existing_planned_vm(
            instance.name)
        arrival_dir = self._arrival_dir(context, instance, consume=True)
        # Nothing but the config drive the source copied first (Hyper-V
        # removes what a failed migration copied): ours to remove.
        if (arrival_dir and self._pathutils.exists(arrival_dir) and
                set(self._pathutils.listdir(arrival_dir)) <= {
                    layout.CONFIG_DRIVE}):
            self._pathutils.check_remove_dir(arrival_dir)

    @staticmethod
    def _arrival_dir(context, instance, consume=False):
        """The directory the destination made for a copy (as saved in the
        database: the instance objects of nova's calls predate it); the
        destination consumes it once the move ended either way.
        """
        fresh = objects.Instance.get_by_uuid(
            context, instance.uuid,
            expected_attrs=['system_metadata'])
        path = fresh.system_metadata.get(hvc_names.ARRIVAL_DIR_KEY)
        if consume and path is not None:
            del fresh.system_metadata[hvc_names.ARRIVAL_DIR_KEY]
            fresh.save()
        return path

    # On the source.

    @hvc_exc.translate_oswin_errors('check a live migration from this node')
    def check_can_live_migrate_source(self, instance, dest_check_data):
        vm_name = instance.name
        if not _copies(dest_check_data):
            if not self._clusterutils.vm_exists(vm_name):
                raise exception.MigrationPreCheckError(
                    reason='%s is not clustered: only clustered instances '
                           'move between the nodes of a cluster' % vm_name)
            owner = self._clusterutils.get_vm_host(vm_name)
        else:
            owner = (self._hyperv.node if self._vmutils.vm_exists(vm_name)
                     else None)
        if not self._hyperv.is_this_node(owner):
            raise exception.MigrationPreCheckError(
                reason='%s runs on node %s, not on %s' % (
                    vm_name, owner, self._hyperv.node))
        return dest_check_data

    def live_migration(self, context, instance, dest, post_method,
                       recover_method, block_migration, migrate_data):
        """Move the VM to the destination node; then nova's
        ``post_method``, or ``recover_method`` when the VM stays here.

        Never raises for a failed move: nova would put the instance in
        ERROR, while the VM runs on here as before.
        """
        self._outgoing.add(instance.uuid)
        try:
            if _copies(migrate_data):
                moved = self._copy_out(context, instance,
                                       migrate_data.migration.dest_node)
            else:
                moved = self._cluster_move(instance,
                                           migrate_data.migration.dest_node)
            if moved:
                post_method(context, instance, dest, block_migration,
                            migrate_data)
            else:
                recover_method(context, instance, dest, migrate_data)
        finally:
            self._outgoing.discard(instance.uuid)

    def _cluster_move(self, instance, dest_node):
        """Move the VM's group to ``dest_node``; whether it went."""
        vm_name = instance.name
        LOG.info('Live migrating %s from node %s to node %s (a cluster '
                 'move; the disks stay on their CSV)', vm_name,
                 self._hyperv.node, dest_node, instance=instance)
        try:
            self._clusterutils.live_migrate_vm(
                vm_name, dest_node,
                CONF.hyperv_cluster.live_migration_timeout or None)
        except Exception as e:
            # Where is it now? The cluster moves it back on failure, but a
            # move that timed out may have ended all the same.
            owner = self._owner(vm_name)
            if owner is None or not (self._hyperv.is_this_node(owner) or
                                     owner.lower() == dest_node.lower()):
                raise hvc_exc.HyperVOperationFailed(
                    node=self._hyperv.node,
                    operation='live migrate %s to %s' % (vm_name, dest_node),
                    reason='%s; the VM is now on %s' % (e, owner)) from e
            if self._hyperv.is_this_node(owner):
                LOG.error('The cluster did not move %s to node %s: %s; it '
                          'runs on here', vm_name, dest_node, e,
                          instance=instance)
                return False
            LOG.warning('Moving %s to node %s reported %s, but it arrived',
                        vm_name, dest_node, e, instance=instance)
        return True

    def _owner(self, vm_name):
        try:
            return self._clusterutils.get_vm_host(vm_name)
        except hvc_exc.OSWIN_ERRORS:
            LOG.exception('Cannot tell which node runs %s', vm_name)
            return None

    def _copy_out(self, context, instance, dest_node):
        """Live-migrate the VM with its disks to ``dest_node`` of another
        cluster (or to or from a standalone host), into the directory the
        destination made; whether it went. Unclustered first (a
        clustered VM only moves inside its cluster), clustered again if it
        stays.
        """
        vm_name = instance.name
        arrival_dir = self._arrival_dir(context, instance)
        if arrival_dir is None:
            LOG.error('The destination %s named no directory for the disks '
                      'of %s: not moving it', dest_node, vm_name,
                      instance=instance)
            return False
        source_dir = self._layout.instance_dir(vm_name)
        config_drive = self._layout.existing_file(vm_name,
                                                  layout.CONFIG_DRIVE,
                                                  source_dir)
        clustered = self._clusterutils.vm_exists(vm_name)
        LOG.info('Live migrating %s from %s to %s with its disks, from %s '
                 'to %s', vm_name, self._hyperv.node, dest_node, source_dir,
                 arrival_dir, instance=instance)
        ejected = False
        try:
            if config_drive:
                # Hyper-V's storage migration moves hard disks only (what
                # Move-VM sends) and refuses a DVD image the destination
                # cannot reach: the destination gets a copy, which it
                # attaches on arrival, and the source's is ejected.
                self._pathutils.copy(config_drive, self._hyperv.remote_path(
                    dest_node, self._path.join(arrival_dir,
                                               layout.CONFIG_DRIVE)))
                self._vmutils.detach_vm_disk(vm_name, config_drive,
                                             is_physical=False)
                ejected = True
            if clustered:
                self._clusterutils.delete(vm_name)
            self._hyperv.livemigrationutils.live_migrate_vm_with_storage(
                vm_name, dest_node, arrival_dir,
                CONF.hyperv_cluster.live_migration_timeout or None)
        except Exception as e:
            if not self._vmutils.vm_exists(vm_name):
                if self._arrived(vm_name, dest_node):
                    LOG.warning('Moving %s to %s reported %s, but it '
                                'arrived', vm_name, dest_node, e,
                                instance=instance)
                    return self._left(instance, source_dir)
                raise hvc_exc.HyperVOperationFailed(
                    node=self._hyperv.node,
                    operation='live migrate %s to %s' % (vm_name, dest_node),
                    reason='%s; the VM is no longer here, and not there '
                           'either' % e) from e
            LOG.error('Hyper-V did not move %s to %s: %s; it runs on here',
                      vm_name, dest_node, e, instance=instance)
            if ejected:
                self._vmops.attach_config_drive(vm_name, config_drive)
            if clustered:
                self._recluster(instance)
            return False
        return self._left(instance, source_dir)

    def _arrived(self, vm_name, dest_node):
        try:
            return self._hyperv.vm_runs_on(dest_node, vm_name)
        except hvc_exc.OSWIN_ERRORS:
            LOG.exception('Cannot tell whether %s arrived on %s', vm_name,
                          dest_node)
            return False

    def _left(self, instance, source_dir):
        """The VM left with its disks: what Hyper-V did not move goes
        with the old directory; whether it went (it did).
        """
        vm_name = instance.name
        # The console log, reader first; nova's cleanup of the source
        # after post_method then has nothing to remove (see the driver's
        # cleanup).
        self._vmops.let_go(instance, None)
        try:
            self._pathutils.check_remove_dir(source_dir)
        except hvc_exc.OSWIN_ERRORS:
            # The VM runs there now: nova must follow it all the same.
            LOG.exception('%s left %s; its old directory %s stays',
                          vm_name, self._hyperv.node, source_dir,
                          instance=instance)
        return True

    def _recluster(self, instance):
        """Cluster again a VM that stays here; a failure is logged, not
        raised: nova's rollback must still put its records back.
        """
        try:
            if not self._clusterutils.vm_exists(instance.name):
                self._vmops.cluster(instance.name)
        except hvc_exc.OSWIN_ERRORS:
            LOG.exception('%s runs on %s unclustered: the cluster will not '
                          'restart it elsewhere if this node fails; cluster '
                          'it again (Add-ClusterVirtualMachineRole)',
                          instance.name, self._hyperv.node,
                          instance=instance)

    def post_live_migration_at_source(self, instance, network_info):
        self._vmops.let_go(instance, network_info)

    @hvc_exc.translate_oswin_errors('abort a live migration')
    def abort(self, instance):
        """Stop the live migration of ``instance`` that is in flight: the
        cluster's move of its group (os-win's cancel, which leaves a group
        that moves nowhere alone), or the storage migration of a VM that
        runs here unclustered (its Hyper-V jobs stopped). Nova calls this
        for ``openstack server migration abort``, and for an instance it
        finds migrating when its nova-compute starts: the move went on in
        the cluster while the service was gone, and may have ended either
        way (the periodic check then settles the allocations).
        """
        vm_name = instance.name
        if self._clusterutils.vm_exists(vm_name):
            group = self._clusterutils.get_cluster_group_state_info(vm_name)
            if not (group['migration_queued'] or group['state'] ==
                    os_win_const.CLUSTER_GROUP_PENDING):
                LOG.info('No cluster move of %s to abort: it is on node %s',
                         vm_name, group['owner_node'], instance=instance)
                return
            LOG.info('Cancelling the cluster move of %s', vm_name,
                     instance=instance)
            self._clusterutils.cancel_cluster_group_migration(
                vm_name, os_win_const.CLUSTER_GROUP_ONLINE,
                CONF.hyperv_cluster.live_migration_timeout or None)
        elif self._vmutils.vm_exists(vm_name):
            LOG.info('Stopping the Hyper-V jobs of %s (its storage '
                     'migration)', vm_name, instance=instance)
            self._vmutils.stop_vm_jobs(vm_name)
