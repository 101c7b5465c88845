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

A vNIC whose port is bound to no host or another one (a live migration's
destination before nova activates its binding here) waits for a later
round. Its state goes to neutron every ``[AGENT] report_interval``, with
its ``vswitch_mappings``, which the ``hyperv`` mechanism driver binds
with.
"""

import threading

from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from oslo_log import log as logging

from hvc_neutron import mech_driver

LOG = logging.getLogger(__name__)

BINARY = 'hvc-neutron-agent'


class HypervNeutronAgent(object):
    """The agent of Hyper-V host ``host`` (nova-compute's host name).

    ``networkutils``: os-win's networkutils of the host (through its
    hvc-agent); ``plugin_rpc``: neutron.agent.rpc.PluginApi;
    ``state_rpc``: neutron.agent.rpc.PluginReportStateAPI; ``context``:
    the (admin) context of the RPC calls.
    """

    def __init__(self, host, networkutils, plugin_rpc, state_rpc, context,
                 vswitch_mappings, local_network_vswitch,
                 polling_interval=1.0, report_interval=30):
        self.host = host
        self.agent_id = '%s-%s' % (BINARY, host)
        self._networkutils = networkutils
        self._plugin_rpc = plugin_rpc
        self._state_rpc = state_rpc
        self._vswitch_mappings = dict(vswitch_mappings)
        self._local_network_vswitch = local_network_vswitch
        self._polling_interval = polling_interval
        self._report_interval = report_interval
        self._context = context
        # The vNICs wired and reported up by this agent, by port id.
        self._wired = set()
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
        if not to_wire:
            return
        for details in self._plugin_rpc.get_devices_details_list(
                self._context, to_wire, self.agent_id, self.host):
            try:
                self._wire(details)
            except Exception:
                # One port's failure does not hold the others up; it is
                # tried again at the next round.
                LOG.exception('Wiring the vNIC of port %s failed',
                              details.get('device'))

    def _vswitch(self, details):
        """The virtual switch of the port's segment (None: not here)."""
        if details['network_type'] == constants.TYPE_LOCAL:
            return self._local_network_vswitch
        return self._vswitch_mappings.get(details['physical_network'])

    def _wire(self, details):
        port_id = details['device']
        if 'port_id' not in details:
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
