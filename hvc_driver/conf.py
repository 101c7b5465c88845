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

"""The ``[hyperv_cluster]`` options of the compute driver."""

from oslo_config import cfg

from hvc_agent import conf as agent_conf

GROUP = cfg.OptGroup(
    'hyperv_cluster', title='Hyper-V cluster compute driver',
    help='Options of nova\'s hyperv_cluster.HyperVClusterDriver, which runs '
         'on every node of a Hyper-V failover cluster (and on standalone '
         'Hyper-V hosts that instances move to and from).')

BACKEND_AGENT = 'agent'
BACKEND_SIMULATED = 'simulated'

OPTS = [
    cfg.StrOpt('backend', default=BACKEND_AGENT,
               choices=[(BACKEND_AGENT,
                         'The hvc-agent of the Hyper-V host (agent_url), '
                         'which runs os-win on Windows, or a simulated '
                         'node.'),
                        (BACKEND_SIMULATED,
                         'A node of the simulated cluster of hvc-sim, '
                         'in-process (nova\'s functional tests).')],
               help='What the driver talks to: the agent on its Hyper-V '
                    'host, or a simulated node in this process.'),
    cfg.URIOpt('agent_url', schemes=['https', 'http'],
               help='The hvc-agent of the Hyper-V host this nova-compute '
                    'plays, e.g. https://hv-node1.example.org:8642. '
                    'Plain http only to an agent bound to 127.0.0.1 (the '
                    'local cloud, tests). Required when backend = agent.'),
] + agent_conf.client_opts(
    'This nova-compute\'s',
    'Seconds a call to the agent may take before it fails. Long '
    'operations (live migrations, storage copies, offline cluster moves) '
    'run as jobs on the agent, which this bounds each wait for, not the '
    'job.') + [
    cfg.BoolOpt('standalone_host',
                help='Set to true on a Hyper-V host in no failover cluster. '
                     'It then reports the disk that holds [DEFAULT] '
                     'instances_path as its own DISK_GB (a cluster node '
                     'reports none: its CSVs are sharing providers), keeps '
                     'its instances\' disks there and clusters nothing. '
                     'Instances live-migrate or cold-migrate between it and '
                     'cluster nodes with their disks copied. nova-compute '
                     'refuses to start when this disagrees with what the '
                     'host is. Unset, a host is a cluster node, except with '
                     'backend = simulated, where the simulated world says '
                     'which hosts are in no cluster.'),
    cfg.StrOpt('simulated_state_file',
               help='The state file of the simulated cluster (the file '
                    '"hvc-sim --state FILE" works on). Every nova-compute '
                    'service of one simulated cluster uses the same file. '
                    'Required when backend = simulated.'),
    cfg.StrOpt('simulated_node_name',
               help='The simulated node this nova-compute plays, as the '
                    'simulated cluster names it (compared case-'
                    'insensitively, as Windows compares computer names). '
                    'Defaults to nova\'s [DEFAULT] host. On Windows the '
                    'node is the machine itself, whatever nova calls it. '
                    'Used when backend = simulated.'),
    cfg.StrOpt('csv_instances_folder', default='OpenStack\\Instances',
               help='The folder, inside each Cluster Shared Volume, that '
                    'holds the directories of the instances whose disks '
                    'are on that CSV. An instance\'s disks go to the CSV '
                    'that holds its DISK_GB allocation in placement (see '
                    'hvc-placement-sync); an instance with no disk '
                    'allocated on a CSV goes under [DEFAULT] '
                    'instances_path.'),
    cfg.StrOpt('vswitch_name',
               help='The Hyper-V virtual switch that has the Open vSwitch '
                    'extension enabled. The vNIC of an Open vSwitch port '
                    '(VIF type ovs) is connected to it, then added to the '
                    'port\'s OVS bridge with ovs-vsctl. Required to boot '
                    'with such ports; ports of VIF type hyperv do not use '
                    'it.'),
    cfg.FloatOpt('dynamic_memory_ratio', default=1.0, min=1.0,
                 help='Enables dynamic memory when greater than 1.0: the '
                      'ratio between the maximum and the startup memory '
                      'of an instance.'),
    cfg.BoolOpt('limit_cpu_features', default=False,
                help='Hide the CPU features the nodes do not all share, so '
                     'that instances can live-migrate between nodes with '
                     'different CPUs.'),
    cfg.BoolOpt('config_drive_inject_password', default=False,
                help='Put the admin password nova generates or is given '
                     'into the config drive (readable by anyone who can '
                     'read the instance\'s disks).'),
    cfg.IntOpt('power_state_check_interval', default=2, min=1,
               help='Seconds between checks of the power state while '
                    'waiting for a clean shutdown.'),
    cfg.IntOpt('wait_soft_reboot_seconds', default=60, min=0,
               help='How long a soft reboot waits for the guest to shut '
                    'down before it reboots the instance hard.'),
    cfg.IntOpt('live_migration_timeout', default=600, min=0,
               help='Seconds a cluster live migration may take before it '
                    'is cancelled (the VM then stays on its node); 0 waits '
                    'as long as the cluster takes.'),
    cfg.IntOpt('max_failover_count', default=1, min=1,
               help='How many times the failover cluster may fail an '
                    'instance over within failover_period hours.'),
    cfg.IntOpt('failover_period', default=6, min=1,
               help='The period, in hours, of max_failover_count.'),
    cfg.BoolOpt('auto_failback', default=True,
                help='Let the failover cluster move an instance back to its '
                     'preferred node when that node is up again.'),
    cfg.IntOpt('cluster_check_interval', default=30, min=1,
               help='Seconds between this node\'s checks that nova agrees '
                    'with the failover cluster. The driver follows each '
                    'move of a VM as the cluster reports it; this check '
                    'finds what a lost notification or a nova-compute that '
                    'was down missed (VMs the cluster runs here that nova '
                    'records elsewhere, or whose allocation is elsewhere), '
                    'clusters again a VM of nova\'s that runs here '
                    'unclustered while nova has no task on it, retries '
                    'what failed, and disables this nova-compute '
                    'service while the cluster has the node paused '
                    '(drained) or down, enabling it again once the node is '
                    'up.'),
    cfg.IntOpt('failover_workers', default=4, min=1,
               help='How many VMs this node makes nova follow at once after '
                    'the cluster moved them here (a node that goes down '
                    'hands many VMs to the others at once).'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
