"""Glance images cached on the shared instances path.

Every node of the cluster sees the same instances path (a CSV), so one
cached copy serves every node. A lock per image keeps one nova-compute
service from fetching an image twice; keeping two nodes from fetching the
same image at the same time needs a cluster-wide lock (the next step).
"""

import os

from oslo_concurrency import lockutils
from oslo_log import log as logging

import nova.conf
from nova import exception
from nova.virt import images

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

SUPPORTED_DISK_FORMATS = ('vhd', 'vhdx')


class ImageCache(object):

    def __init__(self, hyperv):
        self._hyperv = hyperv

    @property
    def cache_dir(self):
        return os.path.join(CONF.instances_path,
                            CONF.image_cache.subdirectory_name)

    def get_cached_image(self, context, image_meta):
        """The cached copy of the image, fetched from glance if need be."""
        disk_format = image_meta.disk_format if image_meta.obj_attr_is_set(
            'disk_format') else None
        if disk_format not in SUPPORTED_DISK_FORMATS:
            raise exception.ImageUnacceptable(
                image_id=image_meta.id,
                reason='Hyper-V boots %s images, not %s' % (
                    ' or '.join(SUPPORTED_DISK_FORMATS), disk_format))
        pathutils = self._hyperv.pathutils
        path = os.path.join(self.cache_dir,
                            '%s.%s' % (image_meta.id, disk_format))
        with lockutils.lock(path, lock_file_prefix='hvc-image-'):
            if not pathutils.exists(path):
                pathutils.check_create_dir(self.cache_dir)
                partial = path + '.part'
                LOG.info('Fetching image %s into the image cache at %s',
                         image_meta.id, path)
                # fetch removes the partial file when the download fails.
                images.fetch(context, image_meta.id, partial)
                pathutils.rename(partial, path)
        return path
