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

"""Moves inside a cluster, in nova's in-process deployment: a live
migration is a cluster move (the disks stay on their CSV, the VM stays
clustered), and a failed one leaves everything as it was.
"""

import io
import json
import os
import time

import fixtures
from oslo_utils import units

import nova.conf
from nova import context as nova_context
from nova import objects

from hvc_driver import layout
import hvc_names
from hvc_oswin_api import constants as os_win_const
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin.compute import livemigrationutils as sim_livemigrationutils
from tests.functional.driver import test_nova_cluster


class MovesTestCase(test_nova_cluster.HyperVClusterTestCase):

    def _disk_files(self):
        """Every file under the CSVs' folders, with its size."""
        found = {}
        for volume in self.sim.shared_volumes():
            for root, _dirs, files in os.walk(volume.path):
                for name in files:
                    path = os.path.join(root, name)
                    found[path] = os.path.getsize(path)
        return found

    def _instance_files(self, server):
        """The instance's virtual disks (its console log grows)."""
        name = server['OS-EXT-SRV-ATTR:instance_name']
        return {p: s for p, s in self._disk_files().items()
                if os.sep + name + os.sep in p and
                p.endswith(('.vhd', '.vhdx', '.iso'))}

    @staticmethod
    def _another_node(node):
        """A node of cluster1 other than ``node``."""
        return sorted(set(test_nova_cluster.NODES) - {node})[0]

    def _console(self, server):
        return self.api.post_server_action(
            server['id'], {'os-getConsoleOutput': {}})['output']

    def _last_migration(self, server):
        migrations = [m for m in self.admin_api.api_get(
            '/os-migrations').body['migrations']
            if m['instance_uuid'] == server['id']]
        return max(migrations, key=lambda m: m['id']) if migrations else None

    def _move(self, server, action, status, server_status='ACTIVE'):
        """Run a move action; wait for its own migration record to reach
        ``status`` (nova's helpers take the first record of the server).
        """
        before = self._last_migration(server)
        self.api.post_server_action(server['id'], action)
        for _attempt in range(100):
            last = self._last_migration(server)
            if last and last != before and last['status'] == status:
                break
            time.sleep(0.1)
        else:
            self.fail('migration of %s did not become %s: %s'
                      % (server['id'], status, last))
        return self._wait_for_state_change(server, server_status)

    def _live_migrate_to(self, server, host=None, status='completed'):
        return self._move(server, {'os-migrateLive': {
            'host': host, 'block_migration': 'auto'}}, status)

    def _assert_on(self, server, node):
        """nova, the cluster and placement agree that it runs on node."""
        server = self.api.get_server(server['id'])
        self.assertEqual(node, server['OS-EXT-SRV-ATTR:host'])
        vm = self._vm(server)
        self.assertEqual(node, vm.node)
        self.assertEqual(os_win_const.HYPERV_VM_STATE_ENABLED, vm.state)
        self.assertEqual(node, self.sim.get_cluster_group(vm.name).owner_node)
        self.assertEqual({
            self.node_rp[node]: {'VCPU': 2, 'MEMORY_MB': 1024},
            self.csv_rp: {'DISK_GB': 10},
        }, {rp: a['resources'] for rp, a in
            self._get_allocations_by_server_uuid(server['id']).items()})
        for other in set(self.node_rp) - {node}:
            usages = self._get_provider_usages(self.node_rp[other])
            self.assertEqual((0, 0), (usages['VCPU'], usages['MEMORY_MB']),
                             other)
        self.assertEqual(10, self._get_provider_usages(self.csv_rp)[
            'DISK_GB'])
        return server


class TestLiveMigrationInsideTheCluster(MovesTestCase):

    def test_live_migration_is_a_cluster_move(self):
        server = self._boot(self._flavor(disk_group=True))
        source = server['OS-EXT-SRV-ATTR:host']
        files = self._instance_files(server)
        self.assertTrue(files)
        self.assertIn('booting on %s' % source, self._console(server))
        for target in sorted(set(test_nova_cluster.NODES) - {source}):
            server = self._live_migrate_to(server, host=target)
            server = self._assert_on(server, target)
            # No disk was copied or made: the same files, the same sizes.
            self.assertEqual(files, self._instance_files(server))
        # The console log goes on from the new node.
        self._reboot_server(server, hard=True)
        self.assertIn('booting on %s' % target, self._console(server))
        # An untargeted move lands on a node of the cluster too.
        server = self._live_migrate_to(server)
        self.assertNotEqual(target, server['OS-EXT-SRV-ATTR:host'])
        self._assert_on(server, server['OS-EXT-SRV-ATTR:host'])
        self._delete_server(server)
        self.assertEqual([], self.sim.vms())
        self.assertEqual({}, self._instance_files(server))

    def test_a_failed_cluster_move_leaves_it_running_on_the_source(self):
        server = self._boot(self._flavor(disk_group=True))
        source = server['OS-EXT-SRV-ATTR:host']
        target = self._another_node(source)
        self.sim.arm_fault('clusterutils.live_migrate_vm',
                           message='the cluster could not move the group')
        server = self._live_migrate_to(server, host=target, status='failed')
        self._assert_on(server, source)
        instance = self._instance(server)
        self.assertEqual(self.csv_rp,
                         instance.system_metadata[hvc_names.CSV_PROVIDER_KEY])
        # And it moves once the cluster can.
        self._assert_on(self._live_migrate_to(server, host=target), target)

    def _instance(self, server):
        from nova import context as nova_context
        from nova import objects
        return objects.Instance.get_by_uuid(
            nova_context.get_admin_context(), server['id'],
            expected_attrs=['system_metadata'])


