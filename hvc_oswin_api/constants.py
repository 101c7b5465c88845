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

"""The os-win constants the driver and the simulated cluster use, with
os-win's values (``os_win.constants``, ``os_win.utils.winapi.constants``).
"""

# Msvm_ComputerSystem.EnabledState, and the requests set_vm_state takes.
HYPERV_VM_STATE_ENABLED = 2
HYPERV_VM_STATE_DISABLED = 3
HYPERV_VM_STATE_SHUTTING_DOWN = 4
HYPERV_VM_STATE_REBOOT = 10
HYPERV_VM_STATE_PAUSED = 32768
HYPERV_VM_STATE_SUSPENDED = 32769

# VM generations, and the image property values that ask for them.
VM_GEN_1 = 1
VM_GEN_2 = 2
IMAGE_PROP_VM_GEN_1 = 'hyperv-gen1'
IMAGE_PROP_VM_GEN_2 = 'hyperv-gen2'

# Drive types of attach_ide_drive / attach_scsi_drive.
DISK = 'VHD'
DVD = 'DVD'
IDE_CONTROLLER_SLOTS_NUMBER = 2
SCSI_CONTROLLER_SLOTS_NUMBER = 64

# Virtual disks: formats (vhdutils.get_vhd_format) and types
# (the ProviderSubtype of get_vhd_info).
DISK_FORMAT_VHD = 'VHD'
DISK_FORMAT_VHDX = 'VHDX'
VHD_TYPE_FIXED = 2
VHD_TYPE_DYNAMIC = 3
VHD_TYPE_DIFFERENCING = 4

# A cluster group that is a VM (CLUSGROUP_TYPE, ClusGroupTypeVirtualMachine
# in os-win's winapi constants).
CLUSTER_GROUP_TYPE_VM = 111

# Cluster group states (ClusterUtils' group state info).
CLUSTER_GROUP_ONLINE = 0
CLUSTER_GROUP_OFFLINE = 1
CLUSTER_GROUP_FAILED = 2
CLUSTER_GROUP_PARTIAL_ONLINE = 3
CLUSTER_GROUP_PENDING = 4

# A cluster node's state (MSCluster_Node.State, CLUSTER_NODE_STATE; not in
# os-win, which reads no node state).
CLUSTER_NODE_UP = 0
CLUSTER_NODE_DOWN = 1
CLUSTER_NODE_PAUSED = 2
CLUSTER_NODE_JOINING = 3
# Flags of MSCluster_Node.StatusInformation (CLUSTER_NODE_STATUS, Windows
# Server 2016 and later): a node out of the cluster's active membership
# that still runs its VMs (isolated), or that may not join it again for
# a while (quarantined).
NODE_STATUS_ISOLATED = 0x1
NODE_STATUS_QUARANTINED = 0x2
# No CLUSTER_NODE_STATE: what get_cluster_node_states reports for a node
# whose StatusInformation says isolated or quarantined, whatever its State.
CLUSTER_NODE_ISOLATED = 'isolated'
CLUSTER_NODE_QUARANTINED = 'quarantined'

# The virtual disk API (virtdisk.dll): what get_vhd_info can be asked for,
# and the device ids of VIRTUAL_STORAGE_TYPE.
GET_VIRTUAL_DISK_INFO_SIZE = 1
GET_VIRTUAL_DISK_INFO_PARENT_LOCATION = 3
GET_VIRTUAL_DISK_INFO_VIRTUAL_STORAGE_TYPE = 6
GET_VIRTUAL_DISK_INFO_PROVIDER_SUBTYPE = 7
VIRTUAL_STORAGE_TYPE_DEVICE_VHD = 2
VIRTUAL_STORAGE_TYPE_DEVICE_VHDX = 3

# What a WMI method returns when it started a job (os-win's
# WMI_JOB_STATUS_STARTED).
WMI_JOB_STATUS_STARTED = 4096

# A switch port's security rule as the seam's networkutils takes and gives
# it: the Msvm_EthernetSwitchPortExtendedAclSettingData properties that
# os-win's NetworkUtilsR2 sets from a rule (and compares to tell whether a
# port has it), without the Weight os-win chooses.
SECURITY_RULE_FIELDS = ('Direction', 'Action', 'LocalPort', 'Protocol',
                        'RemoteIPAddress', 'Stateful', 'IdleSessionTimeout')
