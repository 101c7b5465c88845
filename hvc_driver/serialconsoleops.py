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

"""The serial console of the VMs this node runs: its log, and its TCP
console for nova-serialproxy.

Hyper-V connects a VM's COM1 to a named pipe; nothing reads it unless
someone does. As compute-hyperv did, a reader (os-win's NamedPipeHandler,
made through the seam) copies the pipe into ``console.log`` in the
instance directory while the VM runs on this node. The reader caps the
log: past 512 KiB it rotates it to ``console.log.1`` (os-win's
MAX_CONSOLE_LOG_FILE_SIZE), so at most two such files exist per VM.

With nova's ``[serial_console] enabled``, the same reader also serves the
pipe as a TCP console on the Hyper-V host, at ``proxyclient_address`` and
a port of ``port_range`` (``hvc_agent.serialproxy``): the address that
``get_serial_console`` gives nova-serialproxy. A pipe has one reader, so
the log and the console are one.
"""

from oslo_concurrency import lockutils
from oslo_log import log as logging

import nova.conf
from nova.console import type as console_type
from nova import exception

from hvc_driver import exception as hvc_exc
from hvc_driver import hyperv as seam

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

# The VM's serial port the reader listens to (os-win counts from 1).
SERIAL_PORT = 1


def pipe_path(vm_name):
    # A VM name is unique on its Hyper-V host, and so is this pipe.
    return '\\\\.\\pipe\\%s' % vm_name


class SerialConsoleOps(seam.UsesHyperV):
    """Connects each VM's serial port to a pipe, and logs the pipe."""

    def __init__(self, hyperv, instance_layout):
        self._hyperv = hyperv
        self._layout = instance_layout
        # Readers by VM name, of the VMs this node runs.
        self._readers = {}

    def connect_serial_port(self, vm_name):
        """Connect the VM's serial port to its pipe (a VM setting).

        Errors are the caller's: a VM whose serial port cannot be set up
        is not built right.
        """
        pipe = pipe_path(vm_name)
        if pipe not in self._vmutils.get_vm_serial_port_connections(vm_name):
            self._vmutils.set_vm_serial_port_connection(vm_name, SERIAL_PORT,
                                                        pipe)

    def start_log(self, vm_name):
        """(Re)start logging the serial port of a VM that runs here.

        Called after the VM was started; a log that cannot be started is
        logged, not raised: the VM runs, and failing the operation that
        started it would not bring the log back.
        """
        with lockutils.lock('hvc-serial-console-%s' % vm_name):
            self._stop_log(vm_name)
            reader = None
            try:
                # VMs made before the driver connected serial ports.
                self.connect_serial_port(vm_name)
                reader = self._hyperv.named_pipe_handler(
                    pipe_path(vm_name),
                    log_file=self._layout.console_log_paths(vm_name)[-1],
                    console=self._console())
                reader.start()
            except Exception:
                LOG.exception('The serial console log of %s on node %s '
                              'could not be started; its console output '
                              'will not grow until it is started again',
                              vm_name, self._hyperv.node)
                if reader is not None:
                    reader.stop()
                return
            self._readers[vm_name] = reader
            LOG.debug('Logging the serial port of %s', vm_name)

    @staticmethod
    def _console():
        """Where the host serves the VMs' TCP consoles, or None."""
        if not CONF.serial_console.enabled:
            return None
        return {'address': CONF.serial_console.proxyclient_address,
                'port_range': CONF.serial_console.port_range}

    def get_serial_console(self, instance):
        """The TCP console of an instance whose VM this node runs
        (``nova.console.type.ConsoleSerial``).
        """
        reader = self._readers.get(instance.name)
        if reader is None:
            # Stopped, or not (yet) running here.
            raise exception.InstanceNotReady(instance_id=instance.uuid)
        address = reader.console_address()
        if address is None:
            # Started before [serial_console] was enabled, or its reader
            # could not serve it: a restart of nova-compute starts it.
            raise exception.ConsoleTypeUnavailable(console_type='serial')
        return console_type.ConsoleSerial(host=address['host'],
                                          port=address['port'])

    def stop_log(self, vm_name):
        """Stop logging a VM's serial port (it stops or leaves the node)."""
        with lockutils.lock('hvc-serial-console-%s' % vm_name):
            self._stop_log(vm_name)

    def _stop_log(self, vm_name):
        reader = self._readers.pop(vm_name, None)
        if reader is None:
            return
        LOG.debug('Stopping the serial console log of %s', vm_name)
        try:
            reader.stop()
        except Exception:
            # Not a reason to fail the power off or delete that stops it.
            LOG.exception('Stopping the serial console log of %s on node '
                          '%s failed', vm_name, self._hyperv.node)

    def start_logs(self, nova_vm_names):
        """Log the VMs among ``nova_vm_names`` that run on this node.

        On host start: their readers went with the previous process.
        """
        try:
            running = self._vmutils.get_active_instances()
        except hvc_exc.OSWIN_ERRORS:
            LOG.exception('Cannot list the running VMs of node %s: their '
                          'serial console logs are not started',
                          self._hyperv.node)
            return
        wanted = set(nova_vm_names)
        for vm_name in running:
            if vm_name in wanted:
                self.start_log(vm_name)

    def is_logging(self, vm_name):
        return vm_name in self._readers

    def flush_log(self, vm_name):
        """Write out what the VM's reader holds, before the log is read."""
        reader = self._readers.get(vm_name)
        if reader is not None:
            reader.flush_log_file()
