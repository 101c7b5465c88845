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

"""The simulated world's records (what ClusterState returns), the states
of its VMs and nodes, and its errors.
"""

import dataclasses


# Hyper-V's EnabledState values (os_win.constants.HYPERV_VM_STATE_*) of a
# VM that runs (enabled, paused), and of one that is off.
VM_STATE_ENABLED = 2
VM_STATE_DISABLED = 3
VM_STATE_SHUTTING_DOWN = 4
VM_STATE_REBOOT = 10
VM_STATE_PAUSED = 32768
VM_STATE_SUSPENDED = 32769
RUNNING_STATES = (VM_STATE_ENABLED, VM_STATE_PAUSED)

NODE_UP = 'up'
NODE_DOWN = 'down'
NODE_PAUSED = 'paused'
NODE_ISOLATED = 'isolated'
NODE_QUARANTINED = 'quarantined'


class SimulatorError(Exception):
    """The simulated cluster cannot do what was asked; says why."""


class VMNotFound(SimulatorError):
    """No such VM (on the node that asked, when one did)."""

    def __init__(self, vm_name, node=None):
        self.vm_name = vm_name
        self.node = node
        super().__init__('no VM %r%s' % (
            vm_name, '' if node is None else ' on node %s' % node))


class GroupMoveRefused(SimulatorError):
    """The cluster could not move a group as asked; it stays put."""

    def __init__(self, group_state, owner_node):
        super().__init__('the group stays %s on %s'
                         % ('online' if group_state == 0 else 'offline',
                            owner_node))
        self.group_state = group_state
        self.owner_node = owner_node


class ClusterGroupNotFound(VMNotFound):
    """No cluster group of that VM (os-win says: no such VM)."""

    def __init__(self, vm_name):
        super().__init__(vm_name)
        self.args = ('no cluster group %r' % vm_name,)


@dataclasses.dataclass(frozen=True)
class Node:
    name: str
    cluster: str  # None: a standalone host
    vcpus: int
    memory_mb: int
    state: str


@dataclasses.dataclass(frozen=True)
class VM:
    name: str
    id: str
    node: str
    state: int
    generation: int
    vcpus: int
    memory_mb: int
    notes: tuple
    instance_path: str
    started_at: float


@dataclasses.dataclass(frozen=True)
class Disk:
    vm_name: str
    path: str
    controller: str
    slot: int
    drive_type: str


@dataclasses.dataclass(frozen=True)
class Nic:
    vm_name: str
    name: str
    mac_address: str


@dataclasses.dataclass(frozen=True)
class OvsPort:
    node: str
    name: str
    bridge: str
    external_ids: dict


@dataclasses.dataclass(frozen=True)
class GroupStatus:
    owner_node: str
    cluster: str
    vm_state: int       # None: no VM of that name
    failure: str        # why it is Failed, or None
    moving_to: str      # the node the cluster moves it to, or None


@dataclasses.dataclass(frozen=True)
class ClusterGroup:
    name: str
    id: str
    owner_node: str
    max_failover_count: int
    failover_period: int
    auto_failback: bool
    cluster: str  # the owner node's


@dataclasses.dataclass(frozen=True)
class OwnerChange:
    seq: int
    cluster: str
    vm_name: str
    node: str  # the new owner
    at: float


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where the cluster put a VM of a node that went down or drained."""
    vm_name: str
    node: str  # None: it stayed (drain) or could not start (Failed)
    reason: str = ''


@dataclasses.dataclass(frozen=True)
class SharedVolume:
    id: str
    cluster: str
    name: str
    total_gb: int
    # The folder that stands for the CSV's mount point on every node of its
    # cluster (C:\\ClusterStorage\\<name> on Windows).
    path: str
