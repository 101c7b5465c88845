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

"""Ports by VIF type: os-win (autospec) and the simulated cluster."""

import contextlib
import io
import json
import os
from unittest import mock

import fixtures

from os_win import exceptions as os_win_exc
from oslo_concurrency import processutils
from oslo_config import fixture as config_fixture

from nova import exception
from nova.network import model as network_model
from nova import objects
from nova.virt import virtapi

from hvc_agent import oswin as agent_oswin
from hvc_driver import exception as hvc_exc
from hvc_driver import hyperv
from hvc_driver import vifops
from hvc_driver import vmops
from hvc_driver import volumeops
from hvc_oswin_api import constants as os_win_const
from hvc_oswin_api import exceptions as api_exc
from hvc_sim import cmd as sim_cmd
from hvc_sim.oswin.network import networkutils as sim_networkutils
from hvc_sim import ovs as sim_ovs
from tests.unit.agent import test_command
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.driver import test_vmops

PORT = test_vmops.PORT_ID
# ovs-vsctl's own --timeout, and the seam's grace before it kills it.
OVS_VSCTL_KILLED_AFTER = (vifops.OVS_VSCTL_TIMEOUT +
                          agent_oswin.OVS_VSCTL_KILL_GRACE_SECONDS)
MAC = 'fa:16:3e:00:00:01'
VSWITCH = 'ovs-switch'

objects.register_all()


def _ovs_vif(bridge='br-int', **fields):
    vif = dict(id=PORT, address=MAC, type=network_model.VIF_TYPE_OVS,
               network={'bridge': bridge}, **fields)
    return network_model.VIF(**vif)


def _add_port_args(instance, bridge='br-int', iface_id=PORT):
    return ['--timeout=120', '--', '--may-exist', 'add-port', bridge, PORT,
            '--', 'set', 'Interface', PORT,
            'external-ids:iface-id=%s' % iface_id,
            'external-ids:iface-status=active',
            'external-ids:attached-mac=%s' % MAC,
            'external-ids:vm-uuid=%s' % instance.uuid]


