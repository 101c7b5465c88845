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

"""What the tests of the simulated cluster share: test cases with its
utils classes, and transactions interleaved with another node's.
"""

import os

from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin import utilsfactory
from hvc_sim import state as sim_state
from tests.unit.driver import fixtures as driver_fixtures

# node1..node3 have 16384 MB each, 2048 of it kept by the host.
FREE_MB = 16384 - sim_state.HOST_RESERVED_MEMORY_MB
MB = 1024 ** 2


class SimulatedTestCase(driver_fixtures.SimulatedTestCase):
    """The simulated utils classes, each made for the node a test names."""

    def setUp(self):
        super().setUp()
        self.state = self.cluster.state

    def utils(self, kind, node='node1'):
        return utilsfactory.UTILS_CLASSES[kind](self.state, node)


class InterleaveBeforeTransaction(driver_fixtures.fixtures.Fixture):
    """Run ``action`` (another node's change, through its own connection)
    just before the ``n``-th transaction a ClusterState opens.

    A simulated os-win call that checked something in one transaction and
    acted on it in another would act on what ``action`` changed; one that
    checks and acts in one transaction sees the change, or finishes first.
    ``fired`` says whether the call opened that many transactions.
    """

    def __init__(self, state, n, action):
        super().__init__()
        self._state, self._n, self._action = state, n, action
        self.fired = False

    def _setUp(self):
        real_db = self._state._db
        other = sim_state.ClusterState(self._state.path)
        opened = []

        def db(write=False, create=False):
            opened.append(write)
            if len(opened) == self._n:
                self._action(other)
                self.fired = True
            return real_db(write=write, create=create)
        self.useFixture(driver_fixtures.fixtures.MockPatchObject(
            self._state, '_db', side_effect=db))


def interleavings(test, state, action, prepare, call):
    """``call()`` with ``action`` before its 1st transaction, then before
    its 2nd, and so on, until it opens no more (``prepare()`` before each
    round); yields (round, raised os-win error or None).
    """
    n = 1
    while True:
        prepare()
        hook = InterleaveBeforeTransaction(state, n, action)
        with hook:
            try:
                call()
                error = None
            except os_win_exc.OSWinException as e:
                error = e
        if not hook.fired:
            test.assertGreater(n, 1, 'the call opened no transaction')
            return
        yield n, error
        n += 1


class HATestCase(SimulatedTestCase):
    """Clustered VMs to fail over, drain and bring back."""

    def _vm(self, name, node, memory_mb=1024, running=True, pipe=True):
        vmutils = self.utils('vmutils', node)
        vmutils.create_vm(name, False, 1, '/x/' + name, notes=[name])
        vmutils.update_vm(name, memory_mb, 0, 1, 0, False, 1.0)
        if pipe:
            vmutils.set_vm_serial_port_connection(name, 1, 'pipe-' + name)
        if running:
            vmutils.set_vm_state(name, constants.HYPERV_VM_STATE_ENABLED)
        self.utils('clusterutils', node).add_vm_to_cluster(name)

    def _where(self):
        return {vm.name: vm.node for vm in self.state.vms()}


class WorldTestCase(SimulatedTestCase):
    """cluster1 (node1..node3, CSV Volume1), cluster2 (b1, b2, CSV Data)
    and the standalone host solo, whose local disk is a folder.
    """

    def setUp(self):
        super().setUp()
        self.state.add_cluster('cluster2', ['b1', 'b2'], [('Data', 50)])
        self.state.add_host('solo')
        self.solo_disk = self.useFixture(
            driver_fixtures.fixtures.TempDir()).path

    def instances_dir(self, volume, cluster):
        return os.path.join(self.state.volume(volume, cluster).path,
                            'OpenStack', 'Instances')
