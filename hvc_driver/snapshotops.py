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

"""Instance snapshots uploaded to glance."""

import ntpath

from oslo_log import log as logging
from oslo_utils import excutils

from nova.compute import task_states
from nova.image import glance

from hvc_agent import files
from hvc_driver import diskchain
from hvc_driver import exception as hvc_exc
from hvc_driver import layout
from hvc_driver import vmops

LOG = logging.getLogger(__name__)


class SnapshotOps(object):

    def __init__(self, hyperv, instance_layout=None):
        self._hyperv = hyperv
        self._layout = instance_layout or layout.InstanceLayout(hyperv)
        self._image_api = glance.API()

    @property
    def _path(self):
        """The path rules of the Hyper-V host (``HyperV.path``)."""
        return self._hyperv.path

    def _export_root_disk(self, instance, export_dir):
        """A standalone copy of the root disk (which this driver itself
        would boot: no parent); returns its path.
        """
        root = vmops.find_root_disk(self._hyperv, self._layout, instance)
        return diskchain.flat_copy(
            self._hyperv, root,
            self._path.join(export_dir, ntpath.basename(root)))

    @hvc_exc.translate_oswin_errors('snapshot an instance')
    def snapshot(self, context, instance, image_id, update_task_state):
        vm_name = instance.name
        vmutils = self._hyperv.vmutils
        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        # A checkpoint freezes the root disk while we copy it; the VM
        # writes into the checkpoint's differencing disk meanwhile.
        checkpoint = vmutils.take_vm_snapshot(vm_name)
        export_dir = self._path.join(
            self._layout.instance_dir(instance.name), 'export-%s' % image_id)
        try:
            self._hyperv.pathutils.check_remove_dir(export_dir)
            self._hyperv.pathutils.check_create_dir(export_dir)
            image_path = self._export_root_disk(instance, export_dir)
            update_task_state(
                task_state=task_states.IMAGE_UPLOADING,
                expected_state=task_states.IMAGE_PENDING_UPLOAD)
            disk_format = self._hyperv.vhdutils.get_vhd_format(
                image_path).lower()
            # Streamed from the host's storage, a piece at a time.
            image_file = files.Reader(self._hyperv.pathutils, image_path)
            self._image_api.update(
                context, image_id,
                {'disk_format': disk_format, 'container_format': 'bare'},
                image_file)
            LOG.info('Uploaded %d bytes of %s to image %s',
                     image_file.bytes_read, image_path, image_id,
                     instance=instance)
        except Exception:
            with excutils.save_and_reraise_exception():
                try:
                    self._clean_up(checkpoint, export_dir)
                except Exception:
                    # The snapshot's own error is the one to report.
                    LOG.exception('Removing checkpoint %s or %s of %s '
                                  'failed', checkpoint, export_dir, vm_name,
                                  instance=instance)
        try:
            self._clean_up(checkpoint, export_dir)
        except Exception:
            # The image is in glance and good: an error now would make
            # nova delete it. The leftover checkpoint is only logged.
            LOG.exception('Snapshot of %s uploaded as image %s, but removing '
                          'checkpoint %s or %s failed', vm_name, image_id,
                          checkpoint, export_dir, instance=instance)
            return
        LOG.info('Snapshot of %s uploaded as image %s', vm_name, image_id,
                 instance=instance)

    def _clean_up(self, checkpoint, export_dir):
        self._hyperv.vmutils.remove_vm_snapshot(checkpoint)
        self._hyperv.pathutils.check_remove_dir(export_dir)