class TestVIFOpsOsWin(driver_fixtures.OsWinTestCase):

    def setUp(self):
        super().setUp()
        self.conf.config(vswitch_name=VSWITCH, group='hyperv_cluster')
        self.networkutils = self.oswin.utils['networkutils']
        self.execute = self.useFixture(driver_fixtures.fixtures.MockPatch(
            'hvc_agent.command.execute', autospec=True,
            return_value='')).mock
        self.hyperv = hyperv.HyperV(driver_fixtures.CONF)
        self.hyperv.bind('node1')
        self.vifops = vifops.VIFOps(self.hyperv)
        self.instance = test_vmops._instance()

    def test_ovs_vnic_goes_to_the_vswitch_then_to_the_bridge(self):
        calls = mock.Mock()
        calls.attach_mock(self.networkutils.connect_vnic_to_vswitch,
                          'connect')
        calls.attach_mock(self.execute, 'execute')
        self.vifops.plug(self.instance, _ovs_vif())
        self.assertEqual(
            [mock.call.connect(VSWITCH, PORT),
             mock.call.execute(['ovs-vsctl'] + _add_port_args(self.instance),
                               OVS_VSCTL_KILLED_AFTER)],
            calls.mock_calls)

    def test_the_bridge_and_iface_id_come_from_the_vif(self):
        self.vifops.plug(self.instance, _ovs_vif(
            bridge='br-other', ovs_interfaceid='iface-1'))
        self.execute.assert_called_once_with(
            ['ovs-vsctl'] + _add_port_args(self.instance, 'br-other',
                                           'iface-1'),
            OVS_VSCTL_KILLED_AFTER)

    def test_a_vif_without_bridge_uses_novas_ovs_bridge(self):
        self.conf.config(ovs_bridge='br-nova', group='neutron')
        self.vifops.plug(self.instance, _ovs_vif(bridge=None))
        self.execute.assert_called_once_with(
            ['ovs-vsctl'] + _add_port_args(self.instance, 'br-nova'),
            OVS_VSCTL_KILLED_AFTER)

    def test_hyperv_ports_need_nothing_more(self):
        vif = network_model.VIF(id=PORT, address=MAC,
                                type=network_model.VIF_TYPE_HYPERV)
        self.vifops.check(vif)
        self.vifops.plug(self.instance, vif)
        self.vifops.unplug(self.instance, vif)
        self.networkutils.connect_vnic_to_vswitch.assert_not_called()
        self.execute.assert_not_called()

    def test_an_ovs_vsctl_failure_is_a_plug_error(self):
        self.execute.side_effect = processutils.ProcessExecutionError(
            stderr='ovs-vsctl: no bridge named br-int\n', exit_code=1)
        err = self.assertRaises(exception.VirtualInterfacePlugException,
                                self.vifops.plug, self.instance, _ovs_vif())
        self.assertIn('no bridge named br-int', str(err))
        self.assertIn('node1', str(err))

    def test_a_vswitch_failure_is_the_callers(self):
        self.networkutils.connect_vnic_to_vswitch.side_effect = (
            os_win_exc.HyperVvSwitchNotFound(vswitch_name=VSWITCH))
        self.assertRaises(api_exc.HyperVvSwitchNotFound,
                          self.vifops.plug, self.instance, _ovs_vif())
        self.execute.assert_not_called()

    def test_unplug_removes_the_ovs_port(self):
        self.vifops.unplug(self.instance, _ovs_vif())
        self.execute.assert_called_once_with(
            ['ovs-vsctl', '--timeout=120', '--', '--if-exists', 'del-port',
             'br-int', PORT], OVS_VSCTL_KILLED_AFTER)
        self.execute.side_effect = processutils.ProcessExecutionError(
            stderr='ovs-vsctl: database connection failed\n', exit_code=1)
        err = self.assertRaises(exception.VirtualInterfaceUnplugException,
                                self.vifops.unplug, self.instance,
                                _ovs_vif())
        self.assertIn('database connection failed', str(err))

    def test_connected_vnics_are_those_whose_allocation_has_a_switch(self):
        """As os-win's connect_vnic_to_vswitch tells whether a vNIC is
        connected: a port allocation named after it, on a switch.
        """
        switch = ('\\\\node1\\root\\virtualization\\v2:'
                  'Msvm_VirtualEthernetSwitch.Name="1"')
        wmi = mock.Mock(spec=['Msvm_EthernetPortAllocationSettingData'])
        wmi.Msvm_EthernetPortAllocationSettingData.return_value = [
            driver_fixtures.WMIObject(ElementName=PORT,
                                      HostResource=[switch]),
            driver_fixtures.WMIObject(ElementName='made-again',
                                      HostResource=None),
            driver_fixtures.WMIObject(ElementName='emptied',
                                      HostResource=['']),
            driver_fixtures.WMIObject(ElementName=None,
                                      HostResource=[switch])]
        self.networkutils._conn = wmi
        self.assertEqual({PORT},
                         self.hyperv.networkutils.get_connected_vnic_ids())

    def test_check(self):
        self.vifops.check(_ovs_vif())
        self.conf.config(vswitch_name=None, group='hyperv_cluster')
        self.assertRaises(hvc_exc.OvsVswitchNotConfigured,
                          self.vifops.check, _ovs_vif())
        err = self.assertRaises(
            hvc_exc.UnsupportedVifType, self.vifops.check,
            network_model.VIF(id=PORT, type='vhostuser'))
        self.assertIn('only ports of type hyperv, ovs', str(err))


