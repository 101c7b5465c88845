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

"""hvc-neutron-agent's rounds, against a simulated Hyper-V node served by
an in-process hvc-agent (over HTTP, as the agent reaches it), with
neutron's RPC clients autospec'd.
"""

from unittest import mock

import fixtures
from neutron.agent import rpc as agent_rpc
from neutron.api.rpc.handlers import securitygroups_rpc as sg_rpc
import testtools

from hvc_agent import client
from hvc_neutron import acls
from hvc_neutron import agent
from hvc_oswin_api import constants
from tests.agent import fixtures as agent_fixtures
from tests.unit.driver import fixtures as driver_fixtures

NODE = 'node1'
PORT_A = 'a1a1a1a1-0000-0000-0000-000000000001'
PORT_B = 'b2b2b2b2-0000-0000-0000-000000000002'
MAPPINGS = {'physnet1': 'external'}


def _port(port_id, status='DOWN', admin_state_up=True):
    """A port as get_ports_by_vnic_type_and_host returns it."""
    return {'id': port_id, 'status': status,
            'admin_state_up': admin_state_up, 'binding:host_id': NODE}


# Egress anywhere (IPv4), and SSH from a /24.
RULES = [{'direction': 'egress', 'ethertype': 'IPv4'},
         {'direction': 'ingress', 'ethertype': 'IPv4', 'protocol': 'tcp',
          'port_range_min': 22, 'port_range_max': 22,
          'source_ip_prefix': '192.0.2.0/24'}]
SSH = acls.Acl(acls.DIRECTION_IN, acls.ACTION_ALLOW, '6', '22',
               '192.0.2.0/24', True)


def _details(port_id, network_type='flat', physnet='physnet1',
             segmentation_id=None, admin_state_up=True):
    """A port's details as get_devices_details_list returns them."""
    return {'device': port_id, 'port_id': port_id, 'network_id': 'net-1',
            'network_type': network_type, 'physical_network': physnet,
            'segmentation_id': segmentation_id,
            'admin_state_up': admin_state_up}


