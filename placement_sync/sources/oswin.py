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

"""Cluster facts from the local Windows failover cluster, via os-win.

Runs on a cluster node. Node names come from os-win's ClusterUtils; the
cluster's name and its CSVs from its WMI namespace, read by
``hvc_oswin_api.cluster_wmi`` (which says what each property is and why a
CSV's id is its cluster resource's Id): the compute driver reads them
there too, so both derive the same provider for a CSV. A CSV's size is
read at its mount path (``DiskUtils.get_disk_capacity``).

What a CSV holds: its used space is its size less its free space as
Windows reports them (``get_disk_capacity``); its instances' folders are
measured by walking them at the mount path, which every node of the
cluster sees.

A CSV whose resource is not online, or whose size or use cannot be read,
is reported as offline: the other CSVs are published, its provider is
kept as it is (its last reserve too).
A CSV without a cluster resource fails the source: without its id the
tool cannot tell which provider is its, and publishing nothing is safer
than draining one.
"""

import contextlib

from os_win import exceptions as os_win_exc
from os_win import utilsfactory

from hvc_oswin_api import cluster_wmi
from placement_sync import exception
from placement_sync import model
from placement_sync.sources import measure

_GiB = 1024 ** 3


def load(instances_folder=measure.DEFAULT_INSTANCES_FOLDER):
    with _read():
        clusterutils = utilsfactory.get_clusterutils()
        diskutils = utilsfactory.get_diskutils()
    return [cluster(clusterutils, diskutils, instances_folder)]


def cluster(clusterutils, diskutils, instances_folder):
    """The cluster of os-win's ``clusterutils`` (a ClusterUtils), its CSVs
    measured through ``diskutils`` (a DiskUtils), as a model.Cluster;
    InvalidInventory when it cannot be read. hvc-agent serves it to the
    agent source with the utils of its own thread.
    """
    with _read():
        clusterutils.check_cluster_state()
        cluster_name = cluster_wmi.cluster_name(clusterutils)
        volumes, offline = [], []
        for csv in cluster_wmi.shared_volumes(clusterutils):
            volume = _volume(csv, diskutils, instances_folder)
            if isinstance(volume, model.OfflineVolume):
                offline.append(volume)
            else:
                volumes.append(volume)
        nodes = clusterutils.get_cluster_node_names()
    return model.Cluster(name=cluster_name,
                         nodes=tuple(nodes),
                         shared_volumes=tuple(volumes),
                         offline_volumes=tuple(offline))


@contextlib.contextmanager
def _read():
    """What os-win, WMI or a CSV without a resource raise, as
    InvalidInventory.
    """
    try:
        yield
    except cluster_wmi.NoResource as e:
        raise exception.InvalidInventory(str(e))
    except (os_win_exc.OSWinException, os_win_exc.x_wmi, OSError,
            AttributeError, IndexError) as e:
        raise exception.InvalidInventory(
            'cannot read the local failover cluster through os-win: %s' % e)


def _volume(csv, diskutils, instances_folder):
    """The CSV's SharedVolume, or OfflineVolume when it cannot be read."""
    if not csv.online:
        return model.OfflineVolume(id=csv.id, name=csv.name,
                                   reason=csv.state)
    try:
        total_bytes, free_bytes = diskutils.get_disk_capacity(csv.path)
    except (os_win_exc.OSWinException, OSError) as e:
        return model.OfflineVolume(
            id=csv.id, name=csv.name,
            reason='its size cannot be read at %s: %s' % (csv.path, e))
    try:
        folders = measure.instance_folders(csv.path, instances_folder)
    except OSError as e:
        return model.OfflineVolume(
            id=csv.id, name=csv.name,
            reason='its instances\' folders cannot be measured: %s' % e)
    return model.SharedVolume(
        id=csv.id, name=csv.name, total_gb=int(total_bytes // _GiB),
        usage=model.VolumeUsage(used_bytes=total_bytes - free_bytes,
                                free_bytes=free_bytes,
                                instance_folders=folders))
