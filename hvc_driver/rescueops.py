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

"""Rescue and unrescue: the instance booted from a rescue image, its own
root disk attached beside it to be repaired, then back as it was.

Two ways, as nova's API asks for them:

- Rescue (compute-hyperv's): the rescue disk takes the root disk's place
  (the first IDE slot on generation 1, first in the boot order on
  generation 2) and the root disk is attached as a SCSI data disk.
- Stable device rescue (the rescue image has ``hw_rescue_device`` or
  ``hw_rescue_bus``, compute API 2.87): every disk stays where it is; the
  rescue disk is attached as one more SCSI disk and boots first.
  Generation 2 only: a generation 1 VM's firmware boots the first IDE
  disk whatever its boot order names. A disk only: the driver boots
  VHD and VHDX images, and a Hyper-V DVD drive takes an ISO.

With a config drive, the rescue gets its own (with the rescue password),
in place of the instance's. The rescue's files are in the instance
directory on the CSV: a failover during a rescue moves them with the VM,
and unrescue on the new node finds them there.
"""

from nova import exception
from nova.virt import configdrive as nova_configdrive
from oslo_log import log as logging
from oslo_utils import excutils

from hvc_driver import exception as hvc_exc
from hvc_driver import layout
from hvc_driver import vmops
from hvc_oswin_api import constants as os_win_const
from hvc_oswin_api import paths

LOG = logging.getLogger(__name__)

# What a stable device rescue can attach the rescue image as
# (hw_rescue_device), and on which bus (hw_rescue_bus).
RESCUE_DEVICES = ('disk',)
RESCUE_BUSES = ('scsi',)