class TestKeepCSVFilter(MovesTestCase):
    """Two CSVs in the cluster: a move keeps the disk allocation on the CSV
    that holds the disks (HyperVClusterKeepCSVFilter).
    """

    volumes = (('Volume1', 5), ('Volume2', test_nova_cluster.CSV_GB))

    def test_moves_keep_the_disk_on_its_csv(self):
        # Only Volume2 has room at boot...
        server = self._boot(self._flavor(disk_group=True))
        self.csv_rp = self.csv_rps['Volume2']
        files = self._instance_files(server)
        # ... then Volume1 grows: every node now has candidates on both.
        self.sim.resize_volume('Volume1', test_nova_cluster.CSV_GB,
                               cluster='cluster1')
        self._publish_csvs()
        # Placement's candidate order varies: without the filter, one of
        # these moves would claim Volume1 all but surely.
        for _round in range(6):
            server = self._live_migrate_to(server)
            self._assert_on(server, server['OS-EXT-SRV-ATTR:host'])
            self.assertEqual(files, self._instance_files(server))
        self.assertEqual(0, self._get_provider_usages(
            self.csv_rps['Volume1'])['DISK_GB'])


class TestSameClusterWeigher(MovesTestCase):
    """Another cluster with empty nodes (which nova's own weighers prefer):
    an untargeted move stays in the instance's cluster.
    """

    other_clusters = (('cluster2', ('b1', 'b2'), (('Data', 500),)),)

    def test_an_untargeted_move_stays_in_the_cluster(self):
        # One try per move: a node of cluster2 would fail the move.
        self.flags(migrate_max_retries=0)
        server = self._boot(self._flavor(disk_group=True), host='node1')
        self.assertIn(server['OS-EXT-SRV-ATTR:host'],
                      test_nova_cluster.NODES)
        for _round in range(2):
            server = self._live_migrate_to(server)
            self.assertIn(server['OS-EXT-SRV-ATTR:host'],
                          test_nova_cluster.NODES)
            self._assert_on(server, server['OS-EXT-SRV-ATTR:host'])


class ColdMigrationTestCase(MovesTestCase):

    def setUp(self):
        super().setUp()
        self.notifier = self.useFixture(
            test_nova_cluster.nova_fixtures.NotificationFixture(self))
        # A differencing VHD cannot grow (nor be reverted once grown):
        # resizes are of VHDX images.
        self.vhdx_image = self.glance.create(None, {
            'name': 'vhdx', 'disk_format': 'vhdx',
            'container_format': 'bare', 'size': 4096},
            data=io.BytesIO(b'\0' * 4096))['id']

    def _boot_vhdx(self):
        return self._create_server(
            image_uuid=self.vhdx_image, networks='none',
            flavor_id=self._flavor(disk_group=True))

    def _root(self, server):
        name = server['OS-EXT-SRV-ATTR:instance_name']
        [root] = [d.path for d in self.sim.disks(name)
                  if os.path.basename(d.path).startswith('root.')]
        return root

    def _virtual_size(self, path):
        return json.loads(open(path).read())['virtual_size']

    def _vm_size(self, server):
        vm = self._vm(server)
        return vm.vcpus, vm.memory_mb


