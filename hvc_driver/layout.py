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

"""Where an instance's files live on the cluster's storage, and their names.

Every node of a cluster reaches every Cluster Shared Volume, so a VM can
fail over or move between nodes without copying its disks. Each instance
has one directory, named like its VM, on the CSV that holds its DISK_GB
allocation (``<CSV mount path>\\<[hyperv_cluster] csv_instances_folder>``),
or under ``[DEFAULT] instances_path`` when no CSV holds any of its disk (a
flavor of 0 GB). The directory holds its disks, its config drive, its
serial console log and the marks the driver leaves. The image cache is one
per cluster, under ``instances_path`` (on a CSV too).

A standalone Hyper-V host has no CSV: its instances' directories are under
its own ``instances_path``, whose disk holds their DISK_GB.
"""

import nova.conf
from nova import exception

from hvc_driver import exception as hvc_exc
import hvc_names
from hvc_oswin_api import paths

CONF = nova.conf.CONF

ROOT_DISK = 'root'
EPHEMERAL_DISK = 'ephemeral'
SWAP_DISK = 'swap'
CONFIG_DRIVE = 'configdrive.iso'
# A rescue's boot disk and config drive, beside the instance's own.
RESCUE_DISK = 'rescue'
RESCUE_CONFIG_DRIVE = 'configdrive-rescue.iso'
# The log of the VM's serial port; what nova's console output API shows.
# Its reader rotates it to CONSOLE_LOG_ARCHIVE.
CONSOLE_LOG = 'console.log'
CONSOLE_LOG_ARCHIVE = CONSOLE_LOG + '.1'
# Left in the directory of a VM the cluster moved away while it was being
# deleted: a later delete or spawn keeps off the disks while it is there.
MOVED_MARK = 'MOVED-WHILE-DELETED.txt'

# The cluster-wide lock of one VM (what follows the cluster takes it), a
# file in the image cache folder: hvc-instance-<VM name>.lock.
INSTANCE_LOCK_PREFIX = 'hvc-instance-'


def image_cache_dir(path):
    """One image cache for the whole cluster, on the shared path (joined
    by ``path``, the host's ntpath or posixpath).
    """
    return path.join(CONF.instances_path, CONF.image_cache.subdirectory_name)


class DiskNotOnThisCluster(Exception):
    """The DISK_GB allocation is on a provider that is no CSV here."""


def instances_folder_parts():
    """The folders of ``[hyperv_cluster] csv_instances_folder``, each
    checked by Windows' rules (never ``..``): InvalidConfiguration.
    """
    try:
        return paths.relative_folder_parts(
            CONF.hyperv_cluster.csv_instances_folder)
    except ValueError as e:
        # nova's InvalidConfiguration says only "Configuration is Invalid."
        # unless given its message.
        raise exception.InvalidConfiguration(
            '[hyperv_cluster] csv_instances_folder %s' % e)


def _folder_name(vm_name):
    """``vm_name``, which names the instance's directory: one folder name
    by Windows' rules, so that the directory stays in its instances
    folder whatever nova's instance_name_template makes of a user's
    input. InstanceNameNotAFolder else.
    """
    problem = paths.component_problem(vm_name)
    if problem:
        raise hvc_exc.InstanceNameNotAFolder(vm_name=vm_name, reason=problem)
    return vm_name