class RescueOps(object):

    def __init__(self, hyperv, vm_ops, instance_layout):
        self._hyperv = hyperv
        self._vmops = vm_ops
        self._layout = instance_layout

    @hvc_exc.translate_oswin_errors('rescue an instance')
    def rescue(self, context, instance, network_info, image_meta,
               rescue_password):
        vm_name = instance.name
        vmutils = self._hyperv.vmutils
        root = self._root_disk(instance)
        vm_gen = vmutils.get_vm_generation(vm_name)
        if self._vmops.vm_generation(image_meta) != vm_gen:
            raise exception.ImageUnacceptable(
                image_id=image_meta.id,
                reason='the rescue image is for generation %d VMs, instance '
                       '%s is generation %d (hw_machine_type)'
                       % (self._vmops.vm_generation(image_meta),
                          instance.uuid, vm_gen))
        stable = self._stable_device_rescue(instance, image_meta, vm_gen)
        self._vmops.power_off(instance)
        try:
            inst_dir = self._layout.instance_dir(vm_name)
            rescue_disk = self._vmops.create_root_disk(
                context, instance, image_meta, inst_dir,
                name=layout.RESCUE_DISK)
            if stable:
                disks = self._boot_disks(vm_name)
                vmutils.attach_scsi_drive(vm_name, rescue_disk)
                vmutils.set_boot_order(vm_name, [rescue_disk] + disks)
            else:
                vmutils.detach_vm_disk(vm_name, root, is_physical=False)
                self._attach_boot_disk(vm_name, vm_gen, rescue_disk)
                vmutils.attach_scsi_drive(vm_name, root)
            if nova_configdrive.required_by(instance):
                self._detach(vm_name, self._layout.instance_file(
                    vm_name, layout.CONFIG_DRIVE))
                config_drive = self._vmops.create_config_drive(
                    context, instance, None, rescue_password, network_info,
                    inst_dir, name=layout.RESCUE_CONFIG_DRIVE)
                self._vmops.attach_config_drive(vm_name, config_drive,
                                                vm_gen)
            self._vmops.power_on(instance)
        except Exception:
            with excutils.save_and_reraise_exception():
                LOG.error('Rescuing %s failed: putting it back as it was',
                          vm_name, instance=instance)
                try:
                    self._put_back(instance)
                    self._vmops.power_on(instance)
                except Exception:
                    LOG.exception('Putting %s back after a failed rescue '
                                  'failed', vm_name, instance=instance)
        LOG.info('Rescued %s: it boots from %s%s', vm_name, rescue_disk,
                 ' (stable device rescue)' if stable else '',
                 instance=instance)

    @hvc_exc.translate_oswin_errors('unrescue an instance')
    def unrescue(self, instance):
        self._vmops.power_off(instance)
        self._put_back(instance)
        self._vmops.power_on(instance)
        LOG.info('Unrescued %s', instance.name, instance=instance)

    def _root_disk(self, instance):
        try:
            return vmops.find_root_disk(self._hyperv, self._layout, instance)
        except exception.DiskNotFound:
            raise exception.InstanceNotRescuable(
                instance_id=instance.uuid,
                reason='it has no root disk of its own to rescue (booted '
                       'from a volume)')

    @staticmethod
    def _stable_device_rescue(instance, image_meta, vm_gen):
        """Whether the rescue image asks for a stable device rescue (one
        this driver can do: else InstanceNotRescuable).
        """
        properties = image_meta.properties
        device = properties.get('hw_rescue_device')
        bus = properties.get('hw_rescue_bus')
        if device is None and bus is None:
            return False
        if vm_gen != os_win_const.VM_GEN_2:
            raise exception.InstanceNotRescuable(
                instance_id=instance.uuid,
                reason='a stable device rescue (hw_rescue_device, '
                       'hw_rescue_bus) needs a generation 2 VM '
                       '(hw_machine_type hyperv-gen2): generation 1 firmware '
                       'boots the first IDE disk or DVD')
        if device is not None and device not in RESCUE_DEVICES:
            raise exception.InstanceNotRescuable(
                instance_id=instance.uuid,
                reason='hw_rescue_device %s: the rescue image is attached '
                       'as a disk (a VHD or VHDX image)' % device)
        if bus is not None and bus not in RESCUE_BUSES:
            raise exception.InstanceNotRescuable(
                instance_id=instance.uuid,
                reason='hw_rescue_bus %s: a generation 2 VM has SCSI only'
                       % bus)
        return True

    def _attached(self, vm_name):
        disk_files, _volumes = self._hyperv.vmutils.get_vm_storage_paths(
            vm_name)
        return disk_files

    def _boot_disks(self, vm_name):
        """The VM's attached virtual disks (no DVD), in their order."""
        return [path for path in self._attached(vm_name)
                if not path.lower().endswith('.iso')]

    def _is_attached(self, vm_name, path):
        return any(paths.same(path, attached)
                   for attached in self._attached(vm_name))

    def _detach(self, vm_name, path):
        """Detach ``path`` if attached; whether it was."""
        if not self._is_attached(vm_name, path):
            return False
        self._hyperv.vmutils.detach_vm_disk(vm_name, path, is_physical=False)
        return True

    def _attach_boot_disk(self, vm_name, vm_gen, path):
        vmutils = self._hyperv.vmutils
        if vm_gen == os_win_const.VM_GEN_1:
            vmutils.attach_ide_drive(vm_name, path, 0, 0)
            return
        vmutils.attach_scsi_drive(vm_name, path)
        vmutils.set_boot_order(vm_name, [path])

    def _put_back(self, instance):
        """The disks, boot order and config drive of ``instance`` as before
        its rescue, and the rescue's files removed: from whatever a rescue
        did of it, so that it can run again.
        """
        vm_name = instance.name
        vmutils = self._hyperv.vmutils
        pathutils = self._hyperv.pathutils
        vm_gen = vmutils.get_vm_generation(vm_name)
        root = self._root_disk(instance)
        rescue_files = [
            path for path in self._layout.root_disk_candidates(
                vm_name, layout.RESCUE_DISK) +
            [self._layout.instance_file(vm_name, layout.RESCUE_CONFIG_DRIVE)]
            if pathutils.exists(path)]
        rescued = [path for path in rescue_files
                   if self._detach(vm_name, path)]
        if rescued or not self._is_attached(vm_name, root):
            # The root disk back in the first free slot, which the rescue
            # disk's detach freed (or where it was, after a stable device
            # rescue).
            self._detach(vm_name, root)
            self._attach_boot_disk(vm_name, vm_gen, root)
        if vm_gen == os_win_const.VM_GEN_2:
            vmutils.set_boot_order(vm_name, [root] + [
                path for path in self._boot_disks(vm_name)
                if not paths.same(path, root)])
        config_drive = self._layout.instance_file(vm_name,
                                                  layout.CONFIG_DRIVE)
        if (pathutils.exists(config_drive) and
                not self._is_attached(vm_name, config_drive)):
            self._vmops.attach_config_drive(vm_name, config_drive, vm_gen)
        for path in rescue_files:
            pathutils.remove(path)
