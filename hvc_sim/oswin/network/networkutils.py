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

"""os_win.utils.network.networkutils on the simulated cluster."""

import uuid

from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin import base


class NetworkUtils(base.SimulatedUtils):
    """os_win.utils.network.networkutils.NetworkUtilsR2 on a simulated
    node: connects vNICs to virtual switches (any name is a switch).
    """

    KIND = 'networkutils'

    @base.faultable(os_win_exc.HyperVException)
    def connect_vnic_to_vswitch(self, vswitch_name, switch_port_name):
        if not vswitch_name:
            raise os_win_exc.HyperVvSwitchNotFound(vswitch_name=vswitch_name)
        if not self._state.connect_nic(self._node, switch_port_name,
                                       vswitch_name):
            raise os_win_exc.HyperVvNicNotFound(vnic_name=switch_port_name)

    @base.faultable(os_win_exc.HyperVException)
    def set_vswitch_port_vlan_id(self, vlan_id=None, switch_port_name=None,
                                 **kwargs):
        # Access mode only: trunks are not simulated.
        if kwargs.get('trunk_vlans') is not None:
            raise AttributeError('VLAN trunks are not simulated')
        if not self._state.set_nic_vlan(self._node, switch_port_name,
                                        vlan_id):
            raise os_win_exc.HyperVvNicNotFound(vnic_name=switch_port_name)

    @base.faultable(os_win_exc.HyperVException)
    def get_vnic_ids(self):
        """The names of the vNICs of the VMs this node runs (a set, as
        os-win's).
        """
        return self._state.nic_names(node=self._node)

    @base.faultable(os_win_exc.HyperVException)
    def get_connected_vnic_ids(self):
        """The names of the vNICs of the VMs this node runs that are
        connected to a virtual switch (a set; the seam's, not os-win's).
        A vNIC made again under the same name (its VM destroyed and made
        again) is not, until it is connected again.
        """
        return set(self._state.nic_vswitches(node=self._node))

    @base.faultable(os_win_exc.HyperVException)
    def get_vnic_mac_address(self, switch_port_name):
        mine = {vm.name for vm in self._state.vms(node=self._node)}
        for nic in self._state.nics():
            if nic.name == switch_port_name and nic.vm_name in mine:
                return mac_address(nic)
        raise os_win_exc.HyperVvNicNotFound(vnic_name=switch_port_name)


def mac_address(nic):
    """The NIC's MAC address as WMI gives it (12 hex digits): the one it
    was made with, or a dynamic one from Hyper-V's range (00155D).
    """
    if nic.mac_address:
        return nic.mac_address.replace(':', '').replace('-', '').upper()
    digest = uuid.uuid5(uuid.NAMESPACE_OID,
                        '%s/%s' % (nic.vm_name, nic.name)).hex
    return ('00155D' + digest[:6]).upper()
