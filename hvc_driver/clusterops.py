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

"""Nova follows the failover cluster: failovers, lost nodes and
maintenance (nova's own evacuation is ``evacuateops``).

The failover cluster moves VMs on its own: a node fails and its VMs restart
on the others, a node is drained (Suspend-ClusterNode -Drain) and its VMs
live-migrate away, an administrator moves one. Each time, the nova-compute
of the node that gains the VM makes nova agree (``reconcile``, fed by
``failover.Follower``):

- the instance's host and node, and the instance action
  ``cluster-failover`` (``openstack server event list``); a VM the cluster
  could not restart anywhere (its group Failed) puts the instance in ERROR
  with a fault that says so;
- its VCPU and MEMORY_MB allocation, moved from the old node's provider to
  this one in one PUT with the consumer's generation (DISK_GB stays on its
  CSV provider);
- its ports, bound to this host;
- what runs outside the VM on a node: its console log reader and Open
  vSwitch ports start here, and stop on the node that lost it.

The rules:

- One node at a time per VM, across the cluster: an external lock file on
  the shared instances path (a CSV, whose file locks hold for every node).
- The newest owner wins: inside the lock the owner is read again from the
  cluster, and only the owner changes nova's records.
- Nova first: while nova has a task on the instance (it moves, deletes or
  rebuilds it), nothing changes (NotYet): nova's own moves set the host
  themselves, and every one keeps a task on the instance until it ends. A
  migration record in progress while nova has no task on the instance is
  a leftover of a failed move, and is not waited for. A resize awaiting
  confirmation is not in progress: its VM runs, and the cluster may move
  it; then the migration's destination follows too, so that nova's revert
  (sent to the destination) and confirm find it.
- Nothing half done: each step looks at what is and does what is missing,
  so a step that fails is simply retried until all agree.
"""

import collections

from oslo_log import log as logging

from nova.compute import utils as compute_utils
from nova.compute import vm_states
import nova.conf
from nova import context as nova_context
from nova import exception
from nova.network import neutron
from nova import objects
from nova.scheduler.client import query

from hvc_driver import exception as hvc_exc
from hvc_driver import hyperv as seam
from hvc_driver import placement
from hvc_oswin_api import constants as os_win_const
from hvc_oswin_api import exceptions as os_win_exc

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

# The instance action of each move of the cluster that nova followed.
FAILOVER_ACTION = 'cluster-failover'
# The reason of a compute service this driver disabled, which it alone
# enables again (nova's libvirt driver marks its own the same way).
DISABLED_REASON = 'AUTO: Hyper-V failover cluster: node %s is %s'
_DISABLED_PREFIX = DISABLED_REASON.split('%s')[0]
_NODE_STATES = {os_win_const.CLUSTER_NODE_PAUSED: 'paused (drained)',
                os_win_const.CLUSTER_NODE_DOWN: 'down',
                os_win_const.CLUSTER_NODE_ISOLATED: 'isolated',
                os_win_const.CLUSTER_NODE_QUARANTINED: 'quarantined'}

# The statuses of a migration that nova is carrying out (live, cold), and
# of a resize awaiting confirmation or being confirmed, whose VM runs at
# the destination as any other (a confirm sets no task state).
_MIGRATING = ('queued', 'preparing', 'running', 'post-migrating',
              'pre-migrating', 'migrating', 'reverting')
_AWAITING_CONFIRMATION = ('finished', 'confirming')

# A VM this node no longer has, known by name (and uuid) only.
_GoneVM = collections.namedtuple('_GoneVM', 'name uuid')


class NotYet(Exception):
    """Nova or the cluster is busy with the VM: look again later."""


