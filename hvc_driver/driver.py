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

"""HyperVClusterDriver: nova's compute driver for a Hyper-V cluster node.

One nova-compute service runs for every node of the failover cluster, so
the scheduler sees each node's own VCPU and MEMORY_MB; the instances'
disks live on Cluster Shared Volumes, which placement_sync publishes as
sharing DISK_GB providers. This class is the
thin surface nova calls: the work is done by one *ops class per concern,
and all Hyper-V access goes through ``hvc_driver.hyperv``.

nova.conf: ``compute_driver = hyperv_cluster.HyperVClusterDriver``.
"""

from oslo_log import log as logging

import nova.conf
from nova import exception
from nova import utils as nova_utils
from nova.virt import driver

from hvc_driver import clusterops
from hvc_driver import conf as hvc_conf
from hvc_driver import diagnosticsops
from hvc_driver import evacuateops
from hvc_driver import exception as hvc_exc
from hvc_driver import failover
from hvc_driver import hostops
from hvc_driver import hyperv
from hvc_driver import imagecache
from hvc_driver import layout
from hvc_driver import livemigrationops
from hvc_driver import migrationops
from hvc_driver import rescueops
from hvc_driver import snapshotops
from hvc_driver import vmops
from hvc_driver import volumeops
import hvc_names
from hvc_oswin_api import paths

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
hvc_conf.register_opts(CONF)


