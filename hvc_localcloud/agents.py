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

"""One ``hvc-agent`` per simulated Hyper-V host (cluster node or standalone
host), as each Hyper-V host of a deployment runs one: the real console
script with ``[agent] backend = simulated``, bound to 127.0.0.1 on a port
of its own, serving HTTPS that requires a client certificate.

The cloud's PKI (``pki/``, made when the cloud is created): a CA, a server
certificate per agent (for 127.0.0.1 and localhost) and a client
certificate per nova-compute. Each nova-compute drives its own host's
agent with ``[hyperv_cluster] backend = agent``; the agent's
``instances_path`` is the nova-compute's ``[DEFAULT] instances_path``
(both are the host's ``instances_path``).
"""

from hvc_localcloud import ini
from hvc_localcloud import pki
from hvc_localcloud import procs

# The process name of a host's agent: PREFIX + the host's name.
PREFIX = 'hvc-agent-'
CA_NAME = 'hvc-localcloud-ca'
# A cloud may be left running: its certificates outlast it.
CERT_DAYS = 365


def name(node):
    return PREFIX + node


class Agents(object):

    def __init__(self, cloud):
        self.cloud = cloud

    @property
    def pki(self):
        """The cloud's CA (made on first use, in ``pki/``)."""
        return pki.PKI(self.cloud.path('pki'), name=CA_NAME, days=CERT_DAYS)

    def url(self, node):
        return 'https://127.0.0.1:%d' % self.cloud.ports[name(node)]

    def client_files(self, node):
        """(certificate, key) of the nova-compute of ``node``."""
        return self.pki.files('nova-compute-' + node)

    def compute_options(self, node):
        """The ``[hyperv_cluster]`` options of the nova-compute of
        ``node``: its agent, and the certificates to reach it with.
        """
        cert, key = self.client_files(node)
        return {'backend': 'agent', 'agent_url': self.url(node),
                'agent_ca_file': self.pki.ca_file, 'agent_cert_file': cert,
                'agent_key_file': key}

    def configure(self, node, host):
        """The agent's configuration (and certificates) for ``node`` of
        ``host`` (a ``SimulatedCluster`` or a ``StandaloneHost``), and the
        client certificate of its nova-compute.
        """
        ca = self.pki
        cert, key = ca.issue(name(node), server=True)
        ca.issue('nova-compute-' + node)
        return ini.write(self.cloud.path('etc', 'hvc', name(node) + '.conf'), {
            'DEFAULT': {'debug': self.cloud.debug},
            'agent': {
                'bind_host': '127.0.0.1',
                'bind_port': self.cloud.ports[name(node)],
                'cert_file': cert, 'key_file': key, 'ca_file': ca.ca_file,
                'backend': 'simulated',
                'simulated_state_file': host.state_file,
                'simulated_node_name': node,
                # nova-compute's [DEFAULT] instances_path.
                'instances_path': host.instances_path,
                # Instances move with their disks to and from the other
                # hosts of the world: its storage holds every cluster's
                # CSVs and every standalone host's disk.
                'other_hosts_storage': host.world_storage(),
            },
        })

    def start(self, node, host):
        """Start the agent of ``node``; its record."""
        return procs.spawn([procs.venv_bin('hvc-agent'), '--config-file',
                            self.configure(node, host)],
                           self.cloud.log(name(node)))

    def wait(self, node, record, timeout=60):
        """Until the agent answers its nova-compute (over HTTPS, with the
        client certificate).
        """
        from hvc_agent import client
        cert, key = self.client_files(node)
        agent = client.AgentClient(self.url(node), ca_file=self.pki.ca_file,
                                   cert_file=cert, key_file=key, timeout=5)
        try:
            procs.wait_until(lambda: agent.node_name() == node,
                             'hvc-agent of %s' % node, record,
                             self.cloud.log(name(node)), timeout)
        finally:
            agent.close()
