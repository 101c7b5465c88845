"""Where an instance's files live on the shared storage, and their names.

Every node of the cluster reaches the instances path (on a CSV), so a VM
can fail over or move between nodes without copying its disks. Each
instance has one directory there, named like its VM; it holds its disks,
its config drive, its serial console log and the marks the driver leaves.
"""

import os

import nova.conf

CONF = nova.conf.CONF

ROOT_DISK = 'root'
EPHEMERAL_DISK = 'ephemeral'
SWAP_DISK = 'swap'
CONFIG_DRIVE = 'configdrive.iso'
# The log of the VM's serial port; what nova's console output API shows.
# Its reader rotates it to CONSOLE_LOG_ARCHIVE.
CONSOLE_LOG = 'console.log'
CONSOLE_LOG_ARCHIVE = CONSOLE_LOG + '.1'
# Left in the directory of a VM the cluster moved away while it was being
# deleted: a later delete or spawn keeps off the disks while it is there.
MOVED_MARK = 'MOVED-WHILE-DELETED.txt'


def instance_dir(vm_name):
    return os.path.join(CONF.instances_path, vm_name)


def instance_file(vm_name, name):
    return os.path.join(instance_dir(vm_name), name)


def root_disk_candidates(vm_name):
    """Where the root disk is, in the formats it may have."""
    return [instance_file(vm_name, '%s.%s' % (ROOT_DISK, ext))
            for ext in ('vhdx', 'vhd')]


def console_log_paths(vm_name):
    """The serial port logs of a VM, oldest first."""
    return [instance_file(vm_name, CONSOLE_LOG_ARCHIVE),
            instance_file(vm_name, CONSOLE_LOG)]


def moved_mark(vm_name):
    return instance_file(vm_name, MOVED_MARK)


def image_cache_dir():
    """One image cache for the whole cluster, on the shared path."""
    return os.path.join(CONF.instances_path,
                        CONF.image_cache.subdirectory_name)
