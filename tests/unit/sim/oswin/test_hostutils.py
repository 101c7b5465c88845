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

"""The simulated HostUtils."""

from hvc_oswin_api import constants
from hvc_sim.oswin import hostutils as sim_hostutils
from tests.unit.sim import fixtures as sim_fixtures


class TestHostUtils(sim_fixtures.SimulatedTestCase):

    def test_figures_follow_the_running_vms(self):
        hostutils = self.utils('hostutils')
        self.assertEqual(8, sum(c['NumberOfLogicalProcessors']
                                for c in hostutils.get_cpus_info()))
        total_kb, free_kb = hostutils.get_memory_info()
        self.assertEqual(16384 * 1024, total_kb)
        self.assertEqual(
            (16384 - sim_hostutils.HOST_RESERVED_MEMORY_MB) * 1024, free_kb)
        vmutils = self.utils('vmutils')
        vmutils.create_vm('vm1', False, 1, '/x/vm1')
        vmutils.update_vm('vm1', 4096, 0, 2, 0, False, 1.0)
        vmutils.set_vm_state('vm1', constants.HYPERV_VM_STATE_ENABLED)
        self.assertEqual(free_kb - 4096 * 1024,
                         hostutils.get_memory_info()[1])
        self.assertTrue(hostutils.check_min_windows_version(10, 0))
