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

"""The life cycle of instances on the node a driver instance plays."""

import itertools
import threading
import time

from oslo_log import log as logging
from oslo_utils import excutils
from oslo_utils import units
from oslo_utils import uuidutils

from nova.api.metadata import base as instance_metadata
from nova.compute import power_state
import nova.conf
from nova import exception
from nova.virt import configdrive as nova_configdrive
from nova.virt import hardware

from hvc_driver import configdrive
from hvc_driver import exception as hvc_exc
from hvc_driver import hyperv as seam
from hvc_driver import imagecache
from hvc_driver import layout
from hvc_driver import serialconsoleops
from hvc_driver import vifops
import hvc_names
from hvc_oswin_api import constants as os_win_const
from hvc_oswin_api import exceptions as os_win_exc

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

POWER_STATES = {
    os_win_const.HYPERV_VM_STATE_ENABLED: power_state.RUNNING,
    os_win_const.HYPERV_VM_STATE_DISABLED: power_state.SHUTDOWN,
    os_win_const.HYPERV_VM_STATE_SHUTTING_DOWN: power_state.SHUTDOWN,
    os_win_const.HYPERV_VM_STATE_REBOOT: power_state.RUNNING,
    os_win_const.HYPERV_VM_STATE_PAUSED: power_state.PAUSED,
    os_win_const.HYPERV_VM_STATE_SUSPENDED: power_state.SUSPENDED,
}

# Ports the Hyper-V neutron agent binds (it finds the vNIC by its name,
# the port id), and Open vSwitch for Windows ports (vifops adds the vNIC
# to the OVS bridge).
SUPPORTED_VIF_TYPES = vifops.SUPPORTED_VIF_TYPES

# An ISO attached as a DVD drive; what cloud-init and cloudbase-init read.
# vfat is refused: Hyper-V's DVD drive takes an ISO.
CONFIG_DRIVE_FORMAT = 'iso9660'
# As libvirt: at most the last 100 KiB.
MAX_CONSOLE_BYTES = 100 * units.Ki


def find_root_disk(hyperv, instance_layout, instance):
    candidates = instance_layout.root_disk_candidates(instance.name)
    for path in candidates:
        if hyperv.pathutils.exists(path):
            return path
    raise exception.DiskNotFound(location=' or '.join(candidates))


class ServedVMs(object):
    """Nova's VMs this node runs (VM name: instance uuid), as the driver
    last saw them: what a spawn, a take over and an evacuation's adoption
    record, and the listing of the node at start and at each periodic
    check; what a delete or a let go forgets. What to let go of when the
    cluster moves one away: the one record VMOps and ClusterOps share.
    """

    def __init__(self):
        self._entries = {}  # name: (instance uuid, when it was recorded)
        self._clock = itertools.count()
        self._guard = threading.Lock()

    def add(self, vm_name, instance_uuid):
        with self._guard:
            self._entries[vm_name] = (instance_uuid, next(self._clock))

    def forget(self, vm_name):
        """The instance uuid ``vm_name`` had (None if unknown)."""
        with self._guard:
            entry = self._entries.pop(vm_name, None)
        return entry[0] if entry else None

    def __contains__(self, vm_name):
        return vm_name in self._entries

    def uuid_of(self, vm_name):
        entry = self._entries.get(vm_name)
        return entry[0] if entry else None

    def now(self):
        """Before a listing of the node: ``found`` keeps what is recorded
        while it runs.
        """
        with self._guard:
            return next(self._clock)

    def found(self, uuids_by_name, listed_since):
        """What a listing begun at ``listed_since`` (``now()``) found on
        the node: recorded; what it did not find is forgotten, unless it
        was recorded after the listing began (a spawn that ended
        meanwhile).
        """
        with self._guard:
            for name, (_uuid, when) in list(self._entries.items()):
                if name not in uuids_by_name and when < listed_since:
                    del self._entries[name]
            for name, instance_uuid in uuids_by_name.items():
                self._entries[name] = (instance_uuid, next(self._clock))


