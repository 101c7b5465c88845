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

"""placement_sync's agent source against real hvc-agents (the console
script, HTTPS with client certificates) of simulated nodes: the same
clusters as the simulated source reads, another node asked when one is
down, and one clear error when none of a cluster's agents answers.
"""

import os

import fixtures
from oslo_config import cfg
import testtools

from hvc_agent import client as agent_client
from hvc_agent import wire
from hvc_sim import state as sim_state
from placement_sync import conf as sync_conf
from placement_sync import exception
from placement_sync import model
from placement_sync import sources
from placement_sync.sources import agent as agent_source
from placement_sync.sources import simulated as simulated_source
from tests.agent import fixtures as agent_fixtures

GiB = 1024 ** 3
FOLDER = 'OpenStack\\Instances'


def sync_conf_of(**options):
    """[placement_sync] with ``options``, as hvc-placement-sync reads it."""
    conf = cfg.ConfigOpts()
    sync_conf.register_opts(conf)
    conf([], project='hvc-test', default_config_files=[])
    for name, value in options.items():
        conf.set_override(name, value, group=sync_conf.SYNC_GROUP)
    return conf


class AgentWorld(fixtures.Fixture):
    """A simulated world: cluster ``a`` (nodes <a>-node1 and <a>-node2;
    Volume1, which holds an instance's folder of 3 GiB and a foreign file
    of 7 GiB, and Volume2), cluster ``b`` (<b>-node1; Data) and the
    standalone host solo; the hvc-agent of a node on demand (the console
    script, HTTPS with client certificates of a small PKI), and
    placement_sync's TLS options for them (``tls``).
    """

    def __init__(self, a='a', b='b'):
        super().__init__()
        self.a, self.b = a, b
        self.nodes = {a: ['%s-node1' % a, '%s-node2' % a],
                      b: ['%s-node1' % b]}

    def _setUp(self):
        self.directory = self.useFixture(fixtures.TempDir()).path
        self.state_file = os.path.join(self.directory, 'world.db')
        state = sim_state.ClusterState(self.state_file)
        state.init(self.a, self.nodes[self.a],
                   [('Volume1', 100), ('Volume2', 50)])
        state.add_cluster(self.b, self.nodes[self.b], [('Data', 20)])
        state.add_host('solo')
        state.add_file('Volume1', 'OpenStack/Instances/instance-1/root.vhdx',
                       3 * GiB, cluster=self.a)
        state.add_file('Volume1', 'backups/a.bak', 7 * GiB, cluster=self.a)
        self.state = state
        self.pki = agent_fixtures.PKI(self.directory)
        cert, key = self.pki.issue('placement-sync')
        self.tls = dict(agent_ca_file=self.pki.ca_file, agent_cert_file=cert,
                        agent_key_file=key)
        self.agents = {}

    def agent(self, node):
        """The URL of node ``node``'s agent, started."""
        self.agents[node] = self.useFixture(
            agent_fixtures.AgentProcessFixture.simulated(
                self.directory, self.state_file, node,
                os.path.join(self.directory, 'instances-%s' % node),
                self.pki))
        return self.agents[node].url

    @staticmethod
    def dead_url():
        return 'https://127.0.0.1:%d' % agent_fixtures.free_port()


