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

"""The named pipes the VMs' serial ports connect to, and what the
simulated guests write to them.
"""

import logging
import time

from hvc_sim.state import records

LOG = logging.getLogger(__name__)

# What a pipe holds for a reader that has not connected yet.
PIPE_BUFFER = 64 * 1024


# What a simulated guest writes to its serial port as it boots: a Linux
# guest's console, as a console log shows it.
_BOOT_OUTPUT = """\
hvc-sim: {vm} booting on {node} at {at}
[    0.000000] Linux version 6.1.0-hvc-sim (a simulated guest)
[    0.000000] Command line: BOOT_IMAGE=/vmlinuz root=LABEL=root console=ttyS0
[    0.000000] Hypervisor detected: Microsoft Hyper-V
[    0.412000] hv_vmbus: Vmbus version:5.3
[    1.108000] EXT4-fs (sda1): mounted filesystem with ordered data mode
[    2.356000] cloud-init[301]: Cloud-init running 'init-local'
[    3.724000] cloud-init[412]: Cloud-init running 'init': datasource found
[    5.019000] cloud-init[498]: Cloud-init running 'modules:final'

{vm} login:
"""


class Pipes(object):
    """ClusterState's named pipes and simulated guests' serial output."""

    def write_boot_message(self, vm_name, node):
        """The simulated guest writes to its serial ports as it boots on
        ``node``.
        """
        text = _BOOT_OUTPUT.format(
            vm=vm_name, node=node, at=time.strftime('%Y-%m-%dT%H:%M:%S'))
        for pipe in self.serial_ports(vm_name).values():
            self._guest_writes(vm_name, node, pipe, text)

    def type_into_pipe(self, node, pipe, data):
        """What a serial console client types into ``pipe`` on ``node``
        (bytes): the guest's getty there echoes it, and answers each line
        with its login prompt. Nothing if no VM running there has its
        serial port on that pipe.
        """
        with self._db() as conn:
            row = conn.execute(
                'SELECT vms.name FROM vms JOIN vm_serial_ports ON '
                'vm_serial_ports.vm_name = vms.name WHERE vms.node = ? AND '
                'vms.state = ? AND vm_serial_ports.connection = ?',
                (node, records.VM_STATE_ENABLED, pipe)).fetchone()
        if row is None:
            return
        typed = data.decode('utf-8', 'replace')
        typed = typed.replace('\r\n', '\r').replace('\n', '\r')
        text = typed.replace('\r', '\r\n%s login: ' % row['name'])
        self._guest_writes(row['name'], node, pipe, text)

    def _guest_writes(self, vm_name, node, pipe, text):
        """The guest writes ``text`` to its serial port's ``pipe`` on
        ``node``: to the log of the reader connected there, or into the
        pipe's buffer until a reader connects.
        """
        log_file = self.write_to_pipe(node, pipe, text)
        if not log_file:
            return
        try:
            with open(log_file, 'a') as log:
                log.write(text)
        except OSError as e:
            LOG.debug('No console log for %s: %s', vm_name, e)

    # The named pipes VMs' serial ports connect to, by node: what a
    # simulated guest writes waits in the pipe's buffer until a reader
    # connects, then goes to that reader's log file.

    def register_pipe_reader(self, node, pipe, log_file):
        """Connect a reader; returns what waited in the pipe's buffer."""
        with self._db(write=True) as conn:
            conn.execute('INSERT OR REPLACE INTO pipe_readers '
                         'VALUES (?, ?, ?)', (node, pipe, log_file or ''))
            row = conn.execute('SELECT data FROM pipe_buffers WHERE '
                               'node = ? AND pipe = ?',
                               (node, pipe)).fetchone()
            conn.execute('DELETE FROM pipe_buffers WHERE node = ? AND '
                         'pipe = ?', (node, pipe))
        return row['data'] if row else ''

    def unregister_pipe_reader(self, node, pipe, log_file):
        """Only if that reader is still the registered one."""
        with self._db(write=True) as conn:
            conn.execute('DELETE FROM pipe_readers WHERE node = ? AND '
                         'pipe = ? AND log_file = ?',
                         (node, pipe, log_file or ''))

    def write_to_pipe(self, node, pipe, text):
        """The log file of the reader of ``pipe`` on ``node``, for the
        caller to write ``text`` to; or None: ``text`` was buffered.
        """
        with self._db(write=True) as conn:
            row = conn.execute('SELECT log_file FROM pipe_readers WHERE '
                               'node = ? AND pipe = ?',
                               (node, pipe)).fetchone()
            if row is not None:
                return row['log_file']
            old = conn.execute('SELECT data FROM pipe_buffers WHERE '
                               'node = ? AND pipe = ?',
                               (node, pipe)).fetchone()
            data = ((old['data'] if old else '') + text)[-PIPE_BUFFER:]
            conn.execute('INSERT OR REPLACE INTO pipe_buffers '
                         'VALUES (?, ?, ?)', (node, pipe, data))
        return None
