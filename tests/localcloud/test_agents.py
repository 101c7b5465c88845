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

"""The local cloud's hvc-agents without a whole cloud: one started by the
cloud's own code for a simulated node, reached as its nova-compute
reaches it; what each nova-compute is configured with; the stop order.
"""

import configparser
import os
import stat
import time

import fixtures
import requests
import testtools

from hvc_agent import client
from hvc_agent import wire
from hvc_localcloud import agents
from hvc_localcloud import cloud as cloud_mod
from hvc_localcloud import neutron
from hvc_localcloud import procs


def read_conf(path):
    conf = configparser.ConfigParser(interpolation=None, strict=False)
    conf.read(path)
    return conf


class TestAgents(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.cloud = cloud_mod.Cloud(os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'cloud'),
            log=lambda *_args: None)
        self.cloud._fresh_folder()
        self.cloud._init_clusters()
        self.addCleanup(self.cloud.stop)
        self.cluster = self.cloud.clusters[0]
        self.node = self.cluster.nodes[0]

    def _client(self, **tls):
        agent = client.AgentClient(self.cloud.agents.url(self.node),
                                   timeout=10, **tls)
        self.addCleanup(agent.close)
        return agent

    def test_an_agent_serves_its_nova_compute_only_over_tls(self):
        record = self.cloud.start_agent(self.node, self.cluster)
        self.cloud.agents.wait(self.node, record)
        options = self.cloud.agents.compute_options(self.node)
        self.assertEqual('agent', options['backend'])
        self.assertTrue(options['agent_url'].startswith('https://127.0.0.1:'))
        agent = self._client(ca_file=options['agent_ca_file'],
                             cert_file=options['agent_cert_file'],
                             key_file=options['agent_key_file'])
        self.assertEqual(self.node, agent.node_name())
        # Without a client certificate, or in plain HTTP: refused.
        self.assertRaises(wire.AgentUnreachable, self._client(
            ca_file=options['agent_ca_file']).node_name)
        self.assertRaises(
            requests.exceptions.RequestException, requests.get,
            options['agent_url'].replace('https:', 'http:') + '/v1/host',
            timeout=5)
        # Listening on its own port of the cloud's, on 127.0.0.1 only.
        self.assertEqual(
            self.cloud.ports[agents.name(self.node)],
            int(options['agent_url'].rsplit(':', 1)[1]))
        self.assertEqual(self.cloud.ports, self.cloud._load(
            cloud_mod.STATE_FILE)['ports'])

    def test_an_agent_reaches_the_storage_of_the_other_hosts_only(self):
        # Cold migrations to another cluster read the source node's disks
        # through its administrative share; live migrations with storage
        # name the destination's folder, which may be a standalone host's.
        record = self.cloud.start_agent(self.node, self.cluster)
        self.cloud.agents.wait(self.node, record)
        cert, key = self.cloud.agents.client_files(self.node)
        pathutils = self._client(ca_file=self.cloud.agents.pki.ca_file,
                                 cert_file=cert, key_file=key).utils(
                                     'pathutils')
        other = self.cloud.clusters[1]
        standalone = cloud_mod.StandaloneHost('hv-s1', self.cloud.root)
        for path in ('//%s/C$%s' % (other.nodes[0], other.instances_path),
                     standalone.instances_path, self.cluster.instances_path):
            self.assertFalse(pathutils.exists(path + '/nothing'), path)
        for path in ('/etc/passwd', '//%s/C$/etc/passwd' % other.nodes[0],
                     self.cluster.state_file,
                     self.cloud.path('pki', agents.CA_NAME + '.key')):
            self.assertRaises(wire.AgentRefused, pathutils.exists, path)

    def test_keys_are_readable_by_their_owner_only(self):
        self.cloud.agents.configure(self.node, self.cluster)
        folder = self.cloud.path('pki')
        names = sorted(os.listdir(folder))
        self.assertEqual(['hvc-agent-%s.crt' % self.node,
                          'hvc-agent-%s.key' % self.node,
                          agents.CA_NAME + '.crt', agents.CA_NAME + '.key',
                          'nova-compute-%s.crt' % self.node,
                          'nova-compute-%s.key' % self.node], names)
        self.assertEqual(0o700, stat.S_IMODE(os.stat(folder).st_mode))
        for name in names:
            if name.endswith('.key'):
                self.assertEqual(0o600, stat.S_IMODE(os.stat(
                    os.path.join(folder, name)).st_mode), name)

    def test_each_agent_has_its_nova_computes_instances_path(self):
        host = cloud_mod.StandaloneHost('hv-s1', self.cloud.root)
        nodes = [(n, c) for c in self.cloud.clusters for n in c.nodes]
        # A host added later gets a port and certificates of its own.
        self.cloud.start_agent(host.name, host)
        for node, where in nodes + [(host.name, host)]:
            nova = read_conf(self.cloud.nova.compute_conf(node, where))
            agent = read_conf(self.cloud.agents.configure(node, where))
            self.assertEqual(where.instances_path,
                             nova['DEFAULT']['instances_path'], node)
            self.assertEqual(nova['DEFAULT']['instances_path'],
                             agent['agent']['instances_path'], node)
            self.assertEqual(node, agent['agent']['simulated_node_name'])
            self.assertEqual('agent', nova['hyperv_cluster']['backend'])
            self.assertEqual('https://127.0.0.1:%s'
                             % agent['agent']['bind_port'],
                             nova['hyperv_cluster']['agent_url'])
            # nova's default concurrency mode: native threads.
            self.assertNotIn('concurrency_backend', nova['DEFAULT'])
        ports = list(self.cloud.ports.values())
        self.assertEqual(len(ports), len(set(ports)))
        self.assertTrue(read_conf(self.cloud.nova.compute_conf(
            host.name, host))['hyperv_cluster'].getboolean(
                'standalone_host'))

    def test_agents_stop_after_their_nova_compute(self):
        stopped = []
        self.useFixture(fixtures.MockPatchObject(
            procs, 'stop', side_effect=lambda record, timeout: stopped.append(
                record['name'])))
        names = ['nova-compute-' + self.node, agents.name(self.node),
                 neutron.agent_name(self.node), neutron.RPC_SERVER,
                 'nova-api', 'rabbitmq', 'mariadb', 'epmd']
        self.cloud.state['processes'] = {n: {'name': n} for n in names}
        self.cloud.stop()
        # The neutron agent goes with the OpenStack services: it calls the
        # hvc-agent, and the RPC server over the broker.
        self.assertEqual(sorted(['nova-api', 'nova-compute-' + self.node,
                                 neutron.agent_name(self.node),
                                 neutron.RPC_SERVER]),
                         sorted(stopped[:4]))
        self.assertEqual([agents.name(self.node), 'mariadb', 'rabbitmq'],
                         sorted(stopped[4:7]))
        self.assertEqual('epmd', stopped[-1])

    def test_the_broker_and_database_stop_after_every_service(self):
        # Services still talk to both as they stop (nova-compute reports
        # its state, the RPC server answers its agents).
        events = []

        def stop(record, timeout):
            events.append(('start', record['name']))
            time.sleep(0.05)
            events.append(('end', record['name']))
        self.useFixture(fixtures.MockPatchObject(procs, 'stop',
                                                 side_effect=stop))
        # The broker and the database listed first: stopped in the same
        # wave as the services, they would start stopping before those end.
        services = ['nova-api', 'nova-compute-' + self.node,
                    neutron.RPC_SERVER, neutron.agent_name(self.node)]
        names = ['rabbitmq', 'mariadb'] + services + [
            agents.name(self.node), 'epmd']
        self.cloud.state['processes'] = {n: {'name': n} for n in names}
        self.cloud.stop()
        last_service_end = max(events.index(('end', n)) for n in services)
        for name in ('rabbitmq', 'mariadb', agents.name(self.node)):
            self.assertGreater(events.index(('start', name)),
                               last_service_end, name)
        self.assertGreater(events.index(('start', 'epmd')), max(
            events.index(('end', n)) for n in ('rabbitmq', 'mariadb')))

    def test_a_node_taken_out_stops_its_hvc_agent_last(self):
        stopped = []
        self.useFixture(fixtures.MockPatchObject(
            procs, 'stop', side_effect=lambda record, timeout: stopped.append(
                record['name'])))
        names = ['nova-compute-' + self.node, neutron.agent_name(self.node),
                 agents.name(self.node)]
        self.cloud.state['processes'] = {n: {'name': n} for n in names}
        self.cloud.stop_compute(self.node)
        self.assertEqual(names, stopped)
        self.assertEqual({}, self.cloud.processes())