class TestColdMigrationInsideTheCluster(ColdMigrationTestCase):
    """Cold migration and resize: an offline cluster move, the disks grown
    in place over a revert point; confirm and revert both exact.
    """

    def test_migrate_then_confirm(self):
        server = self._boot(self._flavor(disk_group=True))
        source = server['OS-EXT-SRV-ATTR:host']
        files = self._instance_files(server)
        target = self._another_node(source)
        server = self._move(server, {'migrate': {'host': target}},
                            'finished', 'VERIFY_RESIZE')
        self.assertEqual(target, server['OS-EXT-SRV-ATTR:host'])
        vm = self._vm(server)
        self.assertEqual((target, os_win_const.HYPERV_VM_STATE_ENABLED),
                         (vm.node, vm.state))
        self.assertEqual(target, self.sim.get_cluster_group(vm.name)
                         .owner_node)
        # Nova claims the disk twice until confirm (the migration holds
        # the source's claim): documented, and measured by bench_moves.
        self.assertEqual(20, self._get_provider_usages(self.csv_rp)[
            'DISK_GB'])
        server = self._confirm_resize(server)
        self._assert_on(server, target)
        # Not a byte copied or made.
        self.assertEqual(files, self._instance_files(server))
        self.assertIn('booting on %s' % target, self._console(server))

    def test_migrate_then_revert(self):
        server = self._boot(self._flavor(disk_group=True))
        source = server['OS-EXT-SRV-ATTR:host']
        files = self._instance_files(server)
        target = self._another_node(source)
        server = self._move(server, {'migrate': {'host': target}},
                            'finished', 'VERIFY_RESIZE')
        server = self._revert_resize(server)
        self._assert_on(server, source)
        self.assertEqual(files, self._instance_files(server))

    def test_resize_up_then_revert_is_exact(self):
        self._resize_up_then_revert(self._boot_vhdx())

    def test_resize_of_a_vhd_up_then_revert_is_exact(self):
        # A differencing VHD cannot grow: a standalone copy of its chain
        # does, beside the revert point.
        self._resize_up_then_revert(self._boot_vhd())

    def test_resize_of_a_vhd_up_then_confirm(self):
        server = self._boot_vhd()
        bigger = self._flavor(disk=20, disk_group=True)
        server = self._move(server, {'resize': {'flavorRef': bigger}},
                            'finished', 'VERIFY_RESIZE')
        server = self._confirm_resize(server)
        root = self._root(server)
        self.assertEqual((20 * units.Gi, None), (
            self._virtual_size(root), json.loads(open(root).read())['parent']))
        self.assertEqual([os.path.basename(root)],
                         [os.path.basename(p) for p in
                          self._instance_files(server)
                          if os.path.basename(p).startswith('root')])

    def _boot_vhd(self):
        return self._create_server(
            image_uuid=test_nova_cluster.VHD_IMAGE, networks='none',
            flavor_id=self._flavor(disk_group=True))

    def _resize_up_then_revert(self, server):
        source = server['OS-EXT-SRV-ATTR:host']
        root = self._root(server)
        before = open(root).read()
        bigger = self._flavor(disk=20, memory_mb=2048, vcpu=4,
                              disk_group=True)
        server = self._move(server, {'resize': {'flavorRef': bigger}},
                            'finished', 'VERIFY_RESIZE')
        self.assertEqual((4, 2048), self._vm_size(server))
        self.assertEqual(20 * units.Gi, self._virtual_size(self._root(server)))
        server = self._revert_resize(server)
        self._assert_on(server, source)
        self.assertEqual((2, 1024), self._vm_size(server))
        self.assertEqual(root, self._root(server))
        self.assertEqual(before, open(root).read())
        self.assertEqual(10 * units.Gi, self._virtual_size(root))
        self.assertEqual([os.path.basename(root)],
                         [os.path.basename(p) for p in
                          self._instance_files(server)
                          if os.path.basename(p).startswith('root')])

    def test_resize_up_then_confirm(self):
        server = self._boot_vhdx()
        bigger = self._flavor(disk=20, memory_mb=2048, vcpu=4,
                              disk_group=True)
        server = self._move(server, {'resize': {'flavorRef': bigger}},
                            'finished', 'VERIFY_RESIZE')
        server = self._confirm_resize(server)
        host = server['OS-EXT-SRV-ATTR:host']
        self.assertEqual({
            self.node_rp[host]: {'VCPU': 4, 'MEMORY_MB': 2048},
            self.csv_rp: {'DISK_GB': 20},
        }, {rp: a['resources'] for rp, a in
            self._get_allocations_by_server_uuid(server['id']).items()})
        self.assertEqual(20, self._get_provider_usages(self.csv_rp)[
            'DISK_GB'])
        self.assertEqual((4, 2048), self._vm_size(server))
        self.assertEqual(20 * units.Gi, self._virtual_size(self._root(server)))
        self._delete_server(server)
        self.assertEqual({}, self._instance_files(server))

    def test_a_failed_cluster_move_leaves_it_running_on_the_source(self):
        server = self._boot(self._flavor(disk_group=True))
        source = server['OS-EXT-SRV-ATTR:host']
        target = self._another_node(source)
        self.sim.arm_fault('clusterutils.move_offline_vm',
                           message='the cluster could not move the group')
        self.api.post_server_action(server['id'], {'migrate': {
            'host': target}})
        server = self._wait_for_migration_status(server, ['error'])
        server = self._wait_for_state_change(
            self.api.get_server(server['instance_uuid']), 'ACTIVE')
        # nova sets the instance ACTIVE, then gives the migration's
        # allocation back to it.
        self._wait_for_assert(lambda: self._assert_on(server, source))


