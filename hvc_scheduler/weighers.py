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

"""HyperVClusterSameClusterWeigher: a move prefers the nodes of the
instance's own failover cluster.

A node's cluster is the ``hyperv_cluster`` metadata of the nova host
aggregate placement_sync keeps for each cluster; the instance's is what
the compute driver recorded in its system metadata. Modelled on nova's
CrossCellWeigher.
"""

import nova.conf
from nova.scheduler import utils
from nova.scheduler import weights

from hvc_scheduler import conf as sched_conf
from hvc_scheduler import moving

CONF = nova.conf.CONF
sched_conf.register_opts(CONF)


class HyperVClusterSameClusterWeigher(weights.BaseHostWeigher):

    def weight_multiplier(self, host_state):
        return utils.get_weight_multiplier(
            host_state, 'same_cluster_weight_multiplier',
            CONF.hyperv_cluster_scheduler.same_cluster_weight_multiplier)

    def _weigh_object(self, host_state, weight_properties):
        """1 for a node of the instance's cluster, else 0; 0 for all
        when placing a new instance.
        """
        placement = moving.placement_of(weight_properties)
        if placement is None or placement.cluster is None:
            return 0
        return 1 if moving.cluster_of(host_state) == placement.cluster else 0
