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

"""Rescue and unrescue through nova's API (in-process nova on the
simulated cluster): the rescue image boots, the instance's own disks come
back as they were, and a failover during a rescue is followed (unrescue
on the new node).
"""

import os

from hvc_oswin_api import constants as os_win_const
from tests.functional.driver import test_failover


class TestRescue(test_failover.FailoverTestCase):

    def _disks(self, server):
        return sorted((d.controller, d.slot, os.path.basename(d.path))
                      for d in self.sim.disks(
                          server['OS-EXT-SRV-ATTR:instance_name']))

    def _rescue(self, server):
        self.api.post_server_action(server['id'], {'rescue': {}})
        return self._wait_for_state_change(server, 'RESCUE')

    def _unrescue(self, server):
        self.api.post_server_action(server['id'], {'unrescue': None})
        return self._wait_for_state_change(server, 'ACTIVE')

    def test_rescue_and_unrescue(self):
        server = self._boot_on('node1')
        before = self._disks(server)
        self._rescue(server)
        self.assertEqual(
            [('IDE0', 0, 'rescue.vhd'), ('SCSI0', 0, 'root.vhd')],
            self._disks(server))
        self.assertEqual(os_win_const.HYPERV_VM_STATE_ENABLED,
                         self._vm(server).state)
        self._unrescue(server)
        self.assertEqual(before, self._disks(server))
        self._delete_server(server)
        self.assertEqual([], self.sim.vms())

    def test_a_failover_during_a_rescue_is_followed(self):
        server = self._boot_on('node1')
        before = self._disks(server)
        self._rescue(server)
        self.sim.move_vm(server['OS-EXT-SRV-ATTR:instance_name'], 'node2',
                         restart=True)
        server = self._assert_followed(server, 'node2')
        self.assertEqual('RESCUE', server['status'])
        # Unrescued by node2, from the rescue disk the VM took along.
        self._unrescue(server)
        self.assertEqual(before, self._disks(server))
        self.assertEqual('node2', self._vm(server).node)
        self._delete_server(server)
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0},
                         self._usages()['node2'])