class TestOvsVsctlOnWindows(driver_fixtures.OsWinTestCase):
    """A real node's ovs-vsctl, started as Windows starts processes (no
    preexec_fn), here a stand-in on PATH that prints its arguments.
    """

    def setUp(self):
        super().setUp()
        self.conf.config(vswitch_name=VSWITCH, group='hyperv_cluster')
        self.bin_dir = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable('PATH', self.bin_dir))
        self.popen = self.useFixture(test_command.WindowsPopen()).mock
        self.hyperv = hyperv.HyperV(driver_fixtures.CONF)
        self.hyperv.bind('node1')

    def _install_ovs_vsctl(self):
        path = os.path.join(self.bin_dir, 'ovs-vsctl')
        with open(path, 'w') as f:
            f.write('#!/bin/sh\necho "$@"\n')
        os.chmod(path, 0o755)

    def test_the_seam_runs_ovs_vsctl(self):
        self._install_ovs_vsctl()
        self.assertEqual('--timeout=120 show\n',
                         self.hyperv.ovs_vsctl(['show'], 120))
        self.assertEqual(['ovs-vsctl', '--timeout=120', 'show'],
                         self.popen.call_args.args[0])
        self.assertRaises(hyperv.HyperVNotReady,
                          hyperv.HyperV(driver_fixtures.CONF).ovs_vsctl,
                          ['show'], 120)

    def test_a_plug_without_ovs_vsctl_says_so(self):
        err = self.assertRaises(exception.VirtualInterfacePlugException,
                                vifops.VIFOps(self.hyperv).plug,
                                test_vmops._instance(), _ovs_vif())
        self.assertIn('cannot run ovs-vsctl', str(err))


class TestVMOpsOvsOsWin(test_vmops.OsWinVMOpsBase):
    """Where VMOps plugs and unplugs, against os-win."""

    def setUp(self):
        super().setUp()
        self.conf.config(vswitch_name=VSWITCH, group='hyperv_cluster')
        self.execute = self.useFixture(driver_fixtures.fixtures.MockPatch(
            'hvc_agent.command.execute', autospec=True,
            return_value='')).mock

    def test_spawn_plugs_while_waiting_for_neutron(self):
        instance = test_vmops._instance()
        vif = _ovs_vif(active=False)
        calls = mock.Mock()
        calls.attach_mock(self.vmutils.create_nic, 'create_nic')
        calls.attach_mock(self.execute, 'execute')
        calls.attach_mock(self.vmutils.set_vm_state, 'set_vm_state')
        waiting = []

        @contextlib.contextmanager
        def wait(instance, events, timeout, error_callback):
            waiting.append(events)
            yield
            waiting.append('done')
            calls.waited()
        self.virtapi.wait_for_instance_event.side_effect = wait
        self.vmops.spawn(None, instance, test_vmops._image_meta(), [vif],
                         None)
        self.assertEqual([[('network-vif-plugged', PORT)], 'done'], waiting)
        self.assertEqual(
            ['create_nic', 'execute', 'waited', 'set_vm_state'],
            [c[0] for c in calls.mock_calls])
        self.oswin.utils['networkutils'].connect_vnic_to_vswitch\
            .assert_called_once_with(VSWITCH, PORT)

    def test_a_failed_plug_fails_the_spawn_and_cleans_up(self):
        instance = test_vmops._instance()
        self.execute.side_effect = [
            processutils.ProcessExecutionError(stderr='boom', exit_code=1),
            '']
        self.vmutils.vm_exists.side_effect = [False, True]
        self.assertRaises(exception.VirtualInterfacePlugException,
                          self.vmops.spawn, None, instance,
                          test_vmops._image_meta(), [_ovs_vif()], None)
        self.vmutils.destroy_vm.assert_called_once_with(instance.name)
        # The cleanup removed the OVS port too.
        self.assertEqual(
            mock.call(['ovs-vsctl', '--timeout=120', '--', '--if-exists',
                       'del-port', 'br-int', PORT], OVS_VSCTL_KILLED_AFTER),
            self.execute.call_args)

    def test_an_attached_ovs_port_is_plugged_or_taken_back(self):
        instance = test_vmops._instance()
        self.vmutils.get_vm_generation.return_value = os_win_const.VM_GEN_2
        self.vmops.attach_interface(instance, _ovs_vif())
        self.vmutils.create_nic.assert_called_once_with(instance.name, PORT,
                                                        MAC)
        self.assertIn('add-port', self.execute.call_args.args[0])
        # A plug that fails leaves no vNIC behind.
        self.execute.side_effect = processutils.ProcessExecutionError(
            stderr='boom', exit_code=1)
        self.assertRaises(exception.VirtualInterfacePlugException,
                          self.vmops.attach_interface, instance, _ovs_vif())
        self.vmutils.destroy_nic.assert_called_once_with(instance.name,
                                                         PORT)

    def test_a_running_generation_1_vm_takes_no_interface(self):
        instance = test_vmops._instance()
        self.vmutils.get_vm_generation.return_value = os_win_const.VM_GEN_1
        self.vmutils.get_vm_state.return_value = (
            os_win_const.HYPERV_VM_STATE_ENABLED)
        self.assertRaises(exception.InterfaceAttachFailed,
                          self.vmops.attach_interface, instance, _ovs_vif())
        self.assertRaises(exception.InterfaceDetachFailed,
                          self.vmops.detach_interface, instance, _ovs_vif())
        self.vmutils.create_nic.assert_not_called()
        self.vmutils.destroy_nic.assert_not_called()
        self.execute.assert_not_called()

    def test_destroy_unplugs_once_the_vm_is_gone(self):
        instance = test_vmops._instance()
        self.vmutils.vm_exists.return_value = True
        calls = mock.Mock()
        calls.attach_mock(self.vmutils.destroy_vm, 'destroy_vm')
        calls.attach_mock(self.execute, 'execute')
        calls.attach_mock(self.pathutils.check_remove_dir, 'remove_dir')
        self.vmops.destroy(instance, network_info=[_ovs_vif()])
        self.assertEqual(['destroy_vm', 'execute', 'remove_dir'],
                         [c[0] for c in calls.mock_calls])

    def test_destroy_of_a_vm_on_another_node_unplugs_nothing(self):
        instance = test_vmops._instance()
        self.clusterutils.vm_exists.return_value = True
        self.clusterutils.get_vm_host.return_value = 'node2'
        self.assertRaises(hvc_exc.InstanceOnAnotherNode, self.vmops.destroy,
                          instance, network_info=[_ovs_vif()])
        self.execute.assert_not_called()


