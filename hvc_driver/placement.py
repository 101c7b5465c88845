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

"""What the driver reads and changes in placement, through nova's report
client: which CSV provider holds an instance's DISK_GB (where its disks
are), its VCPU and MEMORY_MB following its VM to the node that runs it,
and the allocations of migrations that ended.
"""

import os_resource_classes as orc
from oslo_log import log as logging

from nova import exception
from nova.scheduler.client import report

from hvc_driver import exception as hvc_exc

LOG = logging.getLogger(__name__)

# What an instance holds on its compute node's provider, and what follows
# it to another node; the rest (DISK_GB on its CSV) stays where it is.
NODE_RESOURCES = (orc.VCPU, orc.PCPU, orc.MEMORY_MB)


def _client():
    return report.report_client_singleton()


def allocations_of(context, instance):
    """The instance's allocations in placement now ({provider uuid:
    {'resources': ...}}): what says which CSV its disk is on.
    """
    return _client().get_allocs_for_consumer(
        context, instance.uuid)['allocations']


def allocations_on_provider(context, provider_uuid):
    """{consumer uuid: allocation} of a provider; none while it does not
    exist (a nova-compute that has not made its node's provider yet).
    """
    response = _client().get(
        '/resource_providers/%s/allocations' % provider_uuid,
        global_request_id=context.global_id)
    if response.status_code == 404:
        return {}
    if response.status_code != 200:
        raise exception.ResourceProviderAllocationRetrievalFailed(
            rp_uuid=provider_uuid, error=response.text)
    return response.json()['allocations']


def rewrite_allocations(context, instance, change, what, node):
    """PUT ``change(held)`` ({provider: {class: amount}}) as the
    instance's allocations unless it is what placement holds; with the
    consumer generation it was computed from, read again when another
    writer came first. ``what`` the change is, for the log; ``node`` the
    node that changes it, for the error.
    """
    client = _client()
    for _attempt in range(3):
        current = client.get_allocs_for_consumer(context, instance.uuid)
        held = {rp: alloc['resources'] for rp, alloc in
                current['allocations'].items()}
        if not held:
            return
        wanted = change(held)
        if wanted == held:
            return
        response = client.put(
            '/allocations/%s' % instance.uuid,
            {'allocations': {rp: {'resources': resources}
                             for rp, resources in wanted.items()},
             'consumer_generation': current['consumer_generation'],
             'project_id': current['project_id'],
             'user_id': current['user_id']},
            version=report.CONSUMER_GENERATION_VERSION,
            global_request_id=context.global_id)
        if response.status_code == 204:
            LOG.info('Allocation of %s: %s: %s', instance.uuid, what,
                     wanted, instance=instance)
            return
        errors = response.json().get('errors') or [{}]
        if errors[0].get('code') != 'placement.concurrent_update':
            raise hvc_exc.AllocationNotChanged(
                instance_uuid=instance.uuid, node=node, change=what,
                reason=errors[0].get('detail', response.text))
        # Changed meanwhile (nova, or another node): read it again.
    raise hvc_exc.AllocationNotChanged(
        instance_uuid=instance.uuid, node=node, change=what,
        reason='it kept changing meanwhile')


def give_back_migration_allocation(context, migration_uuid, instance_uuid):
    """A migration's allocation back to its instance (a move that did not
    happen), as nova's revert does.
    """
    _client().move_allocations(context, migration_uuid, instance_uuid)


def drop_migration_allocation(context, migration_uuid):
    """A migration's allocation dropped (a move that happened), as nova's
    confirm does.
    """
    _client().delete_allocation_for_instance(context, migration_uuid,
                                             consumer_type='migration')


def move_node_resources(context, instance, node, node_rp):
    """The instance's VCPU and MEMORY_MB on ``node_rp``, the provider of
    ``node`` that runs its VM, once (from another node's provider, or from
    what its flavor asks when none holds them); the rest of its allocation
    stays where it is.
    """
    rewrite_allocations(context, instance,
            lambda held: node_resources_on(held, node_rp, instance.flavor),
            'VCPU and MEMORY_MB moved to node %s, where the failover '
            'cluster runs it (provider %s)' % (node, node_rp), node)


def release_disk_beside(context, instance, own_provider, node):
    """Drop the DISK_GB a refused move claimed beside the instance's own
    on ``own_provider``: every provider that holds only DISK_GB and is
    not the CSV its disks are on.
    """
    rewrite_allocations(context, instance,
            lambda held: without_disk_beside(held, own_provider),
            'DISK_GB released beside that on CSV provider %s'
            % own_provider, node)


def node_resources_on(held, node_rp, flavor):
    """The allocations ``held`` ({provider: {class: amount}}) with the node
    resources on ``node_rp`` only: the ones held there already, else those
    of another node's provider, else what the flavor asks.
    """
    wanted, node_parts = {}, {}
    for rp, resources in held.items():
        rest = {rc: n for rc, n in resources.items()
                if rc not in NODE_RESOURCES}
        part = {rc: n for rc, n in resources.items() if rc in NODE_RESOURCES}
        if rest:
            wanted[rp] = rest
        if part:
            node_parts[rp] = part
    if node_rp in node_parts:
        part = node_parts[node_rp]
    elif node_parts:
        part = node_parts[sorted(node_parts)[0]]
    else:
        part = {orc.VCPU: flavor.vcpus, orc.MEMORY_MB: flavor.memory_mb}
    wanted[node_rp] = dict(wanted.get(node_rp, {}), **part)
    return wanted


def without_disk_beside(held, own_provider):
    """The allocations ``held`` without the DISK_GB of any provider but
    ``own_provider`` that holds nothing else (what a refused move claimed
    on another CSV).
    """
    return {rp: resources for rp, resources in held.items()
            if rp == own_provider or set(resources) != {orc.DISK_GB}}
