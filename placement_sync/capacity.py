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

"""How much of a CSV to keep from nova: what the volume really holds
outside nova's allocations. Pure functions, no I/O.

Placement only knows what nova allocated. A CSV also holds what nova
never allocates: the cluster's image cache, snapshots being uploaded,
console logs, an administrator's files, VMs OpenStack does not manage.
So, per CSV::

    outside = used - sum over the provider's consumers c of
                         min(size of c's instance folder, c's DISK_GB)
    reserved = max(reserved_gb, ceil(outside in GB) + headroom_gb)

capped at the volume's size, and ``total - reserved - allocated`` is what
nova may still hand out. An instance counts for at most its allocation:
a thin disk (dynamic, or a differencing child of the image cache) that
has written 3 GB of its 40 keeps its 40 allocated, and the 37 it has not
written yet are never handed to anyone else (the image cache it grows
from is outside, reserved). What an instance's folder holds beyond its
allocation (a fixed disk plus its console log) counts as outside. A
folder of no consumer (a deleted instance's leftovers) is outside too.

Hence placement's free space, ``total - reserved - allocated``, is at
most the volume's real free space less the headroom, right after a sync.
"""

import dataclasses
import math

GiB = 1024 ** 3


@dataclasses.dataclass(frozen=True)
class ReservePolicy:
    """How a measured CSV's reserve is set ([placement_sync] options)."""
    headroom_gb: int = 0
    # A reserve that moves by less than this is not written, unless
    # placement's no longer covers what is used outside nova.
    step_gb: int = 1


def outside_nova_bytes(usage, allocations, instance_names):
    """Bytes the volume holds outside nova's allocations.

    ``allocations``: {consumer: DISK_GB on this CSV}; ``instance_names``:
    {consumer: its VM (folder) name}, None or missing for a consumer that
    is no instance (a migration) or was not told.
    """
    folders = dict(usage.instance_folders)
    by_nova = 0
    for consumer, gb in sorted(allocations.items()):
        name = instance_names.get(consumer)
        if name in folders:
            # pop: a folder is counted for one consumer only.
            by_nova += min(folders.pop(name), gb * GiB)
    return max(usage.used_bytes - by_nova, 0)


def reserve_gb(volume, outside_bytes, policy, current=None):
    """The DISK_GB reserve to write for ``volume`` (a model.SharedVolume
    with its configured floor ``reserved_gb``), given what it holds
    outside nova; ``current``: placement's reserve, kept when the change
    is smaller than the step and it still covers what is outside.
    """
    outside_gb = int(math.ceil(outside_bytes / GiB))
    covering = min(max(volume.reserved_gb, outside_gb), volume.total_gb)
    wanted = min(max(volume.reserved_gb, outside_gb + policy.headroom_gb),
                 volume.total_gb)
    if (current is not None and covering <= current <= volume.total_gb and
            abs(wanted - current) < policy.step_gb):
        return current
    return wanted
