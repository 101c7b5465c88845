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

"""Nova scheduler plugins for Hyper-V clusters: keep a moved instance's
disk on its CSV, and prefer the nodes of its own cluster.

nova.conf of nova-scheduler::

    [filter_scheduler]
    available_filters = nova.scheduler.filters.all_filters
    available_filters = hvc_scheduler.filters.HyperVClusterKeepCSVFilter
    enabled_filters = ...,HyperVClusterKeepCSVFilter
    weight_classes = nova.scheduler.weights.all_weighers,
        hvc_scheduler.weighers.HyperVClusterSameClusterWeigher

(``weight_classes`` is one comma separated line.)
"""
