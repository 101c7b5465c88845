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

"""The ML2 mechanism driver ``hyperv``: which segments it binds for which
agent, and what binding it sets.
"""

from importlib import metadata
from unittest import mock

from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api
import testtools

from hvc_neutron import mech_driver


def _agent(agent_type=mech_driver.AGENT_TYPE, mappings=None):
    return {'agent_type': agent_type, 'host': 'hv-a1', 'alive': True,
            'configurations': {'vswitch_mappings': (
                {'physnet1': 'external'} if mappings is None
                else mappings)}}


def _segment(network_type, physnet=None, segmentation_id=None):
    return {api.ID: 'segment-1', 'network_id': 'net-1',
            api.NETWORK_TYPE: network_type, api.PHYSICAL_NETWORK: physnet,
            api.SEGMENTATION_ID: segmentation_id}


class TestHypervMechanismDriver(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.driver = mech_driver.HypervMechanismDriver()

    def test_flat_and_vlan_of_a_mapped_physical_network_and_local(self):
        agent = _agent()
        for segment in (_segment('flat', 'physnet1'),
                        _segment('vlan', 'physnet1', 101),
                        _segment('local')):
            self.assertTrue(self.driver.check_segment_for_agent(
                segment, agent), segment)

    def test_not_an_unmapped_physical_network_nor_a_tunnel(self):
        agent = _agent()
        for segment in (_segment('flat', 'physnet2'),
                        _segment('vlan', 'physnet2', 101),
                        _segment('vxlan', None, 5000),
                        _segment('geneve', None, 5000)):
            self.assertFalse(self.driver.check_segment_for_agent(
                segment, agent), segment)

    def test_not_for_another_kind_of_agent(self):
        self.assertFalse(self.driver.check_segment_for_agent(
            _segment('flat', 'physnet1'),
            _agent(agent_type='Open vSwitch agent')))

    def test_the_binding_is_vif_type_hyperv_filtered_by_the_agent(self):
        context = mock.Mock()
        self.assertTrue(self.driver.try_to_bind_segment_for_agent(
            context, _segment('flat', 'physnet1'), _agent()))
        context.set_binding.assert_called_once_with(
            'segment-1', 'hyperv',
            {portbindings.CAP_PORT_FILTER: True,
             portbindings.VIF_DETAILS_CONNECTIVITY:
                 portbindings.CONNECTIVITY_L2})

    def test_normal_ports_only(self):
        self.assertEqual([portbindings.VNIC_NORMAL],
                         self.driver.supported_vnic_types)

    def test_ml2_finds_it_by_its_entry_point(self):
        [entry_point] = metadata.entry_points(
            group='neutron.ml2.mechanism_drivers', name='hyperv')
        self.assertIs(mech_driver.HypervMechanismDriver, entry_point.load())
