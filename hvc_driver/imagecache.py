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

"""Glance images cached on the shared instances path.

Every node of the cluster sees the same instances path (a CSV), so one
cached copy serves every node. An external lock file in the cache
directory, on the CSV, keeps the nodes from fetching one image at the same
time. Should two fetch it all the same (a lock file system that does not
lock across nodes), each downloads into its own partial file and the
first rename wins: Windows does not rename onto an existing file, so the
loser drops its copy and uses the cached one.

Nova's image cache manager (every ``[image_cache] manager_interval``
seconds, on each node) removes what no VM of the cluster uses any more
(``clean``): a cached image is kept while any virtual disk on the
cluster's storage has it in its parent chain, whichever node runs that
disk's VM, and while any instance of that image is not deleted in nova
(one being built has no disk yet); otherwise once it is older than
``[image_cache] remove_unused_original_minimum_age_seconds`` (grown copies:
``remove_unused_resized_minimum_age_seconds``). It removes a file under
that file's cluster-wide lock, after looking again.
"""

import re

from oslo_log import log as logging
from oslo_utils import excutils
from oslo_utils import units
from oslo_utils import uuidutils

from nova.compute import utils as compute_utils
import nova.conf
from nova import exception
from nova import objects
from nova.virt import images

from hvc_agent import files
from hvc_driver import exception as hvc_exc
from hvc_driver import layout
from hvc_oswin_api import constants as os_win_const
from hvc_oswin_api import paths

LOG = logging.getLogger(__name__)

CONF = nova.conf.CONF

SUPPORTED_DISK_FORMATS = ('vhd', 'vhdx')
LOCK_PREFIX = 'hvc-image-'
# The cache's files: an image, <image id>.<format>; a grown copy,
# <image id>_<GB>.<format>; a download or copy in progress, with .part.
_CACHED = re.compile(r'^(?P<image>[^_.]+)(?P<grown>_\d+)?(\.vhdx?)?'
                     r'(?P<part>\.part\.\w+)?\.(?P<format>vhdx?)$',
                     re.IGNORECASE)
# A parent chain longer than this is a loop.
_MAX_CHAIN = 64


def check_disk_format(image_meta):
    """The image's disk format; ImageUnacceptable unless Hyper-V boots it."""
    disk_format = image_meta.disk_format if image_meta.obj_attr_is_set(
        'disk_format') else None
    if disk_format not in SUPPORTED_DISK_FORMATS:
        raise exception.ImageUnacceptable(
            image_id=image_meta.id,
            reason='Hyper-V boots %s images, not %s' % (
                ' or '.join(SUPPORTED_DISK_FORMATS), disk_format))
    return disk_format


