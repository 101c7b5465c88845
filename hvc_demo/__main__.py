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

"""``make demo``: placement_sync on a simulated cluster, end to end.

1. starts a real placement server on 127.0.0.1 (sqlite, noauth2) and a
   simulated Hyper-V cluster (3 nodes, 2 CSVs);
2. creates the compute node providers as nova-compute with this project's
   driver does (VCPU and MEMORY_MB, no DISK_GB);
3. runs ``hvc-placement-sync --once`` and shows the result with the
   standard ``openstack`` CLI;
4. replays the spec's example against placement's real
   ``GET /allocation_candidates`` and ``PUT /allocations``: with per-node
   DISK_GB (what compute-hyperv did) the third 200 GB instance is accepted
   and the CSV overflows; with the shared CSV provider it is refused.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import uuid

from hvc_demo import scheduler_standin
from hvc_localcloud import placement_server
from placement_sync import placement as placement_client

CLUSTER = 'demo-cluster'
NODES = ('hv-node1', 'hv-node2', 'hv-node3')
# Volume1 holds the instances path; Volume2 is too small for the flavor.
VOLUMES = (('Volume1', 500), ('Volume2', 150))
VOLUME_GB = dict(VOLUMES)
FLAVOR = {'VCPU': 2, 'MEMORY_MB': 4096, 'DISK_GB': 200}
# The spec's example: two instances on node 1, then a third one.
BOOTS = (('vm1', 'hv-node1'), ('vm2', 'hv-node1'), ('vm3', 'hv-node2'))

_BIN = os.path.dirname(sys.executable)


def _title(text):
    print('\n== %s ==' % text, flush=True)


def _run(args, env=None, show=None):
    print('$ %s' % (show or ' '.join(args)), flush=True)
    cmd = [os.path.join(_BIN, args[0])] + args[1:]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    sys.stdout.write(result.stdout)
    if result.returncode:
        sys.stdout.write(result.stderr)
        raise SystemExit('demo: %s failed with %d' % (args[0],
                                                      result.returncode))
    return result.stdout


def _openstack(endpoint, *args):
    env = dict(os.environ, OS_AUTH_TYPE='admin_token',
               OS_ENDPOINT=endpoint, OS_TOKEN=placement_server.ADMIN_TOKEN,
               OS_PLACEMENT_API_VERSION='1.39')
    return _run(['openstack'] + list(args), env=env)


def _boot(client, preferred_node, node_names):
    """Schedule like nova: candidates, then claim the chosen one."""
    node, chosen = scheduler_standin.schedule(client, FLAVOR, node_names,
                                              preferred_node)
    if chosen is None:
        return None, 'refused: no allocation candidate (NoValidHost)'
    scheduler_standin.claim(client, chosen, str(uuid.uuid4()))
    return chosen, 'on %s' % node


def _replay(client, node_names, csv_names):
    """Boot the spec's three instances; return the per-boot outcome."""
    outcomes = []
    for name, node in BOOTS:
        chosen, text = _boot(client, node, node_names)
        if chosen:
            disk_on = [node_names.get(rp) or csv_names.get(rp)
                       for rp, alloc in chosen['allocations'].items()
                       if 'DISK_GB' in alloc['resources']]
            text += ', DISK_GB on %s' % disk_on[0]
        outcomes.append((name, text))
    return outcomes


def per_node_world(workdir):
    """compute-hyperv: every node reports the whole CSV as its own."""
    with placement_server.PlacementServer(
            os.path.join(workdir, 'per-node')) as srv:
        client = placement_client.PlacementClient(
            placement_server.admin_adapter(srv.endpoint))
        nodes = {scheduler_standin.create_compute_node(
                     client, n, disk_gb=VOLUMES[0][1]): n for n in NODES}
        outcomes = _replay(client, nodes, {})
    # Every instance's disk is really on the instances path: Volume1.
    on_csv = sum(FLAVOR['DISK_GB'] for _n, text in outcomes
                 if text.startswith('on '))
    return outcomes, on_csv


