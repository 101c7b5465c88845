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

"""The serial console log: os-win (autospec) and the simulated cluster."""

import os
import socket
import time
from unittest import mock

from hvc_driver import driver
from hvc_driver import hyperv
from hvc_driver import layout
from hvc_driver import serialconsoleops
from hvc_driver import vmops
from hvc_driver import volumeops
from hvc_oswin_api import constants as os_win_const
from hvc_oswin_api import exceptions as api_exc
from nova import exception
from nova import objects
from nova.virt import virtapi
from os_win import exceptions as os_win_exc
from os_win.utils.io import namedpipe
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.driver import test_vmops

VM = 'instance-00000001'
PIPE = '\\\\.\\pipe\\instance-00000001'
UUID = '3f0d3d5c-1e7e-4bd6-a0c3-2a5b6f1c9b11'

objects.register_all()


class OsWinTestCase(driver_fixtures.OsWinTestCase):

    def setUp(self):
        super().setUp()
        self.conf.config(instances_path='C:\\ClusterStorage\\v1\\Instances')
        self.vmutils = self.oswin.utils['vmutils']
        self.vmutils.get_vm_serial_port_connections.return_value = []
        # A new autospec'd handler for every one made.
        self.handlers = []

        def make_handler(*args, **kwargs):
            handler = mock.create_autospec(namedpipe.NamedPipeHandler,
                                           instance=True)
            self.handlers.append(handler)
            return handler
        # The autospec'd class still checks the constructor's arguments.
        self.make_handler = make_handler
        self.oswin.pipe_handler_class.side_effect = make_handler
        self.hyperv = hyperv.HyperV(driver_fixtures.CONF)
        self.hyperv.bind('node1')
        self.ops = serialconsoleops.SerialConsoleOps(
            self.hyperv, layout.InstanceLayout(self.hyperv))

    def _log_path(self, vm_name=VM):
        return os.path.join(driver_fixtures.CONF.instances_path, vm_name,
                            'console.log')