class HyperVClusterDriver(driver.ComputeDriver):

    capabilities = dict(
        driver.ComputeDriver.capabilities,
        supports_image_type_vhd=True,
        supports_image_type_vhdx=True,
        # The cluster's instance adopted, or rebuilt around its disks.
        supports_evacuate=True,
        has_imagecache=True,
        # Generation 2 VMs, or any VM while it is stopped.
        supports_attach_interface=True,
    )

    def __init__(self, virtapi):
        super().__init__(virtapi)
        self._hyperv = hyperv.HyperV(CONF)
        instance_layout = layout.InstanceLayout(self._hyperv)
        self._hostops = hostops.HostOps(self._hyperv)
        self._volumeops = volumeops.VolumeOps(self._hyperv)
        self._vmops = vmops.VMOps(self._hyperv, self._volumeops, virtapi,
                                  instance_layout)
        self._snapshotops = snapshotops.SnapshotOps(self._hyperv,
                                                    instance_layout)
        self._livemigrationops = livemigrationops.LiveMigrationOps(
            self._hyperv, self._vmops, self._volumeops, instance_layout)
        self._migrationops = migrationops.MigrationOps(
            self._hyperv, self._vmops, instance_layout)
        self._clusterops = clusterops.ClusterOps(
            self._hyperv, self._vmops, self._hostops, virtapi,
            instance_layout,
            live_migrating=self._livemigrationops.is_migrating)
        self._evacuateops = evacuateops.EvacuateOps(
            self._hyperv, self._vmops, self._volumeops, self._hostops,
            instance_layout)
        self._follower = failover.Follower(self._hyperv, self._clusterops)
        self._imagecache = imagecache.ImageCache(self._hyperv,
                                                 instance_layout)
        self._diagnosticsops = diagnosticsops.DiagnosticsOps(self._hyperv)
        self._rescueops = rescueops.RescueOps(self._hyperv, self._vmops,
                                              instance_layout)

    # The node.

    def init_host(self, host):
        """Play nova's ``host`` on this node of the cluster; refuse to
        start if the node is not an active member of one (or, with
        ``standalone_host``, if it is a node of a cluster), or if its
        ``instances_path`` is on no CSV of its cluster.

        The node is what the cluster calls this machine (its computer
        name), whatever nova's host is called (an FQDN, say): it is
        compared with the cluster's owner nodes, case-insensitively as
        Windows does, and it is the nodename nova reports resources for.
        """
        try:
            node = self._hyperv.bind(host)
            self._check_role(host, node)
            self._check_instances_path(host)
        except hvc_exc.OSWIN_ERRORS as e:
            raise exception.NovaException(
                'nova-compute on %s cannot use the Hyper-V %s (%s backend): '
                '%s' % (host, self._role, self._hyperv.backend, e)) from e
        layout.instances_folder_parts()  # InvalidConfiguration
        try:
            self._hyperv.pathutils.check_create_dir(CONF.instances_path)
        except hvc_exc.OSWIN_ERRORS as e:
            raise exception.NovaException(
                'nova-compute on %s cannot use the instances path %s: %s'
                % (host, CONF.instances_path, e)) from e
        self._vmops.start_serial_console_logs()
        if not self._hyperv.standalone:
            # Heard from now on; followed once nova cleaned up evacuations.
            self._follower.start_listening()
        LOG.info('Hyper-V cluster driver: nova host %s plays %s (%s; %s '
                 'backend, %s)', host, node, self._role,
                 self._hyperv.backend,
                 'native threading' if nova_utils.concurrency_mode_threading()
                 else 'eventlet')

    @property
    def _role(self):
        return ('standalone host' if self._hyperv.standalone
                else 'failover cluster')

    def _check_role(self, host, node):
        """This host must be what [hyperv_cluster] standalone_host says: an
        active node of a failover cluster, or a host in none (which then
        reports its own DISK_GB: a cluster node doing so would count the
        CSVs' bytes a second time).
        """
        if self._hyperv.standalone:
            if self._hyperv.in_a_cluster():
                raise exception.NovaException(
                    'nova-compute on %s: [hyperv_cluster] standalone_host is '
                    'set, but %s is a node of a failover cluster'
                    % (host, node))
            return
        clusterutils = self._hyperv.clusterutils
        clusterutils.check_cluster_state()
        members = clusterutils.get_cluster_node_names()
        # os-win's check_cluster_state only checks that the cluster has a
        # node; this one must be one of them.
        if not any(self._hyperv.is_this_node(m) for m in members):
            raise exception.NovaException(
                'nova-compute on %s cannot use the Hyper-V failover cluster '
                '(%s backend): node %s is not an active member of the '
                'cluster (nodes: %s)' % (host, self._hyperv.backend, node,
                                         ', '.join(members)))

    def _check_instances_path(self, host):
        """A cluster node's instances_path must be on a CSV of its cluster:
        it holds the cluster's one image cache and the lock files that
        keep nodes from working on one VM or image at once, which must be
        the same files on every node. A standalone host's is its own.
        """
        if self._hyperv.standalone:
            return
        csv_paths = [v.path for v in
                     self._hyperv.clusterutils.list_shared_volumes()]
        if not any(paths.is_within(CONF.instances_path, csv_path)
                   for csv_path in csv_paths):
            raise exception.InvalidConfiguration(
                'nova-compute on %s: [DEFAULT] instances_path %s is on no '
                'Cluster Shared Volume of the failover cluster (CSVs: %s): '
                'the image cache and the locks there would be this '
                'node\'s alone; set it to a folder on a CSV (as '
                'C:\\ClusterStorage\\Volume1\\OpenStack\\Instances)'
                % (host, CONF.instances_path, ', '.join(csv_paths) or 'none'))

    def process_instances_at_startup(self, context, instances):
        # Nova destroyed what was evacuated from here: now the VMs the
        # cluster moved here while nova-compute was down are followed, and
        # then each move the cluster makes.
        if not self._hyperv.standalone:
            self._follower.start_following()
        return instances

    def cleanup_host(self, host):
        self._follower.stop()

    def get_available_nodes(self, refresh=False):
        return [self._hyperv.node]

    def get_nodenames_by_uuid(self, refresh=False):
        return {self._hostops.node_uuid(): self._hyperv.node}

    def get_available_resource(self, nodename):
        return self._hostops.get_available_resource(nodename)

    def update_provider_tree(self, provider_tree, nodename,
                             allocations=None):
        self._hostops.update_provider_tree(provider_tree, nodename,
                                           allocations)

    def get_host_ip_addr(self):
        return self._hostops.get_host_ip_addr()

    def host_power_action(self, action):
        raise hvc_exc.HostPowerActionRefused(action=action)

    # Instances.

    def list_instances(self):
        return self._vmops.list_instances()

    def list_instance_uuids(self):
        return self._vmops.list_instance_uuids()

    def instance_exists(self, instance):
        # Nova asks before an evacuation recreates the instance here: the
        # cluster's VM of it may run here already, which is no clash but
        # what the evacuation adopts.
        return (self._vmops.instance_exists(instance) and
                not self._evacuateops.adoptable(instance))

    def instance_on_disk(self, instance):
        return self._evacuateops.instance_on_disk(instance)

    def get_info(self, instance, use_cache=True):
        return self._vmops.get_info(instance)

    def spawn(self, context, instance, image_meta, injected_files,
              admin_password, allocations, network_info=None,
              block_device_info=None, power_on=True, accel_info=None):
        self._vmops.spawn(context, instance, image_meta, network_info,
                          block_device_info, power_on=power_on,
                          injected_files=injected_files,
                          admin_password=admin_password,
                          allocations=allocations)

    def destroy(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, destroy_secrets=True):
        # An instance nova evacuated from here, whose VM the cluster runs
        # here again: nova follows it rather than destroying it.
        if self._clusterops.keeps(instance):
            self._follower.submit(instance.name)
            return
        # Reverting a resize inside the cluster: the VM goes back to its
        # source node, whose finish_revert_migration reverts it.
        if self._migrationops.hand_back(context, instance, network_info):
            return
        self._vmops.destroy(instance, destroy_disks=destroy_disks,
                            network_info=network_info)

    def cleanup(self, context, instance, network_info, block_device_info=None,
                destroy_disks=True, migrate_data=None, destroy_vifs=True,
                destroy_secrets=True):
        if livemigrationops.copied_out(migrate_data):
            # The VM left with its disks, the live migration let go of
            # what ran for it here and removed its directory: nothing is
            # left to clean up (and what this node's instances_path has
            # under the VM's name now is not its to remove: a standalone
            # host's, say, in one simulated world). Nothing here may fail
            # either: nova calls the destination only after this.
            return
        self._vmops.cleanup(instance, destroy_disks=destroy_disks,
                            network_info=network_info)

    def get_console_output(self, context, instance):
        return self._vmops.get_console_output(instance)

    def get_serial_console(self, context, instance):
        return self._vmops.get_serial_console(instance)

    def rescue(self, context, instance, network_info, image_meta,
               rescue_password, block_device_info, share_info=None):
        self._rescueops.rescue(context, instance, network_info, image_meta,
                               rescue_password)

    def unrescue(self, context, instance):
        self._rescueops.unrescue(instance)

    def get_diagnostics(self, instance):
        return self._diagnosticsops.get_diagnostics(instance)

    def get_instance_diagnostics(self, instance):
        return self._diagnosticsops.get_instance_diagnostics(instance)

    def get_host_uptime(self):
        return self._diagnosticsops.get_host_uptime()

    def plug_vifs(self, instance, network_info):
        # The vNICs are made with the VM, named by port id; the Hyper-V
        # neutron agent binds them, and the OVS ports spawn adds persist
        # in the node's OVS database. Nothing to do on host start.
        pass

    def unplug_vifs(self, instance, network_info):
        pass

    def attach_interface(self, context, instance, image_meta, vif):
        self._vmops.attach_interface(instance, vif)

    def detach_interface(self, context, instance, vif):
        self._vmops.detach_interface(instance, vif)

    def power_off(self, instance, timeout=0, retry_interval=0):
        self._vmops.power_off(instance, timeout, retry_interval)

    def power_on(self, context, instance, network_info,
                 block_device_info=None, accel_info=None, share_info=None):
        self._vmops.power_on(instance)

    def reboot(self, context, instance, network_info, reboot_type,
               block_device_info=None, bad_volumes_callback=None,
               accel_info=None, share_info=None):
        self._vmops.reboot(instance, reboot_type)

    def pause(self, instance):
        self._vmops.pause(instance)

    def unpause(self, instance):
        self._vmops.unpause(instance)

    def suspend(self, context, instance):
        self._vmops.suspend(instance)

    def resume(self, context, instance, network_info, block_device_info=None,
               share_info=None):
        self._vmops.resume(instance)

    def snapshot(self, context, instance, image_id, update_task_state):
        self._snapshotops.snapshot(context, instance, image_id,
                                   update_task_state)

    # Cold migration and resize: a cluster move, disks grown in place.

    def migrate_disk_and_power_off(self, context, instance, dest, flavor,
                                   network_info, block_device_info=None,
                                   timeout=0, retry_interval=0):
        return self._migrationops.migrate_disk_and_power_off(
            context, instance, flavor, network_info, timeout,
            retry_interval)

    def finish_migration(self, context, migration, instance, disk_info,
                         network_info, image_meta, resize_instance,
                         allocations, block_device_info=None, power_on=True,
                         share_info=None):
        self._migrationops.finish_migration(
            context, migration, instance, disk_info, network_info,
            image_meta, resize_instance, allocations, block_device_info,
            power_on)

    def confirm_migration(self, context, migration, instance, network_info):
        self._migrationops.confirm_migration(instance, migration)

    def finish_revert_migration(self, context, instance, network_info,
                                migration, block_device_info=None,
                                power_on=True, share_info=None):
        self._migrationops.finish_revert_migration(
            context, instance, migration, network_info, block_device_info,
            power_on)

    # Evacuation: the cluster's VM adopted, or rebuilt around its disks.

    def rebuild(self, context, instance, image_meta, injected_files,
                admin_password, allocations, bdms, detach_block_devices,
                attach_block_devices, network_info=None,
                evacuate=False, block_device_info=None,
                preserve_ephemeral=False, accel_uuids=None,
                reimage_boot_volume=False):
        if not evacuate:
            # A rebuild in place is nova's own: destroy, then spawn.
            raise NotImplementedError()
        cluster = self._hyperv.clusterutils.get_cluster_name()
        recorded = instance.system_metadata.get(hvc_names.CLUSTER_KEY)
        if recorded is not None and recorded != cluster:
            # Its cluster restarts its VM on another of its nodes: a copy
            # built here would run beside it. (HyperVClusterKeepCSVFilter
            # schedules no evacuation here.) What nova claimed for it here
            # goes: nova removes this node's part, this its DISK_GB.
            try:
                self._evacuateops.release_disk_claimed_elsewhere(context,
                                                                 instance)
            except Exception:
                LOG.exception('Cannot release the DISK_GB the refused '
                              'evacuation of %s claimed: see its '
                              'allocations', instance.uuid,
                              instance=instance)
            raise hvc_exc.EvacuationOutOfItsCluster(
                instance_uuid=instance.uuid, cluster=recorded,
                host=self._hyperv.host)
        if (self._hyperv.standalone or
                instance.system_metadata.get(hvc_names.STANDALONE_HOST_KEY)):
            # To or from a standalone host: no disk of it is here (its
            # disks were on the lost host); nova's rebuild from the image.
            raise NotImplementedError()
        self._evacuateops.evacuate(context, instance, image_meta,
                                   network_info, block_device_info, bdms,
                                   detach_block_devices,
                                   attach_block_devices)

    def manage_image_cache(self, context, all_instances):
        self._imagecache.clean(context, all_instances)

    # Shared storage: the nodes of one cluster share every CSV; a
    # standalone host shares its storage with nobody.

    def _storage(self):
        cluster = self._hyperv.clusterutils.get_cluster_name()
        return ('cluster:%s' % cluster if cluster is not None
                else 'host:%s' % self._hyperv.node.lower())

    def check_instance_shared_storage_local(self, context, instance):
        # 'cluster' for the nodes of the version before standalone hosts.
        return {'storage': self._storage(),
                'cluster': self._hyperv.clusterutils.get_cluster_name()}

    def check_instance_shared_storage_remote(self, context, data):
        if 'storage' not in data and 'cluster' in data:
            # From a node of the version before standalone hosts.
            return data['cluster'] == (
                self._hyperv.clusterutils.get_cluster_name())
        return data.get('storage') == self._storage()

    def check_instance_shared_storage_cleanup(self, context, data):
        pass

    # Live migration: a cluster move between the nodes of the cluster; a
    # copy of the disks to another cluster or host.

    def check_can_live_migrate_destination(self, context, instance,
                                           src_compute_info, dst_compute_info,
                                           block_migration=False,
                                           disk_over_commit=False):
        return self._livemigrationops.check_can_live_migrate_destination(
            context, instance, src_compute_info)

    def cleanup_live_migration_destination_check(self, context,
                                                 dest_check_data):
        pass

    def check_can_live_migrate_source(self, context, instance,
                                      dest_check_data,
                                      block_device_info=None):
        return self._livemigrationops.check_can_live_migrate_source(
            instance, dest_check_data)

    def pre_live_migration(self, context, instance, block_device_info,
                           network_info, disk_info, migrate_data):
        return self._livemigrationops.pre_live_migration(
            context, instance, block_device_info, migrate_data)

    def live_migration(self, context, instance, dest, post_method,
                       recover_method, block_migration=False,
                       migrate_data=None):
        self._livemigrationops.live_migration(
            context, instance, dest, post_method, recover_method,
            block_migration, migrate_data)

    def live_migration_abort(self, instance):
        self._livemigrationops.abort(instance)
        # Nova ends the migration after this (at start-up, it finds the
        # instance MIGRATING after a kill): then its allocations are
        # settled as the move ended in the cluster.
        self._follower.submit(failover.moves_of(instance.uuid))

    def post_live_migration(self, context, instance, block_device_info,
                            migrate_data=None):
        # The SMB shares stay mapped: other VMs of this node may use them.
        pass

    def post_live_migration_at_source(self, context, instance,
                                      network_info):
        self._livemigrationops.post_live_migration_at_source(instance,
                                                             network_info)

    def post_live_migration_at_destination(self, context, instance,
                                           network_info,
                                           block_migration=False,
                                           block_device_info=None):
        self._livemigrationops.post_live_migration_at_destination(
            context, instance, network_info)

    def rollback_live_migration_at_destination(self, context, instance,
                                               network_info,
                                               block_device_info,
                                               destroy_disks=True,
                                               migrate_data=None):
        self._livemigrationops.rollback_live_migration_at_destination(
            context, instance, network_info, migrate_data)

    # Volumes: SMB only.

    def get_volume_connector(self, instance):
        return self._volumeops.get_volume_connector(self.get_host_ip_addr())

    def attach_volume(self, context, connection_info, instance, mountpoint,
                      disk_bus=None, device_type=None, encryption=None):
        if encryption:
            raise exception.VolumeEncryptionNotSupported(
                volume_type=connection_info.get('driver_volume_type'),
                volume_id=connection_info.get('data', {}).get('volume_id'))
        self._volumeops.attach_volume(connection_info, instance)

    def detach_volume(self, context, connection_info, instance, mountpoint,
                      encryption=None):
        self._volumeops.detach_volume(connection_info, instance)
