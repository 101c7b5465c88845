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

"""Loading the driver the way nova does, its options and its seam."""

import os
import subprocess
import sys
from unittest import mock

from os_win import exceptions as os_win_exc
from oslo_config import fixture as config_fixture
import testtools

from nova.compute import provider_tree
from nova import exception
from nova.virt import driver as nova_driver
from nova.virt import virtapi

from hvc_agent import oswin as agent_oswin
from hvc_driver import conf as hvc_conf
from hvc_driver import driver
from hvc_driver import exception as hvc_exc
from hvc_driver import hyperv
from hvc_driver import layout
from hvc_oswin_api import exceptions as api_exc
from hvc_sim.oswin.io import namedpipe as sim_namedpipe
from hvc_sim.oswin import utilsfactory as sim_utilsfactory
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.driver import test_vmops


class TestLoading(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(driver_fixtures.fixtures.FakeLogger())
        self.useFixture(driver_fixtures.DriverShimFixture())
        self.conf = self.useFixture(
            config_fixture.Config(driver_fixtures.CONF))

    def test_nova_loads_it_by_its_short_name(self):
        self.conf.config(compute_driver='hyperv_cluster.HyperVClusterDriver')
        loaded = nova_driver.load_compute_driver(mock.sentinel.virtapi)
        self.assertIsInstance(loaded, driver.HyperVClusterDriver)

    def test_the_shim_ships_without_package_init_files(self):
        shim_dir = os.path.abspath(driver_fixtures.SHIM_DIR)
        nova_dir = os.path.dirname(shim_dir)
        self.assertEqual(['hyperv_cluster.py'], sorted(
            f for f in os.listdir(shim_dir) if not f.startswith('__pyc')))
        self.assertEqual(['virt'], sorted(
            f for f in os.listdir(nova_dir) if not f.startswith('__pyc')))

    def test_every_option_has_help(self):
        [(group, opts)] = hvc_conf.list_opts()
        self.assertEqual('hyperv_cluster', group.name)
        self.assertIn('backend', [o.name for o in opts])
        self.assertIn('simulated_state_file', [o.name for o in opts])
        for opt in opts:
            self.assertTrue(opt.help, opt.name)

    def test_capability_traits(self):
        traits = driver.HyperVClusterDriver(None).capabilities_as_traits()
        self.assertTrue(traits['COMPUTE_IMAGE_TYPE_VHD'])
        self.assertTrue(traits['COMPUTE_IMAGE_TYPE_VHDX'])
        self.assertFalse(traits['COMPUTE_IMAGE_TYPE_RAW'])

    def test_host_power_actions_are_refused(self):
        err = self.assertRaises(hvc_exc.HostPowerActionRefused,
                                driver.HyperVClusterDriver(None)
                                .host_power_action, 'reboot')
        self.assertIn('Suspend-ClusterNode', str(err))


class TestInitHost(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(driver_fixtures.fixtures.FakeLogger())
        self.cluster = self.useFixture(
            driver_fixtures.SimulatedClusterFixture())
        self.conf = self.useFixture(
            config_fixture.Config(driver_fixtures.CONF))
        self.driver = driver.HyperVClusterDriver(None)

    def test_a_cluster_node_starts(self):
        self.driver.init_host('node2')
        self.assertEqual(['node2'], self.driver.get_available_nodes())
        self.assertTrue(os.path.isdir(self.cluster.instances_path))
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.node.get_local_node_uuid', return_value='u2'))
        self.assertEqual({'u2': 'node2'},
                         self.driver.get_nodenames_by_uuid())
        self.assertEqual('node2', self.driver.get_available_resource(
            'node2')['hypervisor_hostname'])

    def test_a_host_outside_the_cluster_does_not_start(self):
        err = self.assertRaises(exception.NovaException,
                                self.driver.init_host, 'stranger')
        self.assertIn('stranger is not a node of a failover cluster',
                      str(err))

    def test_a_standalone_host_starts_and_reports_its_own_disk(self):
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.node.get_local_node_uuid', return_value='u-solo'))
        self.cluster.state.add_host('solo')
        self.driver.init_host('solo')
        self.assertTrue(self.driver._hyperv.standalone)
        # Its disk is its own: DISK_GB on its provider, whatever the
        # cluster nodes report.
        resources = self.driver.get_available_resource('solo')
        self.assertGreater(resources['local_gb'], 0)
        self.assertEqual(resources['local_gb'] - resources['local_gb_used'],
                         resources['disk_available_least'])
        tree = provider_tree.ProviderTree()
        tree.new_root('solo', 'rp-solo')
        self.driver.update_provider_tree(tree, 'solo')
        inventory = tree.data('solo').inventory
        self.assertEqual(resources['local_gb'], inventory['DISK_GB']['total'])
        self.assertEqual({'VCPU', 'MEMORY_MB', 'DISK_GB'}, set(inventory))
        # And a cluster node reports none.
        node = driver.HyperVClusterDriver(None)
        node.init_host('node1')
        tree.new_root('node1', 'rp-node1')
        node.update_provider_tree(tree, 'node1')
        self.assertEqual({'VCPU', 'MEMORY_MB'},
                         set(tree.data('node1').inventory))

    def test_standalone_host_set_on_a_cluster_node_does_not_start(self):
        # It would report the CSVs' bytes as its own.
        self.conf.config(standalone_host=True, group='hyperv_cluster')
        err = self.assertRaises(exception.NovaException,
                                self.driver.init_host, 'node1')
        self.assertIn('standalone_host is set, but node1 is a node of a '
                      'failover cluster', str(err))

    def test_an_instances_path_on_no_csv_stops_a_node_not_a_host(self):
        # Off the CSVs, the image cache and the locks would be per node.
        elsewhere = self.useFixture(driver_fixtures.fixtures.TempDir()).path
        self.conf.config(instances_path=elsewhere)
        err = self.assertRaises(exception.InvalidConfiguration,
                                self.driver.init_host, 'node1')
        self.assertIn('nova-compute on node1: [DEFAULT] instances_path %s '
                      'is on no Cluster Shared Volume of the failover '
                      'cluster (CSVs: %s)' % (elsewhere, os.path.dirname(
                          os.path.dirname(self.cluster.instances_path))),
                      str(err))
        # A standalone host keeps its own.
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.node.get_local_node_uuid', return_value='u-solo'))
        self.cluster.state.add_host('solo')
        driver.HyperVClusterDriver(None).init_host('solo')

    def test_nova_host_need_not_be_the_cluster_node_name(self):
        # An FQDN host playing the node the cluster calls NODE2: the
        # simulated node, found as Windows finds its own name, whatever
        # the case; nova's node is the cluster's name of it.
        self.conf.config(simulated_node_name='NODE2',
                         group='hyperv_cluster')
        self.driver = driver.HyperVClusterDriver(
            mock.create_autospec(virtapi.VirtAPI, instance=True))
        self.driver.init_host('node2.cloud.example.com')
        self.assertEqual(['node2'], self.driver.get_available_nodes())
        instance = test_vmops._instance(root_gb=1)
        instance.host = 'node2.cloud.example.com'
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.images.IMAGE_API.download',
            side_effect=test_vmops.fake_download))
        self.driver.spawn(None, instance, test_vmops._image_meta(), [],
                          None, {})
        self.assertEqual('node2', self.cluster.state.get_vm(
            instance.name).node)
        # Its own VM, clustered on "node2": deleted, not "on another node".
        self.driver.destroy(None, instance, [])
        self.assertEqual([], self.cluster.state.vms())