class TestSerialConsoleOps(OsWinTestCase):

    def test_start_connects_com1_to_a_pipe_and_logs_it(self):
        self.ops.start_log(VM)
        self.vmutils.set_vm_serial_port_connection.assert_called_once_with(
            VM, 1, PIPE)
        self.oswin.pipe_handler_class.assert_called_once_with(
            PIPE, log_file=self._log_path())
        [handler] = self.handlers
        handler.start.assert_called_once_with()
        handler.stop.assert_not_called()

    def test_a_port_connected_already_is_left_alone(self):
        self.vmutils.get_vm_serial_port_connections.return_value = [PIPE]
        self.ops.connect_serial_port(VM)
        self.vmutils.set_vm_serial_port_connection.assert_not_called()

    def test_connection_errors_are_the_callers(self):
        self.vmutils.set_vm_serial_port_connection.side_effect = (
            os_win_exc.HyperVException('no COM1'))
        self.assertRaises(api_exc.HyperVException,
                          self.ops.connect_serial_port, VM)

    def test_start_again_replaces_the_reader(self):
        self.ops.start_log(VM)
        self.ops.start_log(VM)
        first, second = self.handlers
        first.stop.assert_called_once_with()
        second.stop.assert_not_called()
        self.ops.flush_log(VM)
        second.flush_log_file.assert_called_once_with()
        first.flush_log_file.assert_not_called()

    def test_stop_stops_the_reader_once(self):
        self.ops.start_log(VM)
        self.ops.stop_log(VM)
        self.ops.stop_log(VM)
        self.handlers[0].stop.assert_called_once_with()
        # Nothing to flush any more.
        self.ops.flush_log(VM)
        self.handlers[0].flush_log_file.assert_not_called()

    def test_a_reader_that_cannot_start_is_logged_and_stopped(self):
        def failing(*args, **kwargs):
            handler = self.make_handler(*args, **kwargs)
            handler.start.side_effect = os_win_exc.OSWinException(
                'Named pipe handler failed to initialize')
            return handler
        self.oswin.pipe_handler_class.side_effect = failing
        self.ops.start_log(VM)
        self.handlers[0].stop.assert_called_once_with()
        self.assertIn('serial console log of %s on node node1 could not be '
                      'started' % VM, self.logger.output)
        self.assertIn('failed to initialize', self.logger.output)
        self.ops.stop_log(VM)
        self.handlers[0].stop.assert_called_once_with()

    def test_a_port_that_cannot_be_connected_is_logged_on_start(self):
        self.vmutils.set_vm_serial_port_connection.side_effect = (
            os_win_exc.HyperVException('no COM1'))
        self.ops.start_log(VM)
        self.assertEqual([], self.handlers)
        self.assertIn('no COM1', self.logger.output)

    def test_a_reader_that_fails_to_stop_is_logged(self):
        self.ops.start_log(VM)
        self.handlers[0].stop.side_effect = OSError('handle')
        self.ops.stop_log(VM)
        self.assertIn('Stopping the serial console log of %s on node node1 '
                      'failed' % VM, self.logger.output)

    def test_start_logs_only_for_nova_vms_that_run(self):
        self.vmutils.get_active_instances.return_value = [
            'instance-a', 'not-nova', 'instance-b']
        self.ops.start_logs(['instance-a', 'instance-b', 'instance-off'])
        self.assertEqual(
            [mock.call('\\\\.\\pipe\\instance-a',
                       log_file=self._log_path('instance-a')),
             mock.call('\\\\.\\pipe\\instance-b',
                       log_file=self._log_path('instance-b'))],
            self.oswin.pipe_handler_class.call_args_list)

    def test_start_logs_logs_a_listing_failure(self):
        self.vmutils.get_active_instances.side_effect = (
            os_win_exc.HyperVException('WMI down'))
        self.ops.start_logs([VM])
        self.assertEqual([], self.handlers)
        self.assertIn('WMI down', self.logger.output)


