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

"""The agent's faults as nova-compute sees them, with the real hvc-agent
console script: killed and started again, a caller without the right
certificate, a configuration it must refuse.
"""

import os
import subprocess
import threading
import time

import fixtures
import requests
import testtools

from hvc_agent import client
from hvc_agent import wire
from hvc_oswin_api import constants
from tests.agent import fixtures as agent_fixtures
from tests.unit.driver import fixtures as driver_fixtures


class AgentTestCase(testtools.TestCase):

    pki = False

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.FakeLogger())
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.cluster = self.useFixture(driver_fixtures.SimulatedClusterFixture(
            nodes=('node1', 'node2')))
        self.state = self.cluster.state
        self.root = self.cluster.instances_path
        os.makedirs(self.root)
        self.ca = agent_fixtures.PKI(self.tmp) if self.pki else None
        self.agent = self.useFixture(agent_fixtures.AgentProcessFixture.
                                     simulated(self.tmp,
                                               self.cluster.state_file,
                                               'node1', self.root, self.ca))
        self.client = self._client()

    def _client(self, **tls):
        agent = client.AgentClient(self.agent.url, timeout=10, **tls)
        self.addCleanup(agent.close)
        return agent

    def _vm(self, name='vm1'):
        vmutils = self.client.utils('vmutils')
        vmutils.create_vm(name, False, constants.VM_GEN_2,
                          os.path.join(self.root, name))
        vmutils.update_vm(name, 512, 0, 1, 0, False, 1.0)
        return name

    def _clustered_vm_moving_slowly(self):
        """A running clustered VM, and the clusterutils through the agent;
        the world's group moves take 30 s.
        """
        name = self._vm()
        clusterutils = self.client.utils('clusterutils')
        clusterutils.add_vm_to_cluster(name)
        self.client.utils('vmutils').set_vm_state(
            name, constants.HYPERV_VM_STATE_ENABLED)
        self.state.set_group_move_seconds(30)
        return name, clusterutils

    def _restart(self, kill=True):
        self.agent.stop(kill=kill)
        self.agent.start()


class TestAgentRestarts(AgentTestCase):

    def test_a_listener_ends_when_its_agent_restarts(self):
        # What moved while the agent was down was heard by nobody: the
        # listener must end, so that the driver runs its periodic check.
        name = self._vm()
        self.client.utils('clusterutils').add_vm_to_cluster(name)
        listener = self.client.owner_change_listener()
        ended = []

        def listen():
            try:
                listener(lambda *args: None)
            except Exception as e:
                ended.append(e)
        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        time.sleep(0.5)
        self.agent.stop(kill=True)
        self.state.move_vm(name, 'node2')
        self.agent.start()
        thread.join(60)
        self.assertFalse(thread.is_alive())
        [error] = ended
        self.assertIsInstance(error, wire.AgentError)

    def test_a_listener_that_missed_events_ends(self):
        listener = self.client.owner_change_listener()
        calls = []
        # A stream whose id changes between two polls (the agent's own
        # listener was started again) has a gap.
        real = self.client._json

        def json(method, path, *args, **kwargs):
            answer = real(method, path, *args, **kwargs)
            if path == '/v1/events':
                calls.append(answer)
                if len(calls) == 2:
                    answer = dict(answer, boot=answer['boot'] + '.1')
            return answer
        self.useFixture(fixtures.MockPatchObject(self.client, '_json',
                                                 side_effect=json))
        self.useFixture(fixtures.MockPatch(
            'hvc_agent.client.EVENT_WAIT_SECONDS', 0.1))
        self.assertRaises(client.EventsLost, listener, lambda *args: None)
        self.assertEqual(2, len(calls))

    def test_a_job_lost_with_its_agent_fails_its_caller(self):
        name, clusterutils = self._clustered_vm_moving_slowly()
        self.useFixture(fixtures.MockPatch(
            'hvc_agent.client.JOB_WAIT_SECONDS', 0.5))
        outcome = []

        def move():
            try:
                clusterutils.live_migrate_vm(name, 'node2', 60)
                outcome.append('moved')
            except Exception as e:
                outcome.append(e)
        thread = threading.Thread(target=move, daemon=True)
        thread.start()
        time.sleep(1)
        self._restart()
        thread.join(60)
        [error] = outcome
        self.assertIsInstance(error, wire.AgentError)
        self.assertIn('lost job', str(error))

    def test_a_job_is_cancelled_through_the_cluster(self):
        name, clusterutils = self._clustered_vm_moving_slowly()
        job = self.client._json('POST', '/v1/jobs', {
            'target': 'clusterutils', 'method': 'live_migrate_vm',
            'args': [name, 'node2', 60], 'kwargs': {}})['job']
        deadline = time.monotonic() + 10
        while (self.state.group_move(name) is None and
               time.monotonic() < deadline):
            time.sleep(0.05)
        self.client._json('DELETE', '/v1/jobs/%s' % job)
        state = self.client._json('GET', '/v1/jobs/%s' % job,
                                  params={'wait': 5})
        self.assertTrue(state['done'])
        self.assertIn('error', state)
        self.assertEqual('node1', clusterutils.get_vm_host(name))

    def test_a_lock_whose_holder_died_is_released_with_its_lease(self):
        path = os.path.join(self.root, 'hvc-image-x')
        lease = self.client._json('POST', '/v1/locks', {
            'path': path, 'wait': 0, 'lease': 1})['lock']
        self.assertTrue(lease)
        # Held: another caller does not get it...
        self.assertIsNone(self.client._json('POST', '/v1/locks', {
            'path': path, 'wait': 0, 'lease': 1})['lock'])
        # ... until the lease ends unrenewed.
        other = self.client._json('POST', '/v1/locks', {
            'path': path, 'wait': 10, 'lease': 60})['lock']
        self.assertTrue(other)
        self.assertRaises(wire.AgentRefused, self.client._json, 'PUT',
                          '/v1/locks/%s' % lease)

    def test_serial_readers_start_again_with_their_agent(self):
        name = self._vm()
        log = os.path.join(self.root, 'console.log')
        pipe = '\\\\.\\pipe\\%s' % name
        reader = self.client.named_pipe_handler(pipe, log)
        reader.start()
        self._restart()
        self.state.write_to_pipe('node1', pipe, 'after the restart')
        # The first answer of the new agent starts the readers again.
        self.client.node_name()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.state.write_to_pipe('node1', pipe, '') == log:
                break
            time.sleep(0.1)
        self.assertEqual(log, self.state.write_to_pipe('node1', pipe, ''))
        reader.stop()

    def test_an_agent_with_serial_readers_stops_on_sigterm(self):
        # It stopped each reader's (pipe, reader) entry as the reader: the
        # error ended the stop before the server's, which served on.
        name = self._vm()
        self.client.named_pipe_handler(
            '\\\\.\\pipe\\%s' % name,
            os.path.join(self.root, 'console.log')).start()
        self.agent.stop()  # SIGTERM; fails if it still runs after 30 s
        self.assertEqual(0, self.agent.process.returncode)


