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

"""Interfaces attached and detached through nova's API (in-process nova on
the simulated cluster, nova's neutron fixture): a generation 2 VM's vNIC
is added and removed while it runs and stays through a failover; a
running generation 1 VM's cannot change, a stopped one's can.
"""

import io

from nova.tests.functional.api import client as api_client
from nova import utils as nova_utils

from hvc_oswin_api import constants as os_win_const
from tests.functional.driver import test_failover
from tests.functional.driver import test_nova_cluster


class TestInterfaces(test_failover.FailoverTestCase):

    def _image(self, generation):
        if generation == os_win_const.VM_GEN_1:
            return test_nova_cluster.VHD_IMAGE
        data = b'a generation 2 image'
        return self.glance.create(None, {
            'name': 'gen2', 'disk_format': 'vhdx',
            'container_format': 'bare', 'size': len(data),
            'properties': {
                'hw_machine_type': os_win_const.IMAGE_PROP_VM_GEN_2}},
            data=io.BytesIO(data))['id']

    def _boot_gen(self, generation, node='node1'):
        with nova_utils.temporary_mutation(self.admin_api,
                                           microversion='2.74'):
            server = self.admin_api.post_server({'server': dict(
                self._build_server(image_uuid=self._image(generation),
                                   flavor_id=self.flavor, networks='none'),
                host=node)})
        return self._wait_for_state_change(server, 'ACTIVE')

    def _nics(self, server):
        return [n.name for n in self.sim.nics(
            server['OS-EXT-SRV-ATTR:instance_name'])]

    def _attach(self, server, port):
        self.api.attach_interface(server['id'], {
            'interfaceAttachment': {'port_id': port['id']}})

    def test_a_generation_2_vm_changes_its_nics_while_it_runs(self):
        server = self._boot_gen(os_win_const.VM_GEN_2)
        port = self._port()
        self._attach(server, port)
        self.assertEqual([port['id']], self._nics(server))
        self.assertEqual([port['id']], [
            i['port_id'] for i in self.api.get_port_interfaces(
                server['id'])])
        # The vNIC is part of the VM: it fails over with it.
        self.sim.move_vm(server['OS-EXT-SRV-ATTR:instance_name'], 'node2',
                         restart=True)
        server = self._assert_followed(server, 'node2', port)
        self.assertEqual([port['id']], self._nics(server))
        # Detached by node2's nova-compute.
        self.api.detach_interface(server['id'], port['id'])
        self._wait_until('the vNIC is gone',
                         lambda: self._nics(server) == [])
        self._wait_until('nova lets go of the port', lambda: not (
            self.api.get_port_interfaces(server['id'])))
        self._delete_server(server)

    def test_a_running_generation_1_vm_keeps_its_nics(self):
        server = self._boot_gen(os_win_const.VM_GEN_1)
        port = self._port()
        err = self.assertRaises(api_client.OpenStackApiException,
                                self._attach, server, port)
        self.assertEqual(500, err.response.status_code)
        self.assertEqual([], self._nics(server))
        # Stopped, it takes one.
        self._stop_server(server)
        self._attach(server, port)
        self.assertEqual([port['id']], self._nics(server))
        self._start_server(server)
        self.assertEqual('ACTIVE', self.api.get_server(server['id'])[
            'status'])
        self._delete_server(server)