class TestSerialConsole(OsWinTestCase):
    """[serial_console] enabled: the reader also serves the pipe over TCP,
    for nova-serialproxy (os-win's handler with its queues, as
    compute-hyperv made it).
    """

    def setUp(self):
        super().setUp()
        self.flags = dict(enabled=True, proxyclient_address='127.0.0.1',
                          port_range='20000:40000')
        self.conf.config(group='serial_console', **self.flags)
        self.instance = objects.Instance(uuid=UUID, id=1)  # VM's name

    def _queues(self):
        kwargs = self.oswin.pipe_handler_class.call_args.kwargs
        return kwargs['input_queue'], kwargs['output_queue'], kwargs[
            'connect_event']

    @staticmethod
    def _typed(input_queue):
        """What os-win's reader would write to the pipe next (once the
        proxy took the client: until then the queue passes nothing).
        """
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            typed = input_queue.get(timeout=0.1, continue_on_timeout=False)
            if typed:
                return typed
            time.sleep(0.01)  # no client yet: get returned at once.
        return None

    def test_the_reader_is_made_with_its_queues(self):
        self.ops.start_log(VM)
        self.oswin.pipe_handler_class.assert_called_once_with(
            PIPE, input_queue=mock.ANY, output_queue=mock.ANY,
            connect_event=mock.ANY, log_file=self._log_path())
        self.handlers[0].start.assert_called_once_with()
        console = self.ops.get_serial_console(self.instance)
        self.assertEqual('127.0.0.1', console.host)
        self.assertTrue(20000 <= console.port <= 40000, console.port)

    def test_a_client_and_the_pipe_talk_through_the_queues(self):
        self.ops.start_log(VM)
        input_queue, output_queue, connected = self._queues()
        console = self.ops.get_serial_console(self.instance)
        # Before a client: what the guest writes is the log's only.
        self.assertFalse(connected.is_set())
        output_queue.put(b'lost')
        with socket.create_connection((console.host, console.port),
                                      timeout=10) as client:
            client.sendall(b'root\r')
            self.assertEqual(b'root\r', self._typed(input_queue))
            self.assertTrue(connected.is_set())
            output_queue.put(b'Password: ')
            self.assertEqual(b'Password: ', client.recv(4096))
        # The client went: the reader's writer stops waiting for it.
        self.assertIn(input_queue.get(timeout=10), (None, b''))
        self.ops.stop_log(VM)
        self.handlers[0].stop.assert_called_once_with()
        self.assertRaises(OSError, socket.create_connection,
                          (console.host, console.port), 5)

    def test_a_second_client_waits_for_the_first(self):
        self.ops.start_log(VM)
        input_queue, _output_queue, _connected = self._queues()
        console = self.ops.get_serial_console(self.instance)
        address = (console.host, console.port)
        with socket.create_connection(address, timeout=10) as first:
            first.sendall(b'1')
            self.assertEqual(b'1', self._typed(input_queue))
            second = socket.create_connection(address, timeout=10)
            second.sendall(b'2')
            self.assertIsNone(input_queue.get(timeout=0.5,
                                              continue_on_timeout=False))
        # The first one gone, the second is served.
        self.assertEqual(b'2', self._typed(input_queue))
        second.close()
        self.ops.stop_log(VM)

    def test_no_console_for_a_vm_that_does_not_run_here(self):
        self.assertRaises(exception.InstanceNotReady,
                          self.ops.get_serial_console, self.instance)

    def test_no_console_from_a_reader_started_without(self):
        self.conf.config(enabled=False, group='serial_console')
        self.ops.start_log(VM)
        self.oswin.pipe_handler_class.assert_called_once_with(
            PIPE, log_file=self._log_path())
        self.assertRaises(exception.ConsoleTypeUnavailable,
                          self.ops.get_serial_console, self.instance)

    def test_a_taken_port_range_is_a_reader_that_did_not_start(self):
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(('127.0.0.1', 0))
        port = taken.getsockname()[1]
        self.conf.config(port_range='%d:%d' % (port, port),
                         group='serial_console')
        self.ops.start_log(VM)
        self.assertIn('no free port in %d:%d on 127.0.0.1' % (port, port),
                      self.logger.output)
        self.assertFalse(self.ops.is_logging(VM))
        self.assertEqual([], self.handlers)


