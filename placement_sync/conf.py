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

"""Options of hvc-placement-sync, and list_opts() for oslo-config-generator.

Credentials use keystoneauth's standard conf loading, as in nova.conf:
``[placement]`` for placement, ``[nova]`` for the compute API; or, as the
``openstack`` client reads them, a cloud of clouds.yaml (``--os-cloud``,
``OS_CLOUD``) or the ``OS_*`` variables (see ``clients``).
"""

import copy

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

from hvc_agent import conf as agent_conf
from placement_sync import model

SYNC_GROUP = 'placement_sync'
PLACEMENT_GROUP = 'placement'
NOVA_GROUP = 'nova'

# Our defaults for keystoneauth's options in [placement] and [nova].
KS_DEFAULTS = {
    # keystoneauth waits for ever by default: a hung service would hang
    # the daemon.
    'timeout': 30,
    # A database deadlock or a restarting API answers 5xx for a moment:
    # retry (after 0.5, 1 and 2 s) before calling the run failed.
    'status_code_retries': 3,
    'retriable_status_codes': [500, 502, 503, 504],
}

sync_opts = [
    cfg.StrOpt('source', default='file',
               choices=[('file', 'a YAML inventory (inventory_file)'),
                        ('oswin', 'the local failover cluster, via os-win '
                         '(run on a cluster node)'),
                        ('simulated', 'the simulated cluster '
                         '(simulated_state_file)'),
                        ('agent', 'each cluster through the hvc-agent of '
                         'one of its nodes (agent_cluster), from any '
                         'machine, e.g. a Linux controller')],
               help='Where the cluster facts come from.'),
    cfg.StrOpt('inventory_file', default='/etc/hvc/clusters.yaml',
               help='YAML file naming the clusters, their nodes (nova '
                    'compute host names) and their Cluster Shared Volumes. '
                    'Used when source = file.'),
    cfg.StrOpt('simulated_state_file', default='/var/lib/hvc/sim.db',
               help='State file of the simulated cluster (see hvc-sim). '
                    'Used when source = simulated.'),
    cfg.MultiStrOpt('agent_cluster', default=[],
                    help='source = agent: one cluster and the hvc-agents '
                         'of its nodes, as "NAME: URL, URL, ...", e.g. '
                         '"hvcluster1: https://hv-node1.example.org:8642, '
                         'https://hv-node2.example.org:8642"; give the '
                         'option once per cluster. The agents are asked in '
                         'order until one answers (one that fails is '
                         'logged, and the next asked), and must report the '
                         'cluster NAME (case aside; the name the cluster '
                         'reports is the one published). A cluster none of '
                         'whose agents answers fails the run, and nothing '
                         'is written. A standalone Hyper-V host has no CSV: '
                         'its agent is not listed here (it answers that it '
                         'is in no cluster). Plain http only to an agent '
                         'bound to 127.0.0.1.'),
] + agent_conf.client_opts(
    'This tool\'s',
    'Seconds an agent may take to answer, measuring its cluster\'s CSVs '
    'included, before the next agent of the cluster is asked.',
    prefix='source = agent: ') + [
    cfg.BoolOpt('manage_host_aggregates', default=True,
                help='Keep one nova host aggregate per cluster holding its '
                     'hosts; its uuid is the placement aggregate the CSV '
                     'providers join. Needs the [nova] credentials. When '
                     'off, a placement aggregate derived from the cluster '
                     'name is used and compute providers join it directly.'),
    cfg.StrOpt('cache_file',
               help='Optional file where the tool keeps what it last saw of '
                    'each provider, checked against placement\'s '
                    'generations, so that a one-shot run costs one request '
                    'per cluster when nothing changed, as the periodic '
                    'mode does. Unset: a one-shot run reads every '
                    'provider.'),
    cfg.StrOpt('csv_instances_folder', default='OpenStack\\Instances',
               help='The folder, on each CSV, of the instances whose disks '
                    'are on that CSV: the same as the compute driver\'s '
                    '[hyperv_cluster] csv_instances_folder. Each folder in '
                    'it is named like its VM. Used to tell the instances\' '
                    'files from what else a measured CSV holds.'),
    cfg.BoolOpt('reserve_measured_usage', default=True,
                help='Where the source measures the CSVs (oswin, '
                     'simulated, agent), set each provider\'s DISK_GB '
                     'reserved to what the volume holds outside nova\'s '
                     'allocations '
                     '(image cache, uploads, logs, foreign files; never '
                     'below the volume\'s reserved_gb), plus '
                     'reserve_headroom_gb. The instances\' folders are told '
                     'apart with the [nova] credentials (instance names); '
                     'without them every folder counts as outside nova. '
                     'Off: reserved is reserved_gb, as for the file '
                     'source.'),
    cfg.IntOpt('reserve_headroom_gb', default=5, min=0, max=model.MAX_GB,
               help='GB reserved on a measured CSV beyond what it holds '
                    'outside nova: room for what grows between two runs '
                    '(a log, an upload) and for thin disks\' metadata. '
                    'Set it to what the CSV\'s files may grow by in one '
                    'interval; 0 keeps an empty CSV\'s reserve at '
                    'reserved_gb.'),
    cfg.IntOpt('reserve_step_gb', default=2, min=1, max=model.MAX_GB,
               help='A measured reserve that moves by less than this many '
                    'GB is not written (no generation churn every run), '
                    'unless placement\'s reserve no longer covers what the '
                    'volume holds outside nova. At most '
                    'reserve_headroom_gb when that is above 0 (checked at '
                    'start-up).'),
    cfg.IntOpt('interval', default=60, min=1,
               help='Seconds between two runs in periodic mode.'),
    cfg.IntOpt('max_backoff', default=300, min=1,
               help='Longest wait, in seconds, between retries while '
                    'placement or nova cannot be reached.'),
]


