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

"""The deploying guide (doc/source/install/deploying.md): its openssl
commands make certificates the real hvc-agent serves with and requires,
and its curl check answers with the client certificate only.
"""

import json
import ntpath
import os
import shutil
import subprocess

import fixtures
import testtools

from hvc_sim import state as sim_state
from tests.agent import fixtures as agent_fixtures
from tests import docs

# What the guide's commands name, and what they stand for here.
GUIDE_HOST = 'hv-node1.example.org'
GUIDE_CLIENT = 'nova-compute-hv-node1'
GUIDE_PKI = '/etc/nova/hyperv/pki/'


@testtools.skipUnless(shutil.which('openssl') and shutil.which('curl'),
                      'openssl and curl are needed')
class TestReadmeCertificates(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.pki = os.path.join(self.tmp, 'pki')
        os.mkdir(self.pki)
        text = docs.page('install/deploying.md')
        [self.make_certs, self.curl] = docs.blocks(text, 'sh')
        [self.agent_ini] = [block for block in docs.blocks(text, 'ini')
                            if block.startswith('[agent]')]
        # The commands as written, for an agent reached as localhost.
        subprocess.run(['sh', '-e', '-c', self.make_certs.replace(
            GUIDE_HOST, 'localhost')], cwd=self.pki, check=True,
            capture_output=True, timeout=120)
        state_file = os.path.join(self.tmp, 'sim.db')
        sim_state.ClusterState(state_file).init('cluster1', ['node1'],
                                                [('Volume1', 100)])
        config = dict(backend='simulated', simulated_state_file=state_file,
                      simulated_node_name='node1',
                      instances_path=os.path.join(self.tmp, 'instances'))
        # The agent's files as the guide's [agent] section names them.
        for line in self.agent_ini.splitlines():
            name, _, value = line.partition(' = ')
            if name in ('cert_file', 'key_file', 'ca_file'):
                config[name] = os.path.join(self.pki, ntpath.basename(
                    value.replace(GUIDE_HOST, 'localhost')))
        self.agent = self.useFixture(agent_fixtures.AgentProcessFixture(
            self.tmp, config))

    def _curl(self, command):
        command = command.replace(GUIDE_PKI, self.pki + '/').replace(
            '%s:8642' % GUIDE_HOST, 'localhost:%d' % self.agent.port)
        return subprocess.run(['sh', '-c', command], capture_output=True,
                              text=True, timeout=60)

    def test_the_agent_answers_its_nova_compute(self):
        proc = self._curl(self.curl)
        self.assertEqual(0, proc.returncode, proc.stderr)
        host = json.loads(proc.stdout)
        self.assertEqual(('node1', True), (host['node'],
                                           host['in_a_cluster']))

    def test_it_refuses_a_caller_without_a_client_certificate(self):
        without = '\n'.join(line for line in self.curl.splitlines()
                            if '--cert ' not in line and '--key ' not in line)
        self.assertIn('--cacert', without)
        proc = self._curl(without)
        self.assertNotEqual(0, proc.returncode)
        self.assertEqual('', proc.stdout)

    def test_a_server_certificate_is_no_client_certificate(self):
        # Signed by the same CA, but for serverAuth only.
        server = self.curl.replace(GUIDE_CLIENT, 'localhost')
        self.assertIn('localhost.key', server)
        proc = self._curl(server)
        self.assertNotEqual(0, proc.returncode)
        self.assertEqual('', proc.stdout)