class TestVMOpsSerialConsole(OsWinTestCase):
    """Where VMOps starts and stops the log, against os-win."""

    def setUp(self):
        super().setUp()
        self.conf.config(instances_path=self.useFixture(
            driver_fixtures.fixtures.TempDir()).path, use_cow_images=True)
        vhdutils = self.oswin.utils['vhdutils']
        vhdutils.get_vhd_size.return_value = {'VirtualSize': 1}
        vhdutils.get_vhd_info.return_value = {
            'ParentResolved': False, 'ParentPath': '',
            'ProviderSubtype': os_win_const.VHD_TYPE_DYNAMIC}
        self.vmutils.vm_exists.return_value = False
        self.vmutils.get_vm_state.return_value = (
            os_win_const.HYPERV_VM_STATE_ENABLED)
        self.oswin.utils['clusterutils'].vm_exists.return_value = False
        self.oswin.utils['pathutils'].exists.return_value = False
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.images.IMAGE_API.download'))
        self.vmops = vmops.VMOps(
            self.hyperv, volumeops.VolumeOps(self.hyperv),
            mock.create_autospec(virtapi.VirtAPI, instance=True))
        self.instance = test_vmops._instance()

    def test_spawn_connects_the_port_before_power_on_and_logs_after(self):
        connections = self.vmutils.get_vm_serial_port_connections.return_value
        self.vmutils.set_vm_serial_port_connection.side_effect = (
            lambda vm_name, port_number, pipe_path:
            connections.append(pipe_path))
        calls = mock.Mock()
        calls.attach_mock(self.vmutils.set_vm_serial_port_connection,
                          'connect')
        calls.attach_mock(self.vmutils.set_vm_state, 'set_vm_state')
        calls.attach_mock(self.oswin.pipe_handler_class, 'reader')
        self.vmops.spawn(None, self.instance, test_vmops._image_meta(), [],
                         None)
        name = self.instance.name
        pipe = '\\\\.\\pipe\\%s' % name
        self.assertEqual(
            [mock.call.connect(name, 1, pipe),
             mock.call.set_vm_state(name,
                                    os_win_const.HYPERV_VM_STATE_ENABLED),
             mock.call.reader(pipe, log_file=self._log_path(name))],
            [c for c in calls.mock_calls if not c[0].startswith('reader.')])
        self.handlers[0].start.assert_called_once_with()

    def test_spawn_without_power_on_starts_no_reader(self):
        self.vmops.spawn(None, self.instance, test_vmops._image_meta(), [],
                         None, power_on=False)
        self.vmutils.set_vm_serial_port_connection.assert_called_once()
        self.assertEqual([], self.handlers)

    def test_power_operations_start_and_stop_the_reader(self):
        self.vmops.power_on(self.instance)
        self.assertEqual(1, len(self.handlers))
        self.vmops.power_off(self.instance)
        self.handlers[0].stop.assert_called_once_with()
        for start in (self.vmops.power_on, self.vmops.resume,
                      lambda i: self.vmops.reboot(i, 'HARD')):
            start(self.instance)
        self.assertEqual(4, len(self.handlers))
        # Each start replaced the reader before it.
        for handler in self.handlers[:-1]:
            handler.stop.assert_called_once_with()
        self.vmops.destroy(self.instance)
        self.handlers[-1].stop.assert_called_once_with()

    def test_console_output_flushes_the_reader_first(self):
        self.vmutils.vm_exists.return_value = True
        self.vmops.power_on(self.instance)
        self.assertEqual(b'', self.vmops.get_console_output(self.instance))
        self.handlers[0].flush_log_file.assert_called_once_with()


class TestInitHostStartsLogs(OsWinTestCase):

    def setUp(self):
        super().setUp()
        # The CSV of instances_path, where the VMs' directories are.
        self.oswin.wmi.add_csv('C:\\ClusterStorage\\v1',
                               '6a2b9f0e-5c1d-4e8f-a0b7-3c9d2e1f4a56')
        self.oswin.utils['pathutils'].exists.side_effect = (
            lambda path: path.startswith(
                driver_fixtures.CONF.instances_path))

    def test_running_nova_vms_get_a_reader(self):
        clusterutils = self.oswin.utils['clusterutils']
        clusterutils.get_node_name.return_value = 'node1'
        clusterutils.get_cluster_node_names.return_value = ['node1']
        self.vmutils.list_instance_notes.return_value = [
            (VM, [UUID]), ('instance-off', [UUID]), ('not-nova', [])]
        self.vmutils.get_active_instances.return_value = [VM, 'not-nova']
        driver.HyperVClusterDriver(None).init_host('node1')
        self.oswin.pipe_handler_class.assert_called_once_with(
            PIPE, log_file=self._log_path())
        self.handlers[0].start.assert_called_once_with()

    def test_a_node_whose_vms_cannot_be_listed_starts_all_the_same(self):
        clusterutils = self.oswin.utils['clusterutils']
        clusterutils.get_node_name.return_value = 'node1'
        clusterutils.get_cluster_node_names.return_value = ['node1']
        self.vmutils.list_instance_notes.side_effect = (
            os_win_exc.HyperVException('WMI down'))
        driver.HyperVClusterDriver(None).init_host('node1')
        self.assertIn('WMI down', self.logger.output)


