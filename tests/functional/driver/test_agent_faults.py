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

"""The agent killed, as nova sees it: nova's in-process deployment with
every nova-compute on its own real ``hvc-agent`` process (plain HTTP on
127.0.0.1), the agent killed (SIGKILL) in the middle of a boot, a live
migration and a cold migration and started again, and an owner change
while one is down.

Whatever happened, nova converges with nothing lost: one VM, on the node
nova records, the allocations exact (the instance's on that node and its
CSV, no migration record holding any), and after a delete nothing left.

nova's harness runs on eventlet in this process; the agents are processes
of their own (their TLS side is tested in tests/agent). Run with stestr or
testtools.
"""

import threading

import fixtures

import nova.conf
from nova import context as nova_context

from hvc_agent import client
from hvc_oswin_api import constants as os_win_const
from tests.agent import fixtures as agent_fixtures
from tests.functional.driver import test_failover
from tests.functional.driver import test_nova_cluster

NODES = test_failover.NODES
# How long a cluster group move takes while an agent is killed in it.
MOVE_SECONDS = 5


class AgentTestCase(test_failover.FailoverTestCase):
    """Each nova-compute talks to the hvc-agent of its node."""

    # What NotYet retries wait at most: nova's rollbacks are followed soon.
    check_interval = 2

    def setUp(self):
        self.agents = {}
        super().setUp()

    def start_service(self, name, host=None, **kwargs):
        """A node's nova-compute with its agent: started first (again on
        a restart of the service: the same agent), named in
        [hyperv_cluster] agent_url, which the driver reads once, when
        init_host binds (every compute of this process shares CONF).
        """
        if name == 'compute' and host in NODES:
            agent = self.agents.get(host)
            if agent is None:
                if not self.agents:
                    self.agent_dir = self.useFixture(
                        fixtures.TempDir()).path
                agent = self.agents[host] = self.useFixture(
                    agent_fixtures.AgentProcessFixture.simulated(
                        self.agent_dir, self.cluster.state_file, host,
                        nova.conf.CONF.instances_path))
            self.flags(backend='agent', agent_url=agent.url,
                       agent_timeout=15, group='hyperv_cluster')
        return super().start_service(name, host=host, **kwargs)

    def _node_of(self, agent_client):
        [node] = [n for n, a in self.agents.items()
                  if a.url == agent_client.url]
        return node

    def _kill(self, node):
        self.agents[node].stop(kill=True)

    def _restart(self, node):
        self.agents[node].start()

    def _kill_at_first(self, target, method, restart):
        """The agent that is to serve the first ``target.method`` call
        killed just before it: the call fails as an agent that died does.
        With ``restart`` the agent is back once the call failed. The
        nodes this happened to (one at most).
        """
        real = client.AgentClient.call
        killed = []

        def call(agent_client, kind, name, *args, **kwargs):
            if (kind, name) != (target, method) or killed:
                return real(agent_client, kind, name, *args, **kwargs)
            node = self._node_of(agent_client)
            killed.append(node)
            self._kill(node)
            try:
                return real(agent_client, kind, name, *args, **kwargs)
            finally:
                if restart:
                    self._restart(node)
        self.useFixture(fixtures.MockPatchObject(client.AgentClient, 'call',
                                                 call))
        return killed

    def _boot_until(self, flavor, status, host=None):
        """A server, once it is ``status`` (slower than nova's helper
        waits when an agent restarts in the build).
        """
        server = self.api.post_server({'server': self._build_server(
            image_uuid=test_nova_cluster.VHD_IMAGE, flavor_id=flavor,
            networks='none', host=host)})
        return self._wait_for_state_change(server, status, max_retries=120)

    def _boot_on(self, node, port=None):
        server = self._boot_until(self.flavor, 'ACTIVE', host=node)
        self.assertEqual(node, server['OS-EXT-SRV-ATTR:host'])
        return server

    def _migrations(self, server):
        return [m for m in self.admin_api.api_get(
            '/os-migrations?instance_uuid=%s' % server['id']).body[
                'migrations']]

    def _settled(self, server):
        """The cluster moves nothing and nova has no task on it."""
        name = server['OS-EXT-SRV-ATTR:instance_name']
        server = self.api.get_server(server['id'])
        return (self.sim.group_move(name) is None and
                server['OS-EXT-STS:task_state'] is None and
                server['status'] in ('ACTIVE', 'ERROR', 'VERIFY_RESIZE'))

    def _assert_converged(self, server):
        """One VM, on the node nova records; the allocations exact: the
        instance's on that node and the CSV, none held by a migration.
        The server, settled.
        """
        self._wait_until('nova and the cluster settle',
                         lambda: self._settled(server), timeout=60)
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.assertEqual([name], [vm.name for vm in self.sim.vms()])
        server = self._assert_followed(server, self._vm(server).node)
        for migration in self._migrations(server):
            self.assertEqual({}, self._get_allocations_by_server_uuid(
                migration['uuid']), migration)
        return server

    def _assert_nothing_left_after_delete(self, server):
        self._delete_server(server)
        self._assert_nothing_left(server)

    def _assert_nothing_left(self, server):
        self.assertEqual([], self.sim.vms())
        self.assertEqual([], self.sim.cluster_groups())
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            server['id']))
        self._assert_usages({})


