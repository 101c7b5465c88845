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

"""Wiring the vNICs of an instance's ports, by VIF type.

Every port gets a vNIC named by the port id (vmops makes it). Then:

- VIF type ``hyperv``: the Hyper-V neutron agent finds the vNIC by that
  name and binds it; nothing more to do here.
- VIF type ``ovs`` (Open vSwitch for Windows): the vNIC is connected to the
  Hyper-V virtual switch that carries the OVS extension
  (``[hyperv_cluster] vswitch_name``), then added to the port's OVS bridge
  as a port named after the vNIC, with the external ids the neutron OVS
  agent looks for (what os-vif's ovs plugin does on Windows). Unplugging
  removes that OVS port.

Other VIF types are refused before anything is made.
"""

from oslo_concurrency import processutils
from oslo_log import log as logging

import nova.conf
from nova import exception
from nova.network import model as network_model

from hvc_driver import exception as hvc_exc

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

SUPPORTED_VIF_TYPES = (network_model.VIF_TYPE_HYPERV,
                       network_model.VIF_TYPE_OVS)
# Seconds ovs-vsctl waits for ovsdb-server, as os-vif's default.
OVS_VSCTL_TIMEOUT = 120


def _bridge(vif):
    network = vif.get('network') or {}
    return network.get('bridge') or CONF.neutron.ovs_bridge


class VIFOps(object):

    def __init__(self, hyperv):
        self._hyperv = hyperv

    def check(self, vif):
        """Refuse, before anything is made, a port this node cannot wire."""
        if vif['type'] not in SUPPORTED_VIF_TYPES:
            raise hvc_exc.UnsupportedVifType(
                port_id=vif['id'], vif_type=vif['type'],
                supported=', '.join(SUPPORTED_VIF_TYPES))
        if (vif['type'] == network_model.VIF_TYPE_OVS and
                not CONF.hyperv_cluster.vswitch_name):
            raise hvc_exc.OvsVswitchNotConfigured(port_id=vif['id'])

    def plug(self, instance, vif):
        """Wire the vNIC of ``vif`` (made already, named by the port id)."""
        if vif['type'] != network_model.VIF_TYPE_OVS:
            return
        nic = vif['id']
        # The vNIC must be on the OVS extension's switch before OVS can
        # take it as a port.
        self._hyperv.networkutils.connect_vnic_to_vswitch(
            CONF.hyperv_cluster.vswitch_name, nic)
        # What the NIC sends and receives, for nova's diagnostics.
        self._hyperv.metricsutils.enable_port_metrics_collection(nic)
        bridge = _bridge(vif)
        external_ids = (
            ('iface-id', vif.get('ovs_interfaceid') or vif['id']),
            ('iface-status', 'active'),
            ('attached-mac', vif['address']),
            ('vm-uuid', instance.uuid))
        try:
            self._ovs_vsctl(
                ['--', '--may-exist', 'add-port', bridge, nic,
                 '--', 'set', 'Interface', nic] +
                ['external-ids:%s=%s' % kv for kv in external_ids])
        except processutils.ProcessExecutionError as e:
            raise exception.VirtualInterfacePlugException(
                'Adding the vNIC of port %s of instance %s to Open vSwitch '
                'bridge %s on node %s failed: %s'
                % (nic, instance.uuid, bridge, self._hyperv.node,
                   (e.stderr or str(e)).strip())) from e
        LOG.info('Port %s is on Open vSwitch bridge %s', nic, bridge,
                 instance=instance)

    def unplug(self, instance, vif):
        """Remove what plug added outside the VM (the OVS port)."""
        if vif['type'] != network_model.VIF_TYPE_OVS:
            return
        bridge = _bridge(vif)
        try:
            self._ovs_vsctl(['--', '--if-exists', 'del-port', bridge,
                             vif['id']])
        except processutils.ProcessExecutionError as e:
            raise exception.VirtualInterfaceUnplugException(
                reason='removing port %s of instance %s from Open vSwitch '
                       'bridge %s on node %s failed: %s'
                       % (vif['id'], instance.uuid, bridge,
                          self._hyperv.node,
                          (e.stderr or str(e)).strip())) from e

    def _ovs_vsctl(self, args):
        return self._hyperv.ovs_vsctl(args, OVS_VSCTL_TIMEOUT)
