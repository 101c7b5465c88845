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

"""The ``[hyperv_cluster_scheduler]`` options of nova-scheduler."""

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'hyperv_cluster_scheduler', title='Hyper-V cluster scheduler plugins',
    help='Options of the scheduler filter and weigher of hvc_scheduler.')

OPTS = [
    cfg.FloatOpt('same_cluster_weight_multiplier', default=100.0,
                 help='How strongly a move prefers the nodes of the '
                      'failover cluster the instance runs in (where its '
                      'disks need not move): each node of that cluster '
                      'weighs 1, every other node 0, times this multiplier. '
                      'Nova\'s own weighers weigh up to 1 each, times their '
                      'multipliers (1.0 by default): the default keeps '
                      'untargeted moves inside the cluster whenever one of '
                      'its nodes passes the filters. 0 turns the preference '
                      'off; a negative value prefers other clusters. An '
                      'aggregate can override it with its metadata key '
                      'same_cluster_weight_multiplier.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
