"""Nova follows the failover cluster, in nova's in-process deployment: a
VM the cluster moves (a failover, a node down, a drain) ends with nova's
host, its allocations, its port bindings and its console on the node the
cluster runs it on; evacuation adopts the cluster's VM; the image cache is
one per cluster.

Three nova-compute services play the three nodes of one simulated
cluster; the simulated cluster reports its owner changes as a real one
does, and nothing else tells nova. Run with stestr or testtools.
"""

import time

from nova import context as nova_context
from nova import objects

from hvc_driver import clusterops
from hvc_oswin_api import constants as os_win_const
from tests.functional.driver import test_nova_cluster

NODES = test_nova_cluster.NODES
# Long enough that only the cluster's notifications can explain a move
# being followed within a test; the tests of the check shorten it.
NO_CHECK = 3600


class FailoverTestCase(test_nova_cluster.HyperVClusterTestCase):

    check_interval = NO_CHECK

    def setUp(self):
        self.flags(cluster_check_interval=self.check_interval,
                   group='hyperv_cluster')
        super().setUp()
        self.flavor = self._flavor(disk=10, memory_mb=1024, vcpu=2,
                                   disk_group=True)

    def _wait_until(self, what, check, timeout=20):
        """Wait until ``check()`` is true; fail naming ``what``."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                self.fail('%s: not within %d s' % (what, timeout))
            time.sleep(0.05)

    def _port(self):
        """A fresh Hyper-V port (the neutron fixture's are OVS ports)."""
        port = self.neutron.create_port({'port': {
            'network_id': self.neutron.network_1['id']}})['port']
        self.neutron._ports[port['id']]['binding:vif_type'] = 'hyperv'
        return port

    def _boot_on(self, node, port=None):
        networks = [{'port': port['id']}] if port else 'none'
        server = self._boot(self.flavor, host=node, networks=networks)
        self.assertEqual(node, server['OS-EXT-SRV-ATTR:host'])
        return server

    def _usages(self):
        return {node: self._get_provider_usages(rp)
                for node, rp in self.node_rp.items()}

    def _nova_agrees(self, server, node, port=None):
        """nova's host and node, the allocations and the port binding all
        say ``node`` (without failing: for waiting)."""
        server = self.api.get_server(server['id'])
        allocations = {rp: a['resources'] for rp, a in
                       self._get_allocations_by_server_uuid(
                           server['id']).items()}
        return (server['OS-EXT-SRV-ATTR:host'] == node and
                server['OS-EXT-SRV-ATTR:hypervisor_hostname'] == node and
                allocations == {
                    self.node_rp[node]: {'VCPU': 2, 'MEMORY_MB': 1024},
                    self.csv_rp: {'DISK_GB': 10}} and
                (port is None or self.neutron.show_port(port['id'])[
                    'port']['binding:host_id'] == node))

    def _assert_followed(self, server, node, port=None):
        """The cluster runs it on ``node``, and nova agrees in every way."""
        vm = self._vm(server)
        self.assertEqual(node, vm.node)
        self.assertEqual(node, self.sim.get_cluster_group(vm.name).owner_node)
        self._wait_until('nova follows %s to %s' % (vm.name, node),
                         lambda: self._nova_agrees(server, node, port))
        # Allocations once: nothing left on another node.
        for other, usage in self._usages().items():
            if other != node:
                self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0}, usage, other)
        self.assertEqual(10, self._get_provider_usages(self.csv_rp)[
            'DISK_GB'])
        return self.api.get_server(server['id'])

    def _events(self, server):
        return [a['action'] for a in self.api.api_get(
            '/servers/%s/os-instance-actions' % server['id']).body[
                'instanceActions']]

    def _console(self, server):
        return self.api.post_server_action(
            server['id'], {'os-getConsoleOutput': {}})['output']


class TestFailover(FailoverTestCase):

    def test_a_failover_is_followed(self):
        port = self._port()
        server = self._boot_on('node1', port)
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.assertIn('booting on node1', self._console(server))
        self.sim.move_vm(name, 'node2', restart=True)
        start = time.monotonic()
        server = self._assert_followed(server, 'node2', port)
        followed_in = time.monotonic() - start
        self.assertLess(followed_in, 10)
        self.assertEqual('ACTIVE', server['status'])
        self.assertIn(clusterops.FAILOVER_ACTION, self._events(server))
        # The console goes on: the guest booted on node2, and node2's
        # reader has it (node1's stopped).
        self._wait_until('the console of node2', lambda: 'booting on node2'
                         in self._console(server))
        self.assertFalse(self.computes['node1'].manager.driver._vmops
                         .logs_console_of(name))
        # nova manages it there: stop, start, delete.
        self._stop_server(server)
        self.assertEqual(os_win_const.HYPERV_VM_STATE_DISABLED,
                         self._vm(server).state)
        self._start_server(server)
        self._delete_server(server)
        self.assertEqual([], self.sim.vms())
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0},
                         self._usages()['node2'])