class TestSnapshotAfterAResize(ColdMigrationTestCase):
    """A resize that grew the root disk left a chain of three (the grown
    root, its revert point, the cached image): its snapshot is one
    standalone disk, which boots.
    """

    def test_the_snapshot_boots(self):
        self._keep_uploads()
        server = self._boot_vhdx()
        bigger = self._flavor(disk=20, disk_group=True)
        server = self._move(server, {'resize': {'flavorRef': bigger}},
                            'finished', 'VERIFY_RESIZE')
        server = self._confirm_resize(server)
        image_id = self.api.post_server_action(
            server['id'], {'createImage': {'name': 'snap'}})['image_id']
        self._wait_for_server_parameter(
            server, {'OS-EXT-STS:task_state': None, 'status': 'ACTIVE'})
        disk = json.loads(self.glance._imagedata[image_id])
        self.assertEqual((20 * units.Gi, None),
                         (disk['virtual_size'], disk['parent']))
        copy = self._create_server(image_uuid=image_id, networks='none',
                                   flavor_id=bigger)
        root = json.loads(open(self._root(copy)).read())
        self.assertEqual(image_id + '.vhdx',
                         os.path.basename(root['parent']))


class TestColdMigrationToAnotherCSV(ColdMigrationTestCase):
    """Its CSV has no room for nova's second claim of the disk until the
    move is confirmed: placement charges the cluster's other CSV, and the
    disks are copied there; confirm and revert both end exact.
    """

    volumes = (('Volume1', 15), ('Volume2', 5))

    def setUp(self):
        super().setUp()
        self.server = self._boot(self._flavor(disk_group=True))
        # Only Volume1 had room at boot; now Volume2 has, Volume1 not for
        # the disk a second time.
        self.sim.resize_volume('Volume2', test_nova_cluster.CSV_GB,
                               cluster='cluster1')
        self._publish_csvs()
        self.csv_rp = self.csv_rps['Volume1']
        self.source = self.server['OS-EXT-SRV-ATTR:host']
        self.files = {p: open(p).read()
                      for p in self._instance_files(self.server)}
        self.assertTrue(all(os.sep + 'Volume1' + os.sep in p
                            for p in self.files), self.files)
        self.target = self._another_node(self.source)
        self.server = self._move(self.server, {'migrate': {
            'host': self.target}}, 'finished', 'VERIFY_RESIZE')

    def test_migrate_then_confirm(self):
        vm = self._vm(self.server)
        self.assertEqual((self.target, os_win_const.HYPERV_VM_STATE_ENABLED),
                         (vm.node, vm.state))
        self.assertEqual(self.target, self.sim.get_cluster_group(
            vm.name).owner_node)
        moved = self._instance_files(self.server)
        self.assertEqual(sorted(p.replace('Volume1', 'Volume2')
                                for p in self.files), sorted(moved))
        self.assertEqual(10, self._get_provider_usages(
            self.csv_rps['Volume2'])['DISK_GB'])
        server = self._confirm_resize(self.server)
        self.csv_rp = self.csv_rps['Volume2']
        self._assert_on(server, self.target)
        self.assertEqual(0, self._get_provider_usages(
            self.csv_rps['Volume1'])['DISK_GB'])
        self.assertEqual(moved, self._instance_files(server))
        # Nothing of it is left on Volume1.
        self.assertEqual([], [p for p in self._disk_files()
                              if os.sep + 'Volume1' + os.sep in p and
                              vm.name in p])
        self.assertEqual(self.csv_rps['Volume2'], self._instance(
            server).system_metadata[hvc_names.CSV_PROVIDER_KEY])

    def test_migrate_then_revert(self):
        server = self._revert_resize(self.server)
        self._assert_on(server, self.source)
        self.assertEqual(self.files, {
            p: open(p).read() for p in self._instance_files(server)})
        self.assertEqual(0, self._get_provider_usages(
            self.csv_rps['Volume2'])['DISK_GB'])
        self.assertEqual([], [p for p in self._disk_files()
                              if os.sep + 'Volume2' + os.sep in p])
        self.assertEqual(self.csv_rps['Volume1'], self._instance(
            server).system_metadata[hvc_names.CSV_PROVIDER_KEY])

    def _instance(self, server):
        return objects.Instance.get_by_uuid(
            nova_context.get_admin_context(), server['id'],
            expected_attrs=['system_metadata'])


