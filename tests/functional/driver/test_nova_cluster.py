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

"""The driver inside nova's own in-process deployment.

Real nova API, conductor, scheduler, compute managers and resource
trackers, nova's placement fixture (the real placement application), and
three nova-compute services with HyperVClusterDriver playing the three
nodes of ONE simulated cluster. placement_sync publishes the cluster's CSV
into the same placement, as it does in a deployment.

These are testtools test cases: run them with stestr or
``python -m testtools.run`` (pytest breaks nova's test base classes).
"""

import io
import json
import os
import uuid

import fixtures
from oslo_utils import units
import pycdlib

import nova.conf
from nova import context as nova_context
from nova import exception
from nova import objects
from nova.tests import fixtures as nova_fixtures
from nova.tests.functional import integrated_helpers

from hvc_driver import imagecache
from hvc_localcloud import placement_server
import hvc_names
from hvc_oswin_api import constants as os_win_const
from hvc_oswin_api import paths
from hvc_sim.oswin.compute import vmutils as sim_vmutils
from hvc_sim.oswin.storage import vhdutils
from placement_sync import flavors
from placement_sync import host_aggregates
from placement_sync import placement as placement_client
from placement_sync import reconcile
from placement_sync.sources import simulated as simulated_source
from tests import fixtures as hvc_fixtures
from tests.unit.driver import fixtures as driver_fixtures
from tests.unit.driver import test_configdrive

NODES = ('node1', 'node2', 'node3')
CSV_GB = 100
# A VHD image of nova's glance fixture (fakeimage6).
VHD_IMAGE = 'a440c04b-79fa-479c-bed1-0b816eaec379'
NODE_UUID_NAMESPACE = uuid.UUID('0c3c4d55-3f08-4b4c-9f7c-2f7d3a1f5e21')


def enable_scheduler_plugins(test, keep_csv_filter=True):
    """nova-scheduler with hvc_scheduler's filter and weigher, as the
    deploying guide configures it (without the filter: not
    ``keep_csv_filter``).
    """
    test.flags(available_filters=[
        'nova.scheduler.filters.all_filters',
        'hvc_scheduler.filters.HyperVClusterKeepCSVFilter'],
        group='filter_scheduler')
    test.flags(enabled_filters=(
        list(nova.conf.CONF.filter_scheduler.enabled_filters) +
        ['HyperVClusterKeepCSVFilter'] * keep_csv_filter),
        group='filter_scheduler')
    test.flags(weight_classes=[
        'nova.scheduler.weights.all_weighers',
        'hvc_scheduler.weighers.HyperVClusterSameClusterWeigher'],
        group='filter_scheduler')


