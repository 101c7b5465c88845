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

"""os_win.utils.storage.diskutils on the simulated cluster."""

import os
import shutil

from oslo_log import log as logging

from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin import base
from hvc_sim import shares
from hvc_sim import state as sim_state

LOG = logging.getLogger(__name__)


@shares.reached_through_shares
class DiskUtils(base.SimulatedUtils):
    """os_win.utils.storage.diskutils.DiskUtils on a simulated host."""

    KIND = 'diskutils'

    def get_disk_capacity(self, path, ignore_errors=False):
        """(total, free) bytes of the volume that holds ``path``: a
        simulated CSV's (its size, less what its files take), or else the
        disk of the machine the simulated world runs on, which is every
        simulated host's local disk.

        As os-win's: a failure (GetDiskFreeSpaceExW's) is logged, and
        raised, or (0, 0) with ``ignore_errors``.
        """
        try:
            message = self._state.take_fault(
                '%s.get_disk_capacity' % self.KIND)
            if message is not None:
                raise os_win_exc.OSWinException(message)
            return self._capacity(os.path.abspath(path))
        except (os_win_exc.OSWinException, sim_state.SimulatorError) as e:
            LOG.error('Could not get disk %(path)s capacity info. '
                      'Exception: %(exc)s', dict(path=path, exc=e))
            if ignore_errors:
                return 0, 0
            if isinstance(e, sim_state.SimulatorError):
                raise os_win_exc.OSWinException(str(e))
            raise

    def _capacity(self, path):
        if not os.path.exists(path):
            # What os-win's Win32Exception says of ERROR_PATH_NOT_FOUND.
            raise os_win_exc.OSWinException(
                'Executing Win32 API function GetDiskFreeSpaceExW failed. '
                'Error code: 3. Error message: The system cannot find the '
                'path specified.', error_code=3)
        for volume in self._state.shared_volumes():
            if os.path.commonpath([path, volume.path]) == volume.path:
                total = volume.total_gb * 1024 ** 3
                used = sim_state.folder_physical_bytes(volume.path)
                return total, max(total - used, 0)
        usage = shutil.disk_usage(path)
        return usage.total, usage.free
