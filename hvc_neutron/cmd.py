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

"""``hvc-neutron-agent``: the neutron agent of one Hyper-V host, on Linux
beside that host's nova-compute.

    hvc-neutron-agent --config-file /etc/neutron/neutron.conf \\
        --config-file /etc/neutron/hvc-neutron-agent-HOST.conf

Runs until stopped (SIGTERM, SIGINT).
"""

import signal
import sys

from oslo_config import cfg
from oslo_log import log as logging

from hvc_neutron import conf as agent_conf

LOG = logging.getLogger(__name__)


def main(argv=None):
    from neutron.agent import rpc as agent_rpc
    from neutron.api.rpc.handlers import securitygroups_rpc as sg_rpc
    from neutron.common import config as common_config
    from neutron.conf.agent import common as agent_common
    from neutron_lib.agent import topics
    from neutron_lib import context as n_context

    from hvc_agent import client
    from hvc_agent import wire
    from hvc_neutron import agent

    conf = cfg.CONF
    common_config.register_common_config_options()
    agent_common.register_agent_state_opts_helper(conf)
    agent_conf.register_opts(conf)
    common_config.init(sys.argv[1:] if argv is None else argv)
    common_config.setup_logging()
    options = conf.hyperv_agent
    try:
        hvc_agent = client.AgentClient.from_options(options, 'hyperv_agent')
    except wire.AgentError as e:
        sys.exit(str(e))
    neutron_agent = agent.HypervNeutronAgent(
        conf.host, hvc_agent.utils('networkutils'),
        agent_rpc.PluginApi(topics.PLUGIN),
        agent_rpc.PluginReportStateAPI(topics.REPORTS),
        sg_rpc.SecurityGroupServerRpcApi(topics.PLUGIN),
        n_context.get_admin_context_without_session(),
        options.vswitch_mappings, options.local_network_vswitch,
        polling_interval=options.polling_interval,
        report_interval=conf.AGENT.report_interval,
        acl_resync_interval=options.security_group_resync_interval)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: neutron_agent.stop())
    # neutron's security group casts, fanned out to every agent.
    casts = agent_rpc.create_consumers(
        [agent.SecurityGroupCasts(neutron_agent)], topics.AGENT,
        [[topics.SECURITY_GROUP, topics.UPDATE]])
    try:
        neutron_agent.run()
    finally:
        casts.close()
        hvc_agent.close()
    LOG.info('%s stopped', agent.BINARY)