class HyperVClusterTestCase(integrated_helpers.ProviderUsageBaseTestCase):
    """Nova with the nodes of simulated Hyper-V clusters: cluster1 with
    three nodes, and the other clusters a test class names.

    placement_sync publishes the clusters as an operator runs it, with
    one nova host aggregate per cluster; nova-scheduler has the project's
    filter and weigher.
    """

    compute_driver = 'hyperv_cluster.HyperVClusterDriver'
    volumes = (('Volume1', CSV_GB),)
    # (name, nodes, volumes) of more clusters.
    other_clusters = ()
    # Standalone Hyper-V hosts, in no cluster.
    standalone_hosts = ()
    # Whether nova-scheduler runs HyperVClusterKeepCSVFilter.
    keep_csv_filter = True

    def setUp(self):
        # Nova's conf fixture looks for api-paste.ini under $state_path,
        # which is site-packages for an installed nova: point at the file
        # the wheel installed.
        self.flags(api_paste_config=hvc_fixtures.nova_api_paste_ini(),
                   group='wsgi')
        enable_scheduler_plugins(self, self.keep_csv_filter)
        self.useFixture(driver_fixtures.DriverShimFixture())
        super().setUp()
        self.cluster = self.useFixture(driver_fixtures.SimulatedClusterFixture(
            nodes=NODES, volumes=self.volumes, vcpus=8, memory_mb=16384))
        self.sim = self.cluster.state
        for name, nodes, volumes in self.other_clusters:
            self.sim.add_cluster(name, nodes, volumes, vcpus=8,
                                 memory_mb=16384)
        for name in self.standalone_hosts:
            self.sim.add_host(name, vcpus=8, memory_mb=16384)
        if self.standalone_hosts:
            # A standalone host keeps its instances under its own
            # instances_path, which in one process all hosts share: off
            # the CSVs, where the clusters' instances are.
            self.flags(instances_path=os.path.join(
                os.path.dirname(self.cluster.state_file), 'local'))
        # In one process the compute services share $state_path and so
        # nova's one local node identity; give each node its own, as
        # separate hosts would have.
        self.useFixture(fixtures.MonkeyPatch(
            'hvc_driver.hostops.HostOps.node_uuid',
            lambda hostops: str(uuid.uuid5(NODE_UUID_NAMESPACE,
                                           hostops.node))))
        self.nodes = [n.name for n in self.sim.nodes()]
        for node in self.nodes:
            self._start_compute(node)
        self.node_rp = {node: self._get_provider_uuid_by_host(node)
                        for node in self.nodes}
        self.csv_rps = self._publish_csvs()
        self.csv_rp = self.csv_rps[self.volumes[0][0]]

    def start_service(self, name, host=None, **kwargs):
        """Start ``name``; a cluster node's nova-compute with an
        instances_path on its own cluster's CSV, as its nova.conf has it
        (it refuses to start otherwise). In one process every host shares
        the option: the others' value is back once the node started.
        """
        node = self.sim.node(host) if name == 'compute' and host else None
        shared = nova.conf.CONF.instances_path
        if node is None or node.cluster is None or any(
                paths.is_within(shared, volume.path) for volume in
                self.sim.shared_volumes(cluster=node.cluster)):
            return super().start_service(name, host=host, **kwargs)
        own = self.sim.shared_volumes(cluster=node.cluster)[0]
        self.flags(instances_path=os.path.join(own.path, 'OpenStack',
                                               'Instances'))
        try:
            return super().start_service(name, host=host, **kwargs)
        finally:
            self.flags(instances_path=shared)

    def _compute_proxy(self):
        return hvc_fixtures.nova_compute_proxy(self.api_fixture)

    def _publish_csvs(self):
        """placement_sync, as an operator runs it, into nova's placement:
        the CSV providers, and one nova host aggregate per cluster.
        """
        endpoint = self.placement.fixture.endpoint
        reconciler = reconcile.Reconciler(
            placement_client.PlacementClient(
                placement_server.admin_adapter(endpoint)),
            host_aggregates.HostAggregates(self._compute_proxy))
        clusters = simulated_source.load(self.cluster.state_file)
        report = reconciler.sync(clusters)
        self.assertEqual([], report.errors)
        # Nova mirrors host aggregates into placement lazily: a second run
        # finds the nodes in their placement aggregate, as the periodic
        # mode does.
        report = reconciler.sync(clusters)
        self.assertEqual([], report.errors)
        self.assertEqual([], report.warnings)
        self.cluster_aggregate = {
            a['metadata']['hyperv_cluster']: a['uuid']
            for a in self.admin_api.api_get(
                '/os-aggregates').body['aggregates']}
        return {v.name: hvc_names.provider_uuid(v.cluster, v.id)
                for v in self.sim.shared_volumes()}

    def _flavor(self, disk=10, ephemeral=0, memory_mb=1024, vcpu=2,
                disk_group=False):
        """A flavor; with ``disk_group``, converted as
        ``hvc-placement-sync flavors`` does (its disk in a request group
        of its own, which targeted moves need).
        """
        flavor_id = self._create_flavor(memory_mb=memory_mb, vcpu=vcpu,
                                        disk=disk, ephemeral=ephemeral)
        if disk_group:
            flavor = self.api.get_flavor(flavor_id)
            self.admin_api.post_extra_spec(flavor_id, {
                'extra_specs': flavors.wanted_extra_specs(flavor, {})})
        return flavor_id

    def _boot(self, flavor_id, expected_state='ACTIVE', networks='none',
              host=None):
        """A server; on ``host`` when named (compute API 2.74, admin: the
        flavor must have its disk in a group of its own).
        """
        api = None
        if host:
            api = self.admin_api
            api.microversion = '2.74'
        return self._create_server(
            image_uuid=VHD_IMAGE, flavor_id=flavor_id, networks=networks,
            expected_state=expected_state, host=host, api=api)

    def force_config_drive(self):
        """Every instance gets a config drive. genisoimage is no part of
        it (the driver builds the ISO itself): nova's mkisofs_cmd names
        nothing that exists.
        """
        self.flags(mkisofs_cmd=os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'no-genisoimage'),
            force_config_drive=True)

    def _keep_uploads(self):
        """nova's glance fixture keeps what an upload sends (it drops it
        otherwise), so that a snapshot can be read and booted.
        """
        update = self.glance.update

        def keeping_update(context, image_id, metadata, data=None,
                           purge_props=False):
            if data is not None:
                self.glance._imagedata[image_id] = data.read()
            return update(context, image_id, metadata,
                          purge_props=purge_props)
        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.GlanceFixture.update',
            lambda glance, *a, **kw: keeping_update(*a, **kw)))

    def _hyperv_port(self):
        """A port the Hyper-V neutron agent binds (the fixture's are OVS)."""
        port = self.neutron.port_1
        self.neutron._ports[port['id']]['binding:vif_type'] = 'hyperv'
        return port

    def _vm(self, server):
        return self.sim.get_vm(server['OS-EXT-SRV-ATTR:instance_name'])


