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

"""os_win.utils.storage.smbutils on the simulated cluster."""

from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin import base


class SMBUtils(base.SimulatedUtils):
    """os_win.utils.storage.smbutils.SMBUtils: SMB mappings of a node."""

    KIND = 'smbutils'

    @base.faultable(os_win_exc.SMBException)
    def check_smb_mapping(self, share_path, remove_unavailable_mapping=False):
        return share_path in self._state.mapped_shares(self._node)

    @base.faultable(os_win_exc.SMBException)
    def mount_smb_share(self, share_path, username=None, password=None):
        self._state.map_share(self._node, share_path, username)

    @base.faultable(os_win_exc.SMBException)
    def unmount_smb_share(self, share_path, force=False):
        self._state.unmap_share(self._node, share_path)