class TestAgentSource(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.logs = self.useFixture(fixtures.FakeLogger())
        self.world = self.useFixture(AgentWorld())

    def _conf(self, *clusters, **options):
        return sync_conf_of(source='agent', agent_cluster=list(clusters),
                            **dict(self.world.tls, **options))

    def _load(self, *clusters):
        return agent_source.load(self._conf(*clusters).placement_sync)

    def test_each_cluster_as_the_simulated_source_reads_it(self):
        world = self.world
        conf = self._conf('a: %s, %s' % (world.agent('a-node1'),
                                         world.dead_url()),
                          'b: %s' % world.agent('b-node1'))
        clusters = sources.load_clusters(conf)
        self.assertEqual(simulated_source.load(self.world.state_file, FOLDER),
                         clusters)
        [volume1] = [v for v in clusters[0].shared_volumes
                     if v.name == 'Volume1']
        self.assertEqual((('instance-1', 3 * GiB),),
                         volume1.usage.instance_folders)
        self.assertEqual(10 * GiB, volume1.usage.used_bytes)
        # The first agent answered: the second was not asked.
        self.assertEqual('', self.logs.output)

    def test_a_node_down_its_cluster_is_read_through_another(self):
        first, second = [self.world.agent(node)
                         for node in ('a-node1', 'a-node2')]
        self.world.agents['a-node1'].stop()
        [cluster] = self._load('a: %s, %s' % (first, second))
        self.assertEqual(
            simulated_source.load(self.world.state_file, FOLDER)[0], cluster)
        self.assertIn('cluster a: the agent at %s did not answer GET '
                      '/v1/cluster: ' % first, self.logs.output)
        self.assertIn('asked %s instead' % second, self.logs.output)

    def test_a_cluster_none_of_whose_agents_answers_fails_the_run(self):
        dead1, dead2 = self.world.dead_url(), self.world.dead_url()
        conf = self._conf('b: %s' % self.world.agent('b-node1'),
                          'a: %s, %s' % (dead1, dead2))
        err = self.assertRaises(exception.InvalidInventory,
                                sources.load_clusters, conf)
        message = str(err)
        self.assertTrue(message.startswith(
            'cluster a: none of its agents answered (the agent at %s did '
            'not answer GET /v1/cluster: ' % dead1), message)
        self.assertIn('; the agent at %s did not answer' % dead2, message)
        self.assertTrue(message.endswith('; nothing is written'), message)
        self.assertNotIn('\n', message)
        self.assertNotIn('cluster b', message)

    def test_agents_of_another_cluster_or_of_no_cluster_are_passed_over(self):
        solo, b1, a2 = [self.world.agent(node)
                        for node in ('solo', 'b-node1', 'a-node2')]
        [cluster] = self._load('A: %s, %s, %s' % (solo, b1, a2))
        # The cluster's own spelling is published, as os-win reads it.
        self.assertEqual('a', cluster.name)
        self.assertIn('cluster A: the agent at %s: solo is a standalone '
                      'host, in no failover cluster' % solo, self.logs.output)
        self.assertIn('cluster A: the agent at %s: it is a node of cluster '
                      'b, not of A' % b1, self.logs.output)
        err = self.assertRaises(exception.InvalidInventory, self._load,
                                'solo: %s' % solo)
        self.assertIn('standalone host', str(err))

    def test_without_a_client_certificate_the_agent_is_not_asked(self):
        url = self.world.agent('a-node1')
        conf = sync_conf_of(source='agent', agent_cluster=['a: %s' % url],
                            agent_ca_file=self.world.pki.ca_file)
        err = self.assertRaises(exception.InvalidInventory, agent_source.load,
                                conf.placement_sync)
        self.assertIn('TLS with the agent at %s failed' % url, str(err))

    def test_the_agent_refuses_an_instances_folder_that_walks_out(self):
        tls = self.world.tls
        agent = agent_client.AgentClient(self.world.agent('a-node1'),
                                         ca_file=tls['agent_ca_file'],
                                         cert_file=tls['agent_cert_file'],
                                         key_file=tls['agent_key_file'])
        self.addCleanup(agent.close)
        err = self.assertRaises(wire.AgentRefused, agent.cluster, '..\\x')
        self.assertIn('instances_folder', str(err))
        self.assertEqual('a', agent.cluster(FOLDER)['name'])
        # Anything else under /v1/cluster is no resource.
        self.assertRaises(wire.AgentRefused, agent_client.AgentClient._json,
                          agent, 'GET', '/v1/cluster/x')


class TestAgentClusterOption(testtools.TestCase):

    def test_clusters_and_their_agents(self):
        self.assertEqual(
            [('a', ['https://h1:8642', 'https://h2:8642']),
             ('b', ['http://127.0.0.1:1'])],
            agent_source.parse_clusters([
                ' a : https://h1:8642,https://h2:8642, ',
                'b: http://127.0.0.1:1']))

    def test_what_is_refused(self):
        for values, message in (
                ([], 'agent_cluster is not set'),
                (['https://h1:8642'], 'give a cluster and its agents'),
                (['a'], 'give a cluster and its agents'),
                ([': https://h1'], 'give a cluster and its agents'),
                (['a: '], 'cluster a has no agent'),
                (['a: h1:8642'], 'h1:8642 is not an https://'),
                (['a: ftp://h1'], 'ftp://h1 is not an https://'),
                (['a: https://h1', 'A: https://h2'], 'cluster A is given '
                 'twice'),
                (['a: https://h1', 'b: https://h1/'], 'the agent '
                 'https://h1/ is given for cluster a and for cluster b')):
            err = self.assertRaises(exception.ConfigError,
                                    agent_source.parse_clusters, values)
            self.assertIn(message, str(err))
            self.assertIn('[placement_sync] agent_cluster', str(err))

    def test_the_facts_cross_as_plain_values(self):
        cluster = model.Cluster(
            'a', ('a1', 'a2'),
            (model.SharedVolume('v1', 'Volume1', 100,
                                traits=frozenset({'CUSTOM_X', 'CUSTOM_A'}),
                                usage=model.VolumeUsage(
                                    5, 95, (('instance-1', 3),))),
             model.SharedVolume('v2', 'Volume2', 50)),
            (model.OfflineVolume('v3', 'Volume3', 'offline'),))
        plain = wire.loads(wire.dumps(model.as_plain(cluster)))
        self.assertEqual(cluster, model.cluster_from_plain(plain))
        for bad in (None, [], {}, dict(model.as_plain(cluster),
                                       shared_volumes=[{'id': 'v1'}])):
            self.assertRaises(ValueError, model.cluster_from_plain, bad)
