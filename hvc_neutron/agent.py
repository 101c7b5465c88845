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

"""hvc-neutron-agent: the ports of one Hyper-V host's vNICs, wired and
reported up.

nova's Hyper-V drivers name a port's vNIC by the port id. Every
``polling_interval`` the agent lists the host's vNICs (through the host's
hvc-agent) and the ports neutron has bound to the host, and:

- a vNIC whose port is bound here and that the agent has not wired yet, or
  whose port is not ACTIVE (bound here again: a failover back, a move),
  is connected to the virtual switch of its segment's physical network
  (tagged with the segment's VLAN), and reported up: the port goes ACTIVE
  and neutron tells nova (network-vif-plugged);
- a vNIC the agent wired that is gone (deleted, failed over, migrated) is
  reported down; neutron ignores that if the port is bound elsewhere
  already. So is one that is on no switch any more: a new vNIC of the
  same name, its VM destroyed and made again between two rounds (nova's
  rebuild does that in a fraction of a second); it is then wired as a new
  one, and its port goes DOWN and back ACTIVE, which nova's rebuild may be
  waiting for (network-vif-plugged).

A vNIC is filtered before its port is reported up: its security groups
become the extended ACLs of its switch port (``hvc_neutron.acls``), and
the agent changes only what differs from what the port has. They are
looked at again when neutron casts a change of a security group's rules
or members (which sets a flag the next round sees), and every
``acl_resync_interval`` in case a cast was lost. The ACLs are the VM's:
they move with it (failover, live migration).

A vNIC whose port is bound to no host or another one (a live migration's
destination before nova activates its binding here) waits for a later
round. Its state goes to neutron every ``[AGENT] report_interval``, with
its ``vswitch_mappings``, which the ``hyperv`` mechanism driver binds
with.
"""

import threading
import time

from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from oslo_log import log as logging
import oslo_messaging

from hvc_neutron import acls as acls_mod
from hvc_neutron import mech_driver

LOG = logging.getLogger(__name__)

BINARY = 'hvc-neutron-agent'