class TestInitHostOsWin(testtools.TestCase):
    """init_host against os-win (autospec)."""

    def setUp(self):
        super().setUp()
        self.useFixture(driver_fixtures.fixtures.FakeLogger())
        self.oswin = self.useFixture(driver_fixtures.OsWinFixture())
        self.clusterutils = self.oswin.utils['clusterutils']
        self.clusterutils.get_cluster_node_names.return_value = [
            'HV-NODE1', 'HV-NODE2']
        self.oswin.wmi.add_csv('C:\\ClusterStorage\\Volume1',
                               '6a2b9f0e-5c1d-4e8f-a0b7-3c9d2e1f4a56')
        self.conf = self.useFixture(
            config_fixture.Config(driver_fixtures.CONF))
        self.conf.config(
            instances_path='C:\\ClusterStorage\\Volume1\\OpenStack\\Instances')
        self.driver = driver.HyperVClusterDriver(None)

    def test_a_member_node_starts(self):
        self.clusterutils.get_node_name.return_value = 'HV-NODE2'
        self.driver.init_host('hv-node2')
        self.oswin.utils['pathutils'].check_create_dir.assert_called_once()

    def test_instances_path_is_on_a_csv_by_windows_rules(self):
        # Any case, either slash: the same folder to Windows.
        self.clusterutils.get_node_name.return_value = 'HV-NODE2'
        for path in ('c:/clusterstorage/VOLUME1/OpenStack/Instances',
                     'C:\\ClusterStorage\\Volume1'):
            self.conf.config(instances_path=path)
            self.driver.init_host('hv-node2')
        for path in ('C:\\ClusterStorage\\Volume10\\Instances',
                     'C:\\ClusterStorage\\Volume1\\..\\Instances',
                     'C:\\OpenStack\\Instances'):
            self.conf.config(instances_path=path)
            err = self.assertRaises(exception.InvalidConfiguration,
                                    self.driver.init_host, 'hv-node2')
            self.assertIn('[DEFAULT] instances_path %s is on no Cluster '
                          'Shared Volume' % path, str(err))

    def _standalone(self, probe):
        """A host configured standalone, whose probe for a cluster
        (ClusterUtils made with a bounded timeout) does ``probe``.
        """
        driver_fixtures.CONF.set_override('standalone_host', True,
                                          group='hyperv_cluster')
        self.addCleanup(driver_fixtures.CONF.clear_override,
                        'standalone_host', group='hyperv_cluster')
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'platform.node', return_value='HV-SOLO'))
        return self.useFixture(driver_fixtures.fixtures.MockPatch(
            'os_win.utilsfactory._get_class', autospec=True,
            **probe)).mock

    def test_a_standalone_host_without_cluster_wmi_starts(self):
        probe = self._standalone({'side_effect': os_win_exc.x_wmi(
            'Invalid namespace')})
        self.driver.init_host('hv-solo')
        probe.assert_called_once_with(
            'clusterutils', timeout=agent_oswin.CLUSTER_PROBE_TIMEOUT_SECONDS)
        self.assertEqual(['HV-SOLO'], self.driver.get_available_nodes())
        self.assertTrue(self.driver._hyperv.standalone)

    def test_a_cluster_node_set_standalone_does_not_start(self):
        self.clusterutils.get_cluster_node_names.return_value = [
            'HV-NODE1', 'hv-solo']
        self._standalone({'return_value': self.clusterutils})
        err = self.assertRaises(exception.NovaException,
                                self.driver.init_host, 'hv-solo')
        self.assertIn('is a node of a failover cluster', str(err))

    def test_an_instances_path_it_cannot_make_is_a_nova_error(self):
        self.clusterutils.get_node_name.return_value = 'HV-NODE1'
        self.oswin.utils['pathutils'].check_create_dir.side_effect = (
            PermissionError(13, 'Access is denied'))
        err = self.assertRaises(exception.NovaException,
                                self.driver.init_host, 'hv-node1')
        self.assertIn('Access is denied', str(err))

    def test_the_cluster_node_name_is_compared_without_case(self):
        # Windows' computer name, the cluster's node list and the owner of
        # a VM group may differ in case; nova's host may be an FQDN.
        self.clusterutils.get_node_name.return_value = 'hv-node2'
        self.driver.init_host('hv-node2.cloud.example.com')
        self.assertEqual(['hv-node2'], self.driver.get_available_nodes())
        self.clusterutils.vm_exists.return_value = True
        self.clusterutils.get_vm_host.return_value = 'HV-NODE2'
        self.oswin.utils['vmutils'].vm_exists.return_value = True
        instance = test_vmops._instance()
        instance.host = 'hv-node2.cloud.example.com'
        self.driver.destroy(None, instance, [])
        self.clusterutils.delete.assert_called_once_with(
            test_vmops._instance().name)
        self.oswin.utils['vmutils'].destroy_vm.assert_called_once()

    def test_a_host_that_is_not_a_member_does_not_start(self):
        # os-win's check_cluster_state passes for any cluster
        # with a node; init_host itself checks this node is a member.
        self.clusterutils.get_node_name.return_value = 'HV-OTHER'
        err = self.assertRaises(exception.NovaException,
                                self.driver.init_host, 'hv-other')
        self.assertIn('not an active member', str(err))
        self.oswin.utils['pathutils'].check_create_dir.assert_not_called()


