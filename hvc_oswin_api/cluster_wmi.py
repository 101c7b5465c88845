"""What os-win 5.9 cannot tell about a failover cluster: its name and its
Cluster Shared Volumes, read from the cluster's WMI namespace
(``root/MSCluster``) through the connection of an os-win ClusterUtils.

Microsoft's reference for ``MSCluster_ClusterSharedVolume``: ``Name`` is the
friendly name, which is the mount path (``C:\\ClusterStorage\\Volume1``);
``VolumeName`` is the volume GUID path (``\\\\?\\Volume{GUID}\\``). A CSV's
identity is the ``Id`` of its cluster resource (``MSCluster_Resource``,
reached through ``MSCluster_ClusterSharedVolumeToResource``): a GUID the
cluster gives the resource for life, which survives renaming the mount
folder or the resource, unlike the path.
"""

import dataclasses
import ntpath

# MSCluster_Resource.State of a resource that is online.
RESOURCE_ONLINE = 2


@dataclasses.dataclass(frozen=True)
class SharedVolume:
    id: str      # the cluster resource's Id
    name: str    # the mount folder's name: Volume1
    path: str    # the mount path: C:\ClusterStorage\Volume1
    online: bool


def cluster_name(clusterutils):
    """The name of the cluster of an os-win ClusterUtils."""
    return clusterutils._conn_cluster.MSCluster_Cluster()[0].Name


def shared_volumes(clusterutils):
    """The CSVs of the cluster of an os-win ClusterUtils, by mount path.

    Raises what WMI raises (wmi.x_wmi) or AttributeError/IndexError on an
    answer of an unexpected shape; a CSV without a resource is left out
    (it has no identity to publish under).
    """
    conn = clusterutils._conn_cluster
    resources = {}
    for link in conn.MSCluster_ClusterSharedVolumeToResource():
        resources[link.GroupComponent.Name] = link.PartComponent
    volumes = []
    for csv in conn.MSCluster_ClusterSharedVolume():
        resource = resources.get(csv.Name)
        if resource is None:
            continue
        path = csv.Name.rstrip('\\')
        volumes.append(SharedVolume(
            id=str(resource.Id), name=ntpath.basename(path), path=path,
            online=resource.State == RESOURCE_ONLINE))
    return sorted(volumes, key=lambda v: v.path)
