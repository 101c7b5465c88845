"""Cold migration and resize between the nodes of a cluster: no disk copy.

The source powers the VM off; the destination takes the VM's cluster group
(an offline cluster move), grows its disks where the new flavor wants more,
sets the new flavor's CPUs and memory and powers it on. The disks stay on
their CSV, in their directory.

A disk grows through a differencing child: ``root.vhdx`` is renamed to
``root.<migration>.vhdx`` and a new ``root.vhdx`` is made on top of it and
grown, so that a revert is exact: the child goes, the parent gets its name
back, with the size and the content it had when the VM was powered off
(as nova's other drivers revert to the disks of before the resize).
Confirming keeps the chain; every later revert point is one level more.

Revert: nova's revert on the destination calls ``destroy`` there; for an
instance whose resize is being reverted inside the cluster, the driver
hands the VM group back to the source node instead (``hand_back``), and the
source's ``finish_revert_migration`` drops the grown children, sets the old
flavor and powers it on.

A move whose allocation names another CSV than the one holding the disks
is refused before the VM is touched (the scheduler filter
HyperVClusterKeepCSVFilter keeps the disk allocation on its CSV whenever
that CSV has room); so is a move to another cluster, and a disk that would
shrink, as nova refuses that.
"""

import json
import os

from oslo_log import log as logging
from oslo_utils import units

import nova.conf
from nova.compute import task_states
from nova import exception
from nova import objects
from nova.scheduler.client import report

from hvc_driver import exception as hvc_exc
from hvc_driver import layout
from hvc_oswin_api import constants as os_win_const

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

# The disks a resize may grow, by flavor field (swap is in MB).
_GROWABLE = ((layout.ROOT_DISK, 'root_gb', units.Gi),
             (layout.EPHEMERAL_DISK, 'ephemeral_gb', units.Gi),
             (layout.SWAP_DISK, 'swap', units.Mi))


def _refuse(reason):
    """Refused before the VM was touched: nova puts the instance back as
    it was (InstanceFaultRollback), with the reason as its fault."""
    return exception.InstanceFaultRollback(
        inner_exception=exception.ResizeError(reason=reason))