class HypervNeutronAgent(object):
    """The agent of Hyper-V host ``host`` (nova-compute's host name).

    ``networkutils``: os-win's networkutils of the host (through its
    hvc-agent); ``plugin_rpc``: neutron.agent.rpc.PluginApi;
    ``state_rpc``: neutron.agent.rpc.PluginReportStateAPI; ``sg_rpc``:
    neutron's SecurityGroupServerRpcApi; ``context``: the (admin)
    context of the RPC calls.
    """

    def __init__(self, host, networkutils, plugin_rpc, state_rpc, sg_rpc,
                 context, vswitch_mappings, local_network_vswitch,
                 polling_interval=1.0, report_interval=30,
                 acl_resync_interval=60):
        self.host = host
        self.agent_id = '%s-%s' % (BINARY, host)
        self._networkutils = networkutils
        self._plugin_rpc = plugin_rpc
        self._state_rpc = state_rpc
        self._sg_rpc = sg_rpc
        self._vswitch_mappings = dict(vswitch_mappings)
        self._local_network_vswitch = local_network_vswitch
        self._polling_interval = polling_interval
        self._report_interval = report_interval
        self._acl_resync_interval = acl_resync_interval
        self._context = context
        # The vNICs wired and reported up by this agent, by port id.
        self._wired = set()
        # The ACLs on the switch port of each wired vNIC, as last set or
        # read (a frozenset of acls.Acl).
        self._acls = {}
        self._acls_changed = threading.Event()
        self._acls_resynced = time.monotonic()
        self._started = True
        self._stop = threading.Event()

    # State reports.

    def agent_state(self):
        state = {'binary': BINARY, 'host': self.host, 'topic': 'N/A',
                 'agent_type': mech_driver.AGENT_TYPE,
                 'configurations': {
                     'vswitch_mappings': self._vswitch_mappings,
                     'local_network_vswitch': self._local_network_vswitch,
                     'devices': len(self._wired)}}
        if self._started:
            state['start_flag'] = True
        return state

    def report_state(self):
        try:
            self._state_rpc.report_state(self._context, self.agent_state())
            self._started = False
        except Exception:
            # Reported again at the next interval; neutron marks the agent
            # down only after agent_down_time.
            LOG.exception('Reporting the state of %s to neutron failed',
                          self.agent_id)

    # The vNICs.

    def sync_once(self):
        """One look at the host's vNICs and the ports bound to it."""
        vnics = set(self._networkutils.get_vnic_ids())
        if not vnics and not self._wired:
            return
        # Wired, and on no switch now: a new vNIC of the same name.
        made_again = vnics & self._wired
        if made_again:
            made_again -= set(self._networkutils.get_connected_vnic_ids())
        for port_id in sorted((self._wired - vnics) | made_again):
            self._plugin_rpc.update_device_down(
                self._context, port_id, self.agent_id, self.host)
            self._wired.discard(port_id)
            self._acls.pop(port_id, None)
            LOG.info('The vNIC of port %s is %s: reported down', port_id,
                     'on no switch (made again)' if port_id in made_again
                     else 'gone')
        bound_here = {
            port['id']: port for port in
            self._plugin_rpc.get_ports_by_vnic_type_and_host(
                self._context, portbindings.VNIC_NORMAL, self.host)}
        to_wire = sorted(
            port_id for port_id in vnics & set(bound_here)
            if port_id not in self._wired or
            (bound_here[port_id]['admin_state_up'] and
             bound_here[port_id]['status'] != constants.PORT_STATUS_ACTIVE))
        if to_wire:
            self._wire_all(to_wire)
        if self._acls_changed.is_set() or (
                time.monotonic() - self._acls_resynced >
                self._acl_resync_interval):
            self._acls_changed.clear()
            self._acls_resynced = time.monotonic()
            self._filter_all(sorted(self._wired))

    def refresh_acls(self):
        """A security group changed: the wired ports' ACLs are compared
        with their security groups at the next round.
        """
        self._acls_changed.set()

    def _wire_all(self, port_ids):
        rules = self._security_group_rules(port_ids)
        for details in self._plugin_rpc.get_devices_details_list(
                self._context, port_ids, self.agent_id, self.host):
            try:
                self._wire(details, rules.get(details['device']))
            except Exception:
                # One port's failure does not hold the others up; it is
                # tried again at the next round.
                LOG.exception('Wiring the vNIC of port %s failed',
                              details.get('device'))

    def _filter_all(self, port_ids):
        try:
            rules = self._security_group_rules(port_ids)
        except Exception:
            # neutron did not answer: the next round asks again.
            self._acls_changed.set()
            raise
        for port_id in port_ids:
            if port_id not in rules:
                continue
            try:
                self._filter(port_id, rules[port_id])
            except Exception:
                LOG.exception('Setting the ACLs of port %s failed; the '
                              'next round tries again', port_id)
                # Half done, maybe: what the vNIC has is read again.
                self._acls.pop(port_id, None)
                self._acls_changed.set()

    def _security_group_rules(self, port_ids):
        """{port id: the port with its security group rules} (neutron's
        security_group_rules_for_devices: remote groups expanded to IPs).
        """
        if not port_ids:
            return {}
        return self._sg_rpc.security_group_rules_for_devices(
            self._context, list(port_ids))

    def _filter(self, port_id, port):
        """Make the ACLs of the port's vNIC those of its security groups:
        stale ones removed first, then the deny ACLs added before any
        allow ACL (os-win weighs one Action per call).
        """
        wanted = acls_mod.port_acls(port)
        have = self._acls.get(port_id)
        if have is None:
            have = frozenset(
                acls_mod.Acl.from_wmi(acl) for acl in
                self._networkutils.get_security_rules(port_id))
        stale, missing = have - wanted, wanted - have
        if stale:
            self._networkutils.remove_security_rules(
                port_id, [acl.to_wmi() for acl in sorted(stale)])
        for action in (acls_mod.ACTION_DENY, acls_mod.ACTION_ALLOW):
            new = sorted(acl for acl in missing if acl.action == action)
            if new:
                self._networkutils.create_security_rules(
                    port_id, [acl.to_wmi() for acl in new])
        self._acls[port_id] = wanted
        if stale or missing:
            LOG.info('Port %s: %d ACLs added, %d removed (%d on its vNIC)',
                     port_id, len(missing), len(stale), len(wanted))

    def _vswitch(self, details):
        """The virtual switch of the port's segment (None: not here)."""
        if details['network_type'] == constants.TYPE_LOCAL:
            return self._local_network_vswitch
        return self._vswitch_mappings.get(details['physical_network'])

    def _wire(self, details, port):
        """Connect, tag and filter the vNIC of a port, then report it.
        ``port``: the port with its security group rules (None: neutron
        has none for it yet, a later round).
        """
        port_id = details['device']
        if 'port_id' not in details or port is None:
            # Not bound here (yet): a later round.
            LOG.debug('Port %s has no active binding on %s', port_id,
                      self.host)
            return
        vswitch = self._vswitch(details)
        if vswitch is None:
            LOG.warning('Port %s is on physical network %s, which '
                        'vswitch_mappings does not map', port_id,
                        details['physical_network'])
            return
        self._networkutils.connect_vnic_to_vswitch(vswitch, port_id)
        if details['network_type'] == constants.TYPE_VLAN:
            self._networkutils.set_vswitch_port_vlan_id(
                details['segmentation_id'], port_id)
        # Filtered before it is up: no traffic the security groups do not
        # allow, ever. What it had (it moved here, the agent restarted)
        # is read again.
        self._acls.pop(port_id, None)
        self._filter(port_id, port)
        if details['admin_state_up']:
            self._plugin_rpc.update_device_up(
                self._context, port_id, self.agent_id, self.host)
        else:
            self._plugin_rpc.update_device_down(
                self._context, port_id, self.agent_id, self.host)
        self._wired.add(port_id)
        LOG.info('Port %s: vNIC on virtual switch %s%s, reported %s',
                 port_id, vswitch,
                 (' VLAN %s' % details['segmentation_id']
                  if details['network_type'] == constants.TYPE_VLAN
                  else ''),
                 'up' if details['admin_state_up'] else 'down')

    # Running.

    def _report_loop(self):
        while not self._stop.is_set():
            self.report_state()
            self._stop.wait(self._report_interval)

    def run(self):
        """Until ``stop``: state reports in a thread of their own (a slow
        round must not make the agent look dead), rounds in this one.
        """
        reporter = threading.Thread(target=self._report_loop,
                                    name='report-state', daemon=True)
        reporter.start()
        LOG.info('%s started on %s (vswitch_mappings %s)', BINARY,
                 self.host, self._vswitch_mappings)
        while not self._stop.is_set():
            try:
                self.sync_once()
            except Exception:
                LOG.exception('A round of %s failed; the next one tries '
                              'again', BINARY)
            self._stop.wait(self._polling_interval)
        reporter.join(10)

    def stop(self):
        self._stop.set()


class SecurityGroupCasts(object):
    """The endpoint of neutron's security group casts to the agents
    (``q-agent-notifier-security_group-update``, fanout): each change
    makes the agent look at its ports' ACLs at its next round.
    """

    target = oslo_messaging.Target(version='1.3')

    def __init__(self, agent):
        self._agent = agent

    def security_groups_rule_updated(self, context, **kwargs):
        self._agent.refresh_acls()

    def security_groups_member_updated(self, context, **kwargs):
        self._agent.refresh_acls()

    def security_groups_provider_updated(self, context, **kwargs):
        self._agent.refresh_acls()