class TestAggregatesOfTheNodes(MovesTestCase):
    """Availability zones and tenant isolation put member_of on nova's
    unnumbered request group: with the disk in a group of its own (the
    flavors command) the CSV still serves it; without, NoValidHost. The
    CSV providers stay out of those aggregates.
    """

    def _aggregate(self, name, metadata, az=None):
        body = {'aggregate': {'name': name}}
        if az:
            body['aggregate']['availability_zone'] = az
        agg = self.admin_api.post_aggregate(body)
        for node in test_nova_cluster.NODES:
            self.admin_api.add_host_to_aggregate(agg['id'], node)
        if metadata:
            self.admin_api.post_aggregate_action(
                agg['id'], {'set_metadata': {'metadata': metadata}})
        return agg

    def _disk_on_csv(self, server):
        return {rp: a['resources'] for rp, a in
                self._get_allocations_by_server_uuid(server['id']).items()
                if 'DISK_GB' in a['resources']}

    def test_boot_into_an_availability_zone(self):
        self._aggregate('zone1', None, az='zone1')
        server = self._create_server(
            image_uuid=test_nova_cluster.VHD_IMAGE, networks='none',
            flavor_id=self._flavor(disk_group=True), az='zone1')
        self.assertIn(server['OS-EXT-SRV-ATTR:host'],
                      test_nova_cluster.NODES)
        self.assertEqual({self.csv_rp: {'DISK_GB': 10}},
                         self._disk_on_csv(server))
        refused = self._create_server(
            image_uuid=test_nova_cluster.VHD_IMAGE, networks='none',
            flavor_id=self._flavor(), az='zone1', expected_state='ERROR')
        self.assertIn('No valid host', refused['fault']['message'])

    def test_boot_under_tenant_isolation(self):
        self.flags(limit_tenants_to_placement_aggregate=True,
                   placement_aggregate_required_for_tenants=True,
                   group='scheduler')
        self._aggregate('tenant1', {'filter_tenant_id':
                                    self.api.project_id})
        server = self._boot(self._flavor(disk_group=True))
        self.assertEqual({self.csv_rp: {'DISK_GB': 10}},
                         self._disk_on_csv(server))
        refused = self._boot(self._flavor(), expected_state='ERROR')
        self.assertIn('No valid host', refused['fault']['message'])


class TestColdMigrationToAnotherCluster(ColdMigrationTestCase):
    """To a node of another cluster the disks are copied to its CSV, the
    VM built and clustered there; confirm removes the source's copy,
    revert builds the VM again on the source.
    """

    other_clusters = (('cluster2', ('b1', 'b2'), (('Data', 500),)),)

    def _assert_in_cluster2(self, server, chain=1):
        """In cluster2, its disks on Data; the root disk's parents there
        too (``chain`` - 1 of them: grown before) over the cached image.
        """
        server = self.api.get_server(server['id'])
        host = server['OS-EXT-SRV-ATTR:host']
        self.assertIn(host, ('b1', 'b2'))
        vm = self._vm(server)
        self.assertEqual((host, os_win_const.HYPERV_VM_STATE_ENABLED),
                         (vm.node, vm.state))
        self.assertEqual(host, self.sim.get_cluster_group(vm.name)
                         .owner_node)
        name = server['OS-EXT-SRV-ATTR:instance_name']
        data_dir = os.path.join(self.cluster.csv_instances_dir('Data'),
                                name)
        disks = [d.path for d in self.sim.disks(name)]
        self.assertTrue(disks)
        for path in disks:
            self.assertTrue(path.startswith(data_dir + os.sep), path)
        # Then the cached image (the nodes of both clusters share one
        # instances_path here, in one process: on Windows each cluster's
        # is on its own CSV).
        disk = self._root(server)
        for _level in range(chain - 1):
            disk = json.loads(open(disk).read())['parent']
            self.assertEqual(data_dir, os.path.dirname(disk))
        root_info = json.loads(open(disk).read())
        self.assertEqual(layout.image_cache_dir(os.path),
                         os.path.dirname(root_info['parent']))
        self.assertTrue(os.path.exists(root_info['parent']))
        return server

    def test_migrate_then_confirm(self):
        server = self._create_server(
            image_uuid=self.vhdx_image, networks='none',
            flavor_id=self._flavor(disk_group=True), host='node1',
            api=self._admin_274())
        server = self._move(server, {'migrate': {'host': 'b1'}},
                            'finished', 'VERIFY_RESIZE')
        server = self._assert_in_cluster2(server)
        server = self._confirm_resize(server)
        self.assertEqual({
            self.node_rp['b1']: {'VCPU': 2, 'MEMORY_MB': 1024},
            self.csv_rps['Data']: {'DISK_GB': 10},
        }, {rp: a['resources'] for rp, a in
            self._get_allocations_by_server_uuid(server['id']).items()})
        self.assertEqual(0, self._get_provider_usages(
            self.csv_rp)['DISK_GB'])
        # Nothing of it is left in cluster1.
        self.assertEqual([], [p for p in self._instance_files(server)
                              if p.startswith(os.path.dirname(
                                  self.cluster.csv_instances_dir('Volume1')))])
        self.assertEqual(['b1'], [vm.node for vm in self.sim.vms()])
        self.assertIn('booting on b1', self._console(server))

    def test_migrate_then_revert(self):
        server = self._create_server(
            image_uuid=self.vhdx_image, networks='none',
            flavor_id=self._flavor(disk_group=True), host='node1',
            api=self._admin_274())
        files = self._instance_files(server)
        server = self._move(server, {'migrate': {'host': 'b1'}},
                            'finished', 'VERIFY_RESIZE')
        server = self._revert_resize(server)
        self._assert_on(server, 'node1')
        self.assertEqual(files, self._instance_files(server))
        self.assertEqual(['node1'], [vm.node for vm in self.sim.vms()])
        self.assertEqual(0, self._get_provider_usages(
            self.csv_rps['Data'])['DISK_GB'])

    def test_resize_up_then_confirm(self):
        server = self._create_server(
            image_uuid=self.vhdx_image, networks='none',
            flavor_id=self._flavor(disk_group=True), host='node1',
            api=self._admin_274())
        bigger = self._flavor(disk=20, memory_mb=2048, vcpu=4,
                              disk_group=True)
        self.admin_api.microversion = '2.56'
        server = self._move(server, {'resize': {'flavorRef': bigger}},
                            'finished', 'VERIFY_RESIZE')
        server = self._confirm_resize(server)
        self.assertEqual(20 * units.Gi,
                         self._virtual_size(self._root(server)))
        self.assertEqual((4, 2048), self._vm_size(server))

    def test_an_instance_resized_before_moves_with_its_chain(self):
        # The grown root's parent (its revert point, in its own directory)
        # is stored as the source node's local path; the destination sees
        # the source's directory through the source's administrative
        # share: another string for the same folder.
        server = self._create_server(
            image_uuid=self.vhdx_image, networks='none',
            flavor_id=self._flavor(disk_group=True), host='node1',
            api=self._admin_274())
        bigger = self._flavor(disk=20, disk_group=True)
        self.admin_api.microversion = '2.56'
        server = self._move(server, {'resize': {'flavorRef': bigger}},
                            'finished', 'VERIFY_RESIZE')
        server = self._confirm_resize(server)
        written = open(self._root(server)).read()
        server = self._move(server, {'migrate': {'host': 'b1'}},
                            'finished', 'VERIFY_RESIZE')
        server = self._assert_in_cluster2(server, chain=2)
        server = self._confirm_resize(server)
        self.assertEqual(20 * units.Gi,
                         self._virtual_size(self._root(server)))
        root = json.loads(open(self._root(server)).read())
        self.assertEqual(json.loads(written)['virtual_size'],
                         root['virtual_size'])

    def _admin_274(self):
        self.admin_api.microversion = '2.74'
        return self.admin_api