class ImageCache(object):

    def __init__(self, hyperv, instance_layout=None):
        self._hyperv = hyperv
        # Where the instances' disks are (needed by clean only).
        self._layout = instance_layout

    @property
    def _path(self):
        """The path rules of the Hyper-V host (``HyperV.path``)."""
        return self._hyperv.path

    @property
    def cache_dir(self):
        return layout.image_cache_dir(self._path)

    def _check_standalone(self, image_id, path):
        """A differencing disk would chain to any path it names (another
        tenant's disk, say): refuse it, and remove the download.
        """
        info = self._hyperv.vhdutils.get_vhd_info(path)
        parent = info.get('ParentPath') or info.get('ParentLocationBuffer')
        if (parent or info.get('ProviderSubtype') ==
                os_win_const.VHD_TYPE_DIFFERENCING):
            self._hyperv.pathutils.remove(path)
            raise hvc_exc.DifferencingImageRefused(image_id=image_id,
                                                   parent=parent or '?')

    def _partial(self, name, disk_format):
        """A partial file of our own, whatever another node does; with the
        format's extension, which Windows' virtual disk API wants.
        """
        return self._path.join(self.cache_dir, '%s.part.%s.%s' % (
            name, uuidutils.generate_uuid(dashed=False), disk_format))

    def _publish(self, partial, path, prepare):
        """``prepare(partial)``, then rename the partial file to ``path``.

        The partial file never stays behind. Should another node have put
        ``path`` there first (Windows does not rename onto an existing
        file), its copy is used.
        """
        pathutils = self._hyperv.pathutils
        try:
            prepare(partial)
            pathutils.rename(partial, path)
        except OSError:
            with excutils.save_and_reraise_exception() as ctxt:
                if pathutils.exists(path):
                    ctxt.reraise = False
                    LOG.info('%s was cached by another node meanwhile; '
                             'using that copy', path)
                if pathutils.exists(partial):
                    pathutils.remove(partial)
        except Exception:
            with excutils.save_and_reraise_exception():
                if pathutils.exists(partial):
                    pathutils.remove(partial)

    def _fetch(self, context, image_id, path, disk_format):
        LOG.info('Fetching image %s into the image cache at %s',
                 image_id, path)
        partial = self._partial(image_id, disk_format)
        self._publish(partial, path, lambda p: self._download(
            context, image_id, p))

    def _download(self, context, image_id, partial):
        """Glance's image into ``partial`` on the host's storage, streamed
        through this process in pieces (``hvc_agent.files.Writer``); then
        refused if it is a differencing disk. nova's images.fetch writes a
        local file only; the host's storage is the agent's.
        """
        writer = files.Writer(self._hyperv.pathutils, partial)
        with compute_utils.disk_ops_semaphore:
            images.IMAGE_API.download(context, image_id, data=writer)
        writer.close()
        LOG.info('Fetched image %s: %d bytes written to %s', image_id,
                 writer.bytes_written, partial)
        self._check_standalone(image_id, partial)

    def _grow_copy(self, base, path, size_bytes, disk_format):
        LOG.info('Caching %s grown to %d bytes at %s', base, size_bytes,
                 path)

        def copy_and_grow(partial):
            self._hyperv.pathutils.copyfile(base, partial)
            self._hyperv.vhdutils.resize_vhd(partial, size_bytes,
                                             is_file_max_size=False)
        self._publish(self._partial(self._path.basename(path), disk_format),
                      path, copy_and_grow)

    def _lock(self, name):
        """The cluster-wide lock ``name`` of the cache (a file in it)."""
        return self._hyperv.cluster_lock(
            self._path.join(self.cache_dir, LOCK_PREFIX + name))

    def _cached(self, name, make):
        """The cache's file ``name``, made by ``make(path)`` under the
        cluster-wide lock of that name if it is not there yet.
        """
        pathutils = self._hyperv.pathutils
        path = self._path.join(self.cache_dir, name)
        if pathutils.exists(path):
            return path
        pathutils.check_create_dir(self.cache_dir)
        with self._lock(name + '.lock'):
            if not pathutils.exists(path):
                make(path)
        return path

    def get_cached_image(self, context, image_meta):
        """The cached copy of the image, fetched from glance if need be."""
        disk_format = check_disk_format(image_meta)
        return self._cached(
            '%s.%s' % (image_meta.id, disk_format),
            lambda path: self._fetch(context, image_meta.id, path,
                                     disk_format))

    def get_grown_image(self, context, image_meta, size_gb):
        """The cached image grown to ``size_gb``, cached too.

        A differencing VHD (unlike a VHDX) cannot be grown beyond its
        parent: an instance whose root disk is larger than such an image
        gets a child of this copy instead, shared by every instance of
        that image and size (as compute-hyperv did).
        """
        base = self.get_cached_image(context, image_meta)
        disk_format = check_disk_format(image_meta)
        return self._cached(
            '%s_%d.%s' % (image_meta.id, size_gb, disk_format),
            lambda path: self._grow_copy(base, path, size_gb * units.Gi,
                                         disk_format))

    # Removing what no VM uses.

    def clean(self, context, all_instances):
        """Remove the cached images that no disk of the cluster chains to
        and no instance of nova still has, once old enough; downloads
        left half done; and the lock files of VMs that are gone.
        ``all_instances``: what nova's image cache manager found on the
        nodes that share the instances path.
        """
        if not CONF.image_cache.remove_unused_base_images:
            return
        pathutils = self._hyperv.pathutils
        if not pathutils.exists(self.cache_dir):
            return
        cached = {}
        instance_locks = []
        for name in pathutils.listdir(self.cache_dir):
            match = _CACHED.match(name)
            if match:
                cached[name] = match
            elif (name.startswith(layout.INSTANCE_LOCK_PREFIX) and
                    name.endswith('.lock')):
                instance_locks.append(name)
        self._remove_instance_locks(instance_locks, all_instances)
        if not cached:
            return
        images_of_instances = {i.image_ref for i in all_instances
                               if i.image_ref}
        in_chains = self._parents_in_use()
        for name, match in sorted(cached.items()):
            path = self._path.join(self.cache_dir, name)
            if match.group('part') or match.group('grown'):
                max_age = CONF.image_cache.\
                    remove_unused_resized_minimum_age_seconds
            else:
                max_age = CONF.image_cache.\
                    remove_unused_original_minimum_age_seconds
            if (not match.group('part') and
                    (match.group('image') in images_of_instances or
                     paths.key(path) in in_chains)):
                LOG.debug('%s is in use', path)
                continue
            if pathutils.get_age_of_file(path) < max_age:
                continue
            self._remove_unused(context, name, match)

    def _remove_unused(self, context, name, match):
        pathutils = self._hyperv.pathutils
        path = self._path.join(self.cache_dir, name)
        # The lock it is made under (a partial file: of what it makes).
        lock_name = '%s%s.%s.lock' % (match.group('image'),
                                      match.group('grown') or '',
                                      match.group('format'))
        with self._lock(lock_name):
            if not pathutils.exists(path):
                return  # Another node's cleanup was first.
            if not match.group('part'):
                # Looked at again, now that no node can start using it.
                if paths.key(path) in self._parents_in_use():
                    return
                if objects.InstanceList.get_by_filters(
                        context, {'image_ref': match.group('image'),
                                  'deleted': False},
                        expected_attrs=[], limit=1):
                    return
            try:
                pathutils.remove(path)
            except OSError as e:
                LOG.warning('Cannot remove the unused cached image %s: %s',
                            path, e)
                return
        LOG.info('Removed %s from the image cache: no VM of the cluster '
                 'uses it', path)

    def _remove_instance_locks(self, names, all_instances):
        """The lock files of VMs that are gone: nova has no instance of
        them on the nodes sharing this cache, no node of the cluster
        (nor this host) has the VM, and nobody took the lock for
        remove_unused_original_minimum_age_seconds (a day). A VM name is
        never given again, so nothing waits on such a lock any more.
        """
        if not names:
            return
        alive = ({i.name for i in all_instances} |
                 set(self._hyperv.vmutils.list_instances()) |
                 set(self._hyperv.clusterutils.list_instances()))
        pathutils = self._hyperv.pathutils
        max_age = CONF.image_cache.remove_unused_original_minimum_age_seconds
        for name in names:
            vm_name = name[len(layout.INSTANCE_LOCK_PREFIX):-len('.lock')]
            path = self._path.join(self.cache_dir, name)
            try:
                if (vm_name in alive or
                        pathutils.get_age_of_file(path) < max_age):
                    continue
                pathutils.remove(path)
            except OSError as e:
                LOG.debug('Lock file %s stays: %s', path, e)
                continue
            LOG.info('Removed the lock file of %s, which is gone', vm_name)

    def _parents_in_use(self):
        """Every parent (grandparent...) of a virtual disk in an instance
        directory on the cluster's storage, normalized.
        """
        pathutils = self._hyperv.pathutils
        vhdutils = self._hyperv.vhdutils
        roots = set(self._layout.instance_roots())
        parents = set()
        for root in roots:
            for directory in _listing(pathutils, root):
                directory = self._path.join(root, directory)
                if paths.same(directory, self.cache_dir):
                    continue
                for name in _listing(pathutils, directory):
                    if not name.lower().endswith(('.vhd', '.vhdx')):
                        continue
                    disk = self._path.join(directory, name)
                    for _depth in range(_MAX_CHAIN):
                        try:
                            disk = vhdutils.get_vhd_parent_path(disk)
                        except hvc_exc.OSWIN_ERRORS as e:
                            LOG.debug('Parent of %s unknown: %s', disk, e)
                            break
                        if not disk:
                            break
                        parents.add(paths.key(disk))
        return parents


def _listing(pathutils, path):
    """The names in folder ``path``; none if it is no folder (any more)."""
    try:
        return pathutils.listdir(path)
    except OSError:
        return []
