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

"""A stand-in for nova's scheduler, on placement alone.

The demo and the capacity benchmark replay boots against a real placement
without running nova: they make compute node providers as nova-compute
would, choose among ``GET /allocation_candidates`` as nova's scheduler
would, and claim and release allocations as nova does.
"""

import uuid as uuid_mod

# The owner of the instances the demo and the benchmarks "boot".
PROJECT = '9d0c0f4c-5e43-4a8a-a1e0-3f0c9a6c1a11'
USER = '3b1f6b53-7a0e-4f0a-9c2e-5b1d2a8e4c22'


def create_compute_node(client, name, vcpus=16, memory_mb=65536,
                        disk_gb=None, rp_uuid=None):
    """A compute node provider as nova-compute makes it.

    The Hyper-V cluster driver reports no DISK_GB; ``disk_gb`` makes the
    provider compute-hyperv would have made instead (the whole CSV).
    """
    rp_uuid = rp_uuid or str(uuid_mod.uuid4())
    gen = client.create_provider(rp_uuid, name)['generation']
    inventories = {
        'VCPU': {'total': vcpus, 'allocation_ratio': 4.0},
        'MEMORY_MB': {'total': memory_mb, 'reserved': 512,
                      'allocation_ratio': 1.0},
    }
    if disk_gb:
        inventories['DISK_GB'] = {'total': disk_gb, 'max_unit': disk_gb}
    client.set_inventories(rp_uuid, gen, inventories)
    return rp_uuid


def schedule(client, resources, node_names, preferred=None):
    """Choose an allocation candidate as nova's scheduler would.

    ``node_names`` maps compute node provider uuids to names. The choice is
    the candidate on ``preferred`` if there is one, else on the first node
    by name (placement's own order varies from process to process).
    Returns (node name, allocation request), or (None, None): NoValidHost.
    """
    query = ','.join('%s:%d' % kv for kv in sorted(resources.items()))
    by_node = {}
    for candidate in client.request(
            'GET', '/allocation_candidates?resources=' + query)[
                'allocation_requests']:
        node = next(node_names[rp] for rp in candidate['allocations']
                    if rp in node_names)
        by_node.setdefault(node, candidate)
    if not by_node:
        return None, None
    node = preferred if preferred in by_node else min(by_node)
    return node, by_node[node]


def claim(client, allocation_request, consumer):
    """What the scheduler then writes: the chosen candidate's allocations
    for a new instance ``consumer``.
    """
    client.request('PUT', '/allocations/%s' % consumer, dict(
        allocation_request, project_id=PROJECT, user_id=USER,
        consumer_generation=None, consumer_type='INSTANCE'))


def release(client, consumer):
    client.request('DELETE', '/allocations/%s' % consumer)
