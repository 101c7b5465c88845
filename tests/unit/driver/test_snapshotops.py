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

"""SnapshotOps on the simulated cluster."""

import io
import json
import os
from unittest import mock

from oslo_utils import units
import testtools

from nova.compute import task_states
from nova import context as nova_context
from nova import exception
from nova.tests import fixtures as nova_fixtures
from nova.virt import virtapi

from hvc_driver import hyperv
from hvc_driver import layout
from hvc_driver import snapshotops
from hvc_driver import vmops
from hvc_driver import volumeops
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.driver import test_vmops


class TestSnapshotOps(testtools.TestCase):
    """Snapshots on the simulated cluster, uploaded to nova's glance
    fixture: real files in a temporary instances path.
    """

    def setUp(self):
        super().setUp()
        self.useFixture(driver_fixtures.fixtures.FakeLogger())
        self.cluster = self.useFixture(
            driver_fixtures.SimulatedClusterFixture())
        self.glance = self.useFixture(nova_fixtures.GlanceFixture(self))
        self.uploads = {}
        update = self.glance.update

        def recording_update(context, image_id, metadata, data=None,
                             purge_props=False):
            if data is not None:
                self.uploads[image_id] = data.read()
            return update(context, image_id, metadata,
                          purge_props=purge_props)
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            self.glance, 'update', side_effect=recording_update))
        self.hyperv = hyperv.HyperV(driver_fixtures.CONF)
        self.hyperv.bind('node1')
        self.layout = layout.InstanceLayout(self.hyperv)
        self.vmops = vmops.VMOps(self.hyperv,
                                 volumeops.VolumeOps(self.hyperv),
                                 mock.create_autospec(virtapi.VirtAPI,
                                                      instance=True))
        self.snapshotops = snapshotops.SnapshotOps(self.hyperv)
        self.context = nova_context.get_admin_context()
        image = self.glance.create(self.context, {
            'name': 'base', 'disk_format': 'vhdx',
            'container_format': 'bare', 'properties': {}},
            data=io.BytesIO(b'\0' * 4096))
        self.instance = test_vmops._instance(root_gb=1)
        self.vmops.spawn(self.context, self.instance,
                         test_vmops._image_meta(id=image['id']), [], None)
        self.snapshot_id = self.glance.create(self.context, {
            'name': 'snap', 'status': 'queued'})['id']
        self.update_task_state = mock.Mock()

    def _files(self):
        return sorted(os.listdir(self.layout.instance_dir(self.instance.name)))

    def test_snapshot_merges_a_copy_and_uploads_it(self):
        self.snapshotops.snapshot(self.context, self.instance,
                                  self.snapshot_id, self.update_task_state)
        # One standalone disk of the flavor's size, not the differencing
        # root disk over the cached image.
        disk = json.loads(self.uploads[self.snapshot_id])
        self.assertEqual((units.Gi, None, 'VHDX'),
                         (disk['virtual_size'], disk['parent'],
                          disk['format']))
        self.assertEqual('vhdx', self.glance.show(
            self.context, self.snapshot_id)['disk_format'])
        self.assertEqual(
            [mock.call(task_state=task_states.IMAGE_PENDING_UPLOAD),
             mock.call(task_state=task_states.IMAGE_UPLOADING,
                       expected_state=task_states.IMAGE_PENDING_UPLOAD)],
            self.update_task_state.call_args_list)
        self.assertEqual([], self.cluster.state.snapshots(
            self.instance.name))
        self.assertEqual(['console.log', 'root.vhdx'], self._files())

    def test_a_failed_upload_still_removes_checkpoint_and_copies(self):
        self.assertRaises(exception.ImageNotFound, self.snapshotops.snapshot,
                          self.context, self.instance, 'no-such-image',
                          self.update_task_state)
        self.assertEqual([], self.cluster.state.snapshots(
            self.instance.name))
        self.assertEqual(['console.log', 'root.vhdx'], self._files())

    def test_a_checkpoint_left_after_a_good_upload_is_only_logged(self):
        # Raising now would make nova delete the good image.
        self.cluster.state.arm_fault('vmutils.remove_vm_snapshot')
        self.snapshotops.snapshot(self.context, self.instance,
                                  self.snapshot_id, self.update_task_state)
        self.assertIn(self.snapshot_id, self.uploads)
        self.assertEqual(1, len(self.cluster.state.snapshots(
            self.instance.name)))

    def stub_out(self, old, new):
        # What nova's GlanceFixture needs of nova's test case.
        self.useFixture(driver_fixtures.fixtures.MonkeyPatch(old, new))
