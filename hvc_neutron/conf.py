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

"""The ``[hyperv_agent]`` options of hvc-neutron-agent. The rest is
neutron's: ``[DEFAULT] host`` (nova-compute's host name for this Hyper-V
host), ``transport_url`` (the cloud's message queue), ``[AGENT]
report_interval``.
"""

from oslo_config import cfg

from hvc_agent import conf as agent_conf

GROUP = cfg.OptGroup(
    'hyperv_agent', title='hvc-neutron-agent',
    help='The neutron agent of one Hyper-V host: it runs on Linux, beside '
         'the nova-compute of that host, and wires the host\'s vNICs '
         'through the host\'s hvc-agent.')

OPTS = [
    cfg.DictOpt('vswitch_mappings', default={},
                help='physical network:Hyper-V virtual switch pairs, e.g. '
                     'physnet1:external. Ports on flat and VLAN networks of '
                     'a physical network are connected to its switch; '
                     'ports on no other physical network bind to this '
                     'host.'),
    cfg.StrOpt('local_network_vswitch', default='private',
               help='The Hyper-V virtual switch of ports on local '
                    'networks (a private switch: the host\'s VMs only).'),
    cfg.FloatOpt('polling_interval', default=1.0, min=0.1,
                 help='Seconds between two looks at the host\'s vNICs and '
                      'the ports bound to the host.'),
    cfg.IntOpt('security_group_resync_interval', default=60, min=1,
               help='Seconds between two comparisons of every wired '
                    'port\'s ACLs with its security groups, beside the '
                    'ones neutron\'s casts of a change trigger (in case '
                    'a cast was lost). Each is one RPC call with the '
                    'rules of all the host\'s ports.'),
    cfg.StrOpt('agent_url',
               help='The hvc-agent of this Hyper-V host (https://HOST:8642), '
                    'as nova-compute\'s [hyperv_cluster] agent_url.'),
] + agent_conf.client_opts(
    'This hvc-neutron-agent\'s',
    'Seconds one request to the hvc-agent may take.')


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    return [(GROUP, OPTS)]