class TestSimulated(driver_fixtures.SimulatedTestCase):
    """The same calls on the simulated cluster."""

    def setUp(self):
        super().setUp()
        self.vmops = vmops.VMOps(
            self.hyperv, volumeops.VolumeOps(self.hyperv),
            mock.create_autospec(virtapi.VirtAPI, instance=True))

        def fetch(context, image_id, data):
            data.write(b'\0' * 4096)
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.images.IMAGE_API.download', side_effect=fetch))
        self.instance = test_vmops._instance(root_gb=1)
        self.vmops.spawn(None, self.instance, test_vmops._image_meta(), [],
                         None)
        self.name = self.instance.name

    def test_spawn_connects_com1_and_logs_it(self):
        self.assertEqual({1: '\\\\.\\pipe\\%s' % self.name},
                         self.cluster.state.serial_ports(self.name))
        self.assertEqual(
            ['\\\\.\\pipe\\%s' % self.name],
            self.hyperv.vmutils.get_vm_serial_port_connections(self.name))
        self.assertIn(self.name, self.vmops._serialconsoleops._readers)
        self.vmops.power_off(self.instance)
        self.assertNotIn(self.name, self.vmops._serialconsoleops._readers)
        self.vmops.power_on(self.instance)
        self.assertIn(self.name, self.vmops._serialconsoleops._readers)
        self.vmops.destroy(self.instance)
        self.assertEqual({}, self.vmops._serialconsoleops._readers)

    def test_console_output_reaches_into_the_rotated_log(self):
        old, current = self.layout.console_log_paths(self.name)
        with open(old, 'wb') as f:
            f.write(b'o' * vmops.MAX_CONSOLE_BYTES + b'old end\n')
        with open(current, 'wb') as f:
            f.write(b'new\n')
        output = self.vmops.get_console_output(self.instance)
        self.assertEqual(vmops.MAX_CONSOLE_BYTES, len(output))
        self.assertTrue(output.endswith(b'old end\nnew\n'), output[-20:])
        self.assertTrue(output.startswith(b'ooo'))

    def test_the_guest_logs_only_through_a_connected_port(self):
        vmutils = self.hyperv.vmutils
        vmutils.create_vm('bare', False, os_win_const.VM_GEN_1,
                          self.cluster.instances_path)
        vmutils.set_vm_state('bare', os_win_const.HYPERV_VM_STATE_ENABLED)
        self.assertFalse(os.path.exists(os.path.join(
            self.cluster.instances_path, 'console.log')))
        self.assertEqual(sorted([self.name, 'bare']),
                         sorted(vmutils.get_active_instances()))
        vmutils.set_vm_state('bare', os_win_const.HYPERV_VM_STATE_DISABLED)
        self.assertEqual([self.name], vmutils.get_active_instances())

    def test_a_vm_has_two_serial_ports(self):
        vmutils = self.hyperv.vmutils
        vmutils.set_vm_serial_port_connection(self.name, 2, 'p2')
        self.assertEqual(['\\\\.\\pipe\\%s' % self.name, 'p2'],
                         vmutils.get_vm_serial_port_connections(self.name))
        self.assertRaises(api_exc.HyperVException,
                          vmutils.set_vm_serial_port_connection,
                          self.name, 3, 'p3')
        self.assertRaises(api_exc.HyperVVMNotFoundException,
                          simulated_vmutils(self.cluster, 'node2')
                          .get_vm_serial_port_connections, self.name)

    def test_the_simulated_reader_fails_as_os_win_does(self):
        reader = self.hyperv.named_pipe_handler(
            'p', log_file='/nonexistent/dir/console.log')
        self.assertRaises(api_exc.OSWinException, reader.start)
        reader.stop()
        reader.flush_log_file()


def simulated_vmutils(cluster, node):
    from hvc_sim.oswin.compute import vmutils as sim_vmutils
    return sim_vmutils.VMUtils(cluster.state, node)