class TestAuthentication(AgentTestCase):

    pki = True

    def _tls(self, ca=None, name='nova-compute'):
        cert, key = (ca or self.ca).issue(name)
        return dict(ca_file=self.ca.ca_file, cert_file=cert, key_file=key)

    def test_a_certified_caller_is_served(self):
        self.assertEqual('node1', self._client(**self._tls()).node_name())

    def test_a_caller_without_a_certificate_is_refused(self):
        agent = self._client(ca_file=self.ca.ca_file)
        self.assertRaises(wire.AgentUnreachable, agent.node_name)

    def test_a_caller_certified_by_another_ca_is_refused(self):
        rogue = agent_fixtures.PKI(self.useFixture(fixtures.TempDir()).path,
                                   name='rogue-ca')
        agent = self._client(**self._tls(ca=rogue))
        self.assertRaises(wire.AgentUnreachable, agent.node_name)

    def test_plain_http_is_not_served(self):
        url = self.agent.url.replace('https:', 'http:') + '/v1/host'
        self.assertRaises(requests.exceptions.RequestException,
                          requests.get, url, timeout=5)

    def test_an_agent_with_another_ca_is_not_trusted(self):
        rogue = agent_fixtures.PKI(self.useFixture(fixtures.TempDir()).path,
                                   name='rogue-ca')
        tls = self._tls()
        tls['ca_file'] = rogue.ca_file
        self.assertRaises(wire.AgentUnreachable,
                          self._client(**tls).node_name)


class TestConfiguration(testtools.TestCase):

    def _run(self, config):
        tmp = self.useFixture(fixtures.TempDir()).path
        conf = os.path.join(tmp, 'agent.conf')
        with open(conf, 'w') as f:
            f.write('[agent]\n' + ''.join('%s = %s\n' % item
                                          for item in config.items()))
        return subprocess.run(
            [os.path.join(agent_fixtures.BIN, 'hvc-agent'), '--config-file',
             conf], capture_output=True, text=True, timeout=60)

    def test_plain_http_off_the_loopback_is_refused(self):
        result = self._run({'bind_host': '0.0.0.0', 'insecure_loopback':
                            'true', 'backend': 'simulated',
                            'simulated_state_file': '/nonexistent',
                            'simulated_node_name': 'node1'})
        self.assertEqual(2, result.returncode)
        self.assertIn('insecure_loopback', result.stderr)
        self.assertEqual(1, len(result.stderr.strip().splitlines()))

    def test_https_without_its_certificates_is_refused(self):
        result = self._run({'bind_host': '127.0.0.1',
                            'bind_port': agent_fixtures.free_port(),
                            'backend': 'simulated',
                            'simulated_state_file': '/nonexistent',
                            'simulated_node_name': 'node1'})
        self.assertEqual(2, result.returncode)
        self.assertIn('cert_file, key_file, ca_file must be set',
                      result.stderr)
