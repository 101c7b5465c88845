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

"""What os-win 5.9 cannot tell about a failover cluster: its name, its
nodes' states and its Cluster Shared Volumes, read from the cluster's WMI
namespace (``root/MSCluster``) through the connection of an os-win
ClusterUtils.
The compute driver and placement_sync's os-win source both read them
here, so that both derive the same placement provider for a CSV.

Microsoft's reference for ``MSCluster_ClusterSharedVolume``: ``Name`` is the
friendly name, which is the mount path (``C:\\ClusterStorage\\Volume1``);
``VolumeName`` is the volume GUID path (``\\\\?\\Volume{GUID}\\``). A CSV's
identity is the ``Id`` of its cluster resource (``MSCluster_Resource``,
reached through ``MSCluster_ClusterSharedVolumeToResource``, Windows Server
2012 and later): a GUID the resource keeps for as long as the disk is in
the cluster, which survives renaming the mount folder or the resource,
unlike the path. A new id would mean a new provider, and the allocations
left on the old one.

A disk resource can hold several CSV volumes (partitions), each an
``MSCluster_ClusterSharedVolume`` of its own linked to the same resource:
they are told apart by ``VolumeOffset``, the volume's byte offset on the
disk (Microsoft Learn, "MSCluster_ClusterSharedVolume class" and
"CLUS_CSV_VOLUME_INFO structure (clusapi.h)"): a fact of the disk's
partition table, the same from every node, that survives renames. The
resource's first volume (lowest offset), and so a resource's only one,
keeps the resource's Id; each other is ``<resource Id>:<offset>``. A
partition added after the others then leaves the existing providers as
they are.
"""

import collections
import dataclasses
import ntpath

from hvc_oswin_api import constants

# MSCluster_Resource.State (CLUSTER_RESOURCE_STATE).
RESOURCE_ONLINE = 2
_RESOURCE_STATES = {-1: 'in an unknown state', 0: 'inherited',
                    1: 'initializing', 3: 'offline', 4: 'failed',
                    128: 'pending', 129: 'coming online',
                    130: 'going offline'}


class NoResource(Exception):
    """A CSV the cluster lists no resource for: it has no identity."""


@dataclasses.dataclass(frozen=True)
class SharedVolume:
    id: str      # its cluster resource's Id
    name: str    # the mount folder's name: Volume1
    path: str    # the mount path: C:\ClusterStorage\Volume1
    online: bool
    # Why it is not online ('' when it is).
    state: str = ''


def cluster_name(clusterutils):
    """The name of the cluster of an os-win ClusterUtils."""
    return clusterutils._conn_cluster.MSCluster_Cluster()[0].Name


def shared_volumes(clusterutils):
    """The CSVs of the cluster of an os-win ClusterUtils, by mount path.

    Raises NoResource for a CSV without a cluster resource, what WMI
    raises (wmi.x_wmi), or AttributeError/IndexError on an answer of an
    unexpected shape.
    """
    conn = clusterutils._conn_cluster
    resources = {link.GroupComponent.Name: link.PartComponent
                 for link in conn.MSCluster_ClusterSharedVolumeToResource()}
    csvs_of = collections.defaultdict(list)
    for csv in conn.MSCluster_ClusterSharedVolume():
        resource = resources.get(csv.Name)
        if resource is None:
            raise NoResource(
                'the failover cluster lists no cluster resource for the '
                'shared volume %s (MSCluster_ClusterSharedVolumeToResource)'
                % csv.Name)
        csvs_of[str(resource.Id)].append((csv, resource))
    volumes = []
    for resource_id, linked in csvs_of.items():
        for volume_id, csv, resource in _volume_ids(resource_id, linked):
            path = csv.Name.rstrip('\\')
            online = resource.State == RESOURCE_ONLINE
            volumes.append(SharedVolume(
                id=volume_id, name=ntpath.basename(path), path=path,
                online=online, state='' if online else 'its cluster '
                'resource %s is %s' % (resource.Name, _RESOURCE_STATES.get(
                    resource.State, resource.State))))
    return sorted(volumes, key=lambda v: v.path)


def _volume_ids(resource_id, linked):
    """(id, CSV, resource) of each CSV volume of one disk resource, given
    as (CSV, resource) pairs: its first volume by offset takes the
    resource's Id, the others the Id and their offset.
    """
    if len(linked) == 1:
        [(csv, resource)] = linked
        return [(resource_id, csv, resource)]
    # A uint64 comes as a string through Automation, which has no 64-bit
    # integer (Microsoft Learn, "Numbers (WMI)"), and as an int through
    # PyMI.
    by_offset = sorted(linked, key=lambda pair: int(pair[0].VolumeOffset))
    return [(resource_id if i == 0 else
             '%s:%d' % (resource_id, int(csv.VolumeOffset)), csv, resource)
            for i, (csv, resource) in enumerate(by_offset)]


def node_states(clusterutils):
    """{node name: state} of the cluster of an os-win ClusterUtils, as
    ``node_state`` tells it.
    """
    return {node.Name: node_state(
        node.State,
        # Not in MSCluster_Node before Windows Server 2016.
        getattr(node, 'StatusInformation', None) or 0)
        for node in clusterutils._conn_cluster.MSCluster_Node()}


def node_state(state, status_information):
    """A node's state from ``MSCluster_Node``'s ``State`` and
    ``StatusInformation``: constants.CLUSTER_NODE_QUARANTINED or
    CLUSTER_NODE_ISOLATED when StatusInformation says so, else its State:
    up (0), down (1), paused (2, as Suspend-ClusterNode leaves it) or
    joining (3); -1 when the cluster cannot tell.

    Windows Server 2016 and later isolate a node that loses touch with
    the cluster: out of the active membership (so its State is down, "not
    operational"), it goes on running its VMs for a while; a node isolated
    too often is quarantined, kept out of the cluster with its VMs drained
    away. Only StatusInformation tells either from a plain down (Microsoft
    Learn, "MSCluster_Node class", "CLUSTER_NODE_STATUS enumeration
    (clusapi.h)", "GetClusterNodeState function (clusapi.h)"; Microsoft's
    Failover Clustering blog, "Virtual Machine Compute Resiliency in
    Windows Server 2016").
    """
    if status_information & constants.NODE_STATUS_QUARANTINED:
        return constants.CLUSTER_NODE_QUARANTINED
    if status_information & constants.NODE_STATUS_ISOLATED:
        return constants.CLUSTER_NODE_ISOLATED
    return state
