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

"""The simulated Hyper-V world's state, in one sqlite file.

Every change runs in a ``BEGIN IMMEDIATE`` transaction, so several
processes (one nova-compute per simulated node, placement_sync, ``hvc-sim``)
can read and write the same file safely.

The world holds failover clusters, each with its nodes and its Cluster
Shared Volumes (each CSV a real folder, so that disk files really are on
one CSV or another and really move), and standalone Hyper-V hosts in no
cluster. Besides, it holds the virtual machines Hyper-V would hold (owner
node, power state, disks, NICs, notes), the failover clusters' VM groups,
and faults armed to make the next call of a simulated os-win method fail.

A node is up, down or paused, or, as Windows Server 2016 and later have
it, isolated (out of the cluster's membership, its VMs running on) or
quarantined (kept out of the cluster, its VMs drained away). Like a
failover cluster, the world moves a
node's clustered VMs to the other nodes when the node goes down (they
restart there) or is drained (they live-migrate), each to the up node with
the most free memory that can hold it; a VM that no node can hold is left
off, its group Failed. Every change of a group's owner node is recorded,
in order, as the cluster's owner change notifications report it (what
os-win's ``get_vm_owner_change_listener_v2`` delivers).

``ClusterState`` is made of one part per kind of thing the world holds,
each in its module (``world``, ``volumes``, ``vms``, ``vm_settings``,
``ports``, ``smb``, ``groups``, ``owner_changes``, ``nodes``, ``pipes``,
``faults``), all on the state file's transactions (``db``); the records
it returns and its errors are in ``records``, the virtual disk files in
``disks``. What callers use is named here too.
"""

from hvc_sim.state import db
from hvc_sim.state import disks
from hvc_sim.state import faults
from hvc_sim.state import groups
from hvc_sim.state import nodes
from hvc_sim.state import owner_changes
from hvc_sim.state import pipes
from hvc_sim.state import ports
from hvc_sim.state import records
from hvc_sim.state import smb
from hvc_sim.state import vm_settings
from hvc_sim.state import vms
from hvc_sim.state import volumes
from hvc_sim.state import world

# The records and errors.
SimulatorError = records.SimulatorError
VMNotFound = records.VMNotFound
GroupMoveRefused = records.GroupMoveRefused
ClusterGroupNotFound = records.ClusterGroupNotFound
Node = records.Node
VM = records.VM
Disk = records.Disk
Nic = records.Nic
OvsPort = records.OvsPort
GroupStatus = records.GroupStatus
ClusterGroup = records.ClusterGroup
OwnerChange = records.OwnerChange
Placement = records.Placement
SharedVolume = records.SharedVolume
VM_STATE_ENABLED = records.VM_STATE_ENABLED
VM_STATE_DISABLED = records.VM_STATE_DISABLED
VM_STATE_SHUTTING_DOWN = records.VM_STATE_SHUTTING_DOWN
VM_STATE_REBOOT = records.VM_STATE_REBOOT
VM_STATE_PAUSED = records.VM_STATE_PAUSED
VM_STATE_SUSPENDED = records.VM_STATE_SUSPENDED
NODE_UP = records.NODE_UP
NODE_DOWN = records.NODE_DOWN
NODE_PAUSED = records.NODE_PAUSED
NODE_ISOLATED = records.NODE_ISOLATED
NODE_QUARANTINED = records.NODE_QUARANTINED
# The virtual disk files.
VIRTUAL_DISK_MAGIC = disks.VIRTUAL_DISK_MAGIC
physical_bytes = disks.physical_bytes
virtual_disk = disks.virtual_disk
parse_size = disks.parse_size
folder_physical_bytes = disks.folder_physical_bytes
# What a world is made with, and how it behaves.
DEFAULT_NODE_VCPUS = world.DEFAULT_NODE_VCPUS
DEFAULT_NODE_MEMORY_MB = world.DEFAULT_NODE_MEMORY_MB
HOST_RESERVED_MEMORY_MB = nodes.HOST_RESERVED_MEMORY_MB
OFFLINE_MOVE_SECONDS = groups.OFFLINE_MOVE_SECONDS
CLUSTERED_VM_MIGRATION = vms.CLUSTERED_VM_MIGRATION


class ClusterState(faults.Faults, pipes.Pipes, nodes.Nodes,
                   owner_changes.OwnerChanges, groups.Groups,
                   smb.SMBShares, ports.Ports, vm_settings.VMSettings,
                   vms.VMs, volumes.Volumes, world.World, db.StateFile):
    """One simulated cluster, stored in ``path``."""
