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

"""A port's security groups as Hyper-V extended port ACLs: a pure function
of what neutron's ``security_group_rules_for_devices`` returns for the
port (its rules, remote groups already expanded to their members' IPs,
and neutron's own provider rules such as DHCP's).

Hyper-V's extended ACLs (Msvm_EthernetSwitchPortExtendedAclSettingData,
https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetswitchportextendedaclsettingdata)
allow or deny traffic by direction, protocol, local port and remote
address; of the ACLs that match a packet, the one of the highest weight
decides. There is no implicit deny, so a filtered port carries 16 deny
ACLs (both directions, IPv4 and IPv6, TCP, UDP, ICMP and ICMPv6) under
its allow ACLs, as networking-hyperv set them. os-win's NetworkUtilsR2
gives each ACL its weight: deny ACLs 1 to 16, allow ACLs from 65499
down, so an allow ACL always wins over the denies. os-win has room for
16 deny ACLs only, so other IP protocols are not filtered.

Allow ACLs for TCP and UDP are stateful (replies pass); neutron's
stateless security groups are applied as stateful ones. An ICMP rule's
type and code are not expressed (it allows all ICMP of its direction and
remote address), nor are the remote ports and local addresses of
neutron's provider rules (DHCP's answers pass from any port).
"""

import collections

from neutron_lib import constants

# Msvm_EthernetSwitchPortExtendedAclSettingData's values.
DIRECTION_IN = 1
DIRECTION_OUT = 2
ACTION_ALLOW = 1
ACTION_DENY = 2
ANY = 'ANY'
TCP, UDP, ICMP, ICMPV6 = '6', '17', '1', '58'
DENY_ACL_COUNT = 16
_DIRECTIONS = {'ingress': DIRECTION_IN, 'egress': DIRECTION_OUT}
_ANY_ADDRESS = {constants.IPv4: '0.0.0.0/0', constants.IPv6: '::/0'}
_FILTERED_PROTOCOLS = (TCP, UDP, ICMP, ICMPV6)
_STATEFUL_PROTOCOLS = (TCP, UDP)
# RemoteIPAddress holds 40 characters at most: a host's IPv6 address goes
# without its /128, as networking-hyperv sent it.
_HOST_PREFIX = '/128'


class Acl(collections.namedtuple('Acl', [
        'direction', 'action', 'protocol', 'local_port', 'remote_address',
        'stateful'])):
    """One extended port ACL, without its weight (os-win gives it)."""

    # The WMI properties, in the order of the fields.
    WMI_FIELDS = ('Direction', 'Action', 'Protocol', 'LocalPort',
                  'RemoteIPAddress', 'Stateful')

    def to_wmi(self):
        """The ACL as the seam's networkutils takes it: the WMI class's
        properties (IdleSessionTimeout 0, as networking-hyperv set it).
        """
        acl = dict(zip(self.WMI_FIELDS, self))
        acl['IdleSessionTimeout'] = 0
        return acl

    @classmethod
    def from_wmi(cls, acl):
        return cls(*(acl[field] for field in cls.WMI_FIELDS))


def deny_acls():
    """The 16 deny ACLs under a filtered port's allow ACLs."""
    return frozenset(
        Acl(direction, ACTION_DENY, protocol, ANY, address, False)
        for direction in (DIRECTION_IN, DIRECTION_OUT)
        for protocol in _FILTERED_PROTOCOLS
        for address in _ANY_ADDRESS.values())


def port_acls(port):
    """The ACLs of a port (a port of ``security_group_rules_for_devices``):
    the deny ACLs and an allow ACL per rule and protocol, or none for a
    port without port security.
    """
    if not port.get('port_security_enabled', True):
        return frozenset()
    allowed = set()
    for rule in port.get('security_group_rules', ()):
        allowed.update(_rule_acls(rule))
    return deny_acls() | allowed


def _rule_acls(rule):
    direction = _DIRECTIONS[rule['direction']]
    prefix_key = ('source_ip_prefix' if direction == DIRECTION_IN
                  else 'dest_ip_prefix')
    address = rule.get(prefix_key) or _ANY_ADDRESS[rule['ethertype']]
    if address.endswith(_HOST_PREFIX):
        address = address[:-len(_HOST_PREFIX)]
    protocol = _protocol_number(rule.get('protocol'), rule['ethertype'])
    protocols = _FILTERED_PROTOCOLS if protocol == ANY else (protocol,)
    for protocol in protocols:
        yield Acl(direction, ACTION_ALLOW, protocol,
                  _local_port(rule, protocol), address,
                  protocol in _STATEFUL_PROTOCOLS)


def _protocol_number(protocol, ethertype):
    """Hyper-V's Protocol for a rule's protocol (a name, a number or
    none): ANY or the IP protocol number.
    """
    if protocol in (None, ''):
        return ANY
    protocol = str(protocol).lower()
    if protocol == constants.PROTO_NAME_ICMP and (
            ethertype == constants.IPv6):
        return ICMPV6
    if protocol.isdigit():
        return protocol
    number = constants.IP_PROTOCOL_MAP.get(protocol)
    if number is None:
        raise ValueError('security group rule protocol %r is no IP '
                         'protocol' % protocol)
    return str(number)


def _local_port(rule, protocol):
    """LocalPort: the rule's port range for TCP and UDP, else ANY."""
    low, high = rule.get('port_range_min'), rule.get('port_range_max')
    if protocol not in _STATEFUL_PROTOCOLS or low is None:
        return ANY
    if high is None or high == low:
        return str(low)
    return '%s-%s' % (low, high)
