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

A VHD grows as a standalone copy of its chain instead (a differencing VHD
cannot be resized): its revert point stays for a revert and goes on
confirm. A disk that would shrink is refused before the VM is touched, as
nova refuses that.

To another cluster the disks must be copied. The source powers the VM off
and removes it from its cluster and from Hyper-V, keeping its directory;
the destination copies the disks (through the source node's
administrative share on Windows) to the CSV of its own DISK_GB
allocation, gives differencing disks its own cluster's cached image as
parent, builds the VM there, clusters it and powers it on. Confirm removes
the source's directory; revert (nova destroys the destination's copy)
builds the VM again on the source from the directory it kept.

So it is, inside the cluster, for a move whose DISK_GB allocation is on
another CSV of the cluster than the one holding the disks. Nova claims
the disk a second time until the move is confirmed, so a CSV without room
for the instance twice cannot be the new allocation's, and placement
charges another CSV (the scheduler filter HyperVClusterKeepCSVFilter keeps
the allocation on the instance's CSV whenever that CSV has room, where
nothing is copied). The old directory is set aside under the migration's
name (``layout.kept_dir``) until confirm removes it or revert puts it
back.
"""

import json
import ntpath

from oslo_log import log as logging
from oslo_utils import units

from nova.compute import task_states
import nova.conf
from nova import exception
from nova import objects

from hvc_driver import diskchain
from hvc_driver import exception as hvc_exc
from hvc_driver import hyperv as seam
from hvc_driver import layout
from hvc_driver import placement
import hvc_names
from hvc_oswin_api import constants as os_win_const
from hvc_oswin_api import paths

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

# The disks a resize may grow, by flavor field (swap is in MB).
_GROWABLE = ((layout.ROOT_DISK, 'root_gb', units.Gi),
             (layout.EPHEMERAL_DISK, 'ephemeral_gb', units.Gi),
             (layout.SWAP_DISK, 'swap', units.Mi))


def _refuse(reason):
    """Refused before the VM was touched: nova puts the instance back as
    it was (InstanceFaultRollback), with the reason as its fault.
    """
    return exception.InstanceFaultRollback(
        inner_exception=exception.ResizeError(reason=reason))


class MigrationOps(seam.UsesHyperV):

    def __init__(self, hyperv, vmops, instance_layout):
        self._hyperv = hyperv
        self._vmops = vmops
        self._layout = instance_layout

    def _migration(self, context, instance):
        return objects.Migration.get_by_id(
            context, instance.migration_context.migration_id)

    # On the source.

    def migrate_disk_and_power_off(self, context, instance, flavor,
                                   network_info, timeout, retry_interval):
        """Power off, then hand the VM's group to a destination node of
        this cluster, or let the VM go for a node of another cluster to
        copy its disks.

        A move the cluster refuses leaves the VM here, as it was (running
        again if it ran), and nova puts the instance back too.
        """
        migration = self._migration(context, instance)
        dest_node = migration.dest_node
        inside = self._hyperv.in_this_cluster(dest_node)
        copies = self._check_move(context, instance, flavor, inside)
        was_running = self._vmops.is_running(instance)
        self._vmops.power_off(instance, timeout, retry_interval)
        info = {'cluster': self._clusterutils.get_cluster_name(),
                'source_node': self._hyperv.node}
        if self._hyperv.is_this_node(dest_node) and not copies:
            return json.dumps(info)
        if not copies:
            try:
                self._move_offline(instance.name, dest_node)
            except hvc_exc.HyperVOperationFailed as e:
                if was_running:
                    self._vmops.power_on(instance)
                raise _refuse('the cluster did not move %s to node %s: %s'
                              % (instance.name, dest_node, e))
        else:
            # The VM leaves this cluster or its CSV; its directory stays
            # until the move is confirmed (a revert builds it again from
            # it). Every node of the cluster reaches the CSV itself.
            source_dir = self._layout.instance_dir(instance.name)
            info['source_dir'] = (source_dir if inside else
                                  self._hyperv.remote_path(
                                      self._hyperv.node, source_dir))
            self._vmops.destroy(instance, destroy_disks=False)
        # The destination takes the VM over: what ran here for it stops.
        self._vmops.let_go(instance, network_info)
        return json.dumps(info)

    @hvc_exc.translate_oswin_errors('move an instance that is off')
    def _move_offline(self, vm_name, node):
        self._hyperv.move_offline_vm(
            vm_name, node, CONF.hyperv_cluster.live_migration_timeout or None)

    @hvc_exc.translate_oswin_errors('check a cold migration from this node')
    def _check_move(self, context, instance, flavor, inside):
        """Refuse what cannot be done; whether the disks are copied (to
        another cluster, or to another CSV of this one).
        """
        old = instance.flavor
        for disk, field, _unit in _GROWABLE:
            new_size, old_size = getattr(flavor, field), getattr(old, field)
            if new_size < old_size:
                raise _refuse('the %s of flavor %s (%s) is smaller than the '
                              'instance\'s (%s): disks do not shrink'
                              % (field, flavor.name, new_size, old_size))
        if not inside:
            return True
        if self._hyperv.standalone:
            # Resized on a standalone host, whose disk holds the
            # allocation.
            return False
        held_by = instance.system_metadata.get(hvc_names.CSV_PROVIDER_KEY)
        allocations = placement.allocations_of(context, instance)
        try:
            volume = self._layout.csv_of(allocations)
        except layout.DiskNotOnThisCluster as e:
            raise _refuse('%s cannot move inside cluster %s: %s' % (
                instance.uuid, self._clusterutils.get_cluster_name(), e))
        copies = (volume is not None and
                  self._layout.provider_of(volume) != held_by)
        if copies:
            LOG.info('The DISK_GB of %s is allocated on CSV %s now (its CSV '
                     'provider %s has no room for nova\'s second claim '
                     'until the move is confirmed): its disks are copied '
                     'there', instance.name, volume.name, held_by,
                     instance=instance)
        return copies

    @hvc_exc.translate_oswin_errors('confirm a resize',
                                    instance_not_found=False)
    def confirm_migration(self, instance, migration):
        """Inside the cluster the VM, its group and its disks are the
        destination's: what a revert needed goes (the old directory of a
        move to another CSV, the revert point a grown VHD does not stand
        on); a grown VHDX keeps its revert point as its parent. From a
        move out of the cluster, the directory the source kept for a
        revert goes.
        """
        if self._hyperv.in_this_cluster(migration.dest_node):
            kept = self._layout.kept_dir(instance.name, migration.uuid)
            if kept:
                self._pathutils.check_remove_dir(kept)
                LOG.info('Move of %s to another CSV confirmed; its old '
                         'directory %s is removed', instance.name, kept,
                         instance=instance)
            for disk, _field, _unit in _GROWABLE:
                self._drop_revert_point(instance.name, disk, migration.uuid)
            LOG.info('Resize of %s confirmed', instance.name,
                     instance=instance)
            return
        vm_name = instance.name
        if (self._hyperv.vmutils.vm_exists(vm_name) or
                self._clusterutils.vm_exists(vm_name)):
            raise hvc_exc.InstanceOnAnotherNode(
                vm_name=vm_name, owner=self._hyperv.node,
                node=migration.dest_node)
        self._pathutils.check_remove_dir(self._layout.instance_dir(vm_name))
        LOG.info('%s moved to node %s of another cluster; its old '
                 'directory is removed', vm_name, migration.dest_node,
                 instance=instance)

    @hvc_exc.translate_oswin_errors('revert a resize')
    def finish_revert_migration(self, context, instance, migration,
                                network_info, block_device_info, power_on):
        vm_name = instance.name
        kept = self._layout.kept_dir(vm_name, migration.uuid)
        if kept:
            # Its copy on the other CSV went with the destination's VM.
            self._pathutils.rename(kept, kept[:-len(migration.uuid) - 1])
        if kept or not self._hyperv.in_this_cluster(migration.dest_node):
            # Its directory is here, its VM was let go: build it again.
            self._vmops.storage_of(instance,
                                   placement.allocations_of(context, instance))
            self._vmops.build_vm(
                instance, self._vmops.vm_generation(instance.image_meta),
                self._layout.instance_dir(vm_name),
                self._layout.disks(vm_name),
                self._layout.existing_file(vm_name, layout.CONFIG_DRIVE),
                network_info, block_device_info)
            self._start(instance, network_info, power_on)
            return
        self._bring_back(vm_name)
        for disk, _field, _unit in _GROWABLE:
            self._drop_growth(vm_name, disk, migration.uuid)
        self._apply_flavor(instance)
        self._start(instance, network_info, power_on)

    # On the destination.

    @hvc_exc.translate_oswin_errors('take over a migrated instance')
    def finish_migration(self, context, migration, instance, disk_info,
                         network_info, image_meta, resize_instance,
                         allocations, block_device_info, power_on):
        vm_name = instance.name
        info = json.loads(disk_info)
        if info.get('source_dir'):
            self._copy_in(context, instance, image_meta, info,
                          allocations, network_info, block_device_info)
            if info.get('cluster') == self._clusterutils.get_cluster_name():
                # From another CSV of this cluster: the old directory is
                # set aside until the move is confirmed or reverted.
                self._pathutils.rename(info['source_dir'], '%s.%s' % (
                    info['source_dir'], migration.uuid))
        else:
            # The source handed it over (or it is a resize on this node).
            self._check_here(vm_name)
        if resize_instance:
            for disk, field, unit in _GROWABLE:
                self._grow(vm_name, disk, migration.uuid,
                           getattr(instance.old_flavor, field) * unit,
                           getattr(instance.flavor, field) * unit)
            self._apply_flavor(instance)
        self._start(instance, network_info, power_on)

    def _copy_in(self, context, instance, image_meta, info, allocations,
                 network_info, block_device_info):
        """The VM of an instance that comes from another cluster (or
        another CSV of this one): its disks copied from the source's
        directory (``info``, from migrate_disk_and_power_off) to the CSV
        of its DISK_GB allocation here, differencing disks given this
        cluster's cached image as parent, the VM built and clustered here.
        Powered off.
        """
        vm_name = instance.name
        source_dir = info['source_dir']
        inst_dir = self._layout.new_instance_dir(
            vm_name, self._vmops.storage_of(instance, allocations))
        self._pathutils.check_create_dir(inst_dir)
        copied = {}
        if info.get('cluster') == self._clusterutils.get_cluster_name():
            def seen_here(path):
                return path
        else:
            def seen_here(path):
                # A differencing disk stores its parent as the path of the
                # node that made it (C:\ClusterStorage\...); from here that
                # node's folder is its administrative share.
                return self._hyperv.remote_path(info['source_node'], path)

        def copy(source):
            """``source``'s copy here, and its parents' (once each)."""
            if source not in copied:
                if not paths.same(ntpath.dirname(source), source_dir):
                    # A parent in the source cluster's image cache: the
                    # same image, in this cluster's.
                    copied[source] = self._vmops.cached_image(
                        context, image_meta, ntpath.basename(source))
                else:
                    target = self._path.join(inst_dir, ntpath.basename(source))
                    self._pathutils.copyfile(source, target)
                    parent = self._vhdutils.get_vhd_parent_path(source)
                    if parent:
                        self._vhdutils.reconnect_parent_vhd(
                            target, copy(seen_here(parent)))
                    copied[source] = target
            return copied[source]

        disks = [copy(path)
                 for path in self._layout.disks(vm_name, source_dir)]
        config_drive = None
        for name in (layout.CONFIG_DRIVE, layout.CONSOLE_LOG):
            source = self._layout.existing_file(vm_name, name, source_dir)
            if source:
                target = self._path.join(inst_dir, name)
                self._pathutils.copyfile(source, target)
                if name == layout.CONFIG_DRIVE:
                    config_drive = target
        self._vmops.build_vm(instance, self._vmops.vm_generation(image_meta),
                             inst_dir, disks, config_drive, network_info,
                             block_device_info)
        LOG.info('Copied the disks of %s from %s to %s', vm_name,
                 source_dir, inst_dir, instance=instance)

    @hvc_exc.translate_oswin_errors('hand a reverted instance back')
    def hand_back(self, context, instance, network_info):
        """nova's destroy of a resize being reverted, here at the
        destination: the VM goes back to the source node, powered off, for
        the source to revert (nothing is deleted). False when this is not
        such a revert (a VM that is not here, a source in another
        cluster): destroy then does its usual job.
        """
        if not (instance.task_state == task_states.RESIZE_REVERTING and
                instance.migration_context is not None):
            return False
        migration = self._migration(context, instance)
        vm_name = instance.name
        if not (self._clusterutils.vm_exists(vm_name) and
                self._hyperv.is_this_node(
                    self._clusterutils.get_vm_host(vm_name)) and
                self._hyperv.in_this_cluster(migration.source_node)):
            return False
        if self._layout.kept_dir(vm_name, migration.uuid):
            # Its disks were copied here from another CSV: this copy goes
            # whole (nova, which sees the cluster's storage as shared,
            # would keep the disks), and the source builds the VM again
            # from the directory it kept.
            self._vmops.destroy(instance, destroy_disks=True,
                                network_info=network_info)
            return True
        self._vmops.power_off(instance)
        self._vmops.let_go(instance, network_info)
        if self._hyperv.is_this_node(migration.source_node):
            # The cluster moved it back to the source itself.
            return True
        self._move_offline(vm_name, migration.source_node)
        LOG.info('Handed %s back to node %s to revert its resize', vm_name,
                 migration.source_node, instance=instance)
        return True

    def _bring_back(self, vm_name):
        """The VM of a resize being reverted, here: the destination's
        hand_back moved it; after a source that died mid-move, nova's
        start-up reverts it here (``_init_instance``) wherever in the
        cluster the move left it, powered off.
        """
        if self._hyperv.standalone:
            self._check_here(vm_name)
            return
        owner = self._clusterutils.get_vm_host(vm_name)
        if self._hyperv.is_this_node(owner):
            return
        LOG.info('Moving %s back from node %s to revert its resize', vm_name,
                 owner)
        self._hyperv.move_vm_here(
            vm_name, CONF.hyperv_cluster.live_migration_timeout or None)

    def _check_here(self, vm_name):
        """The VM runs on this node, as the cluster says (or, on a
        standalone host, its Hyper-V).
        """
        if self._hyperv.standalone:
            if not self._hyperv.vmutils.vm_exists(vm_name):
                raise hvc_exc.InstanceOnAnotherNode(
                    vm_name=vm_name, owner='no node', node=self._hyperv.node)
            return
        owner = self._clusterutils.get_vm_host(vm_name)
        if not self._hyperv.is_this_node(owner):
            raise hvc_exc.InstanceOnAnotherNode(
                vm_name=vm_name, owner=owner, node=self._hyperv.node)

    # Disks and flavor.

    def _revert_point(self, path, migration_uuid):
        base, ext = self._path.splitext(path)
        return '%s.%s%s' % (base, migration_uuid, ext)

    def _grow(self, vm_name, disk, migration_uuid, old_size, new_size):
        path = self._layout.disk_path(vm_name, disk)
        if path is None or new_size <= old_size:
            return
        revert_point = self._revert_point(path, migration_uuid)
        self._pathutils.rename(path, revert_point)
        if (self._vhdutils.get_vhd_format(revert_point) ==
                os_win_const.DISK_FORMAT_VHD):
            # A differencing VHD cannot be resized (the virtual disk API
            # resizes VHDX children only): the disk grows as a standalone
            # copy of its chain (what compute-hyperv did), the revert
            # point stays for a revert and goes on confirm.
            diskchain.flat_copy(self._hyperv, revert_point, path)
            how = 'as a standalone copy of'
        else:
            self._vhdutils.create_differencing_vhd(path, revert_point)
            how = 'over'
        self._vhdutils.resize_vhd(path, new_size, is_file_max_size=False)
        LOG.info('Grew %s to %d bytes %s the revert point %s', path,
                 new_size, how, revert_point)

    def _grown(self, vm_name, disk, migration_uuid):
        """(the disk, its revert point) when the migration grew it, else
        (None, None).
        """
        path = self._layout.disk_path(vm_name, disk)
        if path is None:
            return None, None
        revert_point = self._revert_point(path, migration_uuid)
        if not self._pathutils.exists(revert_point):
            return None, None
        return path, revert_point

    def _drop_growth(self, vm_name, disk, migration_uuid):
        path, revert_point = self._grown(vm_name, disk, migration_uuid)
        if path is None:
            return
        self._pathutils.remove(path)
        self._pathutils.rename(revert_point, path)
        LOG.info('Reverted %s to its size before the resize', path)

    def _drop_revert_point(self, vm_name, disk, migration_uuid):
        """A revert point the grown disk does not stand on (a VHD grown as
        a standalone copy) is no longer needed once confirmed; one it
        stands on is its parent, and stays.
        """
        path, revert_point = self._grown(vm_name, disk, migration_uuid)
        if path is None:
            return
        parent = self._vhdutils.get_vhd_parent_path(path)
        if parent and paths.same(parent, revert_point):
            return
        self._pathutils.remove(revert_point)
        LOG.info('Removed %s, which the confirmed resize needs no more',
                 revert_point)

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
