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

"""The simulated utils classes by kind (``KIND``), as os_win.utilsfactory
hands out os-win's: what ``hvc-sim fail KIND.METHOD`` and the driver's
simulated backend look classes up in.
"""

from hvc_sim.oswin.compute import clusterutils
from hvc_sim.oswin.compute import livemigrationutils
from hvc_sim.oswin.compute import vmutils
from hvc_sim.oswin import hostutils
from hvc_sim.oswin.metrics import metricsutils
from hvc_sim.oswin.network import networkutils
from hvc_sim.oswin import pathutils
from hvc_sim.oswin.storage import diskutils
from hvc_sim.oswin.storage import smbutils
from hvc_sim.oswin.storage import vhdutils


UTILS_CLASSES = {cls.KIND: cls for cls in (
    vmutils.VMUtils, hostutils.HostUtils, clusterutils.ClusterUtils,
    pathutils.PathUtils, vhdutils.VHDUtils, smbutils.SMBUtils,
    networkutils.NetworkUtils, livemigrationutils.LiveMigrationUtils,
    diskutils.DiskUtils, metricsutils.MetricsUtils)}
