"""Cluster facts from the local Windows failover cluster, via os-win.

Runs on a cluster node. Node names come from os-win's ClusterUtils; os-win
has no API for CSVs, so they are read from the cluster's WMI namespace
(``root/MSCluster``) through the same connection:

- ``MSCluster_ClusterSharedVolume.Name`` is the CSV's friendly name, its
  mount path (``C:\\ClusterStorage\\Volume1``): the volume's name is its
  last part, and its size is read there (``DiskUtils.get_disk_capacity``).
  (``VolumeName`` is the volume GUID path, ``\\\\?\\Volume{GUID}\\``.)
- The CSV's id is the ``Id`` (a GUID) of its cluster resource, reached
  through ``MSCluster_ClusterSharedVolumeToResource`` (Windows Server 2012
  and later). The id makes the provider's uuid, so it must outlive what
  an administrator can rename: the mount folder and the resource's name
  both can be renamed, the resource's Id stays for as long as the disk is
  in the cluster. A new id would mean a new provider and the allocations
  left on the old one.

A CSV whose resource is not online, or whose size cannot be read, is
reported as offline: the other CSVs are published, its provider is kept.
"""

import ntpath

from os_win import exceptions as os_win_exc
from os_win import utilsfactory

from placement_sync import exception
from placement_sync import model

_GiB = 1024 ** 3
# MSCluster_Resource.State (CLUSTER_RESOURCE_STATE).
_RESOURCE_ONLINE = 2
_RESOURCE_STATES = {-1: 'in an unknown state', 0: 'inherited',
                    1: 'initializing', 3: 'offline', 4: 'failed',
                    128: 'pending', 129: 'coming online',
                    130: 'going offline'}


def load():
    try:
        clusterutils = utilsfactory.get_clusterutils()
        diskutils = utilsfactory.get_diskutils()
        clusterutils.check_cluster_state()
        # os-win keeps the cluster WMI connection private; it has no
        # public call for the cluster name or its CSVs.
        conn = clusterutils._conn_cluster
        cluster_name = conn.MSCluster_Cluster()[0].Name
        links = conn.MSCluster_ClusterSharedVolumeToResource()
        resources = {link.GroupComponent.Name: link.PartComponent
                     for link in links}
        volumes, offline = [], []
        for csv in conn.MSCluster_ClusterSharedVolume():
            volume = _volume(csv, resources.get(csv.Name), diskutils)
            if isinstance(volume, model.OfflineVolume):
                offline.append(volume)
            else:
                volumes.append(volume)
        nodes = clusterutils.get_cluster_node_names()
    except (os_win_exc.OSWinException, os_win_exc.x_wmi, OSError,
            AttributeError, IndexError) as e:
        raise exception.InvalidInventory(
            'cannot read the local failover cluster through os-win: %s' % e)
    return [model.Cluster(name=cluster_name,
                          nodes=tuple(nodes),
                          shared_volumes=tuple(volumes),
                          offline_volumes=tuple(offline))]


def _volume(csv, resource, diskutils):
    """The CSV's SharedVolume, or OfflineVolume when it cannot be read."""
    path = csv.Name
    if resource is None:
        # Without its id the tool cannot tell which provider is this
        # CSV's: publishing nothing is safer than draining one.
        raise exception.InvalidInventory(
            'the failover cluster lists no cluster resource for the shared '
            'volume %s (MSCluster_ClusterSharedVolumeToResource)' % path)
    name = ntpath.basename(path.rstrip('\\'))
    if resource.State != _RESOURCE_ONLINE:
        return model.OfflineVolume(
            id=resource.Id, name=name, reason='its cluster resource %s is %s'
            % (resource.Name, _RESOURCE_STATES.get(resource.State,
                                                   resource.State)))
    try:
        total_bytes, _free = diskutils.get_disk_capacity(path)
    except (os_win_exc.OSWinException, OSError) as e:
        return model.OfflineVolume(
            id=resource.Id, name=name,
            reason='its size cannot be read at %s: %s' % (path, e))
    return model.SharedVolume(id=resource.Id, name=name,
                              total_gb=int(total_bytes // _GiB))
