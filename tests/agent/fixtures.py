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

"""An hvc-agent on 127.0.0.1 for the tests: in a thread (the contract
suite) or as the real console script (start-up, TLS), with the
certificates of hvc_localcloud.pki.
"""

import os
import socket
import subprocess
import sys
import threading
import time

import fixtures
from oslo_config import cfg

from hvc_agent import app
from hvc_agent import cmd
from hvc_agent import conf as agent_conf
from hvc_agent import simulated
from hvc_localcloud import pki

# A CA and the certificates it signs (the local cloud's PKI code).
PKI = pki.PKI

BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=30, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError('the agent exited with %s' % process.returncode)
        try:
            with socket.create_connection(('127.0.0.1', port), 0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('nothing listens on port %d' % port)


def agent_options(**overrides):
    """The [agent] options, as hvc-agent reads them."""
    conf = cfg.ConfigOpts()
    agent_conf.register_opts(conf)
    conf([], project='hvc-test')
    for name, value in overrides.items():
        conf.set_override(name, value, group='agent')
    return conf.agent


class AgentThreadFixture(fixtures.Fixture):
    """hvc-agent's application and server for simulated node ``node``, in
    a thread of this process, on a free port: plain HTTP on 127.0.0.1,
    or HTTPS with client certificates when ``pki`` is given.
    """

    def __init__(self, state_file, node, instances_path, pki=None):
        super().__init__()
        self.state_file = state_file
        self.node = node
        self.instances_path = instances_path
        self.pki = pki

    def _setUp(self):
        self.port = free_port()
        options = dict(bind_host='127.0.0.1', bind_port=self.port)
        if self.pki is None:
            options['insecure_loopback'] = True
            self.url = 'http://127.0.0.1:%d' % self.port
        else:
            cert, key = self.pki.issue('agent-%s' % self.node, server=True)
            options.update(cert_file=cert, key_file=key,
                           ca_file=self.pki.ca_file)
            self.url = 'https://127.0.0.1:%d' % self.port
        self.application = app.Agent(
            simulated.Simulated(self.state_file, self.node),
            self.instances_path)
        self.server = cmd.make_server(agent_options(**options),
                                      self.application)
        # In this eventlet-patched process, cheroot's select holds the hub
        # for its whole timeout (0.5 s) when no connection is ready: every
        # new connection waited for it (the real hvc-agent runs native
        # threads).
        self.server.expiration_interval = 0.01
        self.server.prepare()
        self.application.start()
        thread = threading.Thread(target=self.server.serve, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 10)
        # As hvc-agent stops (cleanups run last first): the application
        # first, which answers its long polls, so the server has no request
        # to wait for (cheroot waits up to 5 s for each).
        self.addCleanup(self.server.stop)
        self.addCleanup(self.application.stop)


class AgentProcessFixture(fixtures.Fixture):
    """The real ``hvc-agent`` console script with ``config`` (a dict of
    [agent] options) for the simulated node, on a free port.
    """

    def __init__(self, directory, config, port=None):
        super().__init__()
        self.directory = directory
        self.config = config
        self.port = port

    @classmethod
    def simulated(cls, directory, state_file, node, instances_path,
                  pki=None):
        """An agent of simulated node ``node``: HTTPS with client
        certificates of ``pki``, or plain HTTP on 127.0.0.1.
        """
        config = dict(backend='simulated', simulated_state_file=state_file,
                      simulated_node_name=node,
                      instances_path=instances_path)
        if pki is None:
            config['insecure_loopback'] = True
        else:
            cert, key = pki.issue('agent-%s' % node, server=True)
            config.update(cert_file=cert, key_file=key, ca_file=pki.ca_file)
        agent = cls(directory, config)
        agent.url = '%s://127.0.0.1:%%d' % ('http' if pki is None
                                            else 'https')
        return agent

    def _setUp(self):
        self.port = self.port or free_port()
        if getattr(self, 'url', '').endswith('%d'):
            self.url = self.url % self.port
        self.conf_file = os.path.join(self.directory, 'agent-%d.conf'
                                      % self.port)
        config = dict(self.config, bind_port=self.port)
        config.setdefault('bind_host', '127.0.0.1')
        with open(self.conf_file, 'w') as f:
            f.write('[agent]\n')
            for key, value in config.items():
                f.write('%s = %s\n' % (key, value))
        self.log_file = os.path.join(self.directory, 'agent-%d.log'
                                     % self.port)
        self.start()

    def start(self):
        """Start the agent (again, after ``stop``)."""
        self.log = open(self.log_file, 'ab')
        self.process = subprocess.Popen(
            [os.path.join(BIN, 'hvc-agent'), '--config-file',
             self.conf_file], stdout=self.log, stderr=subprocess.STDOUT)
        self.addCleanup(self.stop)
        wait_for_port(self.port, process=self.process)

    def stop(self, kill=False):
        """Stop the agent: SIGTERM, or SIGKILL (a crash) with ``kill``."""
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise RuntimeError('the agent did not stop on SIGTERM '
                                   'within 30 s; its log:\n%s'
                                   % self.output()[-5000:])
        if not self.log.closed:
            self.log.close()

    def output(self):
        with open(self.log_file) as f:
            return f.read()