class TestInitHostErrors(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(driver_fixtures.fixtures.FakeLogger())
        self.conf = self.useFixture(
            config_fixture.Config(driver_fixtures.CONF))

    def test_a_backend_that_cannot_be_made_is_a_nova_error(self):
        # Making the utils (here: the simulated backend without
        # its state file) is inside the translation too.
        self.conf.config(backend='simulated', simulated_state_file=None,
                         group='hyperv_cluster')
        err = self.assertRaises(exception.NovaException,
                                driver.HyperVClusterDriver(None).init_host,
                                'node1')
        self.assertIn('simulated_state_file', str(err))


class TestDriverSurface(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(driver_fixtures.fixtures.FakeLogger())
        self.oswin = self.useFixture(driver_fixtures.OsWinFixture())
        self.driver = driver.HyperVClusterDriver(None)
        self.driver._hyperv.bind('node1')

    def test_cleanup_of_a_vm_another_node_runs_does_nothing(self):
        # Nova's cleanup of the source after a cluster live
        # migration is not a destroy.
        clusterutils = self.oswin.utils['clusterutils']
        clusterutils.vm_exists.return_value = True
        clusterutils.get_vm_host.return_value = 'node2'
        instance = test_vmops._instance()
        self.driver.cleanup(None, instance, [], destroy_disks=True)
        clusterutils.delete.assert_not_called()
        self.oswin.utils['pathutils'].check_remove_dir.assert_not_called()
        self.assertRaises(hvc_exc.InstanceOnAnotherNode, self.driver.destroy,
                          None, instance, [])

    def test_console_output_is_implemented(self):
        # Nova answers 501 for a driver without it.
        self.oswin.utils['vmutils'].vm_exists.return_value = True
        self.oswin.utils['pathutils'].exists.return_value = False
        self.assertEqual(b'', self.driver.get_console_output(
            None, test_vmops._instance()))


class TestHyperVSeam(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(driver_fixtures.fixtures.FakeLogger())
        self.conf = self.useFixture(
            config_fixture.Config(driver_fixtures.CONF))

    def test_a_windows_host_s_paths_are_joined_by_windows_rules(self):
        # nova-compute on Linux names the paths of a Windows host: with
        # backslashes, whatever its own os.path does.
        self.useFixture(driver_fixtures.OsWinFixture())
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'hvc_agent.oswin.os.name', 'nt'))
        self.conf.config(
            instances_path='C:\\ClusterStorage\\Volume1\\Instances')
        seam = hyperv.HyperV(driver_fixtures.CONF)
        seam.bind('node1')
        self.assertEqual(
            'C:\\ClusterStorage\\Volume1\\Instances\\instance-1',
            layout.InstanceLayout(seam).new_instance_dir('instance-1', None))
        self.assertEqual(
            'C:\\ClusterStorage\\Volume1\\Instances\\_base',
            layout.image_cache_dir(seam.path))

    def test_oswin_backend_uses_utilsfactory(self):
        oswin = self.useFixture(driver_fixtures.OsWinFixture())
        seam = hyperv.HyperV(driver_fixtures.CONF)
        seam.bind('node1')
        for kind in agent_oswin.UTILS:
            self.assertIs(oswin.utils[kind], getattr(seam, kind)._target)
        # Made once, then reused.
        self.assertIs(seam.vmutils, seam.vmutils)

    def test_a_vm_on_another_host_is_asked_of_that_host(self):
        oswin = self.useFixture(driver_fixtures.OsWinFixture())
        from os_win import utilsfactory
        oswin.utils['vmutils'].vm_exists.return_value = True
        seam = hyperv.HyperV(driver_fixtures.CONF)
        seam.bind('node1')
        self.assertTrue(seam.vm_runs_on('b1', 'vm1'))
        utilsfactory.get_vmutils.assert_called_once_with(host='b1')
        oswin.utils['vmutils'].vm_exists.assert_called_once_with('vm1')

    def test_oswin_errors_become_the_same_named_api_errors(self):
        oswin = self.useFixture(driver_fixtures.OsWinFixture())
        seam = hyperv.HyperV(driver_fixtures.CONF)
        seam.bind('node1')
        cases = (
            (os_win_exc.HyperVVMNotFoundException(vm_name='vm1'),
             api_exc.HyperVVMNotFoundException),
            (os_win_exc.ClusterObjectNotFound(resource='vm1'),
             api_exc.ClusterObjectNotFound),
            # Classes the api does not name: their nearest ancestor's.
            (os_win_exc.DiskNotFound(resource='p'), api_exc.NotFound),
            (os_win_exc.ClusterPropertyListEntryNotFound(
                property_name='p'), api_exc.ClusterException),
            (os_win_exc.x_wmi('WMI says no'), api_exc.x_wmi),
        )
        for raised, expected in cases:
            oswin.utils['vmutils'].vm_exists.side_effect = raised
            err = self.assertRaises(expected, seam.vmutils.vm_exists, 'vm1')
            self.assertIs(expected, type(err))
            self.assertEqual(str(raised), str(err))
            self.assertIs(raised, err.__cause__)
        # Anything else passes as it is.
        oswin.utils['pathutils'].exists.side_effect = OSError('disk gone')
        self.assertRaises(OSError, seam.pathutils.exists, 'x')

    def test_nova_compute_never_imports_os_win(self):
        # nova-compute's default mode forbids eventlet, which os-win
        # imports: the driver and the agent's client must not import it.
        code = ('import sys; from hvc_driver import driver; '
                'from hvc_agent import client; '
                'print(sorted(m for m in sys.modules '
                'if m.split(".")[0] == "os_win"))')
        out = subprocess.run([sys.executable, '-c', code], check=True,
                             capture_output=True, text=True).stdout
        self.assertEqual('[]', out.strip())

    def test_simulated_backend_uses_the_state_file(self):
        cluster = self.useFixture(driver_fixtures.SimulatedClusterFixture())
        seam = hyperv.HyperV(driver_fixtures.CONF)
        seam.bind('node3')
        for kind in agent_oswin.UTILS:
            self.assertIsInstance(getattr(seam, kind),
                                  sim_utilsfactory.UTILS_CLASSES[kind])
        self.assertEqual(['node1', 'node2', 'node3'],
                         seam.clusterutils.get_cluster_node_names())
        self.assertEqual(cluster.state_file, seam.vmutils._state.path)

    def test_no_utils_before_the_node_is_known(self):
        seam = hyperv.HyperV(driver_fixtures.CONF)
        self.assertRaises(hyperv.HyperVNotReady, lambda: seam.vmutils)
        self.assertRaises(hyperv.HyperVNotReady, seam.named_pipe_handler,
                          'pipe', log_file='log')

    def test_named_pipe_handler_of_each_backend(self):
        oswin = self.useFixture(driver_fixtures.OsWinFixture())
        seam = hyperv.HyperV(driver_fixtures.CONF)
        seam.bind('node1')
        reader = seam.named_pipe_handler('pipe', log_file='log')
        reader.start()
        oswin.pipe_handler_class.assert_called_once_with('pipe',
                                                         log_file='log')
        oswin.pipe_handler.start.assert_called_once_with()
        reader.stop()
        oswin.pipe_handler.stop.assert_called_once_with()
        self.useFixture(driver_fixtures.SimulatedClusterFixture())
        seam.bind('node1')
        with mock.patch.object(sim_namedpipe, 'NamedPipeHandler',
                               autospec=True) as handler_class:
            reader = seam.named_pipe_handler('pipe', log_file='log')
            reader.start()
        handler_class.assert_called_once_with(mock.ANY, 'node1', 'pipe',
                                              log_file='log')

    def test_simulated_backend_needs_a_state_file(self):
        self.conf.config(backend='simulated', simulated_state_file=None,
                         group='hyperv_cluster')
        seam = hyperv.HyperV(driver_fixtures.CONF)
        err = self.assertRaises(api_exc.HyperVException, seam.bind, 'node1')
        self.assertIn('simulated_state_file', str(err))