def main():
    workdir = tempfile.mkdtemp(prefix='hvc-demo-')
    try:
        _demo(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _demo(workdir):
    state = os.path.join(workdir, 'sim.db')
    _title('1. A simulated Hyper-V cluster: %d nodes, %d Cluster Shared '
           'Volumes' % (len(NODES), len(VOLUMES)))
    args = ['hvc-sim', '--state', state, 'init', '--cluster', CLUSTER]
    for node in NODES:
        args += ['--node', node]
    for name, size in VOLUMES:
        args += ['--csv', '%s=%d' % (name, size)]
    _run(args, show=' '.join(args).replace(state, 'sim.db'))

    with placement_server.PlacementServer(
            os.path.join(workdir, 'shared')) as srv:
        _title('2. A real placement on %s; the compute nodes register as '
               'nova-compute does (VCPU, MEMORY_MB, no DISK_GB)'
               % srv.endpoint)
        client = placement_client.PlacementClient(
            placement_server.admin_adapter(srv.endpoint))
        nodes = {scheduler_standin.create_compute_node(client, n): n
                 for n in NODES}

        _title('3. hvc-placement-sync publishes each CSV once')
        conf = os.path.join(workdir, 'placement-sync.conf')
        with open(conf, 'w') as f:
            f.write(CONF_TEMPLATE % {'state': state,
                                     'endpoint': srv.endpoint})
        print(CONF_TEMPLATE % {'state': 'sim.db', 'endpoint': srv.endpoint})
        sync = ['hvc-placement-sync', '--config-file', conf]
        _run(sync + ['--once'], show='hvc-placement-sync --config-file '
             'placement-sync.conf --once')
        _run(sync + ['--once'], show='hvc-placement-sync --config-file '
             'placement-sync.conf --once    # again: nothing to write')

        _title('4. Inspect with the openstack CLI (osc-placement)')
        _openstack(srv.endpoint, 'resource', 'provider', 'list',
                   '--sort-column', 'name')
        csvs = {p['uuid']: p['name'].rsplit(':', 1)[-1]
                for p in client.list_providers()
                if p['name'].startswith('hyperv-csv:')}
        vol1 = next(u for u, n in csvs.items() if n == 'Volume1')
        _openstack(srv.endpoint, 'resource', 'provider', 'inventory', 'list',
                   vol1)
        _openstack(srv.endpoint, 'resource', 'provider', 'trait', 'list',
                   vol1)
        _openstack(srv.endpoint, 'resource', 'provider', 'aggregate', 'list',
                   vol1)

        _title('5. The spec\'s example: 200 GB instances, '
               'two on hv-node1, then one more')
        shared = _replay(client, nodes, csvs)
        free = {name: VOLUME_GB[name] - client.get_usages(rp).get(
            'DISK_GB', 0) for rp, name in csvs.items()}
        _run(sync + ['report'], show='hvc-placement-sync --config-file '
             'placement-sync.conf report')
    per_node, on_csv = per_node_world(workdir)

    print('\n%-5s %-48s %s' % ('boot', 'per-node DISK_GB (compute-hyperv)',
                               'shared CSV provider (placement_sync)'))
    for (name, left), (_name, right) in zip(per_node, shared):
        print('%-5s %-48s %s' % (name, left, right))
    print('\nper-node reporting put %d GB on the %d GB Volume1: it overflows '
          'by %d GB.' % (on_csv, VOLUMES[0][1], on_csv - VOLUMES[0][1]))
    print('with the shared providers no CSV overflows: free GB now %s.'
          % ', '.join('%s %d' % kv for kv in sorted(free.items())))


CONF_TEMPLATE = """\
[placement_sync]
source = simulated
simulated_state_file = %(state)s
# No nova API in this demo: use a placement aggregate of our own.
manage_host_aggregates = false
# The spec's example counts every GB of the CSVs: no headroom.
reserve_headroom_gb = 0

[placement]
auth_type = admin_token
endpoint = %(endpoint)s
token = admin
"""


if __name__ == '__main__':
    main()
