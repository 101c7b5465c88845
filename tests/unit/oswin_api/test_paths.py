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

"""Names that become folders stay one folder: the driver's instance
directories, the instances folder option, the simulated world's CSVs.
"""

import os
import subprocess
import sys
import types

from oslo_config import fixture as config_fixture
import testtools

from hvc_driver import exception as hvc_exc
from hvc_oswin_api import paths
from hvc_sim import state as sim_state
from placement_sync import exception
from placement_sync import sources
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.driver import test_vmops

WALK_OUT = ('..', '.', '../../../Windows/System32', 'a\\b', 'C:evil', 'x.',
            'x ', '', 'a\nb', 'a|b')


class TestComponents(testtools.TestCase):

    def test_windows_rules(self):
        for name in WALK_OUT:
            self.assertIsNotNone(paths.component_problem(name), repr(name))
        for name in ('instance-00000001', 'Volume 1', 'vm.1', 'α'):
            self.assertIsNone(paths.component_problem(name), name)

    def test_relative_folder(self):
        self.assertEqual(['OpenStack', 'Instances'],
                         paths.relative_folder_parts('OpenStack\\Instances'))
        for bad in ('..\\..\\Windows', 'OpenStack/../..', 'C:\\x', ''):
            self.assertRaises(ValueError, paths.relative_folder_parts, bad)


class TestInstanceDirectories(driver_fixtures.SimulatedTestCase):

    def test_a_name_that_walks_out_is_refused(self):
        [volume] = self.hyperv.clusterutils.list_shared_volumes()
        for name in WALK_OUT:
            self.assertRaises(hvc_exc.InstanceNameNotAFolder,
                              self.layout.new_instance_dir, name, volume)
            self.assertRaises(hvc_exc.InstanceNameNotAFolder,
                              self.layout.instance_dir, name)

    def test_spawn_of_such_a_name_makes_nothing(self):
        vmops = test_vmops.vmops.VMOps(
            self.hyperv, test_vmops.volumeops.VolumeOps(self.hyperv),
            test_vmops.mock.Mock())
        self.useFixture(driver_fixtures.fixtures.MockPatch(
            'nova.virt.images.IMAGE_API.download',
            side_effect=test_vmops.fake_download))
        instance = test_vmops._instance(root_gb=1)
        instance.display_name = '../../escape'
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            type(instance), 'name',
            new_callable=test_vmops.mock.PropertyMock,
            return_value='../../escape'))
        before = sorted(os.walk(self.cluster.instances_path))
        self.assertRaises(hvc_exc.InstanceNameNotAFolder, vmops.spawn, None,
                          instance, test_vmops._image_meta(), [], None)
        self.assertEqual([], self.cluster.state.vms())
        self.assertEqual(before, sorted(os.walk(self.cluster.instances_path)))

    def test_an_instances_folder_that_walks_out_stops_the_start(self):
        self.useFixture(config_fixture.Config(driver_fixtures.CONF)).config(
            csv_instances_folder='..\\..\\Windows', group='hyperv_cluster')
        err = self.assertRaises(test_vmops.exception.InvalidConfiguration,
                                self.layout.instance_dir, 'vm1')
        self.assertIn("csv_instances_folder '..\\\\..\\\\Windows': its part "
                      "'..'", str(err))

    def test_placement_sync_refuses_it_too(self):
        conf = types.SimpleNamespace(placement_sync=types.SimpleNamespace(
            source='simulated', csv_instances_folder='OpenStack\\..\\..',
            simulated_state_file=self.cluster.state_file))
        err = self.assertRaises(exception.ConfigError,
                                sources.load_clusters, conf)
        self.assertIn("csv_instances_folder 'OpenStack\\\\..\\\\..': its "
                      "part '..'", str(err))


class TestSimulatedWorldNames(driver_fixtures.SimulatedTestCase):

    def test_a_csv_or_cluster_name_that_is_no_folder_is_refused(self):
        state = self.cluster.state
        for name in ('..', '../outside', '/abs', 'Volume1/nested', 'a\\b'):
            self.assertRaises(sim_state.SimulatorError, state.add_volume,
                              name, 10)
            self.assertRaises(sim_state.SimulatorError, state.add_cluster,
                              name, ['zz1'], [('V', 10)])
        self.assertEqual(['Volume1'], [v.name for v in
                                       state.shared_volumes()])

    def test_a_fifo_on_a_csv_does_not_hang_hvc_sim_df(self):
        [volume] = self.cluster.state.shared_volumes()
        os.mkfifo(os.path.join(volume.path, 'pipe'))
        try:
            df = subprocess.run(
                [sys.executable, '-m', 'hvc_sim.cmd', '--state',
                 self.cluster.state_file, 'df'], stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            self.fail('hvc-sim df hangs on a FIFO on a CSV')
        self.assertEqual(0, df.returncode, df.stdout)
        self.assertIn('Volume1', df.stdout)


class TestSamePath(testtools.TestCase):

    def test_as_windows_compares_them(self):
        self.assertTrue(paths.same('C:\\ClusterStorage\\Volume1\\x',
                                   'c:/clusterstorage/volume1/X'))
        self.assertTrue(paths.same('\\\\NODE1\\C$\\a\\..\\b',
                                   '\\\\node1\\c$\\B'))
        self.assertFalse(paths.same('C:\\ClusterStorage\\Volume1',
                                    '\\\\NODE1\\C$\\ClusterStorage\\Volume1'))
