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

"""Volumes of instances on a cluster node: SMB only.

An SMB volume is a virtual disk file on a share that every node reaches,
so it follows its instance when the cluster fails it over to another node.
A volume bound to one node (iSCSI, FC, RBD...) would not: those are
refused before anything is attached.
"""

import shlex

from oslo_log import log as logging

from nova import exception
from nova.virt import driver

from hvc_driver import exception as hvc_exc
from hvc_oswin_api import constants as os_win_const

LOG = logging.getLogger(__name__)

SMBFS = 'smbfs'
SUPPORTED_VOLUME_TYPES = (SMBFS,)


def check_volume_type(connection_info):
    volume_type = connection_info.get('driver_volume_type')
    if volume_type not in SUPPORTED_VOLUME_TYPES:
        raise hvc_exc.UnsupportedVolumeType(
            driver_volume_type=volume_type,
            supported=', '.join(SUPPORTED_VOLUME_TYPES))


def _share_and_path(connection_info):
    """The share (UNC) and the disk file on it of an SMB volume."""
    data = connection_info['data']
    try:
        export, name = data['export'], data['name']
    except KeyError as e:
        raise exception.InvalidVolume(
            reason='the connection info of an %s volume has no %s'
                   % (SMBFS, e))
    share = '\\\\' + export.lstrip('/\\').replace('/', '\\').rstrip('\\')
    return share, '%s\\%s' % (share, name)


def _credentials(connection_info):
    """(username, password) from the mount options of an SMB volume.

    Cinder's SMB drivers pass mount options as on a mount command line:
    ``-o username=U,password=P`` (or the comma separated pairs alone).
    """
    options = connection_info['data'].get('options') or ''
    try:
        words = shlex.split(options)
    except ValueError as e:
        raise exception.InvalidVolume(
            reason='cannot read the mount options of an %s volume: %s'
                   % (SMBFS, e))
    pairs = {}
    for word in words:
        if word == '-o':
            continue
        for pair in word.split(','):
            key, sep, value = pair.partition('=')
            if sep:
                pairs[key.strip()] = value
    return (pairs.get('username') or pairs.get('user'),
            pairs.get('password') or pairs.get('pass'))


class VolumeOps(object):

    def __init__(self, hyperv):
        self._hyperv = hyperv

    def get_volume_connector(self, ip):
        # No initiator: SMB volumes need none, and no other kind is taken.
        return {'host': self._hyperv.host, 'ip': ip, 'os_type': 'win32',
                'platform': 'AMD64', 'multipath': False,
                'do_local_attach': False}

    def check_block_device_info(self, block_device_info):
        """Refuse, before spawning, volumes this driver cannot attach."""
        for bdm in driver.block_device_info_get_mapping(block_device_info):
            if bdm.get('boot_index') == 0:
                raise exception.InvalidBDM(
                    message='booting from a volume is not supported by the '
                            'Hyper-V cluster driver yet')
            check_volume_type(bdm['connection_info'])

    def map_shares(self, block_device_info):
        """Map the SMB shares of the volumes, on this node."""
        for bdm in driver.block_device_info_get_mapping(block_device_info):
            check_volume_type(bdm['connection_info'])
            self._ensure_share_mapped(bdm['connection_info'])

    def attach_volumes(self, block_device_info, instance):
        for bdm in driver.block_device_info_get_mapping(block_device_info):
            self.attach_volume(bdm['connection_info'], instance)

    def _ensure_share_mapped(self, connection_info):
        share, path = _share_and_path(connection_info)
        smbutils = self._hyperv.smbutils
        if not smbutils.check_smb_mapping(share,
                                          remove_unavailable_mapping=True):
            username, password = _credentials(connection_info)
            smbutils.mount_smb_share(share, username=username,
                                     password=password)
        return path

    @hvc_exc.translate_oswin_errors('attach a volume')
    def attach_volume(self, connection_info, instance):
        check_volume_type(connection_info)
        path = self._ensure_share_mapped(connection_info)
        self._hyperv.vmutils.attach_scsi_drive(instance.name, path,
                                               os_win_const.DISK)
        LOG.info('Attached SMB volume %s to %s', path, instance.name,
                 instance=instance)

    @hvc_exc.translate_oswin_errors('detach a volume')
    def detach_volume(self, connection_info, instance):
        check_volume_type(connection_info)
        _share, path = _share_and_path(connection_info)
        self._hyperv.vmutils.detach_vm_disk(instance.name, path,
                                            is_physical=False)
        LOG.info('Detached SMB volume %s from %s', path, instance.name,
                 instance=instance)
