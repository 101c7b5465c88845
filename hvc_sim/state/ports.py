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

"""The NICs' virtual switch ports and the nodes' Open vSwitch ports."""

import json

from hvc_sim.state import records


class Ports(object):
    """ClusterState's switch ports."""

    # Hyper-V virtual switch ports of the NICs, and each node's Open
    # vSwitch ports (its OVS database).

    def connect_nic(self, node, nic_name, vswitch):
        """Connect the NIC called ``nic_name`` of a VM ``node`` runs to a
        virtual switch; False if ``node`` runs no VM with such a NIC.
        """
        with self._db(write=True) as conn:
            vm_name = _vm_of_nic(conn, node, nic_name)
            if vm_name is None:
                return False
            # Moved to another switch, the port keeps its features (its
            # ACLs): an update, not a replace.
            conn.execute('INSERT INTO nic_vswitches VALUES (?, ?, ?) '
                         'ON CONFLICT (vm_name, nic_name) DO UPDATE SET '
                         'vswitch = excluded.vswitch',
                         (vm_name, nic_name, vswitch))
            return True

    def set_nic_vlan(self, node, nic_name, vlan_id):
        """Tag the switch port of the NIC ``nic_name`` of a VM ``node``
        runs with VLAN ``vlan_id`` (access mode); False if ``node`` runs no
        VM with such a NIC.
        """
        with self._db(write=True) as conn:
            vm_name = _vm_of_nic(conn, node, nic_name)
            if vm_name is None:
                return False
            conn.execute('INSERT OR REPLACE INTO nic_vlans VALUES (?, ?, ?)',
                         (vm_name, nic_name, vlan_id))
            return True

    def nic_vlans(self, vm_name):
        """{NIC name: VLAN id} of the tagged NICs of VM ``vm_name``."""
        with self._db() as conn:
            return {r['nic_name']: r['vlan_id'] for r in conn.execute(
                'SELECT * FROM nic_vlans WHERE vm_name = ?', (vm_name,))}

    def nic_vswitches(self, node=None, vm_name=None):
        """{NIC name: virtual switch} of the connected NICs of the VMs of
        ``node``, or of VM ``vm_name``.
        """
        query = ('SELECT nic_vswitches.* FROM nic_vswitches JOIN vms ON '
                 'vms.name = nic_vswitches.vm_name WHERE 1')
        params = []
        if node is not None:
            query += ' AND vms.node = ?'
            params.append(node)
        if vm_name is not None:
            query += ' AND vms.name = ?'
            params.append(vm_name)
        with self._db() as conn:
            return {r['nic_name']: r['vswitch']
                    for r in conn.execute(query, params)}

    def change_nic_acls(self, node, nic_name, change):
        """Change the extended ACLs of the switch port of the NIC
        ``nic_name`` of a VM ``node`` runs, in one transaction.

        ``change(acls)`` gets the port's ACLs (a list of dicts) and changes
        it in place (or raises: nothing changes). False if ``node`` runs
        no VM with such a NIC connected to a switch.
        """
        with self._db(write=True) as conn:
            vm_name = _vm_of_nic(conn, node, nic_name)
            if vm_name is None or conn.execute(
                    'SELECT 1 FROM nic_vswitches WHERE vm_name = ? AND '
                    'nic_name = ?', (vm_name, nic_name)).fetchone() is None:
                return False
            before = _acls(conn, vm_name, nic_name)
            acls = list(before)
            change(acls)
            if acls == before:
                return True
            conn.execute('DELETE FROM nic_acls WHERE vm_name = ? AND '
                         'nic_name = ?', (vm_name, nic_name))
            conn.executemany('INSERT INTO nic_acls VALUES (?, ?, ?)', [
                (vm_name, nic_name, json.dumps(acl, sort_keys=True))
                for acl in acls])
            return True

    def nic_acls(self, vm_name, nic_name):
        """The extended ACLs of a NIC's switch port (dicts)."""
        with self._db() as conn:
            return _acls(conn, vm_name, nic_name)

    def change_ovs_ports(self, node, change):
        """Change the OVS ports of ``node`` in one transaction, as one
        ovs-vsctl run does.

        ``change(ports, nic_vswitches)`` gets {port name: {'bridge': ...,
        'external_ids': {...}}} and the node's {NIC name: virtual switch},
        and changes ``ports`` in place (or raises: nothing changes).
        """
        with self._db(write=True) as conn:
            ports = {r['name']: {'bridge': r['bridge'],
                                 'external_ids': json.loads(
                                     r['external_ids'])}
                     for r in conn.execute(
                         'SELECT * FROM ovs_ports WHERE node = ?', (node,))}
            nics = {r['nic_name']: r['vswitch'] for r in conn.execute(
                'SELECT nic_vswitches.* FROM nic_vswitches JOIN vms ON '
                'vms.name = nic_vswitches.vm_name WHERE vms.node = ?',
                (node,))}
            result = change(ports, nics)
            conn.execute('DELETE FROM ovs_ports WHERE node = ?', (node,))
            conn.executemany(
                'INSERT INTO ovs_ports VALUES (?, ?, ?, ?)',
                [(node, name, port['bridge'],
                  json.dumps(port['external_ids'], sort_keys=True))
                 for name, port in sorted(ports.items())])
            return result

    def ovs_ports(self, node=None):
        with self._db() as conn:
            if node is None:
                rows = conn.execute(
                    'SELECT * FROM ovs_ports ORDER BY node, name')
            else:
                rows = conn.execute(
                    'SELECT * FROM ovs_ports WHERE node = ? ORDER BY name',
                    (node,))
            return [records.OvsPort(node=r['node'], name=r['name'],
                                    bridge=r['bridge'],
                                    external_ids=json.loads(r['external_ids']))
                    for r in rows]


def _acls(conn, vm_name, nic_name):
    return [json.loads(r['acl']) for r in conn.execute(
        'SELECT acl FROM nic_acls WHERE vm_name = ? AND nic_name = ? '
        'ORDER BY rowid', (vm_name, nic_name))]


def _vm_of_nic(conn, node, nic_name):
    """The VM ``node`` runs that has the NIC ``nic_name``, or None."""
    row = conn.execute(
        'SELECT vm_nics.vm_name FROM vm_nics JOIN vms ON '
        'vms.name = vm_nics.vm_name WHERE vms.node = ? AND '
        'vm_nics.name = ?', (node, nic_name)).fetchone()
    return row['vm_name'] if row else None
