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

"""Settings of a VM that move with it: boot order, resource metering,
serial ports.
"""

import json


class VMSettings(object):
    """ClusterState's VM settings."""

    # A VM's boot order: generation 1, device kinds (os-win's
    # BOOT_DEVICE_*); generation 2, drive paths. None until it is set
    # (Hyper-V's default).

    def set_boot_order(self, vm_name, devices, owner=None):
        with self._db(write=True) as conn:
            self._require_vm(conn, vm_name, owner)
            conn.execute('INSERT OR REPLACE INTO vm_boot_order '
                         'VALUES (?, ?)', (vm_name, json.dumps(devices)))

    def boot_order(self, vm_name):
        with self._db() as conn:
            row = conn.execute('SELECT devices FROM vm_boot_order WHERE '
                               'vm_name = ?', (vm_name,)).fetchone()
            return None if row is None else json.loads(row['devices'])

    # Hyper-V's resource metering, turned on for a VM (its processors,
    # memory and disks: element '') or for one of its NICs' switch ports
    # (element: the NIC's name). It is a setting of the VM: it moves with
    # it.

    def meter(self, vm_name, element='', owner=None):
        with self._db(write=True) as conn:
            self._require_vm(conn, vm_name, owner)
            conn.execute('INSERT OR IGNORE INTO vm_metering VALUES (?, ?)',
                         (vm_name, element))

    def metered(self, vm_name):
        """The elements of ``vm_name`` that Hyper-V meters."""
        with self._db() as conn:
            return {r['element'] for r in conn.execute(
                'SELECT element FROM vm_metering WHERE vm_name = ?',
                (vm_name,))}

    # The serial ports of a VM (COM1, COM2) and what they connect to.

    def set_serial_port(self, vm_name, port_number, connection, owner=None):
        with self._db(write=True) as conn:
            self._require_vm(conn, vm_name, owner)
            conn.execute('INSERT OR REPLACE INTO vm_serial_ports '
                         'VALUES (?, ?, ?)',
                         (vm_name, port_number, connection))

    def serial_ports(self, vm_name):
        """{port number: connection} of a VM."""
        with self._db() as conn:
            return {r['port_number']: r['connection'] for r in conn.execute(
                'SELECT * FROM vm_serial_ports WHERE vm_name = ?',
                (vm_name,))}
