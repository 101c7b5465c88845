"""Live migration between the nodes of a cluster: a cluster move.

Inside a failover cluster a live migration moves the VM's cluster group to
the other node (os-win's ``ClusterUtils.live_migrate_vm``): memory only, the
disks stay on their CSV, the VM stays clustered, and a move that fails
leaves the VM running on the source (the cluster moves it back). Nova's
contract around it:

- destination: ``check_can_live_migrate_destination`` (is the source a
  node of this cluster, and is the disk allocation on the CSV that holds
  the disks?), ``pre_live_migration`` (SMB shares of the volumes mapped),
  ``post_live_migration_at_destination`` (the console log reader and the
  Open vSwitch ports now run here), ``rollback_live_migration_at_destination``
  (nothing of the VM is touched: it runs on the source);
- source: ``check_can_live_migrate_source``, ``live_migration`` (the move,
  then nova's ``post_method``, or ``recover_method`` with the VM back
  where it was), ``post_live_migration_at_source`` (reader and OVS ports
  stop here); nova's cleanup of the source then leaves the VM alone, as it
  runs on another node.
"""

from oslo_log import log as logging

import nova.conf
from nova import exception
from nova.objects import migrate_data as migrate_data_obj
from nova.scheduler.client import report

from hvc_driver import exception as hvc_exc
from hvc_driver import layout

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF


class LiveMigrationOps(object):

    def __init__(self, hyperv, vmops, volumeops, instance_layout):
        self._hyperv = hyperv
        self._vmops = vmops
        self._volumeops = volumeops
        self._layout = instance_layout

    @property
    def _clusterutils(self):
        return self._hyperv.clusterutils

    # On the destination.

    @hvc_exc.translate_oswin_errors('check a live migration to this node')
    def check_can_live_migrate_destination(self, context, instance,
                                           src_compute_info):
        source = src_compute_info['hypervisor_hostname']
        if not self._hyperv.in_this_cluster(source):
            raise exception.MigrationPreCheckError(
                reason='%s runs on %s, which is not a node of the failover '
                       'cluster of %s: live migration between clusters is '
                       'not supported' % (instance.uuid, source,
                                          self._hyperv.node))
        self._check_disk_allocation(context, instance)
        return migrate_data_obj.HyperVLiveMigrateData(
            is_shared_instance_path=True)

    def _check_disk_allocation(self, context, instance):
        """The instance's DISK_GB allocation for this node must be on the
        CSV that holds its disks: a cluster move does not move them.
        (The scheduler filter HyperVClusterKeepCSVFilter keeps moves on
        the instance's CSV whenever that CSV has room.)
        """
        held_by = instance.system_metadata.get(layout.CSV_PROVIDER_KEY)
        placement = report.report_client_singleton()
        allocations = placement.get_allocs_for_consumer(
            context, instance.uuid)['allocations']
        wanted = [rp for rp, alloc in allocations.items()
                  if alloc['resources'].get('DISK_GB')]
        if wanted and wanted != [held_by]:
            raise exception.MigrationPreCheckError(
                reason='the scheduler allocated the disk of %s on provider '
                       '%s, but its disks are on CSV provider %s; a live '
                       'migration inside the cluster does not move disks '
                       '(enable HyperVClusterKeepCSVFilter in nova\'s '
                       'scheduler)' % (instance.uuid, ', '.join(wanted),
                                       held_by))

    @hvc_exc.translate_oswin_errors('prepare a live migration to this node')
    def pre_live_migration(self, instance, block_device_info, migrate_data):
        # The VM's SMB volumes must be reachable from here when it comes.
        self._volumeops.map_shares(block_device_info)
        return migrate_data

    @hvc_exc.translate_oswin_errors('take over a live-migrated instance')
    def post_live_migration_at_destination(self, instance, network_info):
        vm_name = instance.name
        owner = self._clusterutils.get_vm_host(vm_name)
        if not self._hyperv.is_this_node(owner):
            raise hvc_exc.InstanceOnAnotherNode(
                vm_name=vm_name, owner=owner, node=self._hyperv.node)
        self._vmops.take_over(instance, network_info)

    def rollback_live_migration_at_destination(self, instance,
                                               network_info):
        """The move failed and the VM runs on the source: leave it; only
        what this node may have started for it goes."""
        self._vmops.let_go(instance, network_info)

    # On the source.

    @hvc_exc.translate_oswin_errors('check a live migration from this node')
    def check_can_live_migrate_source(self, instance, dest_check_data):
        vm_name = instance.name
        if not self._clusterutils.vm_exists(vm_name):
            raise exception.MigrationPreCheckError(
                reason='%s is not clustered: only clustered instances move '
                       'between the nodes of a cluster' % vm_name)
        owner = self._clusterutils.get_vm_host(vm_name)
        if not self._hyperv.is_this_node(owner):
            raise exception.MigrationPreCheckError(
                reason='%s runs on node %s, not on %s' % (
                    vm_name, owner, self._hyperv.node))
        return dest_check_data

    def live_migration(self, context, instance, dest, post_method,
                       recover_method, block_migration, migrate_data):
        """Move the VM's group to the destination node; then nova's
        ``post_method``, or ``recover_method`` when the VM stays here.

        Never raises for a failed move: nova would put the instance in
        ERROR, while the VM runs on here as before.
        """
        vm_name = instance.name
        dest_node = migrate_data.migration.dest_node
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
                recover_method(context, instance, dest, migrate_data)
                return
            LOG.warning('Moving %s to node %s reported %s, but it arrived',
                        vm_name, dest_node, e, instance=instance)
        post_method(context, instance, dest, block_migration, migrate_data)

    def _owner(self, vm_name):
        try:
            return self._clusterutils.get_vm_host(vm_name)
        except hvc_exc.OSWIN_ERRORS:
            LOG.exception('Cannot tell which node runs %s', vm_name)
            return None

    def post_live_migration_at_source(self, instance, network_info):
        self._vmops.let_go(instance, network_info)