class ClusterOps(seam.UsesHyperV):

    def __init__(self, hyperv, vmops, hostops, virtapi, instance_layout,
                 live_migrating=lambda instance_uuid: False):
        self._hyperv = hyperv
        # Whether this node is live-migrating an instance away now.
        self._live_migrating = live_migrating
        self._vmops = vmops
        self._hostops = hostops
        self._virtapi = virtapi
        self._layout = instance_layout
        self._network = None
        # Nova's VMs on this node: what to let go of when the cluster
        # moves one away.
        self._served = vmops.served_vms

    @property
    def _network_api(self):
        if self._network is None:
            self._network = neutron.API()
        return self._network

    def _is_here(self, node):
        return self._hyperv.is_this_node(node)

    def _recorded_here(self, instance):
        return (instance.host == self._hyperv.host and
                instance.node == self._hyperv.node)

    @staticmethod
    def _instance(context, instance_uuid):
        try:
            return objects.Instance.get_by_uuid(
                context, instance_uuid,
                expected_attrs=['system_metadata', 'flavor', 'info_cache'])
        except exception.InstanceNotFound:
            return None

    def served_here(self, vm_name):
        """Whether this node runs ``vm_name`` for nova, or did when it
        last looked.
        """
        return vm_name in self._served

    # Following the cluster.

    @hvc_exc.translate_oswin_errors('follow the failover cluster')
    def reconcile(self, vm_name):
        """Make nova agree with the cluster about ``vm_name``: follow it
        here if the cluster runs it here, let it go if it ran here and
        runs elsewhere now. NotYet, or any error: try again later.
        """
        if self._is_here(self._hyperv.owner_of(vm_name)):
            with self._layout.instance_lock(vm_name):
                self._follow(vm_name)
        elif self.served_here(vm_name):
            with self._layout.instance_lock(vm_name):
                self._let_go(vm_name)

    def _follow(self, vm_name):
        owner = self._hyperv.owner_of(vm_name)
        if not self._is_here(owner):
            # Moved on meanwhile: its newest owner follows it.
            return
        group = self._clusterutils.get_cluster_group_state_info(vm_name)
        if (group['state'] == os_win_const.CLUSTER_GROUP_PENDING or
                group['migration_queued']):
            raise NotYet('the cluster is still moving %s' % vm_name)
        try:
            instance_uuid = self._vmutils.get_instance_uuid(vm_name)
        except os_win_exc.HyperVVMNotFoundException:
            raise NotYet('the cluster gave %s to this node, where Hyper-V '
                         'has not registered it yet' % vm_name)
        if not instance_uuid:
            return  # Not a VM of nova's.
        context = nova_context.get_admin_context()
        instance = self._instance(context, instance_uuid)
        if instance is None:
            # Deleted: nova's reaper of running deleted instances has it.
            return
        self._served.add(vm_name, instance.uuid)
        resize = self._check_idle(context, instance)
        failed = group['state'] == os_win_const.CLUSTER_GROUP_FAILED
        if not self._recorded_here(instance):
            self._move_record(context, instance, failed)
        if resize is not None:
            self._move_resize_destination(instance, resize)
        elif failed and instance.vm_state != vm_states.ERROR:
            fault = self._not_restarted(instance, instance.host)
            instance.vm_state = vm_states.ERROR
            instance.save(expected_task_state=[None])
            self._report(context, instance, fault)
        self._bind_ports(context, instance)
        self._vmops.take_over(instance, instance.get_network_info())
        # Last: placement may refuse (no room here), which is retried.
        self.move_allocation(context, instance)

    @staticmethod
    def _check_idle(context, instance):
        """NotYet while nova moves the instance: every move of nova's
        keeps a task on it from its API call to its end. Its resize
        awaiting confirmation (or being confirmed: the source cleans up
        while the VM runs at the destination), if it has one, else None.

        What nova records of a migration that is not so backed is not
        waited for: a migration in progress while nova has no task on the
        instance is left over from a service that failed mid-move (a
        database restarted during a cold migration, say), however recent.
        """
        if instance.task_state is not None:
            raise NotYet('nova is busy with %s (task %s)'
                         % (instance.uuid, instance.task_state))
        migrations = objects.MigrationList.get_by_filters(context, {
            'instance_uuid': instance.uuid,
            'status': list(_MIGRATING + _AWAITING_CONFIRMATION)})
        for migration in migrations:
            if migration.status not in _AWAITING_CONFIRMATION:
                LOG.warning('Migration %s of %s is %s while nova has no '
                            'task on the instance: left over from a move '
                            'that failed; following the cluster all the '
                            'same', migration.uuid, instance.uuid,
                            migration.status, instance=instance)
        if instance.vm_state != vm_states.RESIZED:
            return None
        return next((m for m in migrations
                     if m.status in _AWAITING_CONFIRMATION), None)

    def _move_resize_destination(self, instance, migration):
        """The destination of a resize awaiting confirmation is where the
        instance is: nova sends a revert there (whose hand_back gives the
        VM to the source), and its resource tracker claims there.
        """
        if (migration.dest_compute, migration.dest_node) == (
                self._hyperv.host, self._hyperv.node):
            return
        old = migration.dest_compute
        migration.dest_compute = self._hyperv.host
        migration.dest_node = self._hyperv.node
        migration.dest_host = CONF.my_ip
        migration.save()
        LOG.info('The resize of %s awaiting confirmation now has host %s '
                 'as destination, in place of %s', instance.name,
                 self._hyperv.host, old, instance=instance)

    def _move_record(self, context, instance, failed):
        old_host = instance.host
        instance.host = self._hyperv.host
        instance.node = self._hyperv.node
        instance.compute_id = objects.ComputeNode.get_by_uuid(
            context, self._hostops.node_uuid()).id
        instance.power_state = self._vmops.get_info(instance).state
        fault = None
        if failed:
            fault = self._not_restarted(instance, old_host)
            instance.vm_state = vm_states.ERROR
        # Nova has not started anything on it since it was read.
        instance.save(expected_task_state=[None])
        if fault:
            self._report(context, instance, fault)
        objects.InstanceAction.action_start(
            context, instance.uuid, FAILOVER_ACTION, want_result=False)
        scheduler = query.SchedulerQueryClient()
        if old_host:
            scheduler.delete_instance_info(context, old_host, instance.uuid)
        scheduler.update_instance_info(
            context, instance.host,
            objects.InstanceList(objects=[instance]))
        LOG.info('The failover cluster moved %s from host %s to node %s: '
                 'nova now records it on host %s', instance.name, old_host,
                 self._hyperv.node, instance.host, instance=instance)

    def _not_restarted(self, instance, old_host):
        """Why the cluster could not restart the VM of ``instance``."""
        _total_kb, free_kb = self._hyperv.hostutils.get_memory_info()
        return hvc_exc.InstanceNotRestarted(
            vm_name=instance.name, host=old_host, node=self._hyperv.node,
            need_mb=instance.flavor.memory_mb, free_mb=free_kb // 1024)

    @staticmethod
    def _report(context, instance, fault):
        """The instance's fault, which nova shows while it is in ERROR."""
        compute_utils.add_instance_fault_from_exc(context, instance, fault)
        LOG.error('%s', fault.format_message(), instance=instance)

    def move_allocation(self, context, instance):
        """The instance's VCPU and MEMORY_MB on this node's provider."""
        placement.move_node_resources(context, instance, self._hyperv.node,
                                      self._hostops.node_uuid())

    def _bind_ports(self, context, instance):
        """The instance's ports bound to this host (what an evacuation
        does), and its network info cache refreshed from them.
        """
        host = self._hyperv.host
        ports = self._network_api.list_ports(
            context, device_id=instance.uuid)['ports']
        if all(port.get('binding:host_id') == host for port in ports):
            return
        self._network_api.setup_instance_network_on_host(context, instance,
                                                         host)
        self._network_api.get_instance_nw_info(context, instance)
        LOG.info('Ports %s of %s bound to host %s',
                 ', '.join(port['id'] for port in ports), instance.uuid,
                 host, instance=instance)

    def _let_go(self, vm_name):
        if (self._is_here(self._hyperv.owner_of(vm_name)) or
                self._vmutils.vm_exists(vm_name)):
            return  # Back here meanwhile.
        instance_uuid = self._served.uuid_of(vm_name)
        instance = None
        if instance_uuid:
            instance = self._instance(nova_context.get_admin_context(),
                                      instance_uuid)
        if instance is not None and instance.task_state is not None:
            # Nova moves it: its move cleans up the source itself.
            return
        network_info = instance.get_network_info() if instance else []
        self._vmops.let_go(instance or _GoneVM(vm_name, instance_uuid),
                           network_info)
        LOG.info('%s left node %s: its console log reader and Open vSwitch '
                 'ports here stopped', vm_name, self._hyperv.node)

    # The periodic check, and the node's state.

    @hvc_exc.translate_oswin_errors('check nova against the cluster')
    def check(self):
        """The nova VMs of this node that nova does not record here, or
        whose allocation is not on this node: the names to reconcile.

        Also what was let go of is forgotten, and the compute service
        follows the node's state (sync_node_state).
        """
        context = nova_context.get_admin_context()
        self.sync_node_state(context)
        listed_since = self._served.now()
        here = self._vmops.nova_vms_here()
        self._served.found(here, listed_since)
        consumers = placement.allocations_on_provider(
            context, self._hostops.node_uuid())
        self._end_moves_that_ended(context, consumers)
        if not here:
            return []
        names = {instance_uuid: name for name, instance_uuid in here.items()}
        instances = objects.InstanceList.get_by_filters(
            context, {'uuid': list(names), 'deleted': False},
            expected_attrs=[])
        stale = [i for i in instances if not self._recorded_here(i)]
        recorded = [i for i in instances if self._recorded_here(i)]
        for instance in recorded:
            self._cluster_if_left_out(names[instance.uuid], instance)
        stale += [i for i in recorded if i.uuid not in consumers]
        return sorted(names[i.uuid] for i in stale)

    @hvc_exc.translate_oswin_errors('end the moves that ended')
    def end_moves_of(self, instance_uuid):
        """Once nova has ended a live migration of the instance that it
        asked the driver to abort (at start-up, after a nova-compute
        killed mid-move; or an operator's abort), the allocations of the
        migrations that ended (``_end_moves_that_ended``). NotYet while
        nova is still at it.
        """
        context = nova_context.get_admin_context()
        instance = self._instance(context, instance_uuid)
        if instance is not None and instance.task_state is not None:
            raise NotYet('nova is still ending the live migration of %s '
                         '(task %s)' % (instance_uuid, instance.task_state))
        self._end_moves_that_ended(context, placement.allocations_on_provider(
            context, self._hostops.node_uuid()))

    def _end_moves_that_ended(self, context, consumers):
        """The migrations that hold allocations on this node's provider
        (``consumers``) although nova has no task on their instance, and
        they await no confirmation: ended (error, say), or left in progress
        by a nova-compute killed mid-move. Nova's own ends move their
        allocation back to the instance or drop it; these are ended as
        nova ends them. Their instance gets the allocation back when
        its VM runs here (the move did not happen), and it is dropped when
        the VM runs elsewhere (the cluster finished the move; the node
        that runs it follows it).
        """
        if not consumers:
            return
        migrations = objects.MigrationList.get_by_filters(context, {
            'uuid': list(consumers)})
        for migration in migrations:
            if migration.status in _AWAITING_CONFIRMATION:
                continue
            if self._live_migrating(migration.instance_uuid):
                # nova's post-migration, inside this node's live
                # migration, drops the allocation once the destination
                # cleared the instance's task.
                continue
            instance = self._instance(context, migration.instance_uuid)
            if instance is not None and (
                    instance.task_state is not None or
                    instance.vm_state == vm_states.RESIZED):
                # nova is at it: a confirm sets no task state, and marks
                # the migration confirmed before it drops its allocation;
                # a revert gives it back.
                continue
            vm_name = instance.name if instance else None
            with self._layout.instance_lock(vm_name or migration.uuid):
                if instance is not None and self._vmutils.vm_exists(vm_name):
                    if self._clusterutils.vm_exists(vm_name) and (
                            self._clusterutils.get_cluster_group_state_info(
                                vm_name)['migration_queued']):
                        continue  # Not ended in the cluster yet.
                    placement.give_back_migration_allocation(
                        context, migration.uuid, instance.uuid)
                    what = 'given back to instance %s, whose VM runs here'
                else:
                    placement.drop_migration_allocation(context,
                                                        migration.uuid)
                    what = ('dropped: instance %s runs elsewhere, or is '
                            'gone')
            LOG.warning('Migration %s (%s) of instance %s ended %s but still '
                        'held an allocation on node %s: ' + what,
                        migration.uuid, migration.migration_type,
                        migration.instance_uuid, migration.status,
                        self._hyperv.node, migration.instance_uuid)

    def _cluster_if_left_out(self, vm_name, instance):
        """Cluster again a VM of nova's that runs here unclustered while
        nova has no task on it (a move out of the cluster that failed
        half-way, an administrator's mistake): unclustered, the cluster
        would not restart it elsewhere if this node failed.
        """
        if instance.task_state is not None:
            return  # mid-move: a live migration out unclusters it first.
        try:
            if self._clusterutils.vm_exists(vm_name):
                return
            LOG.warning('%s runs on node %s unclustered: clustering it '
                        'again', vm_name, self._hyperv.node,
                        instance=instance)
            self._vmops.cluster(vm_name)
        except hvc_exc.OSWIN_ERRORS:
            LOG.exception('Cannot cluster %s again', vm_name,
                          instance=instance)

    @hvc_exc.translate_oswin_errors('read the node\'s state in the cluster')
    def sync_node_state(self, context=None):
        """Disable this compute service while the cluster has the node
        paused (drained) or down, so that nova puts no instance here; enable
        it again once the node is up, unless someone else disabled it.
        """
        context = context or nova_context.get_admin_context()
        states = self._clusterutils.get_cluster_node_states()
        state = next((s for name, s in states.items() if self._is_here(name)),
                     None)
        reason = None
        if state in _NODE_STATES:
            reason = DISABLED_REASON % (self._hyperv.node,
                                        _NODE_STATES[state])
        try:
            service = objects.Service.get_by_compute_host(context,
                                                          self._hyperv.host)
        except exception.ComputeHostNotFound:
            # A new nova-compute starting: registered once it has started.
            LOG.debug('Compute service of host %s not registered yet',
                      self._hyperv.host)
            return
        if reason and not service.disabled:
            service.disabled, service.disabled_reason = True, reason
        elif (not reason and service.disabled and
              (service.disabled_reason or '').startswith(_DISABLED_PREFIX)):
            service.disabled, service.disabled_reason = False, None
        else:
            return
        service.save()
        self._virtapi.update_compute_provider_status(
            context, self._hostops.node_uuid(), enabled=not service.disabled)
        LOG.warning('Compute service of host %s %s: %s', self._hyperv.host,
                    'disabled' if service.disabled else 'enabled again',
                    reason or 'node %s is up in the failover cluster'
                    % self._hyperv.node)

    # What nova itself does with a VM the cluster moved.

    def keeps(self, instance):
        """Whether nova's destroy must leave the VM of ``instance`` alone:
        the cluster runs it here while nova records it on another host (a
        failover not followed yet, or a failback to a node that nova
        evacuated it from). It is followed instead.
        """
        if (instance.deleted or not instance.host or
                instance.host == self._hyperv.host):
            return False
        owner = self._hyperv.owner_of(instance.name)
        if not self._is_here(owner):
            return False
        LOG.warning('Not destroying %s: the failover cluster runs it on this '
                    'node %s while nova records it on host %s; nova follows '
                    'it here instead', instance.name, self._hyperv.node,
                    instance.host, instance=instance)
        return True