class TestDisksOnTheirCSV(HyperVClusterTestCase):
    """Two CSVs: each instance's disks are on the one placement chose."""

    volumes = (('Volume1', 10), ('Volume2', CSV_GB))

    def test_disks_on_the_csv_of_the_allocation(self):
        # 20 GB fit on Volume2 only: placement can only choose it.
        server = self._boot(self._flavor(disk=20))
        allocations = self._get_allocations_by_server_uuid(server['id'])
        self.assertEqual(
            {self.csv_rps['Volume2']: {'DISK_GB': 20}},
            {rp: a['resources'] for rp, a in allocations.items()
             if 'DISK_GB' in a['resources']})
        name = server['OS-EXT-SRV-ATTR:instance_name']
        on_volume2 = os.path.join(self.cluster.csv_instances_dir('Volume2'),
                                  name)
        self.assertEqual([os.path.join(on_volume2, 'root.vhd')],
                         [d.path for d in self.sim.disks(name)])
        self.assertFalse(os.path.exists(os.path.join(
            self.cluster.csv_instances_dir('Volume1'), name)))
        # nova keeps what the driver recorded for the scheduler.
        instance = objects.Instance.get_by_uuid(
            nova_context.get_admin_context(), server['id'],
            expected_attrs=['system_metadata'])
        self.assertEqual(self.csv_rps['Volume2'],
                         instance.system_metadata[hvc_names.CSV_PROVIDER_KEY])
        self._delete_server(server)
        self.assertFalse(os.path.exists(on_volume2))
        self.assertEqual(0, self._get_provider_usages(
            self.csv_rps['Volume2'])['DISK_GB'])

    def test_a_flavor_without_disk_goes_under_instances_path(self):
        server = self._boot(self._flavor(disk=0))
        self.assertEqual({}, {
            rp: a for rp, a in self._get_allocations_by_server_uuid(
                server['id']).items() if 'DISK_GB' in a['resources']})
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.assertTrue(os.path.isdir(os.path.join(
            self.cluster.instances_path, name)))
        self._delete_server(server)


