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

"""Boot, move, fail over and delete a server in nova's in-process
deployment, and say where each allocation landed.

Real nova API, conductor, scheduler, three nova-compute services running
HyperVClusterDriver on ONE simulated Hyper-V cluster (nodes node1..node3,
one 100 GB CSV), nova's placement fixture, and placement_sync publishing
the CSV into it. Also times one boot (and where its time goes) and the
per-call cost of the two methods nova's resource tracker calls every
minute on every node.

    .venv/bin/python tools/nova_scenario.py

Nova's test classes need testtools semantics, so the scenario runs as a
testtools test case; its report goes to stdout.
"""

import collections
import functools
import os
import sys
import time
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

# Nova's monkey patching comes first (see tests/functional/driver).
from tests.functional import driver as driver_tests  # noqa
from tests.functional.driver import test_moves  # noqa
from tests.functional.driver import test_nova_cluster as cluster_tests  # noqa

from nova.compute import provider_tree  # noqa: E402
# Imported now: importing os-win's utils inside a nova test trips nova's
# guard against os.uname (pkg_resources calls it).
from os_win.utils import hostutils10  # noqa: E402

from hvc_driver import hostops  # noqa: E402
from hvc_driver import hyperv  # noqa: E402

CALLS = 200
# How long the boot may take before the scenario gives up.
WAIT_SECONDS = 60


class Timer(object):
    """Wall time and count of calls of some functions, by label."""

    def __init__(self):
        self.seconds = collections.Counter()
        self.calls = collections.Counter()

    def wrap(self, label, func):
        @functools.wraps(func)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start
                self.calls[label] += 1
        return timed

    def reset(self):
        self.seconds.clear()
        self.calls.clear()


