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

"""The simulated VMUtils, and its changes racing another node's."""

from unittest import mock

from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim import state as sim_state
from tests.unit.sim import fixtures as sim_fixtures


class TestVMUtils(sim_fixtures.SimulatedTestCase):

    def _vm(self, name='vm1', node='node1'):
        vmutils = self.utils('vmutils', node)
        vmutils.create_vm(name, False, constants.VM_GEN_1, '/x/' + name,
                          notes=['3f0d3d5c-1e7e-4bd6-a0c3-2a5b6f1c9b11'])
        vmutils.update_vm(name, 1024, 0, 2, 0, False, 1.0)
        return vmutils

    def test_a_vm_is_seen_by_its_node_only(self):
        self._vm()
        self.assertTrue(self.utils('vmutils', 'node1').vm_exists('vm1'))
        self.assertFalse(self.utils('vmutils', 'node2').vm_exists('vm1'))
        self.assertEqual(['vm1'],
                         self.utils('vmutils', 'node1').list_instances())
        self.assertEqual([], self.utils('vmutils', 'node2').list_instances())
        self.assertRaises(os_win_exc.HyperVVMNotFoundException,
                          self.utils('vmutils', 'node2').get_vm_state, 'vm1')

    def test_power_states_and_summary(self):
        vmutils = self._vm()
        self.assertEqual(constants.HYPERV_VM_STATE_DISABLED,
                         vmutils.get_vm_state('vm1'))
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_ENABLED)
        info = vmutils.get_vm_summary_info('vm1')
        self.assertEqual({'NumberOfProcessors', 'EnabledState',
                          'MemoryUsage', 'UpTime'}, set(info))
        self.assertEqual((2, constants.HYPERV_VM_STATE_ENABLED, 1024),
                         (info['NumberOfProcessors'], info['EnabledState'],
                          info['MemoryUsage']))
        self.assertIsInstance(info['UpTime'], int)
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_PAUSED)
        # Hyper-V ignores a request that is invalid in the current state.
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_REBOOT)
        self.assertEqual(constants.HYPERV_VM_STATE_PAUSED,
                         vmutils.get_vm_state('vm1'))
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_SUSPENDED)
        self.assertEqual(constants.HYPERV_VM_STATE_SUSPENDED,
                         vmutils.get_vm_state('vm1'))
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_ENABLED)
        vmutils.soft_shutdown_vm('vm1')
        self.assertEqual(constants.HYPERV_VM_STATE_DISABLED,
                         vmutils.get_vm_state('vm1'))
        self.assertIsNone(vmutils.get_vm_summary_info('vm1')['UpTime'])

    def test_notes_disks_nics(self):
        vmutils = self._vm()
        self.assertEqual([('vm1', ['3f0d3d5c-1e7e-4bd6-a0c3-2a5b6f1c9b11'])],
                         vmutils.list_instance_notes())
        self.assertEqual('3f0d3d5c-1e7e-4bd6-a0c3-2a5b6f1c9b11',
                         vmutils.get_instance_uuid('vm1'))
        vmutils.attach_ide_drive('vm1', '/x/root.vhdx', 0, 0)
        vmutils.attach_scsi_drive('vm1', '/x/eph.vhdx')
        self.assertEqual((['/x/root.vhdx', '/x/eph.vhdx'], []),
                         vmutils.get_vm_storage_paths('vm1'))
        vmutils.create_nic('vm1', 'port-1', 'fa:16:3e:00:00:01')
        self.assertEqual(['port-1'], vmutils.get_vm_nic_names('vm1'))
        vmutils.destroy_vm('vm1')
        self.assertEqual([], self.state.disks())
        self.assertEqual([], self.state.nics())
        self.assertRaises(os_win_exc.HyperVVMNotFoundException,
                          vmutils.destroy_vm, 'vm1')

    def test_duplicate_vm_is_an_os_win_error(self):
        self._vm()
        self.assertRaises(os_win_exc.HyperVException, self._vm,
                          node='node2')

    def test_an_armed_fault_fails_the_next_call_only(self):
        vmutils = self._vm()
        self.state.arm_fault('vmutils.set_vm_state', message='job failed')
        err = self.assertRaises(os_win_exc.HyperVException,
                                vmutils.set_vm_state, 'vm1',
                                constants.HYPERV_VM_STATE_ENABLED)
        self.assertEqual('job failed', str(err))
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_ENABLED)
        self.assertEqual(constants.HYPERV_VM_STATE_ENABLED,
                         vmutils.get_vm_state('vm1'))

    def test_memory_usage_of_a_vm_that_is_off_is_none(self):
        # As WMI reports it: code that adds it up must cope.
        self.assertIsNone(self._vm().get_vm_summary_info('vm1')[
            'MemoryUsage'])

    def test_detach_ignores_the_vm_name_as_os_win(self):
        vmutils = self._vm()
        vmutils.attach_scsi_drive('vm1', '/x/vol.vhdx')
        vmutils.detach_vm_disk('no-such-vm', '/x/vol.vhdx')
        self.assertEqual([], self.state.disks('vm1'))
        # Nothing attached at that path: nothing to do, no error.
        vmutils.detach_vm_disk('no-such-vm', '/x/vol.vhdx')

    def test_state_constants_are_os_wins(self):
        # hvc_sim does not import os-win; its numbers must be os-win's.
        for name in ('ENABLED', 'DISABLED', 'SHUTTING_DOWN', 'REBOOT',
                     'PAUSED', 'SUSPENDED'):
            self.assertEqual(
                getattr(constants, 'HYPERV_VM_STATE_' + name),
                getattr(sim_state, 'VM_STATE_' + name), name)