class TestServerLifecycle(HyperVClusterTestCase):

    def test_nodes_report_vcpu_and_memory_only(self):
        for node, rp in self.node_rp.items():
            inventory = self._get_provider_inventory(rp)
            self.assertEqual({'VCPU', 'MEMORY_MB'}, set(inventory), node)
            self.assertEqual(8, inventory['VCPU']['total'])
            self.assertEqual(16384, inventory['MEMORY_MB']['total'])
            traits = self._get_provider_traits(rp)
            self.assertIn('COMPUTE_IMAGE_TYPE_VHD', traits)
            self.assertIn('COMPUTE_IMAGE_TYPE_VHDX', traits)
            self.assertNotIn('COMPUTE_IMAGE_TYPE_RAW', traits)
        self.assertEqual({'DISK_GB'},
                         set(self._get_provider_inventory(self.csv_rp)))

    def test_periodic_updates_keep_what_placement_sync_set(self):
        aggregate = self.cluster_aggregate['cluster1']
        self.placement.put(
            '/traits/CUSTOM_SOMEONE_ELSE', None, version='1.6')
        rp = self.node_rp['node1']
        traits = self._get_provider_traits(rp)
        self._set_provider_traits(rp, traits + ['CUSTOM_SOMEONE_ELSE'])
        self._run_periodics()
        for node, rp in self.node_rp.items():
            self.assertEqual([aggregate], self._get_provider_aggregates(rp),
                             node)
            self.assertNotIn('DISK_GB', self._get_provider_inventory(rp))
        self.assertIn('CUSTOM_SOMEONE_ELSE',
                      self._get_provider_traits(self.node_rp['node1']))

    def test_hypervisor_api_shows_each_node_truthfully(self):
        server = self._boot(self._flavor(memory_mb=2048, vcpu=3))
        self._run_periodics()
        # 2.88 dropped the resource figures from the hypervisor API.
        self.admin_api.microversion = '2.87'
        hypervisors = {h['hypervisor_hostname']: h for h in
                       self.admin_api.api_get(
                           '/os-hypervisors/detail').body['hypervisors']}
        self.assertEqual(sorted(NODES), sorted(hypervisors))
        host = server['OS-EXT-SRV-ATTR:host']
        reserved_mb = nova.conf.CONF.reserved_host_memory_mb
        for node, hypervisor in hypervisors.items():
            busy = node == host
            self.assertEqual(
                {'hypervisor_type': 'hyperv', 'hypervisor_version': 10000,
                 'state': 'up', 'status': 'enabled', 'vcpus': 8,
                 'memory_mb': 16384, 'local_gb': 0,
                 'vcpus_used': 3 if busy else 0,
                 'memory_mb_used': reserved_mb + (2048 if busy else 0),
                 'running_vms': 1 if busy else 0},
                {k: hypervisor[k] for k in (
                    'hypervisor_type', 'hypervisor_version', 'state',
                    'status', 'vcpus', 'memory_mb', 'local_gb', 'vcpus_used',
                    'memory_mb_used', 'running_vms')}, node)
            # No local disk measured: none claimed either.
            self.assertIsNone(hypervisor['disk_available_least'], node)
        # The node's uptime (2.88 shows it in the hypervisor itself).
        self.admin_api.microversion = '2.88'
        hypervisor = self.admin_api.api_get('/os-hypervisors/%s' % (
            hypervisors[host]['id'],)).body['hypervisor']
        self.assertRegex(hypervisor['uptime'],
                         r'^\d\d:\d\d:\d\d up .*,  0 users,  load average')

    def test_diagnostics_of_a_server(self):
        # nova's Diagnostics object has driver 'hyperv', but nova 34's
        # response schema lists only ironic, libvirt, vmwareapi and xenapi:
        # nova-api logs a warning for each response (its default
        # response_validation, which nova's tests make an error).
        self.flags(response_validation='warn', group='api')
        server = self._boot(self._flavor(memory_mb=2048, vcpu=2))
        self.admin_api.microversion = '2.48'
        diagnostics = self.admin_api.api_get(
            '/servers/%s/diagnostics' % server['id']).body
        self.assertEqual(
            {'state': 'running', 'driver': 'hyperv', 'hypervisor': 'hyperv',
             'hypervisor_os': 'windows', 'config_drive': False,
             'num_cpus': 2, 'num_disks': 1, 'num_nics': 0,
             'memory_details': {'maximum': 2048, 'used': 2048}},
            {k: diagnostics[k] for k in (
                'state', 'driver', 'hypervisor', 'hypervisor_os',
                'config_drive', 'num_cpus', 'num_disks', 'num_nics',
                'memory_details')})
        self.assertIsInstance(diagnostics['uptime'], int)
        # Before 2.48: the dictionary of the driver's figures.
        self.admin_api.microversion = '2.47'
        legacy = self.admin_api.api_get(
            '/servers/%s/diagnostics' % server['id']).body
        self.assertEqual(2048 * 1024, legacy['memory'])

    def test_boot_stop_start_reboot_pause_suspend_delete(self):
        flavor = self._flavor(disk=10, ephemeral=5, memory_mb=2048, vcpu=2)
        port = self._hyperv_port()
        server = self._boot(flavor, networks=[{'port': port['id']}])
        host = server['OS-EXT-SRV-ATTR:host']
        self.assertIn(host, NODES)

        allocations = self._get_allocations_by_server_uuid(server['id'])
        self.assertEqual({
            self.node_rp[host]: {'VCPU': 2, 'MEMORY_MB': 2048},
            self.csv_rp: {'DISK_GB': 15},
        }, {rp: a['resources'] for rp, a in allocations.items()})

        vm = self._vm(server)
        self.assertEqual(host, vm.node)
        self.assertEqual(os_win_const.HYPERV_VM_STATE_ENABLED, vm.state)
        self.assertEqual((2, 2048), (vm.vcpus, vm.memory_mb))
        self.assertEqual((server['id'],), vm.notes)
        self.assertEqual(host, self.sim.get_cluster_group(vm.name).owner_node)
        self.assertEqual([port['id']],
                         [n.name for n in self.sim.nics(vm.name)])
        disks = [d.path for d in self.sim.disks(vm.name)]
        self.assertEqual(2, len(disks), disks)
        self.assertTrue(disks[0].endswith('root.vhd'), disks)
        self.assertTrue(disks[1].endswith('ephemeral.vhdx'), disks)

        self._stop_server(server)
        self.assertEqual(os_win_const.HYPERV_VM_STATE_DISABLED,
                         self._vm(server).state)
        self._start_server(server)
        self.assertEqual(os_win_const.HYPERV_VM_STATE_ENABLED,
                         self._vm(server).state)
        self._reboot_server(server, hard=True)
        self._reboot_server(server)
        self.assertEqual(os_win_const.HYPERV_VM_STATE_ENABLED,
                         self._vm(server).state)
        self.api.post_server_action(server['id'], {'pause': {}})
        self._wait_for_state_change(server, 'PAUSED')
        self.assertEqual(os_win_const.HYPERV_VM_STATE_PAUSED,
                         self._vm(server).state)
        self.api.post_server_action(server['id'], {'unpause': {}})
        self._wait_for_state_change(server, 'ACTIVE')
        self._suspend_server(server)
        self.assertEqual(os_win_const.HYPERV_VM_STATE_SUSPENDED,
                         self._vm(server).state)
        self._resume_server(server)
        self.assertEqual(os_win_const.HYPERV_VM_STATE_ENABLED,
                         self._vm(server).state)
        # Allocations did not move through all that.
        self.assertEqual(allocations,
                         self._get_allocations_by_server_uuid(server['id']))

        self._delete_server(server)
        self.assertIsNone(self.sim.get_vm(vm.name))
        self.assertIsNone(self.sim.get_cluster_group(vm.name))
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            server['id']))
        self.assertEqual(0, self._get_provider_usages(
            self.csv_rp)['DISK_GB'])

    def test_boot_and_delete_with_an_open_vswitch_port(self):
        self.flags(vswitch_name='ovs-switch', group='hyperv_cluster')
        port = self.neutron.port_1  # the fixture's ports are OVS ports
        server = self._boot(self._flavor(), networks=[{'port': port['id']}])
        host = server['OS-EXT-SRV-ATTR:host']
        name = server['OS-EXT-SRV-ATTR:instance_name']
        # The vNIC, named by the port, is on the OVS extension's switch and
        # is a port of br-int as the neutron OVS agent expects it.
        self.assertEqual({port['id']: 'ovs-switch'},
                         self.sim.nic_vswitches(vm_name=name))
        [ovs_port] = self.sim.ovs_ports(host)
        self.assertEqual(
            (port['id'], 'br-int',
             {'iface-id': port['id'], 'iface-status': 'active',
              'attached-mac': port['mac_address'], 'vm-uuid': server['id']}),
            (ovs_port.name, ovs_port.bridge, ovs_port.external_ids))
        self._delete_server(server)
        self.assertEqual([], self.sim.ovs_ports())
        self.assertEqual([], self.sim.vms())

    def test_console_output(self):
        # Nova answered 501 (the driver had none).
        server = self._boot(self._flavor())
        output = self.api.post_server_action(
            server['id'], {'os-getConsoleOutput': {}})['output']
        self.assertIn('%s booting on %s' % (
            server['OS-EXT-SRV-ATTR:instance_name'],
            server['OS-EXT-SRV-ATTR:host']), output)
        # The last lines only, when asked (nova cuts them): the guest's
        # login prompt last.
        tail = self.api.post_server_action(
            server['id'], {'os-getConsoleOutput': {'length': 3}})['output']
        self.assertTrue(output.endswith(tail), tail)
        self.assertLessEqual(len(tail.splitlines()), 3)
        self.assertIn('login:', tail.splitlines()[-1])
        # The guest's output went through COM1, connected to its pipe.
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.assertEqual({1: '\\\\.\\pipe\\%s' % name},
                         self.sim.serial_ports(name))
        self._delete_server(server)

    def test_hard_reboot_of_a_stopped_server_starts_it(self):
        # Hyper-V ignores a reset of a VM that is off.
        server = self._boot(self._flavor())
        self._stop_server(server)
        self._reboot_server(server, hard=True)
        self.assertEqual(os_win_const.HYPERV_VM_STATE_ENABLED,
                         self._vm(server).state)
        self._delete_server(server)

    def test_delete_racing_another_delete_of_the_vm_completes(self):
        # The VM goes while destroy removes it; destroy must not
        # say InstanceNotFound, or nova never marks the server deleted.
        server = self._boot(self._flavor())
        stop_vm_jobs = sim_vmutils.VMUtils.stop_vm_jobs

        def racing(vmutils, vm_name, timeout=None):
            stop_vm_jobs(vmutils, vm_name, timeout)
            self.sim.delete_vm(vm_name)
        self.useFixture(fixtures.MonkeyPatch(
            'hvc_sim.oswin.compute.vmutils.VMUtils.stop_vm_jobs', racing))
        self._delete_server(server)
        self.assertEqual([], self.sim.vms())
        self.assertEqual([], self.sim.cluster_groups())
        self.assertFalse(os.path.exists(os.path.join(
            self.cluster.instances_path,
            server['OS-EXT-SRV-ATTR:instance_name'])))
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            server['id']))

    def test_boot_that_would_overfill_the_csv_gets_no_valid_host(self):
        flavor = self._flavor(disk=70)
        first = self._boot(flavor)
        self.assertEqual(70, self._get_provider_usages(
            self.csv_rp)['DISK_GB'])
        # Each node on its own has room; the shared CSV has not.
        second = self._boot(flavor, expected_state='ERROR')
        self.assertIn('No valid host', second['fault']['message'])
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            second['id']))
        self.assertEqual(1, len(self.sim.vms()))
        self._delete_server(first)
        self.assertEqual([], self.sim.vms())

    def test_servers_spread_over_the_nodes_share_the_csv(self):
        flavor = self._flavor(disk=10, memory_mb=12000, vcpu=1)
        servers = [self._boot(flavor) for _ in NODES]
        # 12000 MB of 16384 per node: one such server per node.
        hosts = sorted(s['OS-EXT-SRV-ATTR:host'] for s in servers)
        self.assertEqual(sorted(NODES), hosts)
        self.assertEqual(30, self._get_provider_usages(
            self.csv_rp)['DISK_GB'])
        for server in servers:
            self.assertEqual(server['OS-EXT-SRV-ATTR:host'],
                             self._vm(server).node)
            self._delete_server(server)
        self.assertEqual([], self.sim.vms())