class Scenario(test_moves.MovesTestCase):

    def setUp(self):
        super().setUp()
        self.timer = Timer()
        from nova.compute import api as compute_api
        from nova.compute import manager as compute_manager
        from nova.compute import resource_tracker
        from nova.conductor import manager as conductor_manager
        from nova.scheduler.client import report
        from nova.scheduler import manager as scheduler_manager

        from hvc_driver import driver
        targets = [
            (compute_api.API, 'create', 'nova-api: create'),
            (conductor_manager.ComputeTaskManager,
             'schedule_and_build_instances', 'conductor: schedule+build'),
            (scheduler_manager.SchedulerManager, 'select_destinations',
             'scheduler: select_destinations'),
            (compute_manager.ComputeManager, '_build_and_run_instance',
             'compute: build_and_run'),
            (resource_tracker.ResourceTracker, 'instance_claim',
             'compute: resource claim'),
            (driver.HyperVClusterDriver, 'spawn', 'driver: spawn'),
            (driver.HyperVClusterDriver, 'destroy', 'driver: destroy'),
            # The placement fixture put its own functions here.
            (report.SchedulerReportClient, 'get', 'placement requests'),
            (report.SchedulerReportClient, 'put', 'placement requests'),
            (report.SchedulerReportClient, 'post', 'placement requests'),
            (report.SchedulerReportClient, 'delete', 'placement requests'),
        ]
        for owner, name, label in targets:
            original = owner.__dict__[name]
            self.addCleanup(setattr, owner, name, original)
            setattr(owner, name, self.timer.wrap(label, original))

    def _names(self):
        names = {rp: 'compute node %s' % node
                 for node, rp in self.node_rp.items()}
        provider = self.placement.get(
            '/resource_providers/%s' % self.csv_rp).body
        names[self.csv_rp] = 'CSV provider %s' % provider['name']
        return names

    def _print_allocations(self, server_id):
        allocations = self._get_allocations_by_server_uuid(server_id)
        names = self._names()
        if not allocations:
            print('  (no allocations)')
        for rp, alloc in sorted(allocations.items(),
                                key=lambda kv: names.get(kv[0], kv[0])):
            print('  %-45s %s' % (names.get(rp, rp), ', '.join(
                '%s=%s' % kv for kv in sorted(alloc['resources'].items()))))

    def _wait(self, server_id, status, timeout=WAIT_SECONDS):
        deadline = time.monotonic() + timeout
        while True:
            server = self.api.get_server(server_id)
            if server['status'] == status:
                return server
            if server['status'] == 'ERROR':
                self.fail('server went to ERROR: %s' % server.get('fault'))
            if time.monotonic() > deadline:
                self.fail('server %s still %s after %ss, not %s' % (
                    server_id, server['status'], timeout, status))
            time.sleep(0.01)

    def test_scenario(self):
        out = sys.stdout
        print('\nSimulated cluster %s: nodes %s, CSV %s (%d GB)' % (
            self.sim.cluster_name(), ', '.join(cluster_tests.NODES),
            self.sim.shared_volumes()[0].name, cluster_tests.CSV_GB),
            file=out)
        print('Inventories in placement:')
        names = self._names()
        for rp in list(self.node_rp.values()) + [self.csv_rp]:
            inventory = self._get_provider_inventory(rp)
            print('  %-45s %s' % (names[rp], ', '.join(
                '%s=%s' % (rc, inv['total'])
                for rc, inv in sorted(inventory.items()))))

        # Its disk in a request group of its own (hvc-placement-sync
        # flavors), which moves to a named host need.
        flavor = self._flavor(disk=10, ephemeral=5, memory_mb=2048, vcpu=2,
                              disk_group=True)
        self.timer.reset()
        start = time.perf_counter()
        server = self.api.post_server({'server': self._build_server(
            image_uuid=cluster_tests.VHD_IMAGE, flavor_id=flavor,
            networks=[{'port': self._hyperv_port()['id']}])})
        server = self._wait(server['id'], 'ACTIVE')
        boot_seconds = time.perf_counter() - start
        boot_parts = dict(self.timer.seconds)
        boot_calls = dict(self.timer.calls)

        vm = self._vm(server)
        print('\nBooted server %s (flavor 2 vCPU, 2048 MB, 10 GB root + '
              '5 GB ephemeral) in %.2f s' % (server['id'], boot_seconds))
        print('  nova placed it on host %s; the simulated cluster runs VM %s '
              'on %s (state %s), NIC %s' % (
                  server['OS-EXT-SRV-ATTR:host'], vm.name, vm.node, vm.state,
                  ', '.join(n.name for n in self.sim.nics(vm.name))))
        print('Allocations of the server:')
        self._print_allocations(server['id'])
        self._moves(server)
        self._failover(server)

        self._delete_server(server)
        print('\nDeleted it: VM in the cluster: %s; allocations:'
              % ('gone' if self.sim.get_vm(vm.name) is None else 'STILL '
                 'THERE'))
        self._print_allocations(server['id'])

        print('\nWhere the boot\'s %.2f s went (wall time, overlapping):'
              % boot_seconds)
        for label, seconds in sorted(boot_parts.items(),
                                     key=lambda kv: -kv[1]):
            print('  %-32s %7.1f ms in %d call(s)' % (
                label, seconds * 1000, boot_calls[label]))
        print('  the rest is nova itself: API, RPC casts, conductor, '
              'resource claims, database, notifications')

        self._bench(out)

    def _moves(self, server):
        """A live migration and a cold migration inside the cluster."""
        files = self._instance_files(server)
        for label, action, status, state in (
                ('Live migrated', 'os-migrateLive', 'completed', 'ACTIVE'),
                ('Cold migrated', 'migrate', 'finished', 'VERIFY_RESIZE')):
            source = server['OS-EXT-SRV-ATTR:host']
            target = self._another_node(source)
            body = {'host': target}
            if action == 'os-migrateLive':
                body['block_migration'] = 'auto'
            server = self._move(server, {action: body}, status, state)
            if state == 'VERIFY_RESIZE':
                server = self._confirm_resize(server)
            vm = self._vm(server)
            print('\n%s it from %s to %s: the cluster runs VM %s on %s, '
                  'clustered: %s; disk files copied or changed: %s'
                  % (label, source, server['OS-EXT-SRV-ATTR:host'], vm.name,
                     vm.node, 'yes' if self.sim.get_cluster_group(vm.name)
                     else 'NO', 'none' if files == self._instance_files(
                         server) else 'SOME'))
            print('Allocations of the server:')
            self._print_allocations(server['id'])

    def _failover(self, server):
        """The failover cluster moves the VM on its own; nova follows."""
        server = self.api.get_server(server['id'])
        source = server['OS-EXT-SRV-ATTR:host']
        target = self._another_node(source)
        start = time.perf_counter()
        self.sim.move_vm(server['OS-EXT-SRV-ATTR:instance_name'], target,
                         restart=True)
        deadline = time.monotonic() + WAIT_SECONDS
        while not (self.api.get_server(server['id'])[
                'OS-EXT-SRV-ATTR:host'] == target and self.node_rp[target]
                in self._get_allocations_by_server_uuid(server['id'])):
            if time.monotonic() > deadline:
                self.fail('nova did not follow the failover to %s' % target)
            time.sleep(0.01)
        followed = time.perf_counter() - start
        vm = self._vm(server)
        print('\nThe failover cluster failed it over from %s to %s on its '
              'own (hvc-sim failover): nova followed in %.0f ms; host %s, '
              'VM on %s, action %s' % (
                  source, target, followed * 1000,
                  self.api.get_server(server['id'])['OS-EXT-SRV-ATTR:host'],
                  vm.node, [a['action'] for a in self.api.api_get(
                      '/servers/%s/os-instance-actions' % server['id'])
                      .body['instanceActions']][0]))
        print('Allocations of the server:')
        self._print_allocations(server['id'])

    def _bench(self, out):
        node = cluster_tests.NODES[0]
        driver = self.computes[node].manager.driver
        rp = self.node_rp[node]
        tree = provider_tree.ProviderTree()
        tree.new_root(node, rp)
        tree.update_inventory(node, self._get_provider_inventory(rp))
        print('\nPer call, on the simulated cluster (%d calls each):'
              % CALLS, file=out)
        for label, call in (
                ('update_provider_tree',
                 lambda: driver.update_provider_tree(tree, node)),
                ('get_available_resource',
                 lambda: driver.get_available_resource(node))):
            start = time.perf_counter()
            for _ in range(CALLS):
                call()
            per_call = (time.perf_counter() - start) / CALLS
            print('  %-24s %.2f ms' % (label, per_call * 1000), file=out)
        self._bench_driver_alone(out)

    def _bench_driver_alone(self, out):
        """The same calls with os-win autospec'd: the driver's own share."""
        hostutils = mock.create_autospec(hostutils10.HostUtils10,
                                         instance=True)
        hostutils.get_cpus_info.return_value = [{
            'Architecture': 9, 'Name': 'cpu', 'Manufacturer': 'Intel',
            'MaxClockSpeed': 2400, 'NumberOfCores': 8,
            'NumberOfLogicalProcessors': 16}] * 2
        hostutils.get_memory_info.return_value = (262144 * 1024,
                                                  204800 * 1024)
        hostutils.get_windows_version.return_value = '10.0.20348'
        seam = hyperv.HyperV(cluster_tests.nova.conf.CONF)
        seam.bind('node1')
        with mock.patch('os_win.utilsfactory.get_hostutils',
                        return_value=hostutils), \
                mock.patch.object(hostops.HostOps, 'node_uuid',
                                  return_value='node-uuid'), \
                mock.patch.object(seam, '_conf') as conf:
            conf.hyperv_cluster.backend = 'oswin'
            ops = hostops.HostOps(seam)
            tree = provider_tree.ProviderTree()
            tree.new_root('node1', 'rp')
            print('Per call, driver code alone (os-win autospec mocks; on '
                  'Windows add the WMI queries):', file=out)
            for label, call in (
                    ('update_provider_tree',
                     lambda: ops.update_provider_tree(tree, 'node1')),
                    ('get_available_resource',
                     lambda: ops.get_available_resource('node1'))):
                start = time.perf_counter()
                for _ in range(CALLS):
                    call()
                per_call = (time.perf_counter() - start) / CALLS
                print('  %-24s %.3f ms' % (label, per_call * 1000), file=out)


def main():
    return driver_tests.run_as_tool(Scenario('test_scenario'))


if __name__ == '__main__':
    sys.exit(main())
