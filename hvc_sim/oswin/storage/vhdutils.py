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

"""os_win.utils.storage.virtdisk.vhdutils on the simulated cluster."""

import json
import os

from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin import base
from hvc_sim import shares
from hvc_sim import state as sim_state


_VHD_MAGIC = 'hvc-sim-virtual-disk'
_VHD_BLOCK_SIZE = 32 * 1024 * 1024
_SECTOR_SIZE = 512
_DEVICE_IDS = {
    constants.DISK_FORMAT_VHD: constants.VIRTUAL_STORAGE_TYPE_DEVICE_VHD,
    constants.DISK_FORMAT_VHDX: constants.VIRTUAL_STORAGE_TYPE_DEVICE_VHDX}


@shares.reached_through_shares
class VHDUtils(base.SimulatedUtils):
    """os_win.utils.storage.virtdisk.vhdutils.VHDUtils on simulated disks.

    A simulated virtual disk is a small file that describes it. Any other
    file (an image as glance delivers it, say) reads as a fixed disk of
    the format its extension names, as large as the file.
    """

    KIND = 'vhdutils'

    def _read(self, vhd_path):
        try:
            with open(vhd_path, 'rb') as f:
                head = f.read(4096)
            size = os.path.getsize(vhd_path)
        except OSError as e:
            raise os_win_exc.VHDException(
                'cannot open virtual disk %s: %s' % (vhd_path, e))
        try:
            info = json.loads(head.decode('utf-8'))
            if info.get('magic') == _VHD_MAGIC:
                return info
        except (ValueError, UnicodeDecodeError):
            pass
        return {'format': _format_from_extension(vhd_path),
                'type': constants.VHD_TYPE_FIXED,
                'virtual_size': size, 'parent': None}

    def _write(self, path, disk_format, disk_type, virtual_size,
               parent=None):
        if os.path.exists(path):
            raise os_win_exc.VHDException('%s exists already' % path)
        with open(path, 'w') as f:
            json.dump({'magic': _VHD_MAGIC, 'format': disk_format,
                       'type': disk_type, 'virtual_size': virtual_size,
                       'parent': parent}, f)

    @base.faultable(os_win_exc.VHDException)
    def get_vhd_info(self, vhd_path, info_members=None, open_parents=False):
        disk = self._read(vhd_path)
        if not disk['format']:
            raise os_win_exc.VHDException(
                'unsupported virtual disk format: %s' % vhd_path)
        members = info_members or (
            constants.GET_VIRTUAL_DISK_INFO_SIZE,
            constants.GET_VIRTUAL_DISK_INFO_PARENT_LOCATION,
            constants.GET_VIRTUAL_DISK_INFO_VIRTUAL_STORAGE_TYPE,
            constants.GET_VIRTUAL_DISK_INFO_PROVIDER_SUBTYPE)
        info = {}
        for member in members:
            if member == constants.GET_VIRTUAL_DISK_INFO_SIZE:
                # What it takes on its volume, as the simulated CSV
                # counts it.
                info.update(VirtualSize=disk['virtual_size'],
                            PhysicalSize=sim_state.physical_bytes(vhd_path),
                            BlockSize=_VHD_BLOCK_SIZE,
                            SectorSize=_SECTOR_SIZE)
            elif member == constants.GET_VIRTUAL_DISK_INFO_PARENT_LOCATION:
                info.update(ParentResolved=bool(disk['parent']),
                            ParentPath=disk['parent'] or '')
            elif member == (
                    constants.GET_VIRTUAL_DISK_INFO_VIRTUAL_STORAGE_TYPE):
                info.update(DeviceId=_DEVICE_IDS[disk['format']],
                            VendorId=None)
            elif member == constants.GET_VIRTUAL_DISK_INFO_PROVIDER_SUBTYPE:
                info.update(ProviderSubtype=disk['type'])
        return info

    @base.faultable(os_win_exc.VHDException)
    def get_vhd_size(self, vhd_path):
        return self.get_vhd_info(vhd_path,
                                 [constants.GET_VIRTUAL_DISK_INFO_SIZE])

    @base.faultable(os_win_exc.VHDException)
    def get_vhd_parent_path(self, vhd_path):
        return self._read(vhd_path)['parent'] or None

    @base.faultable(os_win_exc.VHDException)
    def get_vhd_format(self, vhd_path):
        disk_format = self._read(vhd_path)['format']
        if not disk_format:
            raise os_win_exc.VHDException(
                'Unsupported virtual disk format: %s' % vhd_path)
        return disk_format

    def get_best_supported_vhd_format(self):
        return constants.DISK_FORMAT_VHDX

    @base.faultable(os_win_exc.VHDException)
    def create_dynamic_vhd(self, path, max_internal_size):
        self._write(path, _format_from_extension(path) or
                    constants.DISK_FORMAT_VHDX,
                    constants.VHD_TYPE_DYNAMIC, max_internal_size)

    @base.faultable(os_win_exc.VHDException)
    def create_differencing_vhd(self, path, parent_path):
        parent = self._read(parent_path)
        self._write(path, parent['format'], constants.VHD_TYPE_DIFFERENCING,
                    parent['virtual_size'], parent=parent_path)

    @base.faultable(os_win_exc.VHDException)
    def reconnect_parent_vhd(self, child_path, parent_path):
        child = self._read(child_path)
        self._read(parent_path)
        os.remove(child_path)
        self._write(child_path, child['format'], child['type'],
                    child['virtual_size'], parent=parent_path)

    @base.faultable(os_win_exc.VHDException)
    def merge_vhd(self, vhd_path, delete_merged_image=True):
        # The parent takes the child's contents (and virtual size).
        child = self._read(vhd_path)
        if not child['parent']:
            raise os_win_exc.VHDException('%s has no parent to merge into'
                                          % vhd_path)
        parent = self._read(child['parent'])
        os.remove(child['parent'])
        self._write(child['parent'], parent['format'], parent['type'],
                    max(parent['virtual_size'], child['virtual_size']),
                    parent=parent['parent'])
        if delete_merged_image:
            os.remove(vhd_path)

    @base.faultable(os_win_exc.VHDException)
    def resize_vhd(self, vhd_path, new_max_size, is_file_max_size=True,
                   validate_new_size=True):
        disk = self._read(vhd_path)
        if (disk['format'] == constants.DISK_FORMAT_VHD and
                disk['type'] == constants.VHD_TYPE_DIFFERENCING):
            # The virtual disk API resizes VHDX children only.
            raise os_win_exc.VHDException(
                'Virtual disk %s is a differencing VHD: it cannot be '
                'resized' % vhd_path)
        if new_max_size < disk['virtual_size']:
            raise os_win_exc.VHDException(
                'Virtual disks cannot be shrunk: %s has %d bytes, %d asked '
                'for' % (vhd_path, disk['virtual_size'], new_max_size))
        # A file that was not one of ours (an image as fetched) becomes
        # one: it now describes the grown disk.
        os.remove(vhd_path)
        self._write(vhd_path, disk['format'], disk['type'], new_max_size,
                    parent=disk['parent'])


def _format_from_extension(path):
    ext = os.path.splitext(path)[1].lower()
    return {'.vhd': constants.DISK_FORMAT_VHD,
            '.vhdx': constants.DISK_FORMAT_VHDX}.get(ext)
