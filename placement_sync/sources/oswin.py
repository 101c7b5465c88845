"""Cluster facts from the local Windows failover cluster, via os-win.

Runs on a cluster node. Node names come from os-win's ClusterUtils; os-win
has no API for CSVs, so they are read from the cluster's WMI namespace
(``root/MSCluster``, ``MSCluster_ClusterSharedVolume``) through the same
connection, and their size from ``DiskUtils.get_disk_capacity`` on the
volume's mount point.
"""

import ntpath

from os_win import exceptions as os_win_exc
from os_win import utilsfactory

from placement_sync import exception
from placement_sync import model

_GiB = 1024 ** 3


def load():
    try:
        clusterutils = utilsfactory.get_clusterutils()
        diskutils = utilsfactory.get_diskutils()
        clusterutils.check_cluster_state()
        # os-win keeps the cluster WMI connection private; it has no
        # public call for the cluster name or its CSVs.
        conn = clusterutils._conn_cluster
        cluster_name = conn.MSCluster_Cluster()[0].Name
        volumes = []
        for csv in conn.MSCluster_ClusterSharedVolume():
            total_bytes, _free = diskutils.get_disk_capacity(csv.VolumeName)
            volumes.append(model.SharedVolume(
                id=csv.Name,
                name=ntpath.basename(csv.VolumeName.rstrip('\\')),
                total_gb=int(total_bytes // _GiB)))
        nodes = clusterutils.get_cluster_node_names()
    except (os_win_exc.OSWinException, os_win_exc.x_wmi, OSError,
            AttributeError, IndexError) as e:
        raise exception.InvalidInventory(
            'cannot read the local failover cluster through os-win: %s' % e)
    return [model.Cluster(name=cluster_name,
                          nodes=tuple(nodes),
                          shared_volumes=tuple(volumes))]