class TestMovesOutOfTheCluster(MovesTestCase):
    """To a node of another cluster, or to a standalone Hyper-V host and
    back: live, the VM leaves its cluster, migrates with its disks to the
    storage of the destination's DISK_GB allocation (a CSV of the other
    cluster, the standalone host's own disk) and is clustered on arrival
    (not on the standalone host); a failed copy leaves it running on the
    source, clustered, with nothing left at the destination. Cold, the
    destination copies the disks and builds the VM (see
    TestColdMigrationToAnotherCluster).
    """

    other_clusters = (('cluster2', ('b1', 'b2'), (('Data', 500),)),)
    standalone_hosts = ('solo',)

    def _arrive(self, server, host, status='completed'):
        source_dir = os.path.dirname(self._root(server))
        server = self._live_migrate_to(server, host=host, status=status)
        self.assertEqual('ACTIVE', server['status'])
        return server, source_dir

    def _root(self, server):
        name = server['OS-EXT-SRV-ATTR:instance_name']
        [root] = [d.path for d in self.sim.disks(name)
                  if os.path.basename(d.path).startswith('root.')]
        return root

    def _assert_moved(self, server, host, disk_rp, instance_dir, clustered,
                      parent_dir=None):
        """nova, Hyper-V and placement agree that it runs on ``host`` with
        its disks in ``instance_dir`` (their parents in ``parent_dir``, by
        default there too) and its DISK_GB on ``disk_rp``; the bytes of the
        disks that were copied there.
        """
        server = self.api.get_server(server['id'])
        self.assertEqual(host, server['OS-EXT-SRV-ATTR:host'])
        vm = self._vm(server)
        self.assertEqual((host, os_win_const.HYPERV_VM_STATE_ENABLED),
                         (vm.node, vm.state))
        group = self.sim.get_cluster_group(vm.name)
        self.assertEqual(host if clustered else None,
                         group.owner_node if group else None)
        disks = [d.path for d in self.sim.disks(vm.name)]
        self.assertTrue(disks)
        for path in disks:
            self.assertEqual(instance_dir, os.path.dirname(path))
        # A live migration brings the parent chain along; a cold one
        # gives the root disk the destination's cached image.
        parent = json.loads(open(self._root(server)).read())['parent']
        self.assertEqual(parent_dir or instance_dir, os.path.dirname(parent))
        expected = {self.node_rp[host]: {'VCPU': 2, 'MEMORY_MB': 1024}}
        # A standalone host's own provider holds the disk too.
        expected.setdefault(disk_rp, {})['DISK_GB'] = 10
        self.assertEqual(expected, {rp: a['resources'] for rp, a in
                         self._get_allocations_by_server_uuid(
                             server['id']).items()})
        for node, rp in self.node_rp.items():
            usages = self._get_provider_usages(rp)
            if node != host:
                self.assertEqual(0, usages['VCPU'], node)
            if rp != disk_rp and 'DISK_GB' in usages:
                self.assertEqual(0, usages['DISK_GB'], node)
        for rp in set(self.csv_rps.values()) - {disk_rp}:
            self.assertEqual(0, self._get_provider_usages(rp)['DISK_GB'])
        self.assertNotIn(hvc_names.ARRIVAL_DIR_KEY,
                         self._instance(server).system_metadata)
        return server, self._disk_bytes(instance_dir)

    @staticmethod
    def _disk_bytes(instance_dir):
        """The bytes of the disks (not the console log) in a directory."""
        return sum(os.path.getsize(os.path.join(instance_dir, f))
                   for f in os.listdir(instance_dir)
                   if not f.startswith(layout.CONSOLE_LOG))

    def _instance(self, server):
        from nova import context as nova_context
        from nova import objects
        return objects.Instance.get_by_uuid(
            nova_context.get_admin_context(), server['id'],
            expected_attrs=['system_metadata'])

    def _boot_on_node1(self):
        self.admin_api.microversion = '2.74'
        server = self._create_server(
            image_uuid=test_nova_cluster.VHD_IMAGE, networks='none',
            flavor_id=self._flavor(disk_group=True), host='node1',
            api=self.admin_api)
        self.assertIn('booting on node1', self._console(server))
        return server

    def _data_dir(self, server):
        """Its directory on cluster2's CSV."""
        return os.path.join(self.cluster.csv_instances_dir('Data'),
                            server['OS-EXT-SRV-ATTR:instance_name'])

    def _assert_on_b1(self, server):
        """Moved to b1 of cluster2, its disks on that one's CSV."""
        return self._assert_moved(server, 'b1', self.csv_rps['Data'],
                                  self._data_dir(server), clustered=True)

    def _home_dir(self, server):
        return os.path.join(self.cluster.csv_instances_dir('Volume1'),
                            server['OS-EXT-SRV-ATTR:instance_name'])

    def test_to_another_cluster(self):
        server = self._boot_on_node1()
        server, source_dir = self._arrive(server, 'b1')
        data_dir = self._data_dir(server)
        server, copied = self._assert_on_b1(server)
        self.assertGreater(copied, 0)
        self.assertFalse(os.path.exists(source_dir))
        self.assertEqual('cluster2', self._instance(server).system_metadata[
            hvc_names.CLUSTER_KEY])
        # It is cluster2's now: a cluster move to b2, no copy.
        files = self._instance_files(server)
        server = self._live_migrate_to(server, host='b2')
        self._assert_moved(server, 'b2', self.csv_rps['Data'], data_dir,
                           clustered=True)
        self.assertEqual(files, self._instance_files(server))
        self._delete_server(server)
        self.assertEqual([], self.sim.vms())
        self.assertFalse(os.path.exists(data_dir))

    def test_to_a_standalone_host_and_back(self):
        server = self._boot_on_node1()
        server, source_dir = self._arrive(server, 'solo')
        name = server['OS-EXT-SRV-ATTR:instance_name']
        local_dir = os.path.join(nova.conf.CONF.instances_path, name)
        server, copied = self._assert_moved(
            server, 'solo', self.node_rp['solo'], local_dir, clustered=False)
        self.assertGreater(copied, 0)
        self.assertFalse(os.path.exists(source_dir))
        metadata = self._instance(server).system_metadata
        self.assertNotIn(hvc_names.CLUSTER_KEY, metadata)
        self.assertNotIn(hvc_names.CSV_PROVIDER_KEY, metadata)
        self.assertEqual('solo', metadata[hvc_names.STANDALONE_HOST_KEY])
        self._reboot_server(server, hard=True)
        self.assertIn('booting on solo', self._console(server))

        leaving = sorted(f for f in os.listdir(local_dir)
                         if not f.startswith(layout.CONSOLE_LOG))
        server, _source_dir = self._arrive(server, 'node1')
        server, copied_back = self._assert_moved(
            server, 'node1', self.csv_rp, self._home_dir(server),
            clustered=True)
        self.assertGreater(copied_back, 0)
        # The same files (a copied child names its copied parent, so the
        # simulated disks' sizes change with the path).
        self.assertEqual(leaving, sorted(
            f for f in os.listdir(self._home_dir(server))
            if not f.startswith(layout.CONSOLE_LOG)))
        self.assertFalse(os.path.exists(local_dir))
        metadata = self._instance(server).system_metadata
        self.assertEqual(self.csv_rp, metadata[hvc_names.CSV_PROVIDER_KEY])
        self.assertNotIn(hvc_names.STANDALONE_HOST_KEY, metadata)
        # Clustered again: the cluster moves it, and nova follows.
        server = self._live_migrate_to(server, host='node2')
        self._assert_moved(server, 'node2', self.csv_rp,
                           self._home_dir(server), clustered=True)

    def test_a_failed_copy_leaves_it_running_clustered_on_the_source(self):
        server = self._boot_on_node1()
        files = self._instance_files(server)
        self.sim.arm_fault('livemigrationutils.live_migrate_vm_with_storage',
                           message='the migration network went away')
        server = self._live_migrate_to(server, host='b1', status='failed')
        self._assert_on(server, 'node1')
        self.assertEqual(files, self._instance_files(server))
        self.assertFalse(os.path.exists(self._data_dir(server)))
        self.assertEqual(0, self._get_provider_usages(
            self.csv_rps['Data'])['DISK_GB'])
        # And it moves once Hyper-V can.
        server, _source_dir = self._arrive(server, 'b1')
        self._assert_on_b1(server)

    def test_a_source_directory_that_stays_does_not_undo_the_move(self):
        server = self._boot_on_node1()
        self.sim.arm_fault('pathutils.check_remove_dir',
                           message='a file of it is in use')
        server, source_dir = self._arrive(server, 'b1')
        self._assert_on_b1(server)
        # Only what Hyper-V did not move stayed behind.
        self.assertEqual([layout.CONSOLE_LOG], os.listdir(source_dir))

    def test_cold_migration_to_a_standalone_host_and_back(self):
        server = self._boot_on_node1()
        name = server['OS-EXT-SRV-ATTR:instance_name']
        home = self._home_dir(server)
        server = self._move(server, {'migrate': {'host': 'solo'}},
                            'finished', 'VERIFY_RESIZE')
        server = self._confirm_resize(server)
        local_dir = os.path.join(nova.conf.CONF.instances_path, name)
        server, copied = self._assert_moved(
            server, 'solo', self.node_rp['solo'], local_dir, clustered=False,
            parent_dir=layout.image_cache_dir(os.path))
        self.assertGreater(copied, 0)
        self.assertFalse(os.path.exists(home))
        server = self._move(server, {'migrate': {'host': 'node1'}},
                            'finished', 'VERIFY_RESIZE')
        server = self._confirm_resize(server)
        self._assert_moved(server, 'node1', self.csv_rp, home,
                           clustered=True,
                           parent_dir=layout.image_cache_dir(os.path))
        self.assertFalse(os.path.exists(local_dir))
        self.assertIn('booting on node1', self._console(server))

    def test_the_config_drive_goes_along(self):
        # Hyper-V's storage migration moves no DVD image: the source
        # copies it first and ejects it, the destination attaches the copy
        # on arrival; a failed copy gives it back to the source.
        self.force_config_drive()
        server = self._boot_on_node1()
        name = server['OS-EXT-SRV-ATTR:instance_name']
        [iso] = [d.path for d in self.sim.disks(name)
                 if d.path.endswith(layout.CONFIG_DRIVE)]
        with open(iso, 'rb') as f:
            content = f.read()
        self.sim.arm_fault('livemigrationutils.live_migrate_vm_with_storage',
                           message='the migration network went away')
        server = self._live_migrate_to(server, host='b1', status='failed')
        self.assertEqual([iso], [d.path for d in self.sim.disks(name)
                                 if d.drive_type == os_win_const.DVD])
        server, _source_dir = self._arrive(server, 'b1')
        self._assert_on_b1(server)
        data_dir = self._data_dir(server)
        [moved] = [d.path for d in self.sim.disks(name)
                   if d.path.endswith(layout.CONFIG_DRIVE)]
        self.assertEqual(os.path.join(data_dir, layout.CONFIG_DRIVE), moved)
        with open(moved, 'rb') as f:
            self.assertEqual(content, f.read())

    def test_a_copy_that_reports_failure_but_arrived_is_followed(self):
        # Hyper-V moved the VM, then its migration job failed: the source
        # finds it at the destination, and nova follows it there.
        migrate = (sim_livemigrationutils.LiveMigrationUtils.
                   live_migrate_vm_with_storage)

        def moved_then_failed(utils, vm_name, dest_host, dest_dir,
                              timeout=None):
            migrate(utils, vm_name, dest_host, dest_dir, timeout)
            raise os_win_exc.HyperVException('the migration job failed')

        self.useFixture(fixtures.MonkeyPatch(
            'hvc_sim.oswin.compute.livemigrationutils.LiveMigrationUtils.'
            'live_migrate_vm_with_storage',
            moved_then_failed))
        server = self._boot_on_node1()
        server, source_dir = self._arrive(server, 'b1')
        self._assert_on_b1(server)
        self.assertFalse(os.path.exists(source_dir))
