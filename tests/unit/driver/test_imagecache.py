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

"""The image cache on the simulated cluster's shared instances path."""

import os

from nova import exception

from hvc_driver import imagecache
from hvc_oswin_api import exceptions as api_exc
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.driver import test_vmops

IMAGE_ID = test_vmops.IMAGE_ID


class ImageCacheTestCase(driver_fixtures.SimulatedTestCase):

    def setUp(self):
        super().setUp()
        self.cache = imagecache.ImageCache(self.hyperv)
        self.cached = os.path.join(self.cache.cache_dir, IMAGE_ID + '.vhdx')
        self.partials = []

    def _fetch(self, before_done=None):
        def fetch(context, image_id, data):
            self.partials.append(data.path)
            data.write(b'mine')
            data.flush()
            if before_done:
                before_done()
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.images.IMAGE_API.download', side_effect=fetch))

    def _cache_dir_files(self):
        return sorted(f for f in os.listdir(self.cache.cache_dir)
                      if not f.startswith(imagecache.LOCK_PREFIX))

    def test_another_node_caching_the_image_meanwhile_is_fine(self):
        # node2 finishes the same download first. On Windows
        # the rename onto its file fails: use its copy, drop ours.
        def other_node_wins():
            with open(self.cached, 'wb') as f:
                f.write(b'theirs')
        self._fetch(other_node_wins)
        path = self.cache.get_cached_image(
            None, test_vmops._image_meta())
        self.assertEqual(self.cached, path)
        with open(path, 'rb') as f:
            self.assertEqual(b'theirs', f.read())
        self.assertEqual([IMAGE_ID + '.vhdx'], self._cache_dir_files())

    def test_each_download_has_its_own_partial_file_and_a_file_lock(self):
        self._fetch()
        self.cache.get_cached_image(None, test_vmops._image_meta())
        os.remove(self.cached)
        self.cache.get_cached_image(None, test_vmops._image_meta())
        self.assertEqual(2, len(set(self.partials)))
        for partial in self.partials:
            self.assertEqual(self.cache.cache_dir, os.path.dirname(partial))
            self.assertNotEqual(self.cached + '.part', partial)
        self.assertEqual([IMAGE_ID + '.vhdx'], self._cache_dir_files())
        # The lock is a file on the shared path, which every node sees,
        # not a lock inside this process.
        self.assertIn(imagecache.LOCK_PREFIX + IMAGE_ID + '.vhdx.lock',
                      os.listdir(self.cache.cache_dir))

    def test_a_failed_check_leaves_no_partial_file(self):
        self._fetch()
        self.cluster.state.arm_fault('vhdutils.get_vhd_info',
                                     message='disk unreadable')
        err = self.assertRaises(api_exc.VHDException,
                                self.cache.get_cached_image, None,
                                test_vmops._image_meta())
        self.assertEqual('disk unreadable', str(err))
        self.assertEqual([], self._cache_dir_files())

    def test_unsupported_formats_are_refused(self):
        self.assertRaises(exception.ImageUnacceptable,
                          imagecache.check_disk_format,
                          test_vmops._image_meta(disk_format='qcow2'))
        self.assertEqual('vhd', imagecache.check_disk_format(
            test_vmops._image_meta(disk_format='vhd')))
