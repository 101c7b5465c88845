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

"""A VM's serial port as a TCP console, for nova-serialproxy.

Hyper-V connects a VM's COM port to a named pipe, and a pipe has one
reader: the one that copies it into the console log. So, as compute-hyperv
did (its ``serialproxy.SerialProxy`` beside os-win's ``NamedPipeHandler``
with ``input_queue``, ``output_queue`` and ``connect_event``), that same
reader also feeds a TCP listener on the Hyper-V host:

- what the guest writes goes to the log and, while a client is
  connected, to the client (os-win's ``IOQueue.put`` drops it otherwise);
- what the client sends is written to the pipe.

One client at a time, as a serial line has: nova-serialproxy connects to
``(address, port)`` for each websocket it serves (after checking its token
with nova-compute). Nothing authenticates a TCP client, as with libvirt's
TCP serial consoles: the port range must be open to the nova-serialproxy
hosts only.

Runs where the pipe is: inside the hvc-agent on a Windows host, or inside
nova-compute for the simulated cluster.
"""

import queue
import random
import socket
import threading

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

# How much is read from the client or sent to it at once (os-win's
# SERIAL_CONSOLE_BUFFER_SIZE).
BUFFER_SIZE = 4096


# How long a queue waits at once before it looks whether the client went
# (os-win's IO_QUEUE_TIMEOUT and IO_QUEUE_BURST_TIMEOUT).
QUEUE_TIMEOUT = 2
BURST_TIMEOUT = 0.05


class ConsoleQueue(queue.Queue):
    """Bytes between the pipe and the client, which pass only while a
    client is connected, as os-win's ``ioutils.IOQueue`` (whose ``get``
    and ``put`` its NamedPipeHandler calls): ``put`` drops what comes when
    no client is there, ``get`` returns None once it is gone. Our own, so
    that the simulated cluster imports no os-win.
    """

    def __init__(self, client_connected):
        super().__init__()
        self._client_connected = client_connected

    def get(self, timeout=QUEUE_TIMEOUT, continue_on_timeout=True):
        while self._client_connected.is_set():
            try:
                return super().get(timeout=timeout)
            except queue.Empty:
                if not continue_on_timeout:
                    return None
        return None

    def put(self, item, timeout=QUEUE_TIMEOUT):
        while self._client_connected.is_set():
            try:
                return super().put(item, timeout=timeout)
            except queue.Full:
                continue

    def wake(self):
        """End a wait in ``get`` now (it returns nothing) rather than at
        its next timeout: the client went.
        """
        super().put(b'')

    def get_burst(self, max_size=BUFFER_SIZE):
        """What is there (waiting for the first piece), up to about
        ``max_size`` bytes: fewer, larger sends.
        """
        data = self.get()
        while data and len(data) <= max_size:
            more = self.get(timeout=BURST_TIMEOUT, continue_on_timeout=False)
            if not more:
                break
            data += more
        return data


class NoFreePort(Exception):
    """Every port of the range is taken on that address."""


def parse_port_range(port_range):
    """(first, last) of nova's ``[serial_console] port_range``
    (``10000:20000``).
    """
    try:
        first, last = (int(p) for p in port_range.split(':'))
    except (AttributeError, ValueError):
        raise ValueError('port range %r is not FIRST:LAST' % (port_range,))
    if not 0 < first <= last < 65536:
        raise ValueError('port range %r is not within 1:65535'
                         % (port_range,))
    return first, last