class VMOps(seam.UsesHyperV):
    """Creates, runs and removes the VMs of instances on one node."""

    def __init__(self, hyperv, volumeops, virtapi, instance_layout=None):
        self._hyperv = hyperv
        self._volumeops = volumeops
        self._virtapi = virtapi
        self._layout = instance_layout or layout.InstanceLayout(hyperv)
        self._imagecache = imagecache.ImageCache(hyperv)
        self._serialconsoleops = serialconsoleops.SerialConsoleOps(
            hyperv, self._layout)
        self._vifops = vifops.VIFOps(hyperv)
        self.served_vms = ServedVMs()

    # Inspection.

    @hvc_exc.translate_oswin_errors('list instances')
    def list_instances(self):
        return self._vmutils.list_instances()

    @hvc_exc.translate_oswin_errors('list instances')
    def list_instance_uuids(self):
        # Nova's uuid is the first note of the VMs it created.
        return [notes[0] for _name, notes in
                self._vmutils.list_instance_notes()
                if notes and uuidutils.is_uuid_like(notes[0])]

    @hvc_exc.translate_oswin_errors('look up an instance')
    def instance_exists(self, instance):
        return self._vmutils.vm_exists(instance.name)

    @hvc_exc.translate_oswin_errors('get the state of an instance')
    def get_info(self, instance):
        summary = self._vmutils.get_vm_summary_info(instance.name)
        return hardware.InstanceInfo(
            state=POWER_STATES.get(summary['EnabledState'],
                                   power_state.NOSTATE))

    @hvc_exc.translate_oswin_errors('read the console output of an instance')
    def get_console_output(self, instance):
        """The tail of the serial port's log (and of the log it rotated
        to before, when the tail reaches back there), as bytes.
        """
        vm_name = instance.name
        if not self._vmutils.vm_exists(vm_name):
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        self._serialconsoleops.flush_log(vm_name)
        output = b''
        # Newest first.
        for path in reversed(self._layout.console_log_paths(vm_name)):
            wanted = MAX_CONSOLE_BYTES - len(output)
            if not wanted:
                break
            if not self._pathutils.exists(path):
                continue
            size = self._pathutils.get_size(path)
            output = self._pathutils.read_file(
                path, max(0, size - wanted), wanted) + output
        return output

    def get_serial_console(self, instance):
        return self._serialconsoleops.get_serial_console(instance)

    # A VM that arrives on this node, or leaves it, through the cluster.

    @hvc_exc.translate_oswin_errors('take over an instance')
    def take_over(self, instance, network_info):
        """What runs outside a VM that now runs here: its Open vSwitch
        ports in this node's OVS, and the reader of its serial port.
        """
        self.served_vms.add(instance.name, instance.uuid)
        for vif in network_info or []:
            self._vifops.plug(instance, vif)
        if self.is_running(instance):
            self._serialconsoleops.start_log(instance.name)

    @hvc_exc.translate_oswin_errors('get the state of an instance')
    def is_running(self, instance):
        return (self._vmutils.get_vm_state(instance.name) ==
                os_win_const.HYPERV_VM_STATE_ENABLED)

    def let_go(self, instance, network_info):
        """What this node ran outside a VM that runs elsewhere now: its
        serial port's reader, its Open vSwitch ports here. Never raises:
        the VM itself is not affected.
        """
        self.served_vms.forget(instance.name)
        self._serialconsoleops.stop_log(instance.name)
        for vif in network_info or []:
            try:
                self._vifops.unplug(instance, vif)
            except exception.NovaException:
                LOG.exception('Port %s of %s stays in the Open vSwitch of '
                              'node %s', vif['id'], instance.name,
                              self._hyperv.node, instance=instance)

    def logs_console_of(self, vm_name):
        """Whether this node reads the serial port of ``vm_name``."""
        return self._serialconsoleops.is_logging(vm_name)

    def served(self, vm_name):
        """The uuid of the instance of ``vm_name`` if this node runs that
        VM for nova as far as it knows, else None.
        """
        return self.served_vms.uuid_of(vm_name)

    def start_serial_console_logs(self):
        """On host start: log the serial ports of nova's VMs that run."""
        listed_since = self.served_vms.now()
        try:
            here = self.nova_vms_here()
        except hvc_exc.OSWIN_ERRORS:
            LOG.exception('Cannot list the VMs of node %s: their serial '
                          'console logs are not started', self._hyperv.node)
            return
        self.served_vms.found(here, listed_since)
        self._serialconsoleops.start_logs(list(here))

    def nova_vms_here(self):
        """{VM name: instance uuid} of nova's VMs on this node."""
        return {name: notes[0] for name, notes in
                self._vmutils.list_instance_notes()
                if notes and uuidutils.is_uuid_like(notes[0])}

    # Creation.

    def _check_spawn_request(self, instance, image_meta, network_info,
                             block_device_info):
        """Refuse, before anything is made, what the driver cannot do."""
        imagecache.check_disk_format(image_meta)
        if (nova_configdrive.required_by(instance) and
                CONF.config_drive_format != CONFIG_DRIVE_FORMAT):
            raise exception.ConfigDriveUnsupportedFormat(
                format=CONF.config_drive_format)
        self._volumeops.check_block_device_info(block_device_info)
        for vif in network_info or []:
            self._vifops.check(vif)

    @staticmethod
    def vm_generation(image_meta):
        machine_type = image_meta.properties.get('hw_machine_type')
        if machine_type == os_win_const.IMAGE_PROP_VM_GEN_2:
            return os_win_const.VM_GEN_2
        return os_win_const.VM_GEN_1

    def create_root_disk(self, context, instance, image_meta, instance_dir,
                         name=layout.ROOT_DISK):
        """The disk ``name`` (the root disk, or a rescue disk) of
        ``image_meta``'s image in ``instance_dir``, of the flavor's root
        size.
        """
        cached = self._imagecache.get_cached_image(context, image_meta)
        ext = self._path.splitext(cached)[1]
        root_path = self._path.join(instance_dir, name + ext)
        image_size = self._vhdutils.get_vhd_size(cached)['VirtualSize']
        root_gb = instance.flavor.root_gb
        root_size = root_gb * units.Gi
        if root_size and image_size > root_size:
            raise exception.FlavorDiskSmallerThanImage(
                flavor_size=root_size, image_size=image_size)
        grow = root_size > image_size
        if not CONF.use_cow_images:
            self._pathutils.copyfile(cached, root_path)
        elif grow and (self._vhdutils.get_vhd_format(cached) ==
                       os_win_const.DISK_FORMAT_VHD):
            # A differencing VHD cannot outgrow its parent: a child of a
            # grown copy of the image, which is then the right size.
            cached = self._imagecache.get_grown_image(context, image_meta,
                                                      root_gb)
            self._vhdutils.create_differencing_vhd(root_path, cached)
            grow = False
        else:
            self._vhdutils.create_differencing_vhd(root_path, cached)
        if grow:
            self._vhdutils.resize_vhd(root_path, root_size,
                                      is_file_max_size=False)
        return root_path

    def _create_blank_disk(self, instance_dir, name, size_bytes):
        fmt = self._vhdutils.get_best_supported_vhd_format().lower()
        path = self._path.join(instance_dir, '%s.%s' % (name, fmt))
        self._vhdutils.create_dynamic_vhd(path, size_bytes)
        return path

    def create_config_drive(self, context, instance, injected_files,
                            admin_password, network_info, instance_dir,
                            name=layout.CONFIG_DRIVE):
        """An ISO of the instance's metadata, next to its disks (``name``:
        the instance's, or a rescue's).
        """
        extra_md = {}
        if admin_password and CONF.hyperv_cluster.config_drive_inject_password:
            extra_md['admin_pass'] = admin_password
        metadata = instance_metadata.InstanceMetadata(
            instance, content=injected_files, extra_md=extra_md,
            network_info=network_info)
        path = self._path.join(instance_dir, name)
        LOG.info('Creating the config drive at %s', path, instance=instance)
        self._pathutils.write_file(path,
                                   configdrive.make_config_drive(metadata))
        return path

    def attach_config_drive(self, vm_name, path, vm_gen=None):
        """The ISO at ``path`` as the VM's DVD drive (its generation read
        from Hyper-V unless given).
        """
        if vm_gen is None:
            vm_gen = self._vmutils.get_vm_generation(vm_name)
        # Second IDE controller on generation 1, SCSI on generation 2.
        if vm_gen == os_win_const.VM_GEN_1:
            self._vmutils.attach_ide_drive(vm_name, path, 1, 0,
                                           drive_type=os_win_const.DVD)
        else:
            self._vmutils.attach_scsi_drive(vm_name, path,
                                            drive_type=os_win_const.DVD)

    def _attach_disks(self, vm_name, vm_gen, disk_paths):
        # Generation 1 VMs boot from IDE; generation 2 ones from SCSI.
        # Both get a SCSI controller, for volumes.
        self._vmutils.create_scsi_controller(vm_name)
        for slot, path in enumerate(disk_paths):
            if (vm_gen == os_win_const.VM_GEN_1 and
                    slot < os_win_const.IDE_CONTROLLER_SLOTS_NUMBER):
                self._vmutils.attach_ide_drive(vm_name, path, 0, slot)
            else:
                self._vmutils.attach_scsi_drive(vm_name, path)

    def cached_image(self, context, image_meta, name):
        """This cluster's cached copy of the image ``image_meta`` that the
        image cache of another cluster calls ``name`` (the image itself,
        or a grown copy of it: ``<image>_<GB>.<format>``).
        """
        base, _ext = self._path.splitext(name)
        image_id, _sep, grown_gb = base.partition('_')
        if image_id != image_meta.id:
            raise exception.ImageNotFound(image_id=image_id)
        if grown_gb:
            return self._imagecache.get_grown_image(context, image_meta,
                                                    int(grown_gb))
        return self._imagecache.get_cached_image(context, image_meta)

    def build_vm(self, instance, vm_gen, inst_dir, disks, config_drive,
                 network_info, block_device_info):
        """The clustered VM of an instance whose disks are made: its CPUs
        and memory, serial port, disks, NICs, volumes and config drive.
        Powered off.
        """
        vm_name = instance.name
        flavor = instance.flavor
        self._vmutils.create_vm(vm_name, False, vm_gen, inst_dir,
                                notes=[instance.uuid])
        self._vmutils.update_vm(
            vm_name, flavor.memory_mb, 0, flavor.vcpus, 0,
            CONF.hyperv_cluster.limit_cpu_features,
            CONF.hyperv_cluster.dynamic_memory_ratio,
            configuration_root_dir=inst_dir)
        self._serialconsoleops.connect_serial_port(vm_name)
        self._attach_disks(vm_name, vm_gen, disks)
        self._create_nics(instance, network_info)
        self._volumeops.attach_volumes(block_device_info, instance)
        if config_drive:
            self.attach_config_drive(vm_name, config_drive, vm_gen)
        # Hyper-V's resource metering of its processors, memory and disks,
        # for nova's diagnostics (diagnosticsops).
        self._hyperv.metricsutils.enable_vm_metrics_collection(vm_name)
        self.cluster(vm_name)

    def cluster(self, vm_name):
        """Make the VM a clustered role of this node's cluster (nothing on
        a standalone host).
        """
        if self._hyperv.standalone:
            return
        self._clusterutils.add_vm_to_cluster(
            vm_name, CONF.hyperv_cluster.max_failover_count,
            CONF.hyperv_cluster.failover_period,
            CONF.hyperv_cluster.auto_failback)

    def storage_of(self, instance, allocations):
        """The CSV that holds the instance's DISK_GB allocation (None if
        none does), recorded with the cluster (or the standalone host) in
        its system metadata for the scheduler and for evacuations.
        """
        try:
            volume = self._layout.csv_of(allocations)
        except layout.DiskNotOnThisCluster as e:
            raise hvc_exc.DiskAllocationElsewhere(
                instance_uuid=instance.uuid, reason=e)
        cluster = self._clusterutils.get_cluster_name()
        metadata = instance.system_metadata
        if cluster is None:
            metadata.pop(hvc_names.CLUSTER_KEY, None)
            metadata[hvc_names.STANDALONE_HOST_KEY] = self._hyperv.node
        else:
            metadata[hvc_names.CLUSTER_KEY] = cluster
            metadata.pop(hvc_names.STANDALONE_HOST_KEY, None)
        if volume is None:
            instance.system_metadata.pop(hvc_names.CSV_PROVIDER_KEY, None)
        else:
            instance.system_metadata[hvc_names.CSV_PROVIDER_KEY] = (
                self._layout.provider_of(volume))
        return volume

    @hvc_exc.translate_oswin_errors('spawn an instance')
    def spawn(self, context, instance, image_meta, network_info,
              block_device_info, power_on=True, injected_files=None,
              admin_password=None, allocations=None):
        vm_name = instance.name
        self._check_spawn_request(instance, image_meta, network_info,
                                  block_device_info)
        # A VM of this name, here or clustered anywhere, may run from the
        # instance directory: never touch it.
        if (self._vmutils.vm_exists(vm_name) or
                self._clusterutils.vm_exists(vm_name)):
            raise exception.InstanceExists(name=vm_name)
        leftover = self._layout.instance_dir(vm_name)
        if self._pathutils.exists(self._path.join(leftover,
                                                  layout.MOVED_MARK)):
            # The disks there may be in use by the VM that left.
            raise hvc_exc.InstanceDirectoryInUse(vm_name=vm_name,
                                                 path=leftover)
        inst_dir = self._layout.new_instance_dir(
            vm_name, self.storage_of(instance, allocations))
        try:
            # Leftovers of an earlier failed attempt are not ours to reuse.
            self._pathutils.check_remove_dir(leftover)
            self._pathutils.check_create_dir(inst_dir)
            disks = [self.create_root_disk(context, instance, image_meta,
                                           inst_dir)]
            flavor = instance.flavor
            if flavor.ephemeral_gb:
                disks.append(self._create_blank_disk(
                    inst_dir, layout.EPHEMERAL_DISK,
                    flavor.ephemeral_gb * units.Gi))
            if flavor.swap:
                disks.append(self._create_blank_disk(
                    inst_dir, layout.SWAP_DISK, flavor.swap * units.Mi))

            config_drive = None
            if nova_configdrive.required_by(instance):
                config_drive = self.create_config_drive(
                    context, instance, injected_files, admin_password,
                    network_info, inst_dir)
            self.build_vm(instance, self.vm_generation(image_meta),
                          inst_dir, disks, config_drive, network_info,
                          block_device_info)
            if power_on:
                self._vmutils.set_vm_state(
                    vm_name, os_win_const.HYPERV_VM_STATE_ENABLED)
                self._serialconsoleops.start_log(vm_name)
        except Exception:
            with excutils.save_and_reraise_exception():
                LOG.error('Spawning %s on node %s failed; removing what was '
                          'made', vm_name, self._hyperv.node,
                          instance=instance)
                try:
                    self.destroy(instance, network_info=network_info)
                except Exception:
                    # The spawn error is the one to report; nova's own
                    # cleanup calls destroy again.
                    LOG.exception('Cleaning up after the failed spawn of %s '
                                  'failed', vm_name, instance=instance)
        self.served_vms.add(vm_name, instance.uuid)
        LOG.info('Spawned %s on node %s', vm_name, self._hyperv.node,
                 instance=instance)

    @staticmethod
    def _neutron_events(network_info):
        # Only ports that are down now will send a down->up event.
        if not CONF.vif_plugging_timeout:
            return []
        return [('network-vif-plugged', vif['id'])
                for vif in network_info or [] if vif.get('active') is False]

    @staticmethod
    def _neutron_failed(event_name, instance):
        LOG.error('Neutron reported a failure on event %s', event_name,
                  instance=instance)
        if CONF.vif_plugging_is_fatal:
            raise exception.VirtualInterfaceCreateException()

    def _create_nics(self, instance, network_info):
        """One vNIC per port, named by the port id, and wait until neutron
        says the ports are bound, so that the VM does not boot offline.
        """
        events = self._neutron_events(network_info)
        try:
            with self._virtapi.wait_for_instance_event(
                    instance, events, timeout=CONF.vif_plugging_timeout,
                    error_callback=self._neutron_failed):
                for vif in network_info or []:
                    # The Hyper-V neutron agent finds the vNIC by this name.
                    self._vmutils.create_nic(instance.name, vif['id'],
                                             vif['address'])
                    self._vifops.plug(instance, vif)
        except exception.InstanceEventTimeout:
            if CONF.vif_plugging_is_fatal:
                raise exception.VirtualInterfaceCreateException()
            LOG.warning('Ports %s were not bound within %ss; starting the '
                        'instance all the same', [e[1] for e in events],
                        CONF.vif_plugging_timeout, instance=instance)

    # Network adapters added and removed later (nova's interface attach
    # and detach).

    def _can_hot_plug_nics(self, vm_name):
        """Hyper-V changes a running VM's network adapters on generation
        2 VMs only (Windows Server 2016 and later: this driver's minimum).
        """
        return (self._vmutils.get_vm_generation(vm_name) ==
                os_win_const.VM_GEN_2 or
                self._vmutils.get_vm_state(vm_name) ==
                os_win_const.HYPERV_VM_STATE_DISABLED)

    @hvc_exc.translate_oswin_errors('attach an interface')
    def attach_interface(self, instance, vif):
        vm_name = instance.name
        self._vifops.check(vif)
        if not self._can_hot_plug_nics(vm_name):
            raise exception.InterfaceAttachFailed(instance_uuid=instance.uuid)
        self._vmutils.create_nic(vm_name, vif['id'], vif['address'])
        try:
            self._vifops.plug(instance, vif)
        except Exception:
            with excutils.save_and_reraise_exception():
                self._vmutils.destroy_nic(vm_name, vif['id'])
        LOG.info('Attached port %s to %s', vif['id'], vm_name,
                 instance=instance)

    @hvc_exc.translate_oswin_errors('detach an interface')
    def detach_interface(self, instance, vif):
        vm_name = instance.name
        if not self._can_hot_plug_nics(vm_name):
            raise exception.InterfaceDetachFailed(instance_uuid=instance.uuid)
        self._vifops.unplug(instance, vif)
        self._vmutils.destroy_nic(vm_name, vif['id'])
        LOG.info('Detached port %s from %s', vif['id'], vm_name,
                 instance=instance)

    # Removal.

    def _ignoring_not_found(self, func, vm_name, *args):
        """Call a step of destroy; a VM or group already gone is done."""
        try:
            return func(vm_name, *args)
        except hvc_exc.OSWIN_NOT_FOUND as e:
            LOG.debug('%s of %s: gone already (%s)', func.__name__, vm_name,
                      e)
            return None

    def _owner_elsewhere(self, vm_name):
        """The node the cluster runs a clustered VM on, if not this one.

        None when the VM is not clustered or is clustered on this node.
        """
        if not self._clusterutils.vm_exists(vm_name):
            return None
        owner = self._ignoring_not_found(self._clusterutils.get_vm_host,
                                         vm_name)
        if owner is None or self._hyperv.is_this_node(owner):
            return None
        return owner

    def _mark_moved(self, instance):
        mark_path = self._layout.moved_mark(instance.name)
        self._pathutils.write_file(mark_path, (
            '%s left node %s unclustered while being deleted; it may run on '
            'another node from these disks. Remove this file once it does '
            'not.\n' % (instance.name, self._hyperv.node)).encode('utf-8'))

    @hvc_exc.translate_oswin_errors('destroy an instance',
                                    instance_not_found=False)
    def destroy(self, instance, destroy_disks=True, network_info=None):
        """Remove the VM, its cluster group and its disks, whatever exists.

        Safe to repeat and to call after a partial spawn: each step acts
        only on what is there, and a VM or group that goes away meanwhile
        counts as removed (never InstanceNotFound: nova would take the
        instance for gone and never mark it deleted). The disks go only
        once the VM is gone, and never while it may run elsewhere.
        """
        vm_name = instance.name
        # The reader holds the log open: stopped before anything else.
        self._serialconsoleops.stop_log(vm_name)
        clustered = False
        if self._clusterutils.vm_exists(vm_name):
            owner = self._ignoring_not_found(self._clusterutils.get_vm_host,
                                             vm_name)
            if owner is not None and not self._hyperv.is_this_node(owner):
                # The cluster moved it (failover): its disks are in use
                # there. Moving nova's record along is the cluster
                # reconciliation's job, not a delete's.
                raise hvc_exc.InstanceOnAnotherNode(
                    vm_name=vm_name, owner=owner, node=self._hyperv.node)
            clustered = owner is not None
            # Unclustered first, or the cluster would bring it back.
            self._ignoring_not_found(self._clusterutils.delete, vm_name)
        if self._vmutils.vm_exists(vm_name):
            self._ignoring_not_found(self._vmutils.stop_vm_jobs, vm_name)
            self._ignoring_not_found(self._vmutils.set_vm_state, vm_name,
                                     os_win_const.HYPERV_VM_STATE_DISABLED)
            self._ignoring_not_found(self._vmutils.destroy_vm, vm_name)
        elif clustered:
            # It was clustered on this node a moment ago and this node no
            # longer runs it: the cluster failed it over before it was
            # unclustered. It runs, unclustered, on another node, from
            # the disks on the shared CSV. Nothing says so any more but
            # a mark next to them, which keeps a later delete off them.
            self._mark_moved(instance)
            raise hvc_exc.InstanceMovedDuringDelete(
                vm_name=vm_name, owner='another node', node=self._hyperv.node)
        elif self._pathutils.exists(self._layout.moved_mark(instance.name)):
            raise hvc_exc.InstanceMovedDuringDelete(
                vm_name=vm_name, owner='another node', node=self._hyperv.node)
        # The VM is gone from this node: what its ports left outside it.
        self.served_vms.forget(vm_name)
        for vif in network_info or []:
            self._vifops.unplug(instance, vif)
        if destroy_disks:
            self._pathutils.check_remove_dir(
                self._layout.instance_dir(vm_name))
        LOG.info('Destroyed %s on node %s', vm_name, self._hyperv.node,
                 instance=instance)

    @hvc_exc.translate_oswin_errors('clean up an instance',
                                    instance_not_found=False)
    def cleanup(self, instance, destroy_disks=True, network_info=None):
        """Destroy, unless the cluster runs the VM on another node.

        After a cluster live migration (or a failover) nova cleans up the
        source node: the VM, its group and its disks now belong to the
        other node and are left alone.
        """
        owner = self._owner_elsewhere(instance.name)
        if owner is not None:
            LOG.info('%s is clustered on node %s now: nothing to clean up on '
                     '%s', instance.name, owner, self._hyperv.node,
                     instance=instance)
            return
        self.destroy(instance, destroy_disks=destroy_disks,
                     network_info=network_info)

    # Power.

    def _set_state(self, instance, state):
        self._vmutils.set_vm_state(instance.name, state)

    def _soft_shutdown(self, instance, timeout, retry_interval):
        """Ask the guest to shut down; True when it did within timeout."""
        vm_name = instance.name
        retry_interval = (retry_interval or
                          CONF.hyperv_cluster.power_state_check_interval)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._vmutils.soft_shutdown_vm(vm_name)
            except os_win_exc.HyperVVMNotFoundException:
                raise
            except os_win_exc.HyperVException as e:
                # Expected while the guest is still booting: try again.
                LOG.debug('Soft shutdown of %s failed: %s', vm_name, e)
            if (self._vmutils.get_vm_state(vm_name) ==
                    os_win_const.HYPERV_VM_STATE_DISABLED):
                return True
            if time.monotonic() + retry_interval > deadline:
                LOG.warning('%s did not shut down within %ss',
                            vm_name, timeout, instance=instance)
                return False
            time.sleep(retry_interval)

    @hvc_exc.translate_oswin_errors('power off an instance')
    def power_off(self, instance, timeout=0, retry_interval=0):
        self._serialconsoleops.stop_log(instance.name)
        if timeout and self._soft_shutdown(instance, timeout,
                                           retry_interval):
            return
        self._set_state(instance, os_win_const.HYPERV_VM_STATE_DISABLED)

    @hvc_exc.translate_oswin_errors('power on an instance')
    def power_on(self, instance):
        self._set_state(instance, os_win_const.HYPERV_VM_STATE_ENABLED)
        self._serialconsoleops.start_log(instance.name)

    def _hard_reboot(self, instance):
        vm_name = instance.name
        if (self._vmutils.get_vm_state(vm_name) ==
                os_win_const.HYPERV_VM_STATE_ENABLED):
            self._set_state(instance, os_win_const.HYPERV_VM_STATE_REBOOT)
            return
        # Hyper-V ignores a reset of a VM that is not running; nova expects
        # it running after a hard reboot, as libvirt leaves it.
        self._set_state(instance, os_win_const.HYPERV_VM_STATE_DISABLED)
        self._set_state(instance, os_win_const.HYPERV_VM_STATE_ENABLED)

    @hvc_exc.translate_oswin_errors('reboot an instance')
    def reboot(self, instance, reboot_type):
        if reboot_type == 'SOFT':
            if self._soft_shutdown(
                    instance, CONF.hyperv_cluster.wait_soft_reboot_seconds,
                    CONF.hyperv_cluster.power_state_check_interval):
                self._set_state(instance,
                                os_win_const.HYPERV_VM_STATE_ENABLED)
            else:
                LOG.info('Soft reboot of %s did not work; rebooting it hard',
                         instance.name, instance=instance)
                self._hard_reboot(instance)
        else:
            self._hard_reboot(instance)
        # The pipe's reader may have seen the pipe go: a new one.
        self._serialconsoleops.start_log(instance.name)

    @hvc_exc.translate_oswin_errors('pause an instance')
    def pause(self, instance):
        self._set_state(instance, os_win_const.HYPERV_VM_STATE_PAUSED)

    @hvc_exc.translate_oswin_errors('unpause an instance')
    def unpause(self, instance):
        self._set_state(instance, os_win_const.HYPERV_VM_STATE_ENABLED)

    @hvc_exc.translate_oswin_errors('suspend an instance')
    def suspend(self, instance):
        self._set_state(instance, os_win_const.HYPERV_VM_STATE_SUSPENDED)

    @hvc_exc.translate_oswin_errors('resume an instance')
    def resume(self, instance):
        self._set_state(instance, os_win_const.HYPERV_VM_STATE_ENABLED)
        self._serialconsoleops.start_log(instance.name)
