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

"""A port's security group rules as Hyper-V extended port ACLs."""

import testtools

from hvc_neutron import acls
from hvc_neutron.acls import Acl
from hvc_oswin_api import constants

IN, OUT, ALLOW = acls.DIRECTION_IN, acls.DIRECTION_OUT, acls.ACTION_ALLOW


def _port(*rules, **extra):
    """A port as security_group_rules_for_devices returns it."""
    return dict({'id': 'port-1', 'security_group_rules': list(rules)},
                **extra)


class TestPortAcls(testtools.TestCase):

    def test_neutron_s_default_group(self):
        """Egress anywhere, ingress from the group's members (expanded to
        their IPs by neutron), and neutron's DHCP rule.
        """
        port = _port(
            {'direction': 'egress', 'ethertype': 'IPv4'},
            {'direction': 'egress', 'ethertype': 'IPv6'},
            {'direction': 'ingress', 'ethertype': 'IPv4',
             'source_ip_prefix': '10.0.0.7/32'},
            {'direction': 'ingress', 'ethertype': 'IPv4', 'protocol': 'udp',
             'port_range_min': 68, 'port_range_max': 68,
             'source_port_range_min': 67, 'source_port_range_max': 67,
             'dest_ip_prefix': '10.0.0.5/32'})
        allowed = acls.port_acls(port) - acls.deny_acls()
        self.assertEqual({
            Acl(OUT, ALLOW, '6', 'ANY', '0.0.0.0/0', True),
            Acl(OUT, ALLOW, '17', 'ANY', '0.0.0.0/0', True),
            Acl(OUT, ALLOW, '1', 'ANY', '0.0.0.0/0', False),
            Acl(OUT, ALLOW, '58', 'ANY', '0.0.0.0/0', False),
            Acl(OUT, ALLOW, '6', 'ANY', '::/0', True),
            Acl(OUT, ALLOW, '17', 'ANY', '::/0', True),
            Acl(OUT, ALLOW, '1', 'ANY', '::/0', False),
            Acl(OUT, ALLOW, '58', 'ANY', '::/0', False),
            Acl(IN, ALLOW, '6', 'ANY', '10.0.0.7/32', True),
            Acl(IN, ALLOW, '17', 'ANY', '10.0.0.7/32', True),
            Acl(IN, ALLOW, '1', 'ANY', '10.0.0.7/32', False),
            Acl(IN, ALLOW, '58', 'ANY', '10.0.0.7/32', False),
            # DHCP's answers from anywhere to the port's bootpc port.
            Acl(IN, ALLOW, '17', '68', '0.0.0.0/0', True),
        }, allowed)

    def test_sixteen_deny_acls_under_the_allows(self):
        denies = acls.port_acls(_port())
        self.assertEqual(acls.deny_acls(), denies)
        self.assertEqual(acls.DENY_ACL_COUNT, len(denies))
        self.assertEqual({acls.ACTION_DENY}, {a.action for a in denies})
        self.assertEqual({(d, p) for d in (IN, OUT)
                          for p in ('6', '17', '1', '58')},
                         {(a.direction, a.protocol) for a in denies})

    def test_ports_protocols_and_addresses(self):
        port = _port(
            {'direction': 'ingress', 'ethertype': 'IPv4', 'protocol': 'tcp',
             'port_range_min': 8000, 'port_range_max': 8080,
             'source_ip_prefix': '192.0.2.0/24'},
            {'direction': 'ingress', 'ethertype': 'IPv6', 'protocol': 'icmp',
             'port_range_min': 128, 'port_range_max': 0,
             'source_ip_prefix': '2001:db8::5/128'},
            {'direction': 'egress', 'ethertype': 'IPv4', 'protocol': '47'},
            {'direction': 'egress', 'ethertype': 'IPv4',
             'protocol': 'sctp'})
        self.assertEqual({
            Acl(IN, ALLOW, '6', '8000-8080', '192.0.2.0/24', True),
            # ICMPv6, any type: Hyper-V's ACLs have no ICMP type. A host's
            # IPv6 address goes without /128 (40 characters at most).
            Acl(IN, ALLOW, '58', 'ANY', '2001:db8::5', False),
            Acl(OUT, ALLOW, '47', 'ANY', '0.0.0.0/0', False),
            Acl(OUT, ALLOW, '132', 'ANY', '0.0.0.0/0', False),
        }, acls.port_acls(port) - acls.deny_acls())

    def test_a_port_without_port_security_has_none(self):
        port = _port({'direction': 'egress', 'ethertype': 'IPv4'},
                     port_security_enabled=False)
        self.assertEqual(frozenset(), acls.port_acls(port))

    def test_a_protocol_that_is_none_is_refused(self):
        self.assertRaises(ValueError, acls.port_acls, _port(
            {'direction': 'egress', 'ethertype': 'IPv4',
             'protocol': 'nonsense'}))

    def test_wmi_properties_round_trip(self):
        acl = Acl(IN, ALLOW, '6', '22', '10.0.0.0/8', True)
        wmi = acl.to_wmi()
        self.assertEqual({'Direction': 1, 'Action': 1, 'Protocol': '6',
                          'LocalPort': '22', 'RemoteIPAddress': '10.0.0.0/8',
                          'Stateful': True, 'IdleSessionTimeout': 0}, wmi)
        self.assertEqual(acl, Acl.from_wmi(dict(wmi, Weight=65499)))
        # What the seam's networkutils takes.
        self.assertEqual(set(constants.SECURITY_RULE_FIELDS), set(wmi))
