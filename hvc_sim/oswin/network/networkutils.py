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

import re
import uuid

from hvc_oswin_api import constants as oswin_const
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin import base

# Msvm_EthernetSwitchPortExtendedAclSettingData, as Hyper-V checks it
# (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/
# msvm-ethernetswitchportextendedaclsettingdata): Direction 1 (in) or 2
# (out), Action 1 (allow) or 2 (deny), addresses of 40 characters at most.
ACL_FIELDS = oswin_const.SECURITY_RULE_FIELDS
ACL_ALLOW, ACL_DENY = 1, 2
_ACL_ADDRESS_MAX = 40
_ACL_PORT = re.compile(r'^(ANY|\d{1,5}(-\d{1,5})?)$')
_ACL_PROTOCOL = re.compile(r'^(ANY|\d{1,3})$')
# os-win's NetworkUtilsR2 weights: deny ACLs take 1 to 16, allow ACLs
# count down from 65499 (the highest weight that matches decides).
_MAX_WEIGHT = 65500
_DENY_WEIGHTS = range(1, 17)


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

    @base.faultable(os_win_exc.HyperVException)
    def create_security_rules(self, switch_port_name, sg_rules):
        """os-win's NetworkUtilsR2.create_security_rules, with the rules
        as dicts of the ACL's WMI properties: those not on the port yet
        are added, weighted as os-win weighs them. All of one Action, as
        os-win's weights assume.
        """
        if len({rule['Action'] for rule in sg_rules}) > 1:
            raise ValueError('os-win weighs the ACLs of one call by the '
                             'first one\'s Action: allow and deny ACLs '
                             'go in separate calls')
        for rule in sg_rules:
            _check_acl(rule)

        def add(acls):
            new = []
            for rule in sg_rules:
                rule = {field: rule[field] for field in ACL_FIELDS}
                if rule not in [_unweighted(a) for a in acls + new]:
                    new.append(rule)
            for rule, weight in zip(new, _new_weights(new, acls)):
                acls.append(dict(rule, Weight=weight))
        self._change_acls(switch_port_name, add)

    @base.faultable(os_win_exc.HyperVException)
    def remove_security_rules(self, switch_port_name, sg_rules):
        """os-win's remove_security_rules: the port's ACLs equal to one of
        ``sg_rules`` (dicts) are removed.
        """
        gone = [{field: rule[field] for field in ACL_FIELDS}
                for rule in sg_rules]

        def remove(acls):
            acls[:] = [a for a in acls if _unweighted(a) not in gone]
        self._change_acls(switch_port_name, remove)

    @base.faultable(os_win_exc.HyperVException)
    def remove_all_security_rules(self, switch_port_name):
        self._change_acls(switch_port_name, list.clear)

    @base.faultable(os_win_exc.HyperVException)
    def get_security_rules(self, switch_port_name):
        """The port's ACLs, dicts of their WMI properties and Weight (the
        seam's, not os-win's).
        """
        found = []
        self._change_acls(switch_port_name, found.extend)
        return found

    def _change_acls(self, switch_port_name, change):
        # As os-win finds the port: its allocation, which only a vNIC
        # connected to a switch has.
        if not self._state.change_nic_acls(self._node, switch_port_name,
                                           change):
            raise os_win_exc.HyperVPortNotFoundException(
                port_name=switch_port_name)


def _unweighted(acl):
    return {field: acl[field] for field in ACL_FIELDS}


def _check_acl(rule):
    """Refuse what Hyper-V refuses (WMI's invalid parameter)."""
    problems = []
    if rule['Direction'] not in (1, 2):
        problems.append('Direction %r' % (rule['Direction'],))
    if rule['Action'] not in (ACL_ALLOW, ACL_DENY):
        problems.append('Action %r' % (rule['Action'],))
    if not _ACL_PORT.match(str(rule['LocalPort'])):
        problems.append('LocalPort %r' % (rule['LocalPort'],))
    if not _ACL_PROTOCOL.match(str(rule['Protocol'])):
        problems.append('Protocol %r' % (rule['Protocol'],))
    if len(rule['RemoteIPAddress']) > _ACL_ADDRESS_MAX:
        problems.append('RemoteIPAddress %r (over %d characters)' % (
            rule['RemoteIPAddress'], _ACL_ADDRESS_MAX))
    if problems:
        raise os_win_exc.HyperVException(
            'Invalid extended port ACL: %s' % ', '.join(problems))


def _new_weights(rules, acls):
    """The weights os-win's NetworkUtilsR2._get_new_weights gives
    ``rules`` (all of one Action) beside the port's ``acls``.
    """
    if not rules:
        return []
    taken = {a['Weight'] for a in acls if a['Action'] == rules[0]['Action']}
    if rules[0]['Action'] == ACL_DENY:
        free = [w for w in _DENY_WEIGHTS if w not in taken]
        if len(free) < len(rules):
            # os-win fails with an IndexError there.
            raise ValueError('a port holds %d deny ACLs at most'
                             % len(_DENY_WEIGHTS))
        return free[:len(rules)]
    weights, weight = [], min(taken, default=_MAX_WEIGHT) - 1
    for _rule in rules:
        if weight <= len(_DENY_WEIGHTS):
            # Down to the deny ACLs: the free weights from the top.
            weight = _MAX_WEIGHT - 1
        while weight in taken:
            weight -= 1
        weights.append(weight)
        weight -= 1
    return weights


def mac_address(nic):
    """The NIC's MAC address as WMI gives it (12 hex digits): the one it
    was made with, or a dynamic one from Hyper-V's range (00155D).
    """
    if nic.mac_address:
        return nic.mac_address.replace(':', '').replace('-', '').upper()
    digest = uuid.uuid5(uuid.NAMESPACE_OID,
                        '%s/%s' % (nic.vm_name, nic.name)).hex
    return ('00155D' + digest[:6]).upper()
