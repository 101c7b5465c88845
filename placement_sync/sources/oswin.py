"""Cluster facts from the local Windows failover cluster, via os-win.

Runs on a cluster node. Node names come from os-win's ClusterUtils; the
cluster's name and its CSVs from its WMI namespace, read by
``hvc_oswin_api.cluster_wmi`` (which says what each property is and why a
CSV's id is its cluster resource's Id): the compute driver reads them
there too, so both derive the same provider for a CSV. A CSV's size is
read at its mount path (``DiskUtils.get_disk_capacity``).

A CSV whose resource is not online, or whose size cannot be read, is
reported as offline: the other CSVs are published, its provider is kept.
A CSV without a cluster resource fails the source: without its id the
tool cannot tell which provider is its, and publishing nothing is safer
than draining one.
"""

from os_win import exceptions as os_win_exc
from os_win import utilsfactory

from hvc_oswin_api import cluster_wmi
from placement_sync import exception
from placement_sync import model

_GiB = 1024 ** 3


def load():
    try:
        clusterutils = utilsfactory.get_clusterutils()
        diskutils = utilsfactory.get_diskutils()
        clusterutils.check_cluster_state()
        cluster_name = cluster_wmi.cluster_name(clusterutils)
        volumes, offline = [], []
        for csv in cluster_wmi.shared_volumes(clusterutils):
            volume = _volume(csv, diskutils)
            if isinstance(volume, model.OfflineVolume):
                offline.append(volume)
            else:
                volumes.append(volume)
        nodes = clusterutils.get_cluster_node_names()
    except cluster_wmi.NoResource as e:
        raise exception.InvalidInventory(str(e))
    except (os_win_exc.OSWinException, os_win_exc.x_wmi, OSError,
            AttributeError, IndexError) as e:
        raise exception.InvalidInventory(
            'cannot read the local failover cluster through os-win: %s' % e)
    return [model.Cluster(name=cluster_name,
                          nodes=tuple(nodes),
                          shared_volumes=tuple(volumes),
                          offline_volumes=tuple(offline))]


def _volume(csv, diskutils):
    """The CSV's SharedVolume, or OfflineVolume when it cannot be read."""
    if not csv.online:
        return model.OfflineVolume(id=csv.id, name=csv.name,
                                   reason=csv.state)
    try:
        total_bytes, _free = diskutils.get_disk_capacity(csv.path)
    except (os_win_exc.OSWinException, OSError) as e:
        return model.OfflineVolume(
            id=csv.id, name=csv.name,
            reason='its size cannot be read at %s: %s' % (csv.path, e))
    return model.SharedVolume(id=csv.id, name=csv.name,
                              total_gb=int(total_bytes // _GiB))
