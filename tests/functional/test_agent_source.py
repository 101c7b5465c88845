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

"""hvc-placement-sync with source = agent against a real placement and
real hvc-agents (the console script, HTTPS with client certificates) of
simulated nodes: what it publishes is what source = simulated publishes
for the same world; a node's agent down is passed over; a cluster none of
whose agents answers fails the run and nothing is written.
"""

import json

from hvc_demo import scheduler_standin
import hvc_names
from tests.agent import test_agent_source as agent_source_tests
from tests import fixtures as hvc_fixtures
from tests.functional import test_cli


class TestAgentSource(hvc_fixtures.PlacementTestCase):
    """The world of ``AgentWorld``, its clusters named for the test."""

    def setUp(self):
        super().setUp()
        world = self.world = self.useFixture(agent_source_tests.AgentWorld(
            self.unique('a'), self.unique('b')))
        self.a, self.b, self.nodes = world.a, world.b, world.nodes
        self.state_file = world.state_file
        self.volumes = {(v.cluster, v.name): v.id
                        for v in world.state.shared_volumes()}
        client = self.client()
        for nodes in self.nodes.values():
            for node in nodes:
                scheduler_standin.create_compute_node(client, node)

    def _run(self, *args, clusters=None, **options):
        """hvc-placement-sync with ``clusters`` ({name: [agent URL]}) as
        [placement_sync] agent_cluster (source = agent), or ``options``.
        """
        if clusters is not None:
            options = dict(self.world.tls, source='agent', **options)
            # The option once per cluster: a line each.
            options['agent_cluster'] = '\nagent_cluster = '.join(
                '%s: %s' % (name, ', '.join(urls))
                for name, urls in clusters.items())
        return test_cli.run('hvc-placement-sync', '--config-file',
                            self.conf_file(**options), *args)

    def _simulated(self, *args):
        return self._run(*args, source='simulated',
                         simulated_state_file=self.state_file)

    def _providers(self):
        """{(cluster, volume name): its inventory} of what placement holds
        of the world's CSVs.
        """
        client = self.client()
        found = {}
        for (cluster, name), volume_id in self.volumes.items():
            rp_uuid = hvc_names.provider_uuid(cluster, volume_id)
            if client.get_provider(rp_uuid) is not None:
                found[cluster, name] = client.get_inventories(rp_uuid)[1]
        return found

    def test_it_publishes_what_the_simulated_source_does(self):
        clusters = {self.a: [self.world.agent(n) for n in self.nodes[self.a]],
                    self.b: [self.world.agent(n) for n in self.nodes[self.b]]}
        result = self._run('--once', clusters=clusters)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual('', result.stderr)
        for cluster, volume in ((self.a, 'Volume1'), (self.a, 'Volume2'),
                                (self.b, 'Data')):
            self.assertIn('create provider hyperv-csv:%s:%s'
                          % (cluster, volume), result.stdout)
        providers = self._providers()
        self.assertEqual(3, len(providers))
        # 10 GiB outside nova (no nova credentials: the instance's folder
        # counts too) and 5 of headroom.
        self.assertEqual(15, providers[self.a, 'Volume1']['DISK_GB'][
            'reserved'])
        # The simulated source finds nothing to change.
        again = self._simulated('--once')
        self.assertEqual(0, again.returncode, again.stderr)
        self.assertEqual('placement is up to date: nothing to change\n',
                         again.stdout)
        # Both sources report the same volumes, measured alike.
        reports = [json.loads(result.stdout) for result in (
            self._run('report', '--format', 'json', clusters=clusters),
            self._simulated('report', '--format', 'json'))]
        ours = [[c for c in report['clusters']
                 if c['name'] in (self.a, self.b)] for report in reports]
        self.assertEqual(2, len(ours[0]))
        self.assertEqual(ours[1], ours[0])
        [volume1] = [v for c in ours[0] for v in c['shared_volumes']
                     if v['name'] == 'Volume1']
        self.assertEqual(10.0, volume1['volume']['used_gb'])

    def test_a_node_s_agent_down_another_node_s_answers(self):
        first, second = [self.world.agent(n) for n in self.nodes[self.a]]
        self.world.agents[self.nodes[self.a][0]].stop()
        result = self._run('--once', clusters={self.a: [first, second]})
        self.assertEqual(0, result.returncode, result.stderr)
        [warning] = result.stderr.strip().splitlines()
        self.assertIn('cluster %s: the agent at %s did not answer GET '
                      '/v1/cluster' % (self.a, first), warning)
        self.assertIn('asked %s instead' % second, warning)
        self.assertEqual({(self.a, 'Volume1'), (self.a, 'Volume2')},
                         set(self._providers()))

    def test_a_cluster_none_of_whose_agents_answers_writes_nothing(self):
        dead1, dead2 = self.world.dead_url(), self.world.dead_url()
        result = self._run('--once', clusters={
            self.a: [self.world.agent(self.nodes[self.a][0])],
            self.b: [dead1, dead2]})
        self.assertEqual(1, result.returncode, result.stderr)
        [error] = result.stderr.strip().splitlines()
        self.assertTrue(error.startswith(
            'hvc-placement-sync: error: cluster %s: none of its agents '
            'answered (the agent at %s did not answer GET /v1/cluster: '
            % (self.b, dead1)), error)
        self.assertIn('; the agent at %s did not answer' % dead2, error)
        self.assertEqual('', result.stdout)
        # Nothing of either cluster: the run stopped before any write.
        self.assertEqual({}, self._providers())
