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