class TestCheckThenActRaces(sim_fixtures.SimulatedTestCase):
    """The cluster moves a VM to node2 between any two steps of node1's
    call: node1's change must then fail as not found, and never land on
    the VM node2 now runs.
    """

    def setUp(self):
        super().setUp()
        self.vmutils = self.utils('vmutils', 'node1')

    def _fresh_vm(self):
        if self.state.get_vm('vm1'):
            self.state.delete_vm('vm1')
        if self.state.get_cluster_group('vm1'):
            self.state.delete_cluster_group('vm1')
        self.vmutils.create_vm('vm1', False, 1, '/x/vm1')
        # Clustered: the failover cluster moves it.
        self.state.add_cluster_group('vm1')

    def _snapshot(self, state):
        """What node1's call may change, but for the VM's node."""
        vm = state.get_vm('vm1')
        if vm is None:
            return None
        return ((vm.state, vm.vcpus, vm.memory_mb), state.disks('vm1'),
                state.nics('vm1'), state.snapshots('vm1'))

    def _check(self, method, *args):
        seen = []

        def failover(other):
            seen.append(self._snapshot(other))
            if seen[-1] is not None:
                other.move_vm('vm1', 'node2')
        rounds = 0
        for n, error in sim_fixtures.interleavings(
                self, self.state, failover, self._fresh_vm,
                lambda: getattr(self.vmutils, method)('vm1', *args)):
            rounds += 1
            at_failover = seen[-1]
            self.assertEqual(
                at_failover, self._snapshot(self.state),
                '%s changed the VM node2 runs (failover before its '
                'transaction %d)' % (method, n))
            if error is not None:
                self.assertIsInstance(
                    error, os_win_exc.HyperVVMNotFoundException)
            else:
                # It said it was done: it was, before the failover.
                self._fresh_vm()
                self.assertNotEqual(self._snapshot(self.state), at_failover,
                                    '%s did nothing but said it did'
                                    % method)
        self.assertGreater(rounds, 0)

    def test_set_vm_state(self):
        self._check('set_vm_state', constants.HYPERV_VM_STATE_ENABLED)

    def test_update_vm(self):
        self._check('update_vm', 4096, 0, 4, 0, False, 1.0)

    def test_soft_shutdown_vm(self):
        self._check('soft_shutdown_vm')

    def test_destroy_vm(self):
        self._check('destroy_vm')

    def test_create_nic(self):
        self._check('create_nic', 'port-1', None)

    def test_attach_scsi_drive(self):
        self._check('attach_scsi_drive', '/x/d.vhdx')

    def test_attach_ide_drive(self):
        self._check('attach_ide_drive', '/x/d.vhdx', 0, 0)

    def test_take_vm_snapshot(self):
        self._check('take_vm_snapshot')

    def test_uncluster_of_a_group_gone_meanwhile_is_not_found(self):
        # Another node's delete takes the group between any two steps of
        # this node's: not found (what destroy takes for done), never a
        # cluster failure.
        clusterutils = self.utils('clusterutils')

        def clustered():
            self._fresh_vm()
            if not self.state.get_cluster_group('vm1'):
                clusterutils.add_vm_to_cluster('vm1')

        def other_node_unclusters(other):
            other.delete_cluster_group('vm1')
        for n, error in sim_fixtures.interleavings(self, self.state,
                                      other_node_unclusters, clustered,
                                      lambda: clusterutils.delete('vm1')):
            self.assertIsInstance(error, os_win_exc.HyperVVMNotFoundException,
                                  'before transaction %d' % n)
            self.assertIsNone(self.state.get_cluster_group('vm1'))


class TestAtomicChanges(sim_fixtures.SimulatedTestCase):

    def test_scsi_slots_are_taken_in_the_insert_transaction(self):
        # Another attachment lands between any two steps of this one:
        # each still gets a slot of its own.
        vmutils = self.utils('vmutils')

        def fresh():
            if self.state.get_vm('vm1'):
                self.state.delete_vm('vm1')
            vmutils.create_vm('vm1', False, 2, '/x/vm1')

        def other_attach(other):
            other.add_disk('vm1', '/x/b.vhdx', 'SCSI0', None,
                           constants.DISK, slots=64)
        for n, error in sim_fixtures.interleavings(
                self, self.state, other_attach, fresh,
                lambda: vmutils.attach_scsi_drive('vm1', '/x/a.vhdx')):
            self.assertIsNone(error)
            slots = sorted(d.slot for d in self.state.disks('vm1'))
            self.assertEqual([0, 1], slots, 'before transaction %d' % n)

    def test_a_reset_is_one_transaction(self):
        vmutils = self.utils('vmutils')
        vmutils.create_vm('vm1', False, 2, '/x/vm1')
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_ENABLED)
        writes = []
        db = self.state._db

        def counting_db(write=False, create=False):
            if write:
                writes.append(1)
            return db(write=write, create=create)
        with mock.patch.object(self.state, '_db', counting_db):
            vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_REBOOT)
        self.assertEqual(1, len(writes))
        self.assertEqual(constants.HYPERV_VM_STATE_ENABLED,
                         vmutils.get_vm_state('vm1'))
