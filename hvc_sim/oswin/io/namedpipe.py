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

"""os_win.utils.io.namedpipe on the simulated cluster."""

import os
import threading

from oslo_log import log as logging

from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim import state as sim_state

LOG = logging.getLogger(__name__)


class NamedPipeHandler(object):
    """os_win.utils.io.namedpipe.NamedPipeHandler on a simulated node,
    with the state and the node first.

    Between start and stop the reader is connected to its pipe on its
    node (registered in the state file): what the simulated guest writes
    to its serial port goes to the reader's log file, and what it wrote
    while no reader was connected waits in the pipe's buffer until one
    connects. The reader holds its log open while it runs, as os-win's.

    With the queues (a serial console, ``hvc_agent.serialproxy``), as
    os-win's: what the guest writes also goes to ``output_queue`` (read
    here from the log file as it grows: the guest may write from another
    process), and what ``input_queue`` gives while ``connect_event`` is
    set is typed into the guest (``ClusterState.type_into_pipe``).
    """

    # How often the log file is looked at for what the guest wrote.
    POLL_SECONDS = 0.1

    def __init__(self, state, node, pipe_name, input_queue=None,
                 output_queue=None, connect_event=None, log_file=None):
        self._state = state
        self._node = node
        self._pipe_name = pipe_name
        self._log_file_path = log_file
        self._log_file_handle = None
        self._input_queue = input_queue
        self._output_queue = output_queue
        self._connect_event = connect_event
        self._stopped = threading.Event()
        self._workers = []

    def start(self):
        try:
            if self._log_file_path:
                self._log_file_handle = open(self._log_file_path, 'ab')
            waiting = self._state.register_pipe_reader(
                self._node, self._pipe_name, self._log_file_path)
            if waiting and self._log_file_handle:
                self._log_file_handle.write(waiting.encode('utf-8'))
                self._log_file_handle.flush()
        except (OSError, sim_state.SimulatorError) as err:
            self.stop()
            # As os-win: any failure to start is an OSWinException.
            raise os_win_exc.OSWinException(
                'Named pipe handler failed to initialize. Pipe Name: %s '
                'Error: %s' % (self._pipe_name, err))
        jobs = []
        if self._output_queue is not None and self._log_file_path:
            jobs.append(self._read_from_pipe)
        if self._input_queue is not None and self._connect_event is not None:
            jobs.append(self._write_to_pipe)
        for job in jobs:
            worker = threading.Thread(target=job, daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self):
        self._stopped.set()
        for worker in self._workers:
            if worker is not threading.current_thread():
                worker.join(5)
        self._workers = []
        if self._log_file_handle:
            self._log_file_handle.close()
            self._log_file_handle = None
        try:
            self._state.unregister_pipe_reader(self._node, self._pipe_name,
                                               self._log_file_path)
        except sim_state.SimulatorError as e:
            # As os-win's: stopping never fails.
            LOG.debug('Reader of %s not unregistered: %s', self._pipe_name,
                      e)

    def flush_log_file(self):
        try:
            self._log_file_handle.flush()
        except (AttributeError, ValueError):
            pass

    def _read_from_pipe(self):
        offset = os.path.getsize(self._log_file_path)
        while not self._stopped.wait(self.POLL_SECONDS):
            try:
                with open(self._log_file_path, 'rb') as log:
                    log.seek(offset)
                    data = log.read()
            except OSError:
                continue
            if data:
                offset += len(data)
                self._output_queue.put(data)

    def _write_to_pipe(self):
        while not self._stopped.is_set():
            if not self._connect_event.wait(self.POLL_SECONDS):
                continue
            data = self._input_queue.get()
            if data and not self._stopped.is_set():
                self._state.type_into_pipe(self._node, self._pipe_name, data)
