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

"""The simulated NetworkUtils: a switch port's extended ACLs, weighted as
os-win's NetworkUtilsR2 weighs them, and kept with the VM.
"""

from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin.network import networkutils
from tests.unit.sim import fixtures as sim_fixtures

NIC = 'port-1'


def _acl(direction=1, action=1, protocol='6', port='22',
         address='0.0.0.0/0', stateful=True):
    return {'Direction': direction, 'Action': action, 'Protocol': protocol,
            'LocalPort': port, 'RemoteIPAddress': address,
            'Stateful': stateful, 'IdleSessionTimeout': 0}


def _deny(protocol):
    return _acl(action=2, protocol=protocol, port='ANY', stateful=False)


class TestSecurityRules(sim_fixtures.HATestCase):

    def setUp(self):
        super().setUp()
        self._vm('vm1', 'node1')
        self.state.add_nic('vm1', NIC)
        self.netutils = self.utils('networkutils')
        self.netutils.connect_vnic_to_vswitch('external', NIC)

    def _weights(self):
        return {(a['Action'], a['Protocol'], a['LocalPort']): a['Weight']
                for a in self.netutils.get_security_rules(NIC)}

    def test_weights_are_os_win_s(self):
        self.netutils.create_security_rules(NIC, [_deny('6'), _deny('17')])
        self.netutils.create_security_rules(NIC, [_acl(), _acl(port='80')])
        self.netutils.create_security_rules(NIC, [_acl(port='443')])
        self.assertEqual({(2, '6', 'ANY'): 1, (2, '17', 'ANY'): 2,
                          (1, '6', '22'): 65499, (1, '6', '80'): 65498,
                          (1, '6', '443'): 65497}, self._weights())

    def test_an_acl_the_port_has_is_not_added_twice(self):
        self.netutils.create_security_rules(NIC, [_acl()])
        self.netutils.create_security_rules(NIC, [_acl(), _acl()])
        self.assertEqual(1, len(self.netutils.get_security_rules(NIC)))

    def test_removal_by_value_keeps_the_others_weights(self):
        self.netutils.create_security_rules(NIC, [_acl(), _acl(port='80')])
        self.netutils.remove_security_rules(NIC, [_acl()])
        self.assertEqual({(1, '6', '80'): 65498}, self._weights())
        self.netutils.remove_all_security_rules(NIC)
        self.assertEqual([], self.netutils.get_security_rules(NIC))

    def test_allow_and_deny_in_one_call_are_refused(self):
        self.assertRaises(ValueError, self.netutils.create_security_rules,
                          NIC, [_acl(), _deny('6')])
        self.assertEqual([], self.netutils.get_security_rules(NIC))

    def test_seventeen_deny_acls_are_refused(self):
        self.assertRaises(
            ValueError, self.netutils.create_security_rules, NIC,
            [_deny(str(protocol)) for protocol in range(17)])

    def test_what_hyper_v_refuses_is_refused(self):
        for bad in (_acl(direction=3), _acl(protocol='tcp'),
                    _acl(port='22,80'),
                    _acl(address='fd00:1234:5678:9abc:def0:1234:5678:9abc'
                                 '/128')):
            self.assertRaises(os_win_exc.HyperVException,
                              self.netutils.create_security_rules, NIC,
                              [bad])

    def test_a_vnic_on_no_switch_has_no_port(self):
        self.state.add_nic('vm1', 'port-2')
        for call, args in ((self.netutils.create_security_rules, [[_acl()]]),
                           (self.netutils.get_security_rules, ())):
            self.assertRaises(os_win_exc.HyperVPortNotFoundException,
                              call, 'port-2', *args)
        # Nor another node's VM's.
        self.assertRaises(os_win_exc.HyperVPortNotFoundException,
                          self.utils('networkutils', 'node2')
                          .get_security_rules, NIC)

    def test_the_acls_move_with_the_vm_and_go_with_it(self):
        self.netutils.create_security_rules(NIC, [_acl()])
        self.state.move_vm('vm1', 'node2', restart=True)
        node2 = self.utils('networkutils', 'node2')
        self.assertEqual([dict(_acl(), Weight=65499)],
                         node2.get_security_rules(NIC))
        # Connected again (the agent there wires it): kept.
        node2.connect_vnic_to_vswitch('external', NIC)
        self.assertEqual(1, len(node2.get_security_rules(NIC)))
        self.state.delete_cluster_group('vm1')
        self.state.delete_vm('vm1')
        self._vm('vm1', 'node2')
        self.state.add_nic('vm1', NIC)
        node2.connect_vnic_to_vswitch('external', NIC)
        self.assertEqual([], node2.get_security_rules(NIC))

    def test_hvc_sim_shows_them(self):
        from hvc_sim import cmd
        self.netutils.create_security_rules(NIC, [_acl(), _acl(port='80')])
        [vm] = self.state.vms()
        [nic] = cmd.describe_vm(self.state, vm)['nics']
        self.assertEqual([65499, 65498], [a['Weight'] for a in nic['acls']])
        self.assertEqual(networkutils.ACL_FIELDS + ('Weight',),
                         tuple(k for k in networkutils.ACL_FIELDS +
                               ('Weight',) if k in nic['acls'][0]))
