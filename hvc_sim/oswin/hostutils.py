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

"""os_win.utils.hostutils on the simulated cluster."""

import time

from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin import base
from hvc_sim import state as sim_state


# Memory a simulated host keeps for itself (the parent partition).
HOST_RESERVED_MEMORY_MB = sim_state.HOST_RESERVED_MEMORY_MB


class HostUtils(base.SimulatedUtils):
    """os_win.utils.hostutils10.HostUtils10 for one simulated node."""

    KIND = 'hostutils'
    WINDOWS_VERSION = '10.0.20348'  # Windows Server 2022
    _started = time.monotonic()

    def _node_info(self):
        node = self._state.node(self._node)
        if node is None:
            raise os_win_exc.HyperVException(
                'node %s is not in the simulated world %s'
                % (self._node, self._state.path))
        return node

    @base.faultable(os_win_exc.HyperVException)
    def get_cpus_info(self):
        vcpus = self._node_info().vcpus
        # One socket with every logical processor, as WMI reports it.
        return [{'Architecture': 9,  # x64
                 'Name': 'Simulated Hyper-V host CPU',
                 'Manufacturer': 'GenuineIntel',
                 'MaxClockSpeed': 2400,
                 'NumberOfCores': vcpus,
                 'NumberOfLogicalProcessors': vcpus}]

    @base.faultable(os_win_exc.HyperVException)
    def get_memory_info(self):
        total_mb = self._node_info().memory_mb
        used_mb = HOST_RESERVED_MEMORY_MB + sum(
            vm.memory_mb for vm in self._state.vms(node=self._node)
            if vm.state in base.RUNNING)
        return total_mb * 1024, max(0, total_mb - used_mb) * 1024

    def get_windows_version(self):
        return self.WINDOWS_VERSION

    def check_min_windows_version(self, major, minor, build=0):
        version = list(map(int, self.get_windows_version().split('.')))
        return version >= [major, minor, build]

    def get_supported_vm_types(self):
        return [constants.IMAGE_PROP_VM_GEN_1, constants.IMAGE_PROP_VM_GEN_2]

    def get_local_ips(self):
        return ['127.0.0.1']

    def get_host_tick_count64(self):
        return int((time.monotonic() - self._started) * 1000)

    def host_power_action(self, action):
        raise NotImplementedError(
            'Host %s is not supported by the simulated cluster' % action)