class TestHypervNeutronAgent(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger())
        self.cluster = self.useFixture(driver_fixtures.SimulatedClusterFixture(
            nodes=(NODE, 'node2')))
        self.state = self.cluster.state
        hvc_agent = self.useFixture(agent_fixtures.AgentThreadFixture(
            self.cluster.state_file, NODE, self.cluster.instances_path))
        agent_client = client.AgentClient(hvc_agent.url, timeout=10)
        self.addCleanup(agent_client.close)
        self.plugin_rpc = mock.create_autospec(agent_rpc.PluginApi,
                                               instance=True)
        self.state_rpc = mock.create_autospec(
            agent_rpc.PluginReportStateAPI, instance=True)
        self.sg_rpc = mock.create_autospec(
            sg_rpc.SecurityGroupServerRpcApi, instance=True)
        self.plugin_rpc.get_ports_by_vnic_type_and_host.return_value = []
        self.networkutils = agent_client.utils('networkutils')
        self.agent = self._agent()
        # {port id: the port as security_group_rules_for_devices gives it}
        self.sg_ports = {}
        self.sg_rpc.security_group_rules_for_devices.side_effect = (
            lambda context, devices: {
                d: self.sg_ports.get(d, {'id': d, 'device': d,
                                         'security_group_rules': RULES})
                for d in devices if d in self.ports})
        self.ports = {}
        self.details = {}
        self.plugin_rpc.get_ports_by_vnic_type_and_host.side_effect = (
            lambda context, vnic_type, host: list(self.ports.values()))
        self.plugin_rpc.get_devices_details_list.side_effect = (
            lambda context, devices, agent_id, host: [
                self.details.get(d, {'device': d}) for d in devices])

    def _agent(self):
        return agent.HypervNeutronAgent(
            NODE, self.networkutils, self.plugin_rpc, self.state_rpc,
            self.sg_rpc, mock.sentinel.context, MAPPINGS, 'private')

    def _acls(self, vm_name='vm1', port_id=PORT_A):
        """{Acl: weight} on the port's vNIC in the simulated world."""
        return {acls.Acl.from_wmi(a): a['Weight']
                for a in self.state.nic_acls(vm_name, port_id)}

    def _wired_port_a(self):
        """vm1's vNIC of PORT_A, wired and filtered, its port ACTIVE."""
        self._vm('vm1', [PORT_A])
        self._bound_here(PORT_A)
        self.agent.sync_once()
        self.ports[PORT_A]['status'] = 'ACTIVE'

    def _vm(self, name, nics, node=NODE):
        self.state.create_vm(name, node, constants.VM_GEN_2,
                             self.cluster.instances_path)
        for nic in nics:
            self.state.add_nic(name, nic)

    def _bound_here(self, port_id, status='DOWN', **details):
        self.ports[port_id] = _port(port_id, status)
        self.details[port_id] = _details(port_id, **details)

    def _ups(self):
        return [c.args[1] for c in
                self.plugin_rpc.update_device_up.call_args_list]

    def _downs(self):
        return [c.args[1] for c in
                self.plugin_rpc.update_device_down.call_args_list]

    def test_a_vnic_of_a_port_bound_here_is_wired_and_reported_up(self):
        self._vm('vm1', [PORT_A])
        self._bound_here(PORT_A)
        self.agent.sync_once()
        self.assertEqual({PORT_A: 'external'},
                         self.state.nic_vswitches(node=NODE))
        self.plugin_rpc.update_device_up.assert_called_once_with(
            mock.sentinel.context, PORT_A, 'hvc-neutron-agent-' + NODE, NODE)
        self.plugin_rpc.get_ports_by_vnic_type_and_host.assert_called_with(
            mock.ANY, 'normal', NODE)
        # ACTIVE now: nothing more to do.
        self.ports[PORT_A]['status'] = 'ACTIVE'
        self.agent.sync_once()
        self.assertEqual([PORT_A], self._ups())
        self.assertEqual(1, self.agent.agent_state()['configurations'][
            'devices'])

    def test_a_vlan_port_is_tagged_and_a_local_one_on_the_private_switch(
            self):
        self._vm('vm1', [PORT_A, PORT_B])
        self._bound_here(PORT_A, network_type='vlan', segmentation_id=101)
        self._bound_here(PORT_B, network_type='local', physnet=None)
        self.agent.sync_once()
        self.assertEqual({PORT_A: 'external', PORT_B: 'private'},
                         self.state.nic_vswitches(node=NODE))
        self.assertEqual({PORT_A: 101}, self.state.nic_vlans('vm1'))
        self.assertEqual([PORT_A, PORT_B], sorted(self._ups()))

    def test_a_port_bound_here_again_is_wired_again(self):
        """Bound elsewhere and back (a failover there and back, a move):
        the port is DOWN though the agent wired its vNIC before.
        """
        self._vm('vm1', [PORT_A])
        self._bound_here(PORT_A)
        self.agent.sync_once()
        self.ports[PORT_A]['status'] = 'DOWN'
        self.agent.sync_once()
        self.assertEqual([PORT_A, PORT_A], self._ups())

    def test_an_active_port_whose_vnic_is_new_here_is_wired(self):
        """The agent restarted, or the VM came back with its port still
        ACTIVE: its vNIC is connected all the same.
        """
        self._vm('vm1', [PORT_A])
        self._bound_here(PORT_A, status='ACTIVE')
        self.agent.sync_once()
        self.assertEqual({PORT_A: 'external'},
                         self.state.nic_vswitches(node=NODE))
        self.assertEqual([PORT_A], self._ups())

    def test_a_port_not_bound_here_waits(self):
        """Another VM's vNIC of no port of this host, and a port whose
        active binding is not here yet (a live migration's destination
        before nova activates it): nothing wired, asked again later.
        """
        self._vm('vm1', [PORT_A, PORT_B])
        self.ports[PORT_A] = _port(PORT_A)
        self.agent.sync_once()
        self.plugin_rpc.get_devices_details_list.assert_called_once_with(
            mock.ANY, [PORT_A], mock.ANY, NODE)
        self.assertEqual({}, self.state.nic_vswitches(node=NODE))
        self.assertEqual([], self._ups())
        self.details[PORT_A] = _details(PORT_A)
        self.agent.sync_once()
        self.assertEqual([PORT_A], self._ups())

    def test_a_gone_vnic_is_reported_down_once(self):
        self._vm('vm1', [PORT_A])
        self._bound_here(PORT_A)
        self.agent.sync_once()
        self.state.delete_vm('vm1')
        self.agent.sync_once()
        self.agent.sync_once()
        self.assertEqual([PORT_A], self._downs())
        self.assertEqual(0, self.agent.agent_state()['configurations'][
            'devices'])

    def test_a_vnic_made_again_between_two_rounds_is_wired_again(self):
        """Its VM destroyed and made again between two rounds (nova's
        rebuild, in a fraction of a second): the same name, on no switch.
        Reported down and wired again, its port goes DOWN and back ACTIVE:
        nova's rebuild waits for that (network-vif-plugged).
        """
        self._vm('vm1', [PORT_A, PORT_B])
        self._bound_here(PORT_A)
        self._bound_here(PORT_B)
        self.agent.sync_once()
        self.ports[PORT_A]['status'] = self.ports[PORT_B]['status'] = (
            'ACTIVE')
        self.state.delete_vm('vm1')
        self._vm('vm1', [PORT_A])
        self._vm('vm2', [PORT_B])
        self.state.connect_nic(NODE, PORT_B, 'external')
        self.agent.sync_once()
        self.assertEqual([PORT_A], self._downs())
        self.assertEqual([PORT_A, PORT_B, PORT_A], self._ups())
        self.assertEqual({PORT_A: 'external', PORT_B: 'external'},
                         self.state.nic_vswitches(node=NODE))
        self.assertIn('on no switch', self.logger.output)
        # Connected again: nothing more.
        self.ports[PORT_A]['status'] = 'ACTIVE'
        self.agent.sync_once()
        self.assertEqual(([PORT_A], 3), (self._downs(), len(self._ups())))

    def test_another_node_s_vnics_are_not_this_node_s(self):
        self._vm('vm2', [PORT_A], node='node2')
        self._bound_here(PORT_A)
        self.agent.sync_once()
        self.assertEqual([], self._ups())
        # With no vNIC and none wired, neutron is not even asked.
        self.plugin_rpc.get_ports_by_vnic_type_and_host.assert_not_called()

    def test_one_port_s_failure_holds_no_other_port_up(self):
        self._vm('vm1', [PORT_A, PORT_B])
        self._bound_here(PORT_A)
        self._bound_here(PORT_B)
        self.plugin_rpc.update_device_up.side_effect = [
            RuntimeError('the RPC server went away'), None]
        self.agent.sync_once()
        self.assertIn('the RPC server went away', self.logger.output)
        self.assertEqual([PORT_A, PORT_B], self._ups())
        # The failed one again, the next round.
        self.plugin_rpc.update_device_up.side_effect = None
        self.ports[PORT_B]['status'] = 'ACTIVE'
        self.agent.sync_once()
        self.assertEqual([PORT_A, PORT_B, PORT_A], self._ups())

    def test_a_port_on_an_unmapped_physical_network_is_left_alone(self):
        self._vm('vm1', [PORT_A])
        self._bound_here(PORT_A, physnet='physnet9')
        self.agent.sync_once()
        self.assertEqual([], self._ups())
        self.assertIn('physnet9', self.logger.output)

    def test_an_administratively_down_port_is_reported_down_once(self):
        self._vm('vm1', [PORT_A])
        self._bound_here(PORT_A, admin_state_up=False)
        self.ports[PORT_A]['admin_state_up'] = False
        self.agent.sync_once()
        self.agent.sync_once()
        self.assertEqual(({PORT_A: 'external'}, [], [PORT_A]), (
            self.state.nic_vswitches(node=NODE), self._ups(),
            self._downs()))

    def test_state_reports_name_the_agent_and_its_mappings(self):
        self.agent.report_state()
        self.agent.report_state()
        first, second = [c.args[1] for c in
                         self.state_rpc.report_state.call_args_list]
        self.assertEqual(
            ('hvc-neutron-agent', NODE, 'HyperV agent', MAPPINGS, True),
            (first['binary'], first['host'], first['agent_type'],
             first['configurations']['vswitch_mappings'],
             first.get('start_flag')))
        self.assertNotIn('start_flag', second)

    def test_run_reports_and_rounds_until_stopped(self):
        self._vm('vm1', [PORT_A])
        self._bound_here(PORT_A)
        self.plugin_rpc.update_device_up.side_effect = (
            lambda *args: self.agent.stop())
        self.agent.run()
        self.assertEqual([PORT_A], self._ups())
        self.state_rpc.report_state.assert_called()

    # Security groups.

    def test_a_port_is_filtered_before_it_is_reported_up(self):
        self._vm('vm1', [PORT_A])
        self._bound_here(PORT_A)
        seen = []
        self.plugin_rpc.update_device_up.side_effect = (
            lambda *args: seen.append(set(self._acls())))
        self.agent.sync_once()
        wanted = acls.port_acls({'security_group_rules': RULES})
        self.assertEqual([wanted], seen)
        self.assertIn(SSH, wanted)
        self.sg_rpc.security_group_rules_for_devices.assert_called_once_with(
            mock.sentinel.context, [PORT_A])

    def test_a_port_whose_acls_fail_is_not_reported_up(self):
        self._vm('vm1', [PORT_A])
        self._bound_here(PORT_A)
        self.state.arm_fault('networkutils.create_security_rules')
        self.agent.sync_once()
        self.assertEqual([], self._ups())
        self.assertIn('simulated failure', self.logger.output)
        self.agent.sync_once()
        self.assertEqual([PORT_A], self._ups())
        self.assertIn(SSH, self._acls())

    def test_a_cast_change_is_applied_at_the_next_round_as_a_diff(self):
        self._wired_port_a()
        before = self._acls()
        https = {'direction': 'ingress', 'ethertype': 'IPv4',
                 'protocol': 'tcp', 'port_range_min': 443,
                 'port_range_max': 443}
        self.sg_ports[PORT_A] = {'id': PORT_A, 'security_group_rules': [
            RULES[0], https]}
        # Nothing cast yet: nothing asked.
        self.agent.sync_once()
        self.assertEqual(before, self._acls())
        agent.SecurityGroupCasts(self.agent).security_groups_rule_updated(
            mock.sentinel.context, security_groups=['sg-1'])
        self.agent.sync_once()
        after = self._acls()
        self.assertNotIn(SSH, after)
        https_acl = acls.Acl(acls.DIRECTION_IN, acls.ACTION_ALLOW, '6',
                             '443', '0.0.0.0/0', True)
        self.assertIn(https_acl, after)
        # Only the difference was written: what stayed kept its weight.
        del before[SSH]
        del after[https_acl]
        self.assertEqual(before, after)

    def test_the_acls_are_looked_at_again_without_a_cast(self):
        self.agent = agent.HypervNeutronAgent(
            NODE, self.networkutils, self.plugin_rpc, self.state_rpc,
            self.sg_rpc, mock.sentinel.context, MAPPINGS, 'private',
            acl_resync_interval=0)
        self._wired_port_a()
        self.sg_ports[PORT_A] = {'id': PORT_A, 'security_group_rules': [
            RULES[0]]}
        self.agent.sync_once()
        self.assertNotIn(SSH, self._acls())

    def test_a_port_without_port_security_loses_its_acls(self):
        self._wired_port_a()
        self.sg_ports[PORT_A] = {'id': PORT_A, 'security_group_rules': [],
                                 'port_security_enabled': False}
        agent.SecurityGroupCasts(self.agent).security_groups_member_updated(
            mock.sentinel.context, security_groups=['sg-1'])
        self.agent.sync_once()
        self.assertEqual({}, self._acls())

    def test_a_new_agent_changes_only_what_differs(self):
        """Restarted, or the VM failed over here with its ACLs: what the
        vNIC has is read, and only the difference is written.
        """
        self._vm('vm1', [PORT_A])
        self._bound_here(PORT_A)
        self.agent.sync_once()
        before = self._acls()
        self.sg_ports[PORT_A] = {'id': PORT_A, 'security_group_rules': [
            RULES[0]]}
        self._agent().sync_once()
        del before[SSH]
        self.assertEqual(before, self._acls())

    def test_a_change_neutron_could_not_give_is_asked_again(self):
        self._wired_port_a()
        self.sg_ports[PORT_A] = {'id': PORT_A, 'security_group_rules': [
            RULES[0]]}
        answer = self.sg_rpc.security_group_rules_for_devices.side_effect
        self.sg_rpc.security_group_rules_for_devices.side_effect = (
            RuntimeError('the RPC server went away'))
        self.agent.refresh_acls()
        self.assertRaises(RuntimeError, self.agent.sync_once)
        self.sg_rpc.security_group_rules_for_devices.side_effect = answer
        self.agent.sync_once()
        self.assertNotIn(SSH, self._acls())