class TestFaults(HyperVClusterTestCase):
    """Bad input and failures end in a clear error and leave nothing."""

    def setUp(self):
        super().setUp()
        # One attempt: the compute's own error reaches the server's fault
        # instead of the scheduler's "exceeded maximum number of retries".
        self.flags(max_attempts=1, group='scheduler')
        self.flavor = self._flavor(disk=10)

    def _vhd_image(self, virtual_gb, parent=None):
        """A glance image whose data is a simulated VHD of virtual_gb,
        a differencing one over ``parent`` if given.
        """
        data = json.dumps({'magic': vhdutils._VHD_MAGIC, 'format': 'VHD',
                           'type': (os_win_const.VHD_TYPE_DIFFERENCING
                                    if parent else
                                    os_win_const.VHD_TYPE_FIXED),
                           'virtual_size': virtual_gb * units.Gi,
                           'parent': parent}).encode()
        image = self.glance.create(None, {
            'name': 'big', 'disk_format': 'vhd', 'container_format': 'bare',
            'size': len(data), 'properties': {}}, data=io.BytesIO(data))
        return image['id']

    def assertNothingLeft(self, server):
        self.assertEqual([], self.sim.vms())
        self.assertEqual([], self.sim.cluster_groups())
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            server['id']))
        self.assertEqual(0, self._get_provider_usages(
            self.csv_rp)['DISK_GB'])
        instance_dirs = [d for d in os.listdir(self.cluster.instances_path)
                         if d != '_base']
        self.assertEqual([], instance_dirs)

    def test_image_gone_from_glance(self):
        image_id = self._vhd_image(1)

        def download(glance, context, image_id, **kwargs):
            raise exception.ImageNotFound(image_id=image_id)
        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.GlanceFixture.download', download))
        server = self._create_server(image_uuid=image_id,
                                     flavor_id=self.flavor, networks='none',
                                     expected_state='ERROR')
        self.assertIn('Image %s could not be found' % image_id,
                      server['fault']['message'])
        self.assertNothingLeft(server)

    def test_differencing_image_is_refused(self):
        # Its parent could be any file the node reaches, such
        # as another tenant's disk on the CSV.
        victim = self._boot(self.flavor)
        victim_disk = os.path.join(
            self.cluster.instances_path,
            victim['OS-EXT-SRV-ATTR:instance_name'], 'root.vhd')
        image_id = self._vhd_image(1, parent=victim_disk)
        server = self._create_server(image_uuid=image_id,
                                     flavor_id=self.flavor, networks='none',
                                     expected_state='ERROR')
        self.assertIn('differencing virtual disk', server['fault']['message'])
        self.assertEqual([victim['OS-EXT-SRV-ATTR:instance_name']],
                         [vm.name for vm in self.sim.vms()])
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            server['id']))
        cached = os.listdir(os.path.join(self.cluster.instances_path,
                                         '_base'))
        self.assertFalse([f for f in cached if image_id in f and
                          not f.startswith(imagecache.LOCK_PREFIX)], cached)
        self._delete_server(victim)
        self.assertNothingLeft(server)

    def test_flavor_disk_smaller_than_image(self):
        image_id = self._vhd_image(20)
        server = self._create_server(image_uuid=image_id,
                                     flavor_id=self.flavor, networks='none',
                                     expected_state='ERROR')
        self.assertIn("Flavor's disk is too small for requested image",
                      server['fault']['message'])
        self.assertNothingLeft(server)

    def test_os_win_failure_in_the_middle_of_spawn(self):
        self.sim.arm_fault('clusterutils.add_vm_to_cluster',
                           message='cluster group could not be created')
        server = self._boot(self.flavor, expected_state='ERROR')
        self.assertIn('failed to spawn an instance: cluster group could not '
                      'be created', server['fault']['message'])
        self.assertNothingLeft(server)

    def test_port_of_another_vif_type_is_refused(self):
        port = self.neutron.port_1
        self.neutron._ports[port['id']]['binding:vif_type'] = 'vhostuser'
        server = self._boot(self.flavor, expected_state='ERROR',
                            networks=[{'port': port['id']}])
        self.assertIn('has VIF type vhostuser; a Hyper-V cluster node wires '
                      'only ports of type hyperv, ovs',
                      server['fault']['message'])
        self.assertNothingLeft(server)

    def test_ovs_port_without_a_vswitch_is_refused(self):
        port = self.neutron.port_1  # the fixture's ports are OVS ports
        server = self._boot(self.flavor, expected_state='ERROR',
                            networks=[{'port': port['id']}])
        self.assertIn('[hyperv_cluster] vswitch_name',
                      server['fault']['message'])
        self.assertNothingLeft(server)

    def test_delete_of_a_vm_the_cluster_failed_over(self):
        # nova follows the failover (the new owner's nova-compute hears of
        # it), then the delete runs where the VM is and removes it all.
        server = self._boot(self.flavor)
        name = server['OS-EXT-SRV-ATTR:instance_name']
        host = server['OS-EXT-SRV-ATTR:host']
        elsewhere = next(n for n in NODES if n != host)
        self.sim.move_vm(name, elsewhere)
        self._wait_for_server_parameter(
            server, {'OS-EXT-SRV-ATTR:host': elsewhere})
        self._delete_server(server)
        self.assertIsNone(self.sim.get_vm(name))
        self.assertFalse(os.path.isdir(os.path.join(
            self.cluster.instances_path, name)))
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            server['id']))

    def test_vm_vanished_behind_novas_back(self):
        server = self._boot(self.flavor)
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.sim.delete_cluster_group(name)
        self.sim.delete_vm(name)
        # get_info says InstanceNotFound; nova records "no state".
        self.computes[server['OS-EXT-SRV-ATTR:host']].manager\
            ._sync_power_states(nova_context.get_admin_context())
        server = self._wait_for_server_parameter(
            server, {'OS-EXT-STS:power_state': 0})
        # Deleting it works all the same, and its disks go.
        self._delete_server(server)
        self.assertNothingLeft(server)


