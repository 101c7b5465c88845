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

"""The ``[agent]`` options of hvc-agent."""

from oslo_config import cfg

GROUP = cfg.OptGroup(
    'agent', title='hvc-agent',
    help='The agent on a Hyper-V host, which the nova-compute of that host '
         '(on Linux) drives over HTTPS.')

BACKEND_OSWIN = 'oswin'
BACKEND_SIMULATED = 'simulated'
DEFAULT_PORT = 8642

OPTS = [
    cfg.HostAddressOpt('bind_host', default='0.0.0.0',
                       help='The address the agent listens on.'),
    cfg.PortOpt('bind_port', default=DEFAULT_PORT,
                help='The TCP port the agent listens on (open it in the '
                     'host\'s firewall to the nova-compute host only).'),
    cfg.StrOpt('cert_file',
               help='The agent\'s server certificate (PEM), whose subject '
                    'alternative names hold the name nova-compute reaches '
                    'it by. Required unless bind_host is a loopback '
                    'address.'),
    cfg.StrOpt('key_file', help='The private key of cert_file (PEM).'),
    cfg.StrOpt('ca_file',
               help='The CA certificate (PEM) that signs the client '
                    'certificates of the nova-compute services allowed to '
                    'call this agent: every caller must present one.'),
    cfg.BoolOpt('insecure_loopback', default=False,
                help='Serve plain HTTP, without authentication. Refused '
                     'unless bind_host is a loopback address: for tests '
                     'and the local cloud, where every process is on one '
                     'machine.'),
    cfg.StrOpt('backend', default=BACKEND_OSWIN,
               choices=[(BACKEND_OSWIN, 'This Windows host, through os-win.'),
                        (BACKEND_SIMULATED,
                         'A node of the simulated cluster (hvc-sim).')],
               help='The Hyper-V host the agent serves.'),
    cfg.StrOpt('instances_path',
               help='The instances path of this host, as nova-compute\'s '
                    '[DEFAULT] instances_path names it (on a cluster node, '
                    'a folder on a CSV). The agent refuses any path that '
                    'is neither under it nor on one of its cluster\'s '
                    'CSVs (nor under other_hosts_storage).'),
    cfg.ListOpt('other_hosts_storage', default=[],
                help='The storage of the other Hyper-V hosts that instances '
                     'move to and from with their disks (a live or cold '
                     'migration to another cluster, to or from a '
                     'standalone host), as those hosts name it: the CSVs '
                     'of other clusters (C:\\ClusterStorage), the '
                     'instances paths of standalone hosts. Paths under '
                     'these folders are served too: another host\'s '
                     'through its administrative share, or as the '
                     'destination of a live migration. Empty, such moves '
                     'are refused.'),
    cfg.BoolOpt('standalone_host',
                help='Whether this Hyper-V host is in no failover cluster '
                     '(backend = oswin). Unset, the agent asks the host '
                     '(the failover cluster\'s WMI provider, within 30 s).'),
    cfg.StrOpt('simulated_state_file',
               help='The simulated cluster\'s state file (backend = '
                    'simulated).'),
    cfg.StrOpt('simulated_node_name',
               help='The simulated node this agent serves (backend = '
                    'simulated).'),
    cfg.IntOpt('threads', default=64, min=4,
               help='The most requests served at once: each nova-compute '
                    'keeps a few waiting (its event stream, jobs, locks).'),
]


def client_opts(caller, timeout_help, prefix=''):
    """The options of a caller of hvc-agents (nova-compute,
    hvc-neutron-agent, hvc-placement-sync): the TLS files it presents and
    trusts, and how long it waits for an answer. ``caller`` names it in
    the help, ``prefix`` says when the options count.
    """
    return [
        cfg.StrOpt('agent_ca_file',
                   help=prefix + 'The CA certificate (PEM) that signed the '
                   'agents\' server certificates. Unset: the system\'s '
                   'CAs.'),
        cfg.StrOpt('agent_cert_file',
                   help=prefix + '%s client certificate (PEM), which the '
                   'agents require; signed by the CA they trust ([agent] '
                   'ca_file).' % caller),
        cfg.StrOpt('agent_key_file',
                   help=prefix + 'The private key of agent_cert_file '
                   '(PEM).'),
        cfg.IntOpt('agent_timeout', default=60, min=1,
                   help=prefix + timeout_help),
    ]


def register_opts(conf):
    # A group of its own for each ConfigOpts: oslo.config keeps a group's
    # options, and their overrides, in the OptGroup object, so one shared
    # by two ConfigOpts (the tests' agents, the deploying guide's checks) would
    # share their overrides.
    group = cfg.OptGroup(GROUP.name, title=GROUP.title, help=GROUP.help)
    conf.register_group(group)
    conf.register_opts(OPTS, group=group)


def list_opts():
    return [(GROUP, OPTS)]