def listen(address, port_range):
    """A listening TCP socket on ``address`` at a free port of
    ``port_range``, the first tried at random (several readers start at
    once, in several processes: binding is what reserves a port).
    """
    first, last = parse_port_range(port_range)
    ports = list(range(first, last + 1))
    start = random.randrange(len(ports))
    for port in ports[start:] + ports[:start]:
        sock = socket.socket(socket.AF_INET6 if ':' in address
                             else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((address, port))
        except OSError:
            sock.close()
            continue
        sock.listen(1)
        return sock
    raise NoFreePort('no free port in %s on %s for a serial console'
                     % (port_range, address))


class SerialProxy(object):
    """The TCP end of one VM's serial port (see the module's doc).

    ``input_queue``, ``output_queue`` (``ConsoleQueue``) and
    ``client_connected`` (a ``threading.Event``) are the ones the pipe's
    reader was made with.
    """

    def __init__(self, name, address, port_range, input_queue,
                 output_queue, client_connected):
        self._name = name
        self._address = address
        self._port_range = port_range
        self._input_queue = input_queue
        self._output_queue = output_queue
        self._client_connected = client_connected
        self._sock = None
        self._port = None
        self._conn = None
        self._stopped = threading.Event()
        self._thread = None

    @property
    def address(self):
        """(host, port) that nova-serialproxy connects to."""
        return self._address, self._port

    def start(self):
        self._sock = listen(self._address, self._port_range)
        self._port = self._sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._serve, daemon=True,
            name='serial console of %s' % self._name)
        self._thread.start()
        LOG.debug('The serial console of %s listens on %s:%d', self._name,
                  *self.address)

    def stop(self):
        self._stopped.set()
        self._let_go()
        if self._sock is not None:
            # A connection wakes accept() wherever it waits (closing the
            # socket does not on Linux, nor in an eventlet nova-compute).
            try:
                socket.create_connection(
                    (_reachable(self._address), self._port), timeout=5
                ).close()
            except OSError:
                pass
            self._sock.close()
        conn = self._conn
        if conn is not None:
            _shutdown(conn)
        if self._thread is not None:
            self._thread.join(5)

    def _serve(self):
        while not self._stopped.is_set():
            try:
                conn, peer = self._sock.accept()
            except OSError:
                return  # stopped.
            if self._stopped.is_set():
                conn.close()
                return
            LOG.debug('Serial console client %s connected to %s', peer,
                      self._name)
            self._conn = conn
            self._client_connected.set()
            sender = threading.Thread(target=self._send, args=(conn,),
                                      daemon=True)
            sender.start()
            self._receive(conn)
            self._let_go()
            sender.join()
            self._conn = None
            conn.close()

    def _let_go(self):
        """The client is gone: what waits for it stops waiting."""
        self._client_connected.clear()
        self._input_queue.wake()
        self._output_queue.wake()

    def _receive(self, conn):
        """The client's bytes to the pipe, until it goes."""
        while self._client_connected.is_set():
            try:
                data = conn.recv(BUFFER_SIZE)
            except OSError:
                return
            if not data:
                return
            self._input_queue.put(data)

    def _send(self, conn):
        """The guest's bytes to the client, while it is there."""
        while self._client_connected.is_set():
            data = self._output_queue.get_burst()
            if not data:
                continue
            try:
                conn.sendall(data)
            except OSError:
                # _receive sees the end, and lets the client go.
                _shutdown(conn)
                return


def _reachable(address):
    """An address of this host to reach a listener on ``address``."""
    return {'0.0.0.0': '127.0.0.1', '::': '::1'}.get(address, address)


def _shutdown(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class ConsoleReader(object):
    """A VM's pipe reader (os-win's NamedPipeHandler, or the simulated
    one) with its log and, when ``console`` (``{"address",
    "port_range"}``) is given, its TCP console.

    ``make_handler(pipe_name, input_queue=, output_queue=,
    connect_event=, log_file=)`` makes the host's reader.
    """

    def __init__(self, make_handler, pipe_name, log_file, console=None):
        self._make_handler = make_handler
        self._pipe_name = pipe_name
        self._log_file = log_file
        self._console = console
        self._handler = None
        self._proxy = None

    def start(self):
        if not self._console:
            self._handler = self._make_handler(self._pipe_name,
                                               log_file=self._log_file)
            self._handler.start()
            return
        connected = threading.Event()
        input_queue = ConsoleQueue(connected)
        output_queue = ConsoleQueue(connected)
        self._proxy = SerialProxy(self._pipe_name, self._console['address'],
                                  self._console['port_range'], input_queue,
                                  output_queue, connected)
        self._proxy.start()
        try:
            self._handler = self._make_handler(
                self._pipe_name, input_queue=input_queue,
                output_queue=output_queue, connect_event=connected,
                log_file=self._log_file)
            self._handler.start()
        except Exception:
            self._proxy.stop()
            raise

    def stop(self):
        # The listener first: no client connects to a pipe no one reads.
        proxy, self._proxy = self._proxy, None
        if proxy is not None:
            proxy.stop()
        handler, self._handler = self._handler, None
        if handler is not None:
            handler.stop()

    def flush_log_file(self):
        if self._handler is not None:
            self._handler.flush_log_file()

    def console_address(self):
        """{"host", "port"} of the TCP console, or None."""
        if self._proxy is None:
            return None
        host, port = self._proxy.address
        return {'host': host, 'port': port}