class TestSnapshotAndVolumes(HyperVClusterTestCase):

    def test_snapshot_uploads_a_standalone_root_disk(self):
        self._keep_uploads()
        server = self._boot(self._flavor(disk=10))
        image_id = self.api.post_server_action(
            server['id'], {'createImage': {'name': 'snap1'}})['image_id']
        self._wait_for_server_parameter(
            server, {'OS-EXT-STS:task_state': None, 'status': 'ACTIVE'})
        self.assertEqual('vhd', self.glance.show(None, image_id)[
            'disk_format'])
        # The root disk was a differencing disk over the cached image; the
        # upload is one standalone disk of the flavor's size.
        disk = json.loads(self.glance._imagedata[image_id])
        self.assertEqual((10 * units.Gi, None),
                         (disk['virtual_size'], disk['parent']))
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self.assertEqual([], self.sim.snapshots(name))
        # No export left behind; the serial port log stays.
        self.assertEqual(['console.log', 'root.vhd'], sorted(os.listdir(
            os.path.join(self.cluster.instances_path, name))))
        self._delete_server(server)

    def test_shelve_offload_and_unshelve(self):
        """Shelved: a snapshot in glance, the VM and its cluster group gone,
        its allocations freed (nova offloads at once by default).
        Unshelved: a VM made from that snapshot on the node the scheduler
        picks, clustered, with allocations on that node and the CSV.
        """
        self._keep_uploads()
        server = self._boot(self._flavor(disk=10))
        name = server['OS-EXT-SRV-ATTR:instance_name']
        self._shelve_server(server)
        self.assertIsNone(self.sim.get_vm(name))
        self.assertIsNone(self.sim.get_cluster_group(name))
        self.assertEqual({}, self._get_allocations_by_server_uuid(
            server['id']))
        self.assertEqual(0, self._get_provider_usages(
            self.csv_rp)['DISK_GB'])
        [shelved] = [i for i in self.glance.images.values()
                     if i['name'] == server['name'] + '-shelved']
        self.assertEqual('vhd', shelved['disk_format'])

        server = self._unshelve_server(server)
        host = server['OS-EXT-SRV-ATTR:host']
        vm = self._vm(server)
        self.assertEqual((host, os_win_const.HYPERV_VM_STATE_ENABLED),
                         (vm.node, vm.state))
        self.assertEqual(host, self.sim.get_cluster_group(name).owner_node)
        self.assertEqual({
            self.node_rp[host]: {'VCPU': 2, 'MEMORY_MB': 1024},
            self.csv_rp: {'DISK_GB': 10},
        }, {rp: a['resources'] for rp, a in
            self._get_allocations_by_server_uuid(server['id']).items()})
        # A root disk of the flavor's size, from the snapshot; nova
        # deleted the shelved image.
        [root] = [d.path for d in self.sim.disks(name)]
        self.assertEqual(10 * units.Gi, vhdutils.VHDUtils(
            self.sim, host).get_vhd_size(root)['VirtualSize'])
        self.assertNotIn(shelved['id'], self.glance.images)
        self._delete_server(server)
        self.assertEqual(0, self._get_provider_usages(
            self.csv_rp)['DISK_GB'])

    def test_config_drive_is_an_iso_attached_as_a_dvd(self):
        self.force_config_drive()
        server = self._boot(self._flavor())
        name = server['OS-EXT-SRV-ATTR:instance_name']
        [dvd] = [d for d in self.sim.disks(name) if d.drive_type == 'DVD']
        self.assertEqual(('IDE1', 0), (dvd.controller, dvd.slot))
        self.assertEqual(os.path.join(self.cluster.instances_path, name,
                                      'configdrive.iso'), dvd.path)
        iso = pycdlib.PyCdlib()
        iso.open(dvd.path)
        try:
            self.assertEqual(b'config-2',
                             iso.pvd.volume_identifier.rstrip())
            meta_data = json.loads(test_configdrive.read_iso_file(
                iso, '/openstack/latest/meta_data.json'))
        finally:
            iso.close()
        self.assertEqual(server['id'], meta_data['uuid'])
        self._delete_server(server)
        self.assertFalse(os.path.exists(dvd.path))

    def test_smb_volume_attach_and_detach(self):
        volume_id = str(uuid.uuid4())
        connection_info = dict(
            nova_fixtures.CinderFixture.VOLUME_CONNECTION_INFO)
        connection_info[volume_id] = {
            'driver_volume_type': 'smbfs',
            'data': {'export': '//fs1/cinder',
                     'name': 'volume-%s.vhdx' % volume_id}}
        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.CinderFixture.VOLUME_CONNECTION_INFO',
            connection_info))
        server = self._boot(self._flavor())
        name = server['OS-EXT-SRV-ATTR:instance_name']
        host = server['OS-EXT-SRV-ATTR:host']
        self._attach_volumes(server, [volume_id])
        # _attach_volumes waits for the API's record of the attachment
        # only; the compute attaches after that. Without this wait the test
        # could look too early, fail, and undo the connection info patch
        # under the compute's feet ("Volume type fake").
        self._wait_for_instance_action_event(
            server, 'attach_volume', 'compute_attach_volume', 'Success')
        path = '\\\\fs1\\cinder\\volume-%s.vhdx' % volume_id
        self.assertIn(path, [d.path for d in self.sim.disks(name)])
        self.assertEqual(['\\\\fs1\\cinder'], self.sim.mapped_shares(host))
        # Nova detaches only on the host CONF.host names, and in one process
        # every compute service shares CONF (last started: node3).
        self.flags(host=host)
        self.api.delete_server_volume(server['id'], volume_id)
        self._wait_for_volume_detach(server['id'], volume_id)
        self.assertNotIn(path, [d.path for d in self.sim.disks(name)])
        self._delete_server(server)

    def test_iscsi_volume_is_refused_and_not_half_attached(self):
        server = self._boot(self._flavor())
        name = server['OS-EXT-SRV-ATTR:instance_name']
        disks_before = self.sim.disks(name)
        volume_id = nova_fixtures.CinderFixture.ISCSI_BACKED_VOL
        self.api.post_server_volume(server['id'], {'volumeAttachment': {
            'volumeId': volume_id}})
        self._wait_for_action_fail_completion(server, 'attach_volume',
                                              'compute_attach_volume')
        self._wait_for_volume_detach(server['id'], volume_id)
        self.assertEqual([], self.api.get_server_volumes(server['id']))
        self.assertEqual(disks_before, self.sim.disks(name))
        self.assertEqual('ACTIVE', self.api.get_server(server['id'])[
            'status'])
        actions = self.api.api_get(
            '/servers/%s/os-instance-actions' % server['id']).body
        [attach] = [a for a in actions['instanceActions']
                    if a['action'] == 'attach_volume']
        event = self.api.api_get('/servers/%s/os-instance-actions/%s' % (
            server['id'], attach['request_id'])).body[
                'instanceAction']['events'][0]
        self.assertEqual('Error', event['result'])
        self.assertIn('Volume type iscsi cannot be attached on a Hyper-V '
                      'cluster node', event['details'])
        self._delete_server(server)
