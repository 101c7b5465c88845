"""The module nova loads for ``compute_driver = hyperv_cluster.X``.

Nova imports compute drivers from its own ``nova.virt`` package only, so
this project installs this one module there. It must stay alone: shipping
``nova/__init__.py`` or ``nova/virt/__init__.py`` would overwrite nova's.
"""

from hvc_driver import driver

HyperVClusterDriver = driver.HyperVClusterDriver