class TestAgentKilledDuringABoot(AgentTestCase):
    """Killed while the driver spawns: the VM made and clustered, not
    started yet.
    """

    def test_a_boot(self):
        # Back at once: the driver's cleanup removes what it made, and nova
        # builds the server on another node.
        killed = self._kill_at_first('vmutils', 'set_vm_state', restart=True)
        server = self._boot_until(self.flavor, 'ACTIVE')
        [node] = killed
        self.assertNotEqual(node, server['OS-EXT-SRV-ATTR:host'])
        self._assert_converged(server)
        self._assert_nothing_left_after_delete(server)
        # Down until nova gave up on the server (ERROR, no host): neither
        # the driver's cleanup nor nova's reached the agent, and the VM
        # stays on node1 until nova's reaper of deleted instances that
        # still run on a host (running_deleted_instance_action) removes
        # it there, after the delete.
        killed = self._kill_at_first('vmutils', 'set_vm_state',
                                     restart=False)
        server = self._boot_until(self.flavor, 'ERROR', host='node1')
        self.assertEqual(['node1'], killed)
        self.assertIsNone(server['OS-EXT-SRV-ATTR:host'])
        self._restart('node1')
        self._delete_server(server)
        self.computes['node1'].manager._cleanup_running_deleted_instances(
            nova_context.get_admin_context())
        self._assert_nothing_left(server)


class TestAgentKilledDuringMoves(AgentTestCase):
    """Killed while the cluster moves the VM's group: the source's agent
    runs the move as a job (live) or is asked until the group arrives
    (cold). The move goes on in the cluster.
    """

    def _kill_mid_move(self, server, action, source, target):
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.sim.set_group_move_seconds(MOVE_SECONDS)
        self.api.post_server_action(server['id'], action)
        self._wait_until('the cluster moves %s to %s' % (name, target),
                         lambda: self.sim.group_move(name) == target)
        self._kill(source)
        self._restart(source)

    def test_a_live_then_a_cold_migration(self):
        server = self._boot_on('node1')
        # The job lost, the source finds the VM still on itself (the move
        # is not done yet) and nova rolls back; the cluster's move ends
        # and node2 follows it.
        self._kill_mid_move(server, {'os-migrateLive': {
            'host': 'node2', 'block_migration': 'auto'}}, 'node1', 'node2')
        server = self._assert_converged(server)
        self.assertEqual(('ACTIVE', 'node2'), (
            server['status'], server['OS-EXT-SRV-ATTR:host']))
        self._kill_mid_move(server, {'migrate': {'host': 'node1'}},
                            'node2', 'node1')
        self._wait_until('nova and the cluster settle',
                         lambda: self._settled(server), timeout=60)
        server = self.api.get_server(server['id'])
        if server['status'] == 'VERIFY_RESIZE':
            server = self._confirm_resize(server)
        server = self._assert_converged(server)
        if server['status'] == 'ERROR':
            # The source lost its agent while it waited for the group to
            # arrive: the resize failed, the cluster's move went on, and
            # node1 follows the VM (off); a hard reboot starts it there.
            server = self._reboot_server(server, hard=True)
        self.assertEqual(os_win_const.HYPERV_VM_STATE_ENABLED,
                         self._vm(server).state)
        self._assert_nothing_left_after_delete(server)


class TestAnOwnerChangeWhileAnAgentIsDown(AgentTestCase):
    """The cluster fails a VM over to a node whose agent is down: nobody
    hears of it. Once the agent is back, the node's listener ends (its
    connection broke, or its stream is new) and the driver's check finds
    the VM: long before the periodic check would.
    """

    check_interval = test_failover.NO_CHECK

    def test_an_owner_change_while_an_agent_is_down(self):
        # Short polls, so that a listener is soon between two.
        self.useFixture(fixtures.MockPatch(
            'hvc_agent.client.EVENT_WAIT_SECONDS', 0.5))
        server = self._boot_on('node1')
        name = server['OS-EXT-SRV-ATTR:instance_name']
        # node2's listener is in a poll, which the kill breaks.
        self._kill('node2')
        self.sim.move_vm(name, 'node2', restart=True)
        self._restart('node2')
        self._assert_followed(server, 'node2')
        # node1's listener is between two polls while its agent is killed
        # and started again: its next poll is of the new agent's stream.
        real = client.AgentClient._json
        held, release = threading.Event(), threading.Event()
        node1 = self.agents['node1'].url

        def json(agent_client, method, path, *args, **kwargs):
            answer = real(agent_client, method, path, *args, **kwargs)
            if (path == '/v1/events' and agent_client.url == node1 and
                    kwargs['params'].get('after') is not None and
                    not release.is_set()):
                held.set()
                release.wait(60)
            return answer
        self.useFixture(fixtures.MockPatchObject(client.AgentClient, '_json',
                                                 json))
        self._wait_until('node1 between two polls', held.is_set)
        self._kill('node1')
        self.sim.move_vm(name, 'node1', restart=True)
        self._restart('node1')
        release.set()
        self._assert_followed(server, 'node1')
        self._assert_nothing_left_after_delete(server)
