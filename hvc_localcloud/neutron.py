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

"""neutron: its API (ML2) behind uWSGI with keystone auth, its RPC server,
and one ``hvc-neutron-agent`` per simulated Hyper-V host.

ML2 binds ports with the project's ``hyperv`` mechanism driver on flat and
VLAN networks of ``physnet1`` (project networks: VLANs 100 to 199), to
the host whose agent is alive (nova's host name). Each agent runs beside
its host's nova-compute and reaches the host through the host's
hvc-agent (its own client certificate of the cloud's CA); it reports to
the RPC server over RabbitMQ and turns a port ACTIVE once its vNIC is on
the host's virtual switch, and neutron tells nova (network-vif-plugged).
The cloud seeds one shared flat network, ``hvc-net``.
"""

import os
import shutil
import sys

from hvc_localcloud import ini
from hvc_localcloud import procs
from hvc_localcloud import uwsgi

RPC_SERVER = 'neutron-rpc-server'
# The process name of a host's neutron agent: PREFIX + the host's name.
AGENT_PREFIX = 'hvc-neutron-agent-'
AGENT_TYPE = 'HyperV agent'
VIF_TYPE = 'hyperv'
PHYSNET = 'physnet1'
# The Hyper-V virtual switch of physnet1 on every simulated host.
VSWITCH = 'external'
PROJECT_VLANS = '100:199'
# Seconds between an agent's state reports: it is alive in neutron
# within seconds of its start.
REPORT_INTERVAL = 5
NETWORK = 'hvc-net'
SUBNET_CIDR = '10.0.0.0/24'


def agent_name(node):
    return AGENT_PREFIX + node


class Neutron(object):

    name = 'neutron'

    def __init__(self, cloud):
        self.cloud = cloud
        self.etc = cloud.path('etc', 'neutron')

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.cloud.ports['neutron']

    def configure(self):
        paste = os.path.join(self.etc, 'api-paste.ini')
        shutil.copy(os.path.join(sys.prefix, 'etc', 'neutron',
                                 'api-paste.ini'), paste)
        nova = self.cloud.keystone.service_auth('neutron')
        ini.write(os.path.join(self.etc, 'neutron.conf'), {
            'DEFAULT': {
                'debug': self.cloud.debug,
                'core_plugin': 'ml2',
                'service_plugins': '',
                'auth_strategy': 'keystone',
                'api_paste_config': paste,
                'transport_url': self.cloud.rabbitmq.transport_url(),
                # nova waits for network-vif-plugged when it boots.
                'notify_nova_on_port_status_changes': True,
                'notify_nova_on_port_data_changes': True,
                # One RPC worker, which takes the agents' state reports
                # too: 2 cores.
                'rpc_workers': 1,
                'rpc_state_report_workers': 0,
                'state_path': self.cloud.path('data', 'neutron'),
            },
            'database': {'connection': self.cloud.db.url('neutron',
                                                         'neutron')},
            'keystone_authtoken': self.cloud.keystone.authtoken('neutron'),
            'nova': nova,
            'oslo_concurrency': {'lock_path': self.cloud.path(
                'data', 'neutron', 'lock')},
        })
        ini.write(os.path.join(self.etc, 'plugins', 'ml2', 'ml2_conf.ini'), {
            'ml2': {'type_drivers': 'flat,vlan',
                    'project_network_types': 'vlan',
                    'mechanism_drivers': 'hyperv',
                    'extension_drivers': 'port_security'},
            'ml2_type_flat': {'flat_networks': PHYSNET},
            'ml2_type_vlan': {'network_vlan_ranges': '%s:%s' % (
                PHYSNET, PROJECT_VLANS)},
        })

    def _config_args(self):
        return ['--config-file', os.path.join(self.etc, 'neutron.conf'),
                '--config-file', os.path.join(self.etc, 'plugins', 'ml2',
                                              'ml2_conf.ini')]

    def db_sync(self):
        procs.run([procs.venv_bin('neutron-db-manage')] +
                  self._config_args() + ['upgrade', 'heads'],
                  self.cloud.log('neutron-db-manage'),
                  what='neutron-db-manage upgrade heads')

    def start(self):
        return uwsgi.start(self.cloud, self.name,
                           'neutron.wsgi.api:application',
                           self.cloud.ports['neutron'],
                           {'OS_NEUTRON_CONFIG_DIR': self.etc})

    def wait(self, record):
        uwsgi.wait(self.cloud, self.name, record, self.url)

    def start_rpc_server(self):
        return procs.spawn([procs.venv_bin(RPC_SERVER)] + self._config_args(),
                           self.cloud.log(RPC_SERVER))

    def agent_conf(self, node):
        """The configuration of the neutron agent of ``node``: nova's host
        name, the cloud's message queue, the node's hvc-agent.
        """
        ca = self.cloud.agents.pki
        cert, key = ca.issue(agent_name(node))
        return ini.write(self.cloud.path('etc', 'neutron',
                                         agent_name(node) + '.conf'), {
            'DEFAULT': {'debug': self.cloud.debug, 'host': node,
                        'transport_url': self.cloud.rabbitmq.transport_url()},
            'AGENT': {'report_interval': REPORT_INTERVAL},
            'hyperv_agent': {
                'vswitch_mappings': '%s:%s' % (PHYSNET, VSWITCH),
                'agent_url': self.cloud.agents.url(node),
                # Longer than the end-to-end tests wait for a security
                # group change: they see neutron's casts at work.
                'security_group_resync_interval': 600,
                'agent_ca_file': ca.ca_file, 'agent_cert_file': cert,
                'agent_key_file': key},
        })

    def start_agent(self, node):
        return procs.spawn([procs.venv_bin('hvc-neutron-agent'),
                            '--config-file', self.agent_conf(node)],
                           self.cloud.log(agent_name(node)))

    def wait_for_agents(self, conn, nodes, timeout=120):
        """Until the agent of every node in ``nodes`` is alive in
        neutron.
        """
        def alive():
            up = {a.host for a in conn.network.agents(agent_type=AGENT_TYPE)
                  if a.is_alive}
            for node in nodes:
                record = self.cloud.processes().get(agent_name(node))
                if record is not None and not procs.alive(record):
                    log = self.cloud.log(agent_name(node))
                    raise procs.StartError('%s exited; see %s:\n%s' % (
                        agent_name(node), log, procs.tail(log)))
            return set(nodes) <= up
        procs.wait_until(alive, 'the neutron agents of %s' % ', '.join(nodes),
                         None, self.cloud.log(RPC_SERVER), timeout)

    def seed(self, conn):
        """A shared flat network of physnet1 for every project. No DHCP
        server runs: instances get their address from the config drive.
        """
        network = conn.network.create_network(
            name=NETWORK, shared=True, provider_network_type='flat',
            provider_physical_network=PHYSNET)
        conn.network.create_subnet(
            network_id=network.id, name=NETWORK + '-v4', ip_version=4,
            cidr=SUBNET_CIDR, enable_dhcp=False)
