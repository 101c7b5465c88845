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

"""The seam's contract: what the driver relies on from a Hyper-V host, the
same tests on the simulated node in-process and through an hvc-agent over
the wire (plain HTTP and HTTPS with client certificates), so that the wire
changes nothing the driver sees.
"""

import os
import socket
import threading
import time

import fixtures
from oslo_config import fixture as config_fixture
import testtools

from hvc_agent import client
from hvc_agent import wire
from hvc_driver import hyperv
from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as oswin_exc
from tests.agent import fixtures as agent_fixtures
from tests.unit.driver import fixtures as driver_fixtures

CONF = driver_fixtures.CONF
GiB = 1024 ** 3


class SeamContract(object):
    """The tests; ``self.seam`` is a HyperV bound to node1 of a simulated
    cluster of node1 and node2, made by the subclass's ``_seam``.
    """

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.FakeLogger())
        self.cluster = self.useFixture(driver_fixtures.SimulatedClusterFixture(
            nodes=('node1', 'node2')))
        self.state = self.cluster.state
        self.root = self.cluster.instances_path
        os.makedirs(self.root)
        self.conf = self.useFixture(config_fixture.Config(CONF))
        self.seam = self._seam('node1')

    def _vm(self, name='vm1'):
        vmutils = self.seam.vmutils
        path = os.path.join(self.root, name)
        self.seam.pathutils.check_create_dir(path)
        vmutils.create_vm(name, False, constants.VM_GEN_2, path)
        vmutils.update_vm(name, 512, 0, 1, 0, False, 1.0)
        return name

    def test_the_node_and_its_cluster(self):
        self.assertEqual('node1', self.seam.node)
        self.assertFalse(self.seam.standalone)
        self.assertTrue(self.seam.in_a_cluster())
        clusterutils = self.seam.clusterutils
        self.assertEqual(['node1', 'node2'],
                         sorted(clusterutils.get_cluster_node_names()))
        self.assertEqual('cluster1', clusterutils.get_cluster_name())
        [volume] = clusterutils.list_shared_volumes()
        self.assertEqual(('Volume1', True), (volume.name, volume.online))
        self.assertTrue(self.root.startswith(volume.path))
        self.assertIsInstance(self.seam.hostutils.get_cpus_info(), list)

    def test_a_vm_made_started_and_destroyed(self):
        vmutils = self.seam.vmutils
        name = self._vm()
        self.assertTrue(vmutils.vm_exists(name))
        self.assertEqual([name], vmutils.list_instances())
        vmutils.set_vm_state(name, constants.HYPERV_VM_STATE_ENABLED)
        self.assertEqual(constants.HYPERV_VM_STATE_ENABLED,
                         vmutils.get_vm_state(name))
        summary = vmutils.get_vm_summary_info(name)
        self.assertEqual(constants.HYPERV_VM_STATE_ENABLED,
                         summary['EnabledState'])
        vmutils.set_vm_state(name, constants.HYPERV_VM_STATE_DISABLED)
        vmutils.destroy_vm(name)
        self.assertFalse(vmutils.vm_exists(name))

    def test_errors_keep_their_class(self):
        err = self.assertRaises(oswin_exc.HyperVVMNotFoundException,
                                self.seam.vmutils.get_vm_state, 'nope')
        self.assertIn('nope', str(err))
        self.assertRaises(oswin_exc.ClusterObjectNotFound,
                          self.seam.clusterutils.get_vm_host, 'nope')
        path = os.path.join(self.root, 'a.txt')
        self.seam.pathutils.write_file(path, b'a')
        self.assertRaises(FileExistsError, self.seam.pathutils.rename, path,
                          path)
        self.assertRaises(FileNotFoundError, self.seam.pathutils.read_file,
                          os.path.join(self.root, 'missing'))
        self.state.arm_fault('vmutils.list_instances', message='WMI says no')
        err = self.assertRaises(oswin_exc.HyperVException,
                                self.seam.vmutils.list_instances)
        self.assertIn('WMI says no', str(err))

    def test_files_written_and_read_in_pieces(self):
        pathutils = self.seam.pathutils
        path = os.path.join(self.root, 'image.vhdx')
        pathutils.write_file(path, b'abc')
        pathutils.write_file(path, b'def', 3)
        self.assertEqual(6, pathutils.get_size(path))
        self.assertEqual(b'abcdef', pathutils.read_file(path))
        self.assertEqual(b'cd', pathutils.read_file(path, 2, 2))
        # Not at the end: a piece lost or sent twice.
        self.assertRaises(OSError, pathutils.write_file, path, b'x', 2)
        copy = os.path.join(self.root, 'copy.vhdx')
        pathutils.copyfile(path, copy)
        self.assertEqual(b'abcdef', pathutils.read_file(copy))
        self.assertEqual(sorted(['image.vhdx', 'copy.vhdx']),
                         sorted(pathutils.listdir(self.root)))

    def test_virtual_disks(self):
        vhdutils = self.seam.vhdutils
        parent = os.path.join(self.root, 'parent.vhdx')
        child = os.path.join(self.root, 'child.vhdx')
        vhdutils.create_dynamic_vhd(parent, GiB)
        vhdutils.create_differencing_vhd(child, parent)
        info = vhdutils.get_vhd_info(child)
        self.assertEqual(parent, info['ParentPath'])
        self.assertEqual(GiB, info['VirtualSize'])
        self.assertEqual(parent, vhdutils.get_vhd_parent_path(child))

    def test_a_clustered_vm_moves_live_and_offline(self):
        name = self._vm()
        clusterutils = self.seam.clusterutils
        clusterutils.add_vm_to_cluster(name)
        self.seam.vmutils.set_vm_state(name,
                                       constants.HYPERV_VM_STATE_ENABLED)
        self.assertEqual('node1', clusterutils.get_vm_host(name))
        clusterutils.live_migrate_vm(name, 'node2', 30)
        self.assertEqual('node2', clusterutils.get_vm_host(name))
        self.assertTrue(self.seam.vm_runs_on('node2', name))
        self.assertFalse(self.seam.vmutils.vm_exists(name))
        node2 = self._seam('node2')
        node2.vmutils.set_vm_state(name, constants.HYPERV_VM_STATE_DISABLED)
        self.seam.move_vm_here(name, 30)
        self.assertEqual('node1', clusterutils.get_vm_host(name))
        group = clusterutils.get_cluster_group_state_info(name)
        self.assertEqual('node1', group['owner_node'])

    def test_owner_changes_are_heard_until_stopped(self):
        name = self._vm()
        clusterutils = self.seam.clusterutils
        clusterutils.add_vm_to_cluster(name)
        heard = []
        moved = threading.Event()

        def callback(vm_name, node):
            heard.append((vm_name, node))
            moved.set()
        listener = clusterutils.get_vm_owner_change_listener_v2()
        thread = threading.Thread(target=self._listen,
                                  args=(listener, callback), daemon=True)
        thread.start()
        self._wait_listening()
        self.state.move_vm(name, 'node2')
        self.assertTrue(moved.wait(10))
        self.assertEqual([(name, 'node2')], heard)
        clusterutils.stop_vm_owner_change_listeners()
        thread.join(20)
        self.assertFalse(thread.is_alive())

    def _listen(self, listener, callback):
        try:
            listener(callback)
        except Exception:
            pass

    def _wait_listening(self):
        """Until a change now would be heard."""

    def test_cluster_locks_exclude_each_other(self):
        path = os.path.join(self.root, '_base', 'hvc-image-x')
        other = self._seam('node2')
        order = []
        with self.seam.cluster_lock(path):
            thread = threading.Thread(target=self._take, args=(
                other, path, order))
            thread.start()
            time.sleep(0.3)
            order.append('first released')
        thread.join(30)
        self.assertEqual(['first released', 'second held'], order)

    @staticmethod
    def _take(seam, path, order):
        with seam.cluster_lock(path):
            order.append('second held')

    def test_a_serial_port_reader_fills_its_log(self):
        name = self._vm()
        log = os.path.join(self.root, name, 'console.log')
        pipe = '\\\\.\\pipe\\%s' % name
        # What the guest wrote before the reader connected waits in the pipe.
        self.assertIsNone(self.state.write_to_pipe('node1', pipe, 'login: '))
        reader = self.seam.named_pipe_handler(pipe, log)
        reader.start()
        reader.flush_log_file()
        reader.stop()
        self.assertEqual(b'login: ', self.seam.pathutils.read_file(log))

    def test_a_serial_console_beside_the_log(self):
        name = self._vm()
        vmutils = self.seam.vmutils
        pipe = '\\\\.\\pipe\\%s' % name
        vmutils.set_vm_serial_port_connection(name, 1, pipe)
        log = os.path.join(self.root, name, 'console.log')
        reader = self.seam.named_pipe_handler(
            pipe, log, console={'address': '127.0.0.1',
                                'port_range': '20000:40000'})
        reader.start()
        self.addCleanup(reader.stop)
        address = reader.console_address()
        self.assertEqual('127.0.0.1', address['host'])
        self.assertTrue(20000 <= address['port'] <= 40000, address)
        vmutils.set_vm_state(name, constants.HYPERV_VM_STATE_ENABLED)
        with socket.create_connection((address['host'], address['port']),
                                      timeout=30) as console:
            # Typed until the guest's getty answers: the first bytes may
            # come before the reader knows its client.
            answer = b''
            while b'login: ' not in answer:
                console.sendall(b'\r')
                answer += console.recv(4096)
            console.sendall(b'root\r')
            while b'root\r\n%s login: ' % name.encode() not in answer:
                answer += console.recv(4096)
            # The log has it all: the boot, and what the console saw.
            reader.flush_log_file()
            logged = self.seam.pathutils.read_file(log)
            self.assertIn(b'Linux version', logged)
            self.assertIn(b'root\r\n%s login: ' % name.encode(), logged)
            reader.stop()
            # The client is let go (its connection ends), and no other is
            # taken.
            _drain(console)
        self.assertIsNone(reader.console_address())
        self.assertRaises(OSError, socket.create_connection,
                          (address['host'], address['port']), 5)

    def test_the_vnics_of_the_node_s_vms_as_a_set(self):
        name = self._vm()
        self.seam.vmutils.create_nic(name, 'port-2', '00:15:5d:00:00:02')
        self.seam.vmutils.create_nic(name, 'port-1', '00:15:5d:00:00:01')
        self.assertEqual({'port-1', 'port-2'},
                         self.seam.networkutils.get_vnic_ids())
        # Another node's VMs' vNICs are not this node's.
        self.assertEqual(set(), self._seam('node2').networkutils
                         .get_vnic_ids())
        self.seam.networkutils.connect_vnic_to_vswitch('external', 'port-1')

    def test_another_node_s_path_and_open_vswitch(self):
        path = os.path.join(self.root, 'x')
        remote = self.seam.remote_path('node2', path)
        self.assertNotEqual(path, remote)
        self.seam.pathutils.write_file(remote, b'via the share')
        self.assertEqual(b'via the share',
                         self.seam.pathutils.read_file(path))
        # Each seam raises its own error here: any exception will do.
        error = self.assertRaises(Exception,  # noqa: H202
                                  self.seam.ovs_vsctl, ['no-such-command'], 5)
        self.assertIn('ovs-vsctl', str(error))