class MigrationOps(object):

    def __init__(self, hyperv, vmops, instance_layout):
        self._hyperv = hyperv
        self._vmops = vmops
        self._layout = instance_layout

    @property
    def _clusterutils(self):
        return self._hyperv.clusterutils

    @property
    def _vhdutils(self):
        return self._hyperv.vhdutils

    @property
    def _pathutils(self):
        return self._hyperv.pathutils

    def _migration(self, context, instance):
        return objects.Migration.get_by_id(
            context, instance.migration_context.migration_id)

    # On the source.

    def migrate_disk_and_power_off(self, context, instance, flavor,
                                   network_info, timeout, retry_interval):
        """Power off and hand the VM's group to the destination node.

        A move the cluster refuses leaves the VM here, as it was (running
        again if it ran), and nova puts the instance back too.
        """
        migration = self._migration(context, instance)
        dest_node = migration.dest_node
        self._check_move(context, instance, flavor, dest_node)
        was_running = self._vmops.is_running(instance)
        self._vmops.power_off(instance, timeout, retry_interval)
        if not self._hyperv.is_this_node(dest_node):
            try:
                self._move_offline(instance.name, dest_node)
            except hvc_exc.HyperVOperationFailed as e:
                if was_running:
                    self._vmops.power_on(instance)
                raise _refuse('the cluster did not move %s to node %s: %s'
                              % (instance.name, dest_node, e))
            # The destination takes the VM over: what ran here for it
            # stops.
            self._vmops.let_go(instance, network_info)
        return json.dumps({'cluster': self._clusterutils.get_cluster_name(),
                           'source_node': self._hyperv.node})

    @hvc_exc.translate_oswin_errors('move an instance that is off')
    def _move_offline(self, vm_name, node):
        self._clusterutils.move_offline_vm(
            vm_name, node, CONF.hyperv_cluster.live_migration_timeout or None)

    @hvc_exc.translate_oswin_errors('check a cold migration from this node')
    def _check_move(self, context, instance, flavor, dest_node):
        if not any(dest_node.lower() == member.lower() for member in
                   self._clusterutils.get_cluster_node_names()):
            raise _refuse('%s is not a node of the failover cluster of %s: '
                          'moves between clusters are not supported'
                          % (dest_node, self._hyperv.node))
        old = instance.flavor
        for disk, field, _unit in _GROWABLE:
            new_size, old_size = getattr(flavor, field), getattr(old, field)
            if new_size < old_size:
                raise _refuse('the %s of flavor %s (%s) is smaller than the '
                              'instance\'s (%s): disks do not shrink'
                              % (field, flavor.name, new_size, old_size))
            path = self._disk_path(instance.name, disk)
            if (new_size > old_size and path is not None and
                    self._vhdutils.get_vhd_format(path) ==
                    os_win_const.DISK_FORMAT_VHD):
                raise _refuse('%s is a VHD: a differencing VHD cannot grow, '
                              'so its resize could not be reverted; resize '
                              'instances of VHDX images' % path)
        held_by = instance.system_metadata.get(layout.CSV_PROVIDER_KEY)
        placement = report.report_client_singleton()
        allocations = placement.get_allocs_for_consumer(
            context, instance.uuid)['allocations']
        wanted = sorted(rp for rp, alloc in allocations.items()
                        if alloc['resources'].get('DISK_GB'))
        if wanted and wanted != [held_by]:
            raise _refuse('the scheduler allocated the disk on provider %s, '
                          'but the disks are on CSV provider %s; a move '
                          'inside the cluster does not move disks (enable '
                          'HyperVClusterKeepCSVFilter in nova\'s scheduler)'
                          % (', '.join(wanted), held_by))

    @hvc_exc.translate_oswin_errors('confirm a resize',
                                    instance_not_found=False)
    def confirm_migration(self, instance):
        """Nothing stays behind here: the VM, its group and its disks are
        the destination's (a resize on this same node keeps its chain)."""
        LOG.info('Resize of %s confirmed; its disks keep their revert '
                 'points as parents', instance.name, instance=instance)

    @hvc_exc.translate_oswin_errors('revert a resize')
    def finish_revert_migration(self, context, instance, migration,
                                network_info, power_on):
        vm_name = instance.name
        owner = self._clusterutils.get_vm_host(vm_name)
        if not self._hyperv.is_this_node(owner):
            raise hvc_exc.InstanceOnAnotherNode(
                vm_name=vm_name, owner=owner, node=self._hyperv.node)
        for disk, _field, _unit in _GROWABLE:
            self._drop_growth(vm_name, disk, migration.uuid)
        self._apply_flavor(instance)
        self._start(instance, network_info, power_on)

    # On the destination.

    @hvc_exc.translate_oswin_errors('take over a migrated instance')
    def finish_migration(self, context, migration, instance, disk_info,
                         network_info, resize_instance, allocations,
                         power_on):
        vm_name = instance.name
        owner = self._clusterutils.get_vm_host(vm_name)
        if not self._hyperv.is_this_node(owner):
            # The source handed it over; the cluster says otherwise.
            raise hvc_exc.InstanceOnAnotherNode(
                vm_name=vm_name, owner=owner, node=self._hyperv.node)
        if resize_instance:
            for disk, field, unit in _GROWABLE:
                self._grow(vm_name, disk, migration.uuid,
                           getattr(instance.old_flavor, field) * unit,
                           getattr(instance.flavor, field) * unit)
            self._apply_flavor(instance)
        self._start(instance, network_info, power_on)

    @hvc_exc.translate_oswin_errors('hand a reverted instance back')
    def hand_back(self, context, instance, network_info):
        """nova's destroy of a resize being reverted, here at the
        destination: the VM goes back to the source node, powered off, for
        the source to revert (nothing is deleted). False when this is not
        such a revert (a VM that is not here, a source in another
        cluster): destroy then does its usual job."""
        if not (instance.task_state == task_states.RESIZE_REVERTING and
                instance.migration_context is not None):
            return False
        migration = self._migration(context, instance)
        vm_name = instance.name
        if not (self._clusterutils.vm_exists(vm_name) and
                self._hyperv.is_this_node(
                    self._clusterutils.get_vm_host(vm_name)) and
                any(migration.source_node.lower() == m.lower() for m in
                    self._clusterutils.get_cluster_node_names())):
            return False
        self._vmops.power_off(instance)
        self._vmops.let_go(instance, network_info)
        self._move_offline(vm_name, migration.source_node)
        LOG.info('Handed %s back to node %s to revert its resize', vm_name,
                 migration.source_node, instance=instance)
        return True

    # Disks and flavor.

    def _disk_path(self, vm_name, disk):
        """The disk's file, in the format it has; None if there is none."""
        for ext in ('vhdx', 'vhd'):
            path = self._layout.instance_file(vm_name, '%s.%s' % (disk, ext))
            if self._pathutils.exists(path):
                return path
        return None

    @staticmethod
    def _revert_point(path, migration_uuid):
        base, ext = os.path.splitext(path)
        return '%s.%s%s' % (base, migration_uuid, ext)

    def _grow(self, vm_name, disk, migration_uuid, old_size, new_size):
        path = self._disk_path(vm_name, disk)
        if path is None or new_size <= old_size:
            return
        parent = self._revert_point(path, migration_uuid)
        self._pathutils.rename(path, parent)
        self._vhdutils.create_differencing_vhd(path, parent)
        self._vhdutils.resize_vhd(path, new_size, is_file_max_size=False)
        LOG.info('Grew %s to %d bytes over the revert point %s', path,
                 new_size, parent)

    def _drop_growth(self, vm_name, disk, migration_uuid):
        path = self._disk_path(vm_name, disk)
        if path is None:
            return
        parent = self._revert_point(path, migration_uuid)
        if not self._pathutils.exists(parent):
            return
        self._pathutils.remove(path)
        self._pathutils.rename(parent, path)
        LOG.info('Reverted %s to its size before the resize', path)

    def _apply_flavor(self, instance):
        flavor = instance.flavor
        self._hyperv.vmutils.update_vm(
            instance.name, flavor.memory_mb, 0, flavor.vcpus, 0,
            CONF.hyperv_cluster.limit_cpu_features,
            CONF.hyperv_cluster.dynamic_memory_ratio)

    def _start(self, instance, network_info, power_on):
        self._vmops.take_over(instance, network_info)
        if power_on:
            self._vmops.power_on(instance)