class TestSimulatedOvs(driver_fixtures.SimulatedTestCase):

    def setUp(self):
        super().setUp()
        self.state = self.cluster.state
        self.conf = self.useFixture(
            config_fixture.Config(driver_fixtures.CONF))
        self.conf.config(vswitch_name=VSWITCH, group='hyperv_cluster')
        self.hyperv = hyperv.HyperV(driver_fixtures.CONF)
        self.hyperv.bind('node1')

    def _vm_with_nic(self, name='vm1', nic=PORT):
        vmutils = self.hyperv.vmutils
        vmutils.create_vm(name, False, 1, '/x/' + name)
        vmutils.create_nic(name, nic, MAC)

    def vsctl(self, *args):
        return sim_ovs.ovs_vsctl(self.state, 'node1', list(args))

    def test_connect_vnic_to_vswitch(self):
        networkutils = self.hyperv.networkutils
        self.assertRaises(api_exc.HyperVvNicNotFound,
                          networkutils.connect_vnic_to_vswitch, VSWITCH,
                          PORT)
        self._vm_with_nic()
        self.assertRaises(api_exc.HyperVvSwitchNotFound,
                          networkutils.connect_vnic_to_vswitch, None, PORT)
        networkutils.connect_vnic_to_vswitch(VSWITCH, PORT)
        self.assertEqual({PORT: VSWITCH}, self.state.nic_vswitches('node1'))
        # A node sees the vNICs of its own VMs only.
        self.assertRaises(
            api_exc.HyperVvNicNotFound,
            sim_networkutils.NetworkUtils(self.state, 'node2')
            .connect_vnic_to_vswitch, VSWITCH, PORT)
        # The connection goes with the NIC.
        self.hyperv.vmutils.destroy_nic('vm1', PORT)
        self.assertEqual({}, self.state.nic_vswitches('node1'))

    def test_connected_vnics(self):
        networkutils = self.hyperv.networkutils
        self._vm_with_nic()
        self._vm_with_nic('vm2', 'port-2')
        self.assertEqual(set(), networkutils.get_connected_vnic_ids())
        networkutils.connect_vnic_to_vswitch(VSWITCH, PORT)
        self.assertEqual({PORT}, networkutils.get_connected_vnic_ids())
        self.assertEqual(set(), sim_networkutils.NetworkUtils(
            self.state, 'node2').get_connected_vnic_ids())
        # Its VM destroyed and made again: a vNIC of the same name, on no
        # switch.
        self.hyperv.vmutils.destroy_vm('vm1')
        self._vm_with_nic()
        self.assertEqual({PORT, 'port-2'}, networkutils.get_vnic_ids())
        self.assertEqual(set(), networkutils.get_connected_vnic_ids())

    def test_ovs_port_of_a_connected_vnic(self):
        self._vm_with_nic()
        err = self.assertRaises(processutils.ProcessExecutionError,
                                self.vsctl, 'add-port', 'br-int', PORT)
        self.assertIn('could not open network device', err.stderr)
        self.hyperv.networkutils.connect_vnic_to_vswitch(VSWITCH, PORT)
        self.vsctl('--timeout=120', '--', '--may-exist', 'add-port',
                   'br-int', PORT, '--', 'set', 'Interface', PORT,
                   'external-ids:iface-id=%s' % PORT,
                   'external-ids:vm-uuid=u1')
        [port] = self.state.ovs_ports('node1')
        self.assertEqual(('node1', PORT, 'br-int',
                          {'iface-id': PORT, 'vm-uuid': 'u1'}),
                         (port.node, port.name, port.bridge,
                          port.external_ids))
        self.assertEqual([], self.state.ovs_ports('node2'))
        # --may-exist: again is fine; without it, or elsewhere, it is not.
        self.vsctl('--may-exist', 'add-port', 'br-int', PORT)
        self.assertRaises(processutils.ProcessExecutionError, self.vsctl,
                          'add-port', 'br-int', PORT)
        self.assertRaises(processutils.ProcessExecutionError, self.vsctl,
                          '--may-exist', 'add-port', 'br-ex', PORT)
        self.vsctl('--', '--if-exists', 'del-port', 'br-int', PORT)
        self.assertEqual([], self.state.ovs_ports())
        self.vsctl('--', '--if-exists', 'del-port', 'br-int', PORT)
        self.assertRaises(processutils.ProcessExecutionError, self.vsctl,
                          'del-port', PORT)

    def test_a_failing_command_changes_nothing(self):
        self._vm_with_nic()
        self.hyperv.networkutils.connect_vnic_to_vswitch(VSWITCH, PORT)
        for bad in (['set', 'Interface', PORT, 'mtu_request=1400'],
                    ['emer-reset'], ['--fake', 'show']):
            err = self.assertRaises(processutils.ProcessExecutionError,
                                    self.vsctl, 'add-port', 'br-int', PORT,
                                    '--', *bad)
            self.assertTrue(err.stderr.startswith('ovs-vsctl: '))
            self.assertEqual([], self.state.ovs_ports())

    def test_spawn_and_destroy_on_the_simulated_cluster(self):
        def fetch(context, image_id, data):
            data.write(b'\0' * 4096)
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.images.IMAGE_API.download', side_effect=fetch))
        ops = vmops.VMOps(
            self.hyperv, volumeops.VolumeOps(self.hyperv),
            mock.create_autospec(virtapi.VirtAPI, instance=True))
        instance = test_vmops._instance(root_gb=1)
        ops.spawn(None, instance, test_vmops._image_meta(), [_ovs_vif()],
                  None)
        [port] = self.state.ovs_ports('node1')
        self.assertEqual(
            (PORT, 'br-int', {'iface-id': PORT, 'iface-status': 'active',
                              'attached-mac': MAC,
                              'vm-uuid': instance.uuid}),
            (port.name, port.bridge, port.external_ids))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            sim_cmd.main(['--state', self.cluster.state_file, 'vm',
                          instance.name])
        [nic] = json.loads(out.getvalue())['nics']
        self.assertEqual(
            {'name': PORT, 'mac_address': MAC, 'vswitch': VSWITCH,
             'vlan': None, 'acls': [],
             'ovs_port': {'bridge': 'br-int',
                          'external_ids': port.external_ids}}, nic)
        ops.destroy(instance, network_info=[_ovs_vif()])
        self.assertEqual([], self.state.ovs_ports())
        self.assertEqual([], self.state.vms())
