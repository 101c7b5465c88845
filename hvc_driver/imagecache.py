"""Glance images cached on the shared instances path.

Every node of the cluster sees the same instances path (a CSV), so one
cached copy serves every node. An external lock file in the cache
directory, on the CSV, keeps the nodes from fetching one image at the same
time. Should two fetch it all the same (a lock file system that does not
lock across nodes), each downloads into its own partial file and the
first rename wins: Windows does not rename onto an existing file, so the
loser drops its copy and uses the cached one.
"""

import os

from os_win import constants as os_win_const
from oslo_concurrency import lockutils
from oslo_log import log as logging
from oslo_utils import excutils
from oslo_utils import uuidutils

import nova.conf
from nova import exception
from nova.virt import images

from hvc_driver import exception as hvc_exc

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

SUPPORTED_DISK_FORMATS = ('vhd', 'vhdx')
LOCK_PREFIX = 'hvc-image-'


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

    def __init__(self, hyperv):
        self._hyperv = hyperv

    @property
    def cache_dir(self):
        return os.path.join(CONF.instances_path,
                            CONF.image_cache.subdirectory_name)

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

    def _fetch(self, context, image_id, path, disk_format):
        pathutils = self._hyperv.pathutils
        # Our own partial file, whatever another node does; with the
        # format's extension, which Windows' virtual disk API wants.
        partial = os.path.join(self.cache_dir, '%s.%s.part.%s' % (
            image_id, uuidutils.generate_uuid(dashed=False), disk_format))
        LOG.info('Fetching image %s into the image cache at %s',
                 image_id, path)
        # fetch removes the partial file when the download fails.
        images.fetch(context, image_id, partial)
        try:
            self._check_standalone(image_id, partial)
            pathutils.rename(partial, path)
        except OSError:
            with excutils.save_and_reraise_exception() as ctxt:
                if pathutils.exists(path):
                    # Another node cached it first.
                    ctxt.reraise = False
                    LOG.info('Image %s was cached by another node meanwhile; '
                             'using that copy', image_id)
                if pathutils.exists(partial):
                    pathutils.remove(partial)
        except Exception:
            with excutils.save_and_reraise_exception():
                if pathutils.exists(partial):
                    pathutils.remove(partial)

    def get_cached_image(self, context, image_meta):
        """The cached copy of the image, fetched from glance if need be."""
        disk_format = check_disk_format(image_meta)
        pathutils = self._hyperv.pathutils
        name = '%s.%s' % (image_meta.id, disk_format)
        path = os.path.join(self.cache_dir, name)
        if pathutils.exists(path):
            return path
        pathutils.check_create_dir(self.cache_dir)
        with lockutils.lock(name + '.lock', lock_file_prefix=LOCK_PREFIX,
                            external=True, lock_path=self.cache_dir):
            if not pathutils.exists(path):
                self._fetch(context, image_meta.id, path, disk_format)
        return path