class TestInProcess(SeamContract, testtools.TestCase):
    """backend = simulated: nova's in-process functional tests."""

    def _seam(self, node):
        seam = hyperv.HyperV(CONF)
        seam.bind(node)
        return seam


class TestThroughTheAgent(SeamContract, testtools.TestCase):
    """backend = agent, an agent per node over plain HTTP on 127.0.0.1."""

    pki = False

    def setUp(self):
        # A stopped listener ends with its long poll: a short one here.
        self.useFixture(fixtures.MockPatch(
            'hvc_agent.client.EVENT_WAIT_SECONDS', 1))
        super().setUp()

    def _agent(self, node, pki):
        return agent_fixtures.AgentThreadFixture(
            self.cluster.state_file, node, self.root, pki=pki)

    def _tls(self):
        options = self.conf.conf.hyperv_cluster
        return dict(ca_file=options.agent_ca_file,
                    cert_file=options.agent_cert_file,
                    key_file=options.agent_key_file)

    def _seam(self, node):
        pki = None
        if self.pki:
            if not hasattr(self, '_pki'):
                self._pki = agent_fixtures.PKI(self.useFixture(
                    fixtures.TempDir()).path)
            pki = self._pki
        agent = self.useFixture(self._agent(node, pki))
        options = dict(backend='agent', agent_url=agent.url)
        if pki is not None:
            cert, key = pki.issue('nova-compute-%s' % node)
            options.update(agent_ca_file=pki.ca_file, agent_cert_file=cert,
                           agent_key_file=key)
        # Read when bound: each seam keeps its own agent.
        self.conf.config(group='hyperv_cluster', **options)
        seam = hyperv.HyperV(CONF)
        seam.bind(node)
        self.addCleanup(seam._close)
        return seam

    def _wait_listening(self):
        # The listener's first long poll has told it where the stream is.
        time.sleep(0.5)

    def test_a_path_outside_its_storage_is_refused(self):
        for path in ('/etc/passwd', os.path.dirname(self.cluster.state_file),
                     self.root + '/../../..'):
            err = self.assertRaises(wire.AgentRefused,
                                    self.seam.pathutils.exists, path)
            self.assertIn('outside', str(err))
            self.assertRaises(wire.AgentRefused,
                              self.seam.pathutils.write_file, path, b'x')
        self.assertRaises(wire.AgentRefused, self.seam.vhdutils.get_vhd_info,
                          '//node2/C$/etc/passwd')

    def test_a_console_without_an_address_and_port_range_is_refused(self):
        agent = client.AgentClient(self.seam._hyperv_host.url,
                                   **self._tls())
        self.addCleanup(agent.close)
        for console in ({'address': '127.0.0.1'},
                        {'address': '', 'port_range': '1:2'},
                        {'address': '127.0.0.1', 'port_range': '2:1'}, 'x'):
            err = self.assertRaises(
                wire.AgentRefused, agent._json, 'POST', '/v1/pipes', {
                    'pipe': '\\\\.\\pipe\\vm1', 'console': console,
                    'log_file': os.path.join(self.root, 'console.log')})
            self.assertIn('a console needs an address and a port_range',
                          str(err))

    def test_what_is_not_the_seam_is_refused(self):
        agent = client.AgentClient(self.seam._hyperv_host.url,
                                   **self._tls())
        self.addCleanup(agent.close)
        for target, method in (('vmutils', '_conn'), ('os', 'system'),
                               ('pathutils', 'open'), ('host', '__init__')):
            self.assertRaises(wire.AgentRefused, agent.call, target, method)


class TestThroughTheAgentWithTLS(TestThroughTheAgent):
    """The same, over HTTPS with client certificates, each agent the real
    hvc-agent console script (its own process: eventlet, which nova's
    harness patches into this one, breaks a TLS server here).
    """

    pki = True

    def _agent(self, node, pki):
        return agent_fixtures.AgentProcessFixture.simulated(
            self.useFixture(fixtures.TempDir()).path,
            self.cluster.state_file, node, self.root, pki)


# Over HTTPS, what crosses differently: errors, file bytes, a job, the
# event stream (each agent a process to start: the rest is the same wire
# as over HTTP, and make test's time is counted).
for _name in dir(TestThroughTheAgentWithTLS):
    if _name.startswith('test_') and _name not in (
            'test_errors_keep_their_class',
            'test_files_written_and_read_in_pieces',
            'test_a_clustered_vm_moves_live_and_offline',
            'test_owner_changes_are_heard_until_stopped'):
        setattr(TestThroughTheAgentWithTLS, _name, None)


def _drain(sock):
    """Read ``sock`` until its peer closes it."""
    while sock.recv(4096):
        pass
