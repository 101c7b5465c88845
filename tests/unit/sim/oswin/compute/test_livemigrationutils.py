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

"""The simulated world's live migration with storage between Hyper-V
hosts (out of a cluster, into another, to a standalone host and back),
and the capacity of the disk that holds a path.
"""

import hashlib
import os
import shutil
from unittest import mock

from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim import state as sim_state
from tests.unit.sim import fixtures as sim_fixtures


class TestLiveMigrationWithStorage(sim_fixtures.WorldTestCase):

    def setUp(self):
        super().setUp()
        vhdutils = self.utils('vhdutils')
        cluster1 = self.instances_dir('Volume1', 'cluster1')
        # The image cache: the parent of the VM's root disk.
        self.cached = os.path.join(cluster1, '_base', 'image.vhdx')
        os.makedirs(os.path.dirname(self.cached))
        vhdutils.create_dynamic_vhd(self.cached, 1024 * sim_fixtures.MB)
        self.state.write_to_disk(self.cached, 300 * sim_fixtures.MB)
        self.vm_dir = os.path.join(cluster1, 'vm1')
        os.makedirs(self.vm_dir)
        root = os.path.join(self.vm_dir, 'root.vhdx')
        vhdutils.create_differencing_vhd(root, self.cached)
        self.state.write_to_disk(root, 20 * sim_fixtures.MB)
        iso = os.path.join(self.vm_dir, 'configdrive.iso')
        with open(iso, 'wb') as f:
            f.write(os.urandom(64 * 1024))
        # Hyper-V does not own it: it stays.
        self.console_log = os.path.join(self.vm_dir, 'console.log')
        with open(self.console_log, 'w') as f:
            f.write('boot\n')
        vmutils = self.utils('vmutils')
        vmutils.create_vm('vm1', False, 2, self.vm_dir)
        vmutils.update_vm('vm1', 1024, 0, 2, 0, False, 1.0)
        vmutils.attach_ide_drive('vm1', root, 0, 0)
        vmutils.attach_ide_drive('vm1', iso, 1, 0,
                                 drive_type=constants.DVD)
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_ENABLED)

    def _files(self):
        """Every file of the world, with its length and content."""
        files = {}
        for top in (self.state.storage_root, self.solo_disk):
            for root, _dirs, names in os.walk(top):
                for name in names:
                    path = os.path.join(root, name)
                    with open(path, 'rb') as f:
                        files[path] = hashlib.sha256(f.read()).hexdigest()
        return files

    def _world(self):
        return (self.state.get_vm('vm1'), self.state.disks('vm1'),
                self._files())

    def _eject_dvd_images(self, dest_dir):
        """What the driver's source node does before the migration,
        which moves no DVD image: copy each to ``dest_dir``, and eject it.
        The images it copied.
        """
        os.makedirs(dest_dir, exist_ok=True)
        vmutils = self.utils('vmutils', self.state.get_vm('vm1').node)
        images = []
        for disk in self.state.disks('vm1'):
            if disk.drive_type == constants.DVD:
                shutil.copyfile(disk.path, os.path.join(
                    dest_dir, os.path.basename(disk.path)))
                vmutils.detach_vm_disk('vm1', disk.path, is_physical=False)
                images.append(disk.path)
        return images

    def _migrate(self, source, dest_host, dest_dir):
        vm = self.state.get_vm('vm1')
        images = self._eject_dvd_images(dest_dir)
        disks = {os.path.basename(d.path): d.path
                 for d in self.state.disks('vm1')}
        sizes = {name: sim_state.physical_bytes(path)
                 for name, path in disks.items()}
        self.utils('livemigrationutils', source).check_live_migration_config()
        self.utils('livemigrationutils',
                   source).live_migrate_vm_with_storage('vm1', dest_host,
                                                        dest_dir)
        moved = self.state.get_vm('vm1')
        self.assertEqual(
            (dest_host, dest_dir, constants.HYPERV_VM_STATE_ENABLED,
             vm.started_at),
            (moved.node, moved.instance_path, moved.state, moved.started_at))
        self.assertEqual(['vm1'],
                         self.utils('vmutils', dest_host).list_instances())
        self.assertEqual([], self.utils('vmutils', source).list_instances())
        self.assertIsInstance(self.utils('vmutils', dest_host)
                              .get_vm_summary_info('vm1')['UpTime'], int)
        new_disks = {os.path.basename(d.path): d.path
                     for d in self.state.disks('vm1')}
        self.assertEqual(
            {name: os.path.join(dest_dir, name) for name in disks},
            new_disks)
        for name, path in new_disks.items():
            self.assertEqual(sizes[name], sim_state.physical_bytes(path),
                             name)
        # The source's DVD image stays (the driver removes the folder).
        self.assertFalse(os.path.exists(disks['root.vhdx']))
        self.assertTrue(all(os.path.isfile(image) for image in images))
        # The copied root points at the copied parent, a real disk.
        vhdutils = self.utils('vhdutils', dest_host)
        parent = vhdutils.get_vhd_parent_path(new_disks['root.vhdx'])
        self.assertEqual(os.path.join(dest_dir, 'image.vhdx'), parent)
        self.assertEqual(300 * sim_fixtures.MB,
                         sim_state.physical_bytes(parent))
        self.assertIsNone(vhdutils.get_vhd_parent_path(parent))

    def test_out_of_its_cluster_into_another_to_a_host_and_back(self):
        to_b = os.path.join(self.instances_dir('Data', 'cluster2'), 'vm1')
        self._migrate('node1', 'b1', to_b)
        # The image cache and the VM's own other files stay.
        self.assertTrue(os.path.isfile(self.cached))
        self.assertEqual(300 * sim_fixtures.MB,
                         sim_state.physical_bytes(self.cached))
        self.assertTrue(os.path.isfile(self.console_log))
        to_solo = os.path.join(self.solo_disk, 'Instances', 'vm1')
        self._migrate('b1', 'solo', to_solo)
        # Back into its cluster, into the folder it left.
        self._migrate('solo', 'node2', self.vm_dir)
        self.assertTrue(os.path.isfile(self.cached))

    def test_the_destination_is_named_as_windows_compares_names(self):
        dest_dir = os.path.join(self.solo_disk, 'vm1')
        self._eject_dvd_images(dest_dir)
        self.utils('livemigrationutils').live_migrate_vm_with_storage(
            'vm1', 'SOLO', dest_dir)
        self.assertEqual('solo', self.state.get_vm('vm1').node)

    def test_a_vm_that_is_off_moves_too(self):
        self.utils('vmutils').set_vm_state(
            'vm1', constants.HYPERV_VM_STATE_DISABLED)
        dest_dir = os.path.join(self.solo_disk, 'vm1')
        self._eject_dvd_images(dest_dir)
        self.utils('livemigrationutils').live_migrate_vm_with_storage(
            'vm1', 'solo', dest_dir)
        self.assertEqual(('solo', constants.HYPERV_VM_STATE_DISABLED),
                         (self.state.get_vm('vm1').node,
                          self.state.get_vm('vm1').state))

    def _refused(self, exc_class, source, dest_host, dest_dir,
                 message=None):
        before = self._world()
        dest_existed = os.path.exists(dest_dir)
        err = self.assertRaises(
            exc_class,
            self.utils('livemigrationutils',
                       source).live_migrate_vm_with_storage,
            'vm1', dest_host, dest_dir)
        self.assertEqual(before, self._world())
        self.assertEqual(dest_existed, os.path.exists(dest_dir))
        if message:
            self.assertIn(message, str(err))
        return err

    def test_refusals_change_nothing(self):
        dest_dir = os.path.join(self.instances_dir('Data', 'cluster2'),
                                'vm1')
        self.state.add_cluster_group('vm1')
        self._refused(os_win_exc.HyperVException, 'node1', 'b1', dest_dir,
                      'clustered')
        self.state.delete_cluster_group('vm1')
        self._refused(os_win_exc.HyperVException, 'node1', 'nowhere',
                      dest_dir, 'unreachable')
        self.state.node_down('b2')
        self._refused(os_win_exc.HyperVException, 'node1', 'b2', dest_dir,
                      'unreachable')
        for same in ('node1', 'NODE1'):
            self._refused(os_win_exc.HyperVException, 'node1', same,
                          dest_dir)
        # Not on this host: Hyper-V here does not know it.
        self._refused(os_win_exc.HyperVVMNotFoundException, 'node2', 'b1',
                      dest_dir)
        # A file of the same name as a disk at the destination.
        self._eject_dvd_images(dest_dir)
        with open(os.path.join(dest_dir, 'root.vhdx'), 'w') as f:
            f.write('another')
        self._refused(os_win_exc.HyperVException, 'node1', 'b1', dest_dir,
                      'exists already')

    def test_a_dvd_image_in_its_directory_is_refused(self):
        # The destination cannot reach it and Hyper-V migrates none: the
        # caller ejects it first.
        dest_dir = os.path.join(self.solo_disk, 'vm1')
        self._refused(os_win_exc.HyperVException, 'node1', 'solo',
                      dest_dir, 'eject it before the migration')

    def test_an_armed_fault_changes_nothing(self):
        dest_dir = os.path.join(self.solo_disk, 'vm1')
        self._eject_dvd_images(dest_dir)
        self.state.arm_fault('livemigrationutils.live_migrate_vm_with_storage',
                             message='migration job failed')
        self._refused(os_win_exc.HyperVException, 'node1', 'solo',
                      dest_dir, 'migration job failed')
        self.utils('livemigrationutils').live_migrate_vm_with_storage(
            'vm1', 'solo', dest_dir)
        self.assertEqual('solo', self.state.get_vm('vm1').node)

    def test_a_failure_after_the_copies_removes_them(self):
        dest_dir = os.path.join(self.solo_disk, 'vm1')
        # The caller's DVD image copy is not the migration's: it stays.
        self._eject_dvd_images(dest_dir)
        with mock.patch.object(self.state, 'migrate_vm', autospec=True,
                               side_effect=sim_state.SimulatorError('gone')):
            self._refused(os_win_exc.HyperVException, 'node1', 'solo',
                          dest_dir, 'gone')
        # Without a DVD image the destination folder need not exist: the
        # folders the migration made are gone too.
        self.utils('vmutils').detach_vm_disk(
            'vm1', os.path.join(self.vm_dir, 'configdrive.iso'))
        dest_dir = os.path.join(self.solo_disk, 'new', 'vm1')
        with mock.patch.object(self.state, 'migrate_vm', autospec=True,
                               side_effect=sim_state.SimulatorError('gone')):
            self._refused(os_win_exc.HyperVException, 'node1', 'solo',
                          dest_dir, 'gone')
        self.assertFalse(os.path.exists(os.path.dirname(dest_dir)))

    def test_a_failed_copy_removes_the_partial_copies(self):
        dest_dir = os.path.join(self.solo_disk, 'vm1')
        self._eject_dvd_images(dest_dir)
        real_copy = shutil.copyfileobj
        calls = []

        def copy_then_fail(fsrc, fdest, *args):
            calls.append(fsrc.name)
            if len(calls) == 2:
                fdest.write(b'partial')
                raise OSError(28, 'No space left on device')
            return real_copy(fsrc, fdest, *args)
        with mock.patch.object(shutil, 'copyfileobj', copy_then_fail):
            self._refused(os_win_exc.HyperVException, 'node1', 'solo',
                          dest_dir, 'No space left')
        self.assertEqual(2, len(calls))

    def test_the_host_rechecks_in_the_transaction_that_moves_the_vm(self):
        # Another host clusters the VM between any two steps of the
        # migration: it is refused, and nothing changes.
        dest_dir = os.path.join(self.solo_disk, 'vm1')
        self._eject_dvd_images(dest_dir)
        lmutils = self.utils('livemigrationutils')

        def prepare():
            if self.state.get_cluster_group('vm1'):
                self.state.delete_cluster_group('vm1')
        files = self._files()
        rounds = 0
        for n, error in sim_fixtures.interleavings(
                self, self.state,
                lambda other: other.add_cluster_group('vm1'), prepare,
                lambda: lmutils.live_migrate_vm_with_storage(
                    'vm1', 'solo', dest_dir)):
            rounds += 1
            self.assertIsInstance(error, os_win_exc.HyperVException,
                                  'clustered before transaction %d' % n)
            self.assertIn('clustered', str(error))
            self.assertEqual('node1', self.state.get_vm('vm1').node)
            self.assertEqual(files, self._files())
        self.assertGreater(rounds, 2)

    def test_the_state_change_checks_again(self):
        root = os.path.join(self.vm_dir, 'root.vhdx')
        iso = os.path.join(self.vm_dir, 'configdrive.iso')
        paths = {root: '/y/root.vhdx', iso: '/y/configdrive.iso'}
        for node, owner, error in (
                ('b1', 'node2', sim_state.VMNotFound),
                ('nowhere', 'node1', sim_state.SimulatorError),
                ('node1', 'node1', sim_state.SimulatorError)):
            self.assertRaises(error, self.state.migrate_vm, 'vm1', node,
                              '/y', paths, owner=owner)
        self.assertRaises(sim_state.SimulatorError, self.state.migrate_vm,
                          'vm1', 'b1', '/y', {root: '/y/root.vhdx'},
                          owner='node1')
        self.assertEqual('node1', self.state.get_vm('vm1').node)
        self.state.migrate_vm('vm1', 'b1', '/y', paths, owner='node1')
        self.assertEqual(
            [('/y/root.vhdx', 'IDE0', 0, constants.DISK),
             ('/y/configdrive.iso', 'IDE1', 0, constants.DVD)],
            [(d.path, d.controller, d.slot, d.drive_type)
             for d in self.state.disks('vm1')])


class TestCheckLiveMigrationConfig(sim_fixtures.WorldTestCase):

    def test_up_hosts_pass(self):
        for node in ('node1', 'b2', 'solo'):
            self.utils('livemigrationutils',
                       node).check_live_migration_config()
        self.state.node_down('b2')
        self.assertRaises(os_win_exc.HyperVException,
                          self.utils('livemigrationutils',
                                     'b2').check_live_migration_config)
        self.state.arm_fault('livemigrationutils.check_live_migration_config')
        self.assertRaises(os_win_exc.HyperVException,
                          self.utils('livemigrationutils',
                                     'node1').check_live_migration_config)
