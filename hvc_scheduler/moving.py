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

"""What the scheduler knows of an instance it places: the cluster and the
CSV its disks are on, as the compute driver recorded them in the
instance's system metadata, and whether it is being evacuated. Nothing
for a new instance.
"""

import dataclasses

from oslo_log import log as logging

from nova.compute import task_states
from nova import context as nova_context
from nova import exception
from nova import objects

import hvc_names


LOG = logging.getLogger(__name__)

# Where the answer is kept on the RequestSpec for the rest of the request:
# filters and weighers run once per host.
_MEMO = '_hyperv_cluster_placement'


@dataclasses.dataclass(frozen=True)
class Placement:
    cluster: str        # None if not recorded
    csv_provider: str   # None: no disk on a CSV
    # The instance's task: nova's evacuate sets REBUILDING (a rebuild in
    # place too, but it asks the scheduler only with RUN_ON_REBUILD
    # filters, which ours are not), a live migration MIGRATING.
    task_state: str = None

    @property
    def evacuating(self):
        """Its host is down, and its cluster restarts its VM on another of
        its nodes: it can go nowhere else.
        """
        return self.task_state == task_states.REBUILDING

    @property
    def live_migrating(self):
        return self.task_state == task_states.MIGRATING


def cluster_of(host_state):
    """The failover cluster of a node, from the nova host aggregate
    placement_sync keeps for each cluster; None for a host in none.
    """
    for aggregate in host_state.aggregates:
        name = aggregate.metadata.get(hvc_names.HOST_AGGREGATE_CLUSTER_KEY)
        if name:
            return name
    return None


def placement_of(spec_obj):
    """The recorded Placement of the instance ``spec_obj`` is about, or
    None (a new instance, or one the driver recorded nothing for).
    """
    if not hasattr(spec_obj, _MEMO):
        setattr(spec_obj, _MEMO, _look_up(spec_obj))
    return getattr(spec_obj, _MEMO)


def _look_up(spec_obj):
    uuid = spec_obj.instance_uuid if 'instance_uuid' in spec_obj else None
    context = getattr(spec_obj, '_context', None)
    if not uuid or context is None:
        return None
    context = context.elevated()
    try:
        mapping = objects.InstanceMapping.get_by_instance_uuid(context, uuid)
        if not mapping.cell_mapping:
            return None  # not built yet: a boot
        with nova_context.target_cell(context, mapping.cell_mapping) as cctx:
            instance = objects.Instance.get_by_uuid(
                cctx, uuid, expected_attrs=['system_metadata'])
    except (exception.InstanceMappingNotFound, exception.InstanceNotFound):
        return None
    metadata = instance.system_metadata
    cluster = metadata.get(hvc_names.CLUSTER_KEY)
    provider = metadata.get(hvc_names.CSV_PROVIDER_KEY)
    if cluster is None and provider is None:
        return None
    return Placement(cluster=cluster, csv_provider=provider,
                     task_state=instance.task_state)
