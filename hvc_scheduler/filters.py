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

"""HyperVClusterKeepCSVFilter: a move keeps the instance's disk on its CSV.

A node of the instance's cluster is offered allocation candidates with
every CSV of the cluster, and nova claims the first one: half the moves
would name another CSV than the one the disks are on, and the disks would
have to be copied there. On such a node this filter keeps the candidates
whose DISK_GB is on the instance's own CSV, when there are any (that CSV
has room); otherwise, and on the nodes of other clusters, it keeps them
all (the disks then move: to another cluster, or, for a cold migration or
resize, to the cluster's other CSV, since nova claims the disk a second
time until the move is confirmed and the own CSV may lack room for it).
A live migration inside the cluster moves no disk: a node of the
instance's cluster without a candidate on its CSV fails. Boots are not
touched.

An evacuation is different: its host is down and its cluster restarts the
VM on another of its nodes, which the evacuation adopts, so the disks
cannot move. Only the nodes of its cluster pass, with the candidates on
its own CSV (the compute driver would refuse any other node, after nova
claimed it).
"""

from oslo_log import log as logging

from nova.scheduler import filters

from hvc_scheduler import moving

LOG = logging.getLogger(__name__)


def disk_providers(candidate):
    return {rp for rp, alloc in candidate['allocations'].items()
            if alloc['resources'].get('DISK_GB')}


class HyperVClusterKeepCSVFilter(filters.BaseHostFilter,
                                 filters.CandidateFilterMixin):

    run_filter_once_per_request = False
    RUN_ON_REBUILD = False

    def host_passes(self, host_state, spec_obj):
        placement = moving.placement_of(spec_obj)
        if placement is None:
            return True
        if placement.evacuating and placement.cluster is not None:
            return self._evacuation_passes(host_state, spec_obj, placement)
        if placement.csv_provider is None:
            return True
        own = placement.csv_provider
        if any(own in disk_providers(c)
               for c in host_state.allocation_candidates):
            kept = self.filter_candidates(
                host_state,
                lambda c: not disk_providers(c) or own in disk_providers(c))
            LOG.debug('%s: %d allocation candidate(s) keep the disk of %s '
                      'on CSV provider %s', host_state, len(kept),
                      spec_obj.instance_uuid, own)
        elif (placement.live_migrating and
              moving.cluster_of(host_state) == placement.cluster):
            LOG.debug('%s: the CSV provider %s of %s has no room for the '
                      'disk a second time, and a live migration inside its '
                      'cluster moves no disk', host_state, own,
                      spec_obj.instance_uuid)
            return False
        # A node with no candidate on that CSV passes with all it has.
        return True

    def _evacuation_passes(self, host_state, spec_obj, placement):
        cluster = moving.cluster_of(host_state)
        if cluster != placement.cluster:
            LOG.debug('%s: not a node of cluster %s, where %s is evacuated '
                      'inside', host_state, placement.cluster,
                      spec_obj.instance_uuid)
            return False
        own = placement.csv_provider
        if own is None:
            return True
        kept = self.filter_candidates(
            host_state,
            lambda c: not disk_providers(c) or own in disk_providers(c))
        if not kept:
            LOG.debug('%s: no allocation candidate keeps the disk of %s on '
                      'CSV provider %s, which its evacuation cannot leave',
                      host_state, spec_obj.instance_uuid, own)
        return bool(kept)
