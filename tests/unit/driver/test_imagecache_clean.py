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

"""The image cache's cleanup, on the simulated cluster's storage: what a
disk of any node chains to, or an instance of nova still has, stays.
"""

import os
import time
import types
from unittest import mock

from hvc_driver import imagecache
from hvc_driver import layout
from hvc_sim.oswin.storage import vhdutils
from tests.unit.driver import fixtures as driver_fixtures

CHAINED = '0a5e2b5e-7a8c-4d5f-9d8e-1c2b3a4d5e6f'
UNUSED = '1b6f3c6f-8b9d-4e60-8e9f-2d3c4b5e6f70'
OF_AN_INSTANCE = '2c704d70-9cae-4f71-9fa0-3e4d5c6f7081'
DAY = 24 * 3600


class TestClean(driver_fixtures.SimulatedTestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(
            driver_fixtures.config_fixture.Config(driver_fixtures.CONF))
        self.cache = imagecache.ImageCache(self.hyperv, self.layout)
        os.makedirs(self.cache.cache_dir)
        self.vhdutils = vhdutils.VHDUtils(self.cluster.state, 'node1')
        # Nova's database: which instances have an image.
        self.instances = self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.objects.InstanceList.get_by_filters',
            side_effect=lambda context, filters, **kw: (
                [mock.sentinel.instance]
                if filters['image_ref'] == OF_AN_INSTANCE else []))).mock

    def _cached(self, name, age=2 * DAY):
        path = os.path.join(self.cache.cache_dir, name)
        self.vhdutils.create_dynamic_vhd(path, 1024 ** 3)
        then = time.time() - age
        os.utime(path, (then, then))
        return path

    def _files(self):
        """The cache's files, but the lock files (which stay)."""
        return sorted(f for f in os.listdir(self.cache.cache_dir)
                      if not f.startswith(imagecache.LOCK_PREFIX))

    def _instance_disk(self, vm_name, parent, volume='Volume1'):
        inst_dir = os.path.join(self.cluster.csv_instances_dir(volume),
                                vm_name)
        os.makedirs(inst_dir)
        path = os.path.join(inst_dir, 'root.vhdx')
        self.vhdutils.create_differencing_vhd(path, parent)
        return path

    def test_what_a_disk_of_the_cluster_chains_to_stays(self):
        chained = self._cached(CHAINED + '.vhdx')
        grown = self._cached(CHAINED + '_20.vhdx')
        self._cached(UNUSED + '.vhdx')
        self._cached(OF_AN_INSTANCE + '.vhdx')
        # A disk over a disk over the grown copy: the grown copy stays; so
        # does the image itself, which a VM's disk has as its parent.
        middle = self._instance_disk('instance-1', grown)
        self._instance_disk('instance-2', middle)
        self._instance_disk('instance-3', chained)
        lock = os.path.join(self.cache.cache_dir, 'hvc-image-x.vhdx.lock')
        open(lock, 'w').close()
        # Nova told of none of them (their nodes never registered).
        self.cache.clean(None, [])
        self.assertEqual(sorted([
            CHAINED + '.vhdx', CHAINED + '_20.vhdx',
            OF_AN_INSTANCE + '.vhdx']), self._files())
        self.assertTrue(os.path.exists(lock))

    def test_an_image_of_an_instance_nova_listed_stays(self):
        self._cached(UNUSED + '.vhdx')
        instance = types.SimpleNamespace(image_ref=UNUSED)
        self.cache.clean(None, [instance])
        self.assertEqual([UNUSED + '.vhdx'], self._files())
        self.cache.clean(None, [])
        self.assertEqual([], self._files())

    def test_young_files_stay_and_old_partial_files_go(self):
        self._cached(UNUSED + '.vhdx', age=60)
        self._cached(UNUSED + '.part.0123abcd.vhdx', age=2 * DAY)
        self._cached(CHAINED + '_20.vhdx.part.4567ef.vhdx', age=60)
        self.cache.clean(None, [])
        self.assertEqual(sorted([UNUSED + '.vhdx',
                                 CHAINED + '_20.vhdx.part.4567ef.vhdx']),
                         self._files())
        self.conf.config(remove_unused_original_minimum_age_seconds=30,
                         group='image_cache')
        self.cache.clean(None, [])
        self.assertEqual([CHAINED + '_20.vhdx.part.4567ef.vhdx'],
                         self._files())

    def test_a_disk_made_while_it_waited_for_the_lock_keeps_it(self):
        # Another node starts using it between the first look and the
        # removal, which happens under the image's lock.
        path = self._cached(UNUSED + '.vhdx')
        parents = self.cache._parents_in_use

        def another_node_uses_it():
            if not os.path.exists(os.path.join(
                    self.cluster.csv_instances_dir('Volume1'), 'late')):
                found = parents()
                self._instance_disk('late', path)
                return found
            return parents()
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            self.cache, '_parents_in_use', side_effect=another_node_uses_it))
        self.cache.clean(None, [])
        self.assertEqual([UNUSED + '.vhdx'], self._files())

    def test_nothing_is_removed_when_nova_says_not_to(self):
        self.conf.config(remove_unused_base_images=False,
                         group='image_cache')
        self._cached(UNUSED + '.vhdx')
        self.cache.clean(None, [])
        self.assertEqual([UNUSED + '.vhdx'], self._files())

    def test_the_lock_files_of_vms_that_are_gone_go(self):
        def lock(vm_name, age=2 * DAY):
            path = os.path.join(self.cache.cache_dir, '%s%s.lock' % (
                layout.INSTANCE_LOCK_PREFIX, vm_name))
            open(path, 'w').close()
            then = time.time() - age
            os.utime(path, (then, then))
            return os.path.basename(path)

        # A VM of node2 (clustered), one nova lists, one gone a while, one
        # gone since a moment ago, and an image's lock.
        self.cluster.state.create_vm('instance-a', 'node2', 2, '/x')
        self.cluster.state.add_cluster_group('instance-a')
        kept = [lock('instance-a'), lock('instance-b'),
                lock('instance-d', age=60)]
        gone = lock('instance-c')
        image_lock = os.path.join(self.cache.cache_dir,
                                  'hvc-image-x.vhdx.lock')
        open(image_lock, 'w').close()
        self.cache.clean(None, [types.SimpleNamespace(name='instance-b',
                                                      image_ref=None)])
        names = os.listdir(self.cache.cache_dir)
        self.assertNotIn(gone, names)
        self.assertEqual(sorted(kept + [os.path.basename(image_lock)]),
                         sorted(names))