def options_problem(conf):
    """What oslo.config cannot check, options that contradict each other;
    or None.
    """
    options = conf[SYNC_GROUP]
    if 0 < options.reserve_headroom_gb < options.reserve_step_gb:
        # A reserve short of its headroom by less than the step is kept:
        # the headroom would not be kept at all.
        return ('[%s] reserve_step_gb (%d) must be at most '
                'reserve_headroom_gb (%d), or the headroom is not kept'
                % (SYNC_GROUP, options.reserve_step_gb,
                   options.reserve_headroom_gb))
    return None


def register_opts(conf):
    conf.register_opts(sync_opts, group=SYNC_GROUP)
    for group in (PLACEMENT_GROUP, NOVA_GROUP):
        ks_loading.register_session_conf_options(conf, group)
        ks_loading.register_auth_conf_options(conf, group)
        ks_loading.register_adapter_conf_options(conf, group)
        for name, value in KS_DEFAULTS.items():
            conf.set_default(name, value, group=group)


def _ks_opts():
    return (ks_loading.get_session_conf_options() +
            ks_loading.get_auth_common_conf_options() +
            ks_loading.get_auth_plugin_conf_options('password') +
            ks_loading.get_auth_plugin_conf_options('admin_token') +
            ks_loading.get_adapter_conf_options(include_deprecated=False))


def list_opts():
    return [
        (SYNC_GROUP, sync_opts),
        (PLACEMENT_GROUP, _dedup(_ks_opts())),
        (NOVA_GROUP, _dedup(_ks_opts())),
    ]


def _dedup(opts):
    """keystoneauth's options once each, with our defaults."""
    seen, result = set(), []
    for opt in opts:
        if opt.dest not in seen:
            seen.add(opt.dest)
            if opt.dest in KS_DEFAULTS:
                opt = copy.deepcopy(opt)
                opt.default = KS_DEFAULTS[opt.dest]
            result.append(opt)
    return result


CONF = cfg.ConfigOpts()
register_opts(CONF)