class InstanceLayout(object):
    """The instances' directories of the cluster a node is in."""

    def __init__(self, hyperv):
        self._hyperv = hyperv
        self._volumes = None

    @property
    def _path(self):
        """The path rules of the Hyper-V host (``HyperV.path``)."""
        return self._hyperv.path

    def _shared_volumes(self, refresh=False):
        if self._volumes is None or refresh:
            self._volumes = self._hyperv.clusterutils.list_shared_volumes()
        return self._volumes

    def _csv_root(self, volume):
        return self._path.join(volume.path, *instances_folder_parts())

    def csv_of(self, allocations):
        """The CSV (``cluster_wmi.SharedVolume``) whose provider holds the
        DISK_GB of ``allocations`` (nova's {provider uuid: {'resources':
        ...}}), or None when no provider holds DISK_GB.

        DiskNotOnThisCluster when the provider is not one of this
        cluster's CSVs as placement_sync publishes them: the disks would
        land where nothing was allocated.
        """
        providers = sorted(rp for rp, alloc in (allocations or {}).items()
                           if alloc.get('resources', {}).get('DISK_GB'))
        if not providers or self._hyperv.standalone:
            # A standalone host's DISK_GB is its own: instances_path.
            return None
        cluster = self._hyperv.clusterutils.get_cluster_name()
        for refresh in (False, True):
            by_provider = {hvc_names.provider_uuid(cluster, v.id): v
                           for v in self._shared_volumes(refresh)}
            for rp in providers:
                if rp in by_provider:
                    return by_provider[rp]
        raise DiskNotOnThisCluster(
            'DISK_GB is allocated on provider %s, which is not a Cluster '
            'Shared Volume of cluster %s as hvc-placement-sync publishes '
            'them' % (', '.join(providers), cluster))

    def instance_lock(self, vm_name):
        """The cluster-wide lock of one VM: every node that changes nova's
        records of it, or moves it, holds it.
        """
        lock_dir = image_cache_dir(self._path)
        self._hyperv.pathutils.check_create_dir(lock_dir)
        return self._hyperv.cluster_lock(self._path.join(
            lock_dir, '%s%s.lock' % (INSTANCE_LOCK_PREFIX, vm_name)))

    def provider_of(self, volume):
        """The placement provider of a CSV of this cluster."""
        return hvc_names.provider_uuid(
            self._hyperv.clusterutils.get_cluster_name(), volume.id)

    def instance_roots(self):
        """Every folder that holds instance directories: each CSV's
        instances folder, and instances_path.
        """
        return [self._csv_root(v) for v in self._shared_volumes(
            refresh=True)] + [CONF.instances_path]

    def new_instance_dir(self, vm_name, volume):
        """Where a new instance's directory goes: on ``volume``, or under
        instances_path for None.
        """
        root = (CONF.instances_path if volume is None
                else self._csv_root(volume))
        return self._path.join(root, _folder_name(vm_name))

    def instance_dir(self, vm_name):
        """The directory of an instance: where it is, on any CSV of the
        cluster or under instances_path; instances_path's if none is.
        """
        exists = self._hyperv.pathutils.exists
        vm_name = _folder_name(vm_name)
        default = self._path.join(CONF.instances_path, vm_name)
        for refresh in (False, True):
            for volume in self._shared_volumes(refresh):
                path = self._path.join(self._csv_root(volume), vm_name)
                if exists(path):
                    return path
            if exists(default):
                return default
        return default

    def kept_dir(self, vm_name, migration_uuid):
        """Where a move to another CSV of the cluster keeps the instance's
        old directory until it is confirmed or reverted: beside it, named
        after the migration, so that the instance has one directory of its
        VM's name on the cluster's storage. The path if it is there, else
        None.
        """
        name = '%s.%s' % (_folder_name(vm_name), migration_uuid)
        for volume in self._shared_volumes(refresh=True):
            path = self._path.join(self._csv_root(volume), name)
            if self._hyperv.pathutils.exists(path):
                return path
        return None

    def instance_file(self, vm_name, name):
        return self._path.join(self.instance_dir(vm_name), name)

    def existing_file(self, vm_name, name, inst_dir=None):
        """The instance's file ``name`` (in ``inst_dir`` if given), or
        None if there is none.
        """
        path = self._path.join(inst_dir or self.instance_dir(vm_name), name)
        return path if self._hyperv.pathutils.exists(path) else None

    def disk_path(self, vm_name, disk, inst_dir=None):
        """The instance's ``disk`` (ROOT_DISK...) in the format it has, or
        None.
        """
        inst_dir = inst_dir or self.instance_dir(vm_name)
        for ext in ('vhdx', 'vhd'):
            path = self.existing_file(vm_name, '%s.%s' % (disk, ext),
                                      inst_dir)
            if path:
                return path
        return None

    def disks(self, vm_name, inst_dir=None):
        """The instance's disks that exist, in the order its VM has them
        (root, ephemeral, swap).
        """
        inst_dir = inst_dir or self.instance_dir(vm_name)
        return [path for path in (
            self.disk_path(vm_name, disk, inst_dir)
            for disk in (ROOT_DISK, EPHEMERAL_DISK, SWAP_DISK)) if path]

    def root_disk_candidates(self, vm_name, name=ROOT_DISK):
        """Where the root disk (or the rescue disk, ``name``) is, in the
        formats it may have.
        """
        return [self.instance_file(vm_name, '%s.%s' % (name, ext))
                for ext in ('vhdx', 'vhd')]

    def console_log_paths(self, vm_name):
        """The serial port logs of a VM, oldest first."""
        inst_dir = self.instance_dir(vm_name)
        return [self._path.join(inst_dir, CONSOLE_LOG_ARCHIVE),
                self._path.join(inst_dir, CONSOLE_LOG)]

    def moved_mark(self, vm_name):
        return self.instance_file(vm_name, MOVED_MARK)
