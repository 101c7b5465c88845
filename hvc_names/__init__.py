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

"""The names the compute driver, the scheduler plugins and
hvc-placement-sync agree on, and nothing else: each reads what another
wrote, so each name is defined here once.

- A Cluster Shared Volume's placement provider: its uuid and name, made by
  hvc-placement-sync and looked up by the driver (which CSV holds an
  instance's DISK_GB) from the cluster's and the volume's names alone.
- The nova host aggregate of a cluster and its metadata key, kept by
  hvc-placement-sync and read by the scheduler plugins.
- What the driver records in an instance's system metadata (its cluster,
  its CSV's provider), read by the scheduler plugins when it moves.

It imports nothing of nova's or placement's, so that every part (and the
agent on a Windows host) can use it.
"""

import uuid

# Fixed for ever: changing it would orphan every provider ever created.
NAMESPACE = uuid.UUID('5b0c6a34-8f0e-4a53-9d3e-6a1f3c7b2e90')
PROVIDER_NAME_PREFIX = 'hyperv-csv'
HOST_AGGREGATE_PREFIX = 'hyperv-cluster'
# Metadata key on the nova host aggregate naming its cluster.
HOST_AGGREGATE_CLUSTER_KEY = 'hyperv_cluster'

# The instance's system metadata naming the failover cluster it runs in
# and the placement provider of the CSV that holds its disks: what the
# scheduler's weigher and filter (hvc_scheduler) keep moves to.
CLUSTER_KEY = 'hyperv_cluster'
CSV_PROVIDER_KEY = 'hyperv_cluster_csv_provider'
# The standalone Hyper-V host whose own disk holds the instance's disks.
STANDALONE_HOST_KEY = 'hyperv_standalone_host'
# The directory a live migration from another cluster or host copies the
# instance's disks to: made and named by the destination (whose storage
# the source does not know), read by the source, which starts the copy.
ARRIVAL_DIR_KEY = 'hyperv_cluster_arrival_dir'


def provider_uuid(cluster_name, volume_id):
    """The placement provider of a CSV (its cluster's name, its id)."""
    return str(uuid.uuid5(NAMESPACE, 'csv:%s:%s' % (cluster_name, volume_id)))


def placement_aggregate_uuid(cluster_name):
    """The placement aggregate of a cluster's nodes and CSV providers."""
    return str(uuid.uuid5(NAMESPACE, 'aggregate:%s' % cluster_name))


def provider_name(cluster_name, volume_name):
    return '%s:%s:%s' % (PROVIDER_NAME_PREFIX, cluster_name, volume_name)


def cluster_of_provider_name(name):
    """The cluster a provider name of ``provider_name`` names (cluster
    names have no ':'), or None for a name of another shape.
    """
    prefix, sep, rest = name.partition(':')
    cluster, sep2, _volume = rest.partition(':')
    if prefix != PROVIDER_NAME_PREFIX or not (sep and sep2) or not cluster:
        return None
    return cluster


def host_aggregate_name(cluster_name):
    return '%s-%s' % (HOST_AGGREGATE_PREFIX, cluster_name)
