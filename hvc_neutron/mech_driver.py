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

"""The ML2 mechanism driver ``hyperv``: binds a port on a host whose
hvc-neutron-agent is alive, to a segment whose physical network that
agent maps to a Hyper-V virtual switch (or to a local network).

    [ml2]
    mechanism_drivers = hyperv

The port's VIF type is ``hyperv``: nova's Hyper-V drivers make a vNIC
named by the port id and leave it to the agent, which connects it to the
switch and reports the port up.
"""

from neutron_lib.api.definitions import portbindings
from neutron_lib import constants

from neutron.plugins.ml2.drivers import mech_agent

# What hvc-neutron-agent reports as its type (networking-hyperv's name, so
# that tools that know it recognize it).
AGENT_TYPE = 'HyperV agent'
# nova's network_model.VIF_TYPE_HYPERV (neutron-lib no longer names it).
VIF_TYPE = 'hyperv'


class HypervMechanismDriver(mech_agent.SimpleAgentMechanismDriverBase):

    # The agent wires layer 2 only: a vNIC on a switch (and VLAN).
    connectivity = portbindings.CONNECTIVITY_L2

    def __init__(self):
        # The agent filters the vNIC: its security groups become the
        # switch port's ACLs before the port is reported up.
        super().__init__(AGENT_TYPE, VIF_TYPE,
                         {portbindings.CAP_PORT_FILTER: True})

    def get_allowed_network_types(self, agent=None):
        return [constants.TYPE_LOCAL, constants.TYPE_FLAT,
                constants.TYPE_VLAN]

    def get_mappings(self, agent):
        """{physical network: Hyper-V virtual switch} of the agent."""
        return agent['configurations'].get('vswitch_mappings', {})
