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

"""Load on the local cloud: boot N small servers at once, then delete them.

Starts the local cloud (``python -m hvc_localcloud start``) in a temporary
folder twice, once with nova's ``fake.SmallFakeDriver`` on the compute
services (the baseline) and once with the Hyper-V cluster driver on the
simulated clusters, everything else the same. On each: N servers (1 vCPU,
128 MB, 1 GB, no ports) created concurrently with openstacksdk, the time
until all are ACTIVE, the failures, then all deleted at once. For the
Hyper-V cluster driver also: every VM on the node nova names, and DISK_GB
on the CSV providers back to zero afterwards. Prints each cloud's start
time, where a build's time went (tools/build_phases.py: the median of each
phase, the builds per node, the resource tracker's lock holders, the
driver's own inventory reports) and the memory of each service.

    .venv/bin/python tools/bench_cloud.py [--servers 50] [--eventlet]
                                          [--keep-logs DIR]

Goals: no failure; time to ACTIVE within 1.2x of the baseline's.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from hvc_localcloud import cloud as cloud_mod  # noqa: E402
from hvc_localcloud import procs  # noqa: E402

import build_phases  # noqa: E402  (tools/)

GOAL_RATIO = 1.2
TIMEOUT = 900


def _wait_all(conn, ids, timeout=TIMEOUT):
    """Poll until every server is ACTIVE or ERROR; {id: (status, host)}."""
    deadline = time.monotonic() + timeout
    pending = set(ids)
    done = {}
    while pending and time.monotonic() < deadline:
        for server in conn.compute.servers(details=True):
            if server.id in pending and server.status in ('ACTIVE',
                                                          'ERROR'):
                pending.discard(server.id)
                done[server.id] = (server.status, server.compute_host,
                                   server.instance_name)
        if pending:
            time.sleep(0.5)
    for server_id in pending:
        done[server_id] = ('TIMEOUT', None, None)
    return done


def _wait_deleted(conn, ids, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = {s.id for s in conn.compute.servers()} & set(ids)
        if not left:
            return 0
        time.sleep(0.5)
    return len(left)


def _sim_nodes(cloud):
    """{VM name: node} across the simulated world."""
    out = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), 'hvc-sim'),
         '--state', cloud_mod.world_file(cloud.root), 'vms', '--json'],
        stdout=subprocess.PIPE, check=True, text=True).stdout
    return {vm['name']: vm['node'] for vm in json.loads(out)}


def _csv_disk_usage(cloud, conn):
    usage = {}
    for name in cloud.csv_provider_names():
        provider = list(conn.placement.resource_providers(name=name))[0]
        usages = conn.placement.get(
            '/resource_providers/%s/usages' % provider.id).json()['usages']
        usage[name] = usages.get('DISK_GB', 0)
    return usage


_TICKS = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pid):
    """CPU time (user and system) of a process and the rest of its group,
    and of the children they waited for.
    """
    total = 0
    for member in procs.group_members(pid):
        try:
            with open('/proc/%d/stat' % member) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14 to 17 of proc(5).
        total += sum(int(v) for v in fields[11:15])
    return total / _TICKS


def _cpu(cloud):
    return {name: cpu_seconds(record['pid'])
            for name, record in cloud.processes().items()}


def run(driver, servers, eventlet, keep_logs=None):
    root = tempfile.mkdtemp(prefix='hvc-bench-%s-' % driver)
    args = [sys.executable, '-m', 'hvc_localcloud', 'start', '--root', root,
            '--driver', driver] + (['--eventlet'] if eventlet else [])
    result = {'driver': driver}
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        if proc.returncode:
            sys.exit('the %s cloud did not start:\n%s' % (driver,
                                                          proc.stdout))
        cloud = cloud_mod.Cloud(root)
        result['start_seconds'] = cloud.state['start_seconds']
        conn = cloud.admin_connection()
        image = conn.image.find_image(cloud_mod.IMAGE_NAME)
        flavor = conn.compute.find_flavor('hvc.tiny')

        def create(i):
            return conn.compute.create_server(
                name='bench-%d' % i, image_id=image.id, flavor_id=flavor.id,
                networks='none').id

        result['load'] = os.getloadavg()[0]
        cpu_before = _cpu(cloud)
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(servers) as pool:
            ids = list(pool.map(create, range(servers)))
        result['api_seconds'] = time.monotonic() - start
        states = _wait_all(conn, ids)
        result['active_seconds'] = time.monotonic() - start
        result['failures'] = sum(1 for s in states.values()
                                 if s[0] != 'ACTIVE')
        result['cpu_seconds'] = {
            name: seconds - cpu_before.get(name, 0)
            for name, seconds in _cpu(cloud).items()}
        # Before the deletes add their own lock holds to the logs.
        result['phases'] = build_phases.parse(cloud.path('log'))
        if driver == 'hyperv':
            nodes = _sim_nodes(cloud)
            result['misplaced'] = sum(
                1 for status, host, name in states.values()
                if status == 'ACTIVE' and nodes.get(name) != host)
        memory = {}
        for name, record in cloud.processes().items():
            memory[name] = procs.rss_mb(record['pid'])
        result['memory_mb'] = memory

        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(servers) as pool:
            list(pool.map(conn.compute.delete_server, ids))
        result['undeleted'] = _wait_deleted(conn, ids)
        result['delete_seconds'] = time.monotonic() - start
        if driver == 'hyperv':
            result['csv_disk_gb_after'] = _csv_disk_usage(cloud, conn)
            result['vms_left'] = len(_sim_nodes(cloud))
    finally:
        subprocess.run([sys.executable, '-m', 'hvc_localcloud', 'stop',
                        '--root', root], stdout=subprocess.DEVNULL)
        if keep_logs:
            shutil.copytree(os.path.join(root, 'log'),
                            os.path.join(keep_logs, driver),
                            dirs_exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)
    return result


def report(results, servers):
    print('\n%d servers booted at once, then deleted (1 vCPU, 128 MB, 1 GB, '
          'no ports):' % servers)
    print('%-8s %9s %12s %13s %9s %11s %11s %6s' % (
        'driver', 'start s', 'API accept s', 'all ACTIVE s', 'failures',
        'deleted s', 'CPU s (1)', 'load'))
    for r in results:
        print('%-8s %9.1f %12.1f %13.1f %9d %11.1f %11.1f %6.1f' % (
            r['driver'], r['start_seconds'], r['api_seconds'],
            r['active_seconds'], r['failures'], r['delete_seconds'],
            sum(r['cpu_seconds'].values()), r['load']))
    print('(1) the CPU time the whole cloud used from the first create until '
          'all were ACTIVE, on %d CPUs;\n    load: the load average when '
          'the creates began (other work on the machine slows a run)'
          % os.cpu_count())
    base = next(r for r in results if r['driver'] == 'fake')
    hyperv = next(r for r in results if r['driver'] == 'hyperv')
    ratio = hyperv['active_seconds'] / base['active_seconds']
    checks = [
        ('no failure', hyperv['failures'] == 0 and base['failures'] == 0),
        ('time to ACTIVE %.2fx the baseline\'s (goal <= %.1fx)'
         % (ratio, GOAL_RATIO), ratio <= GOAL_RATIO),
        ('every VM on the node nova names (%d misplaced)'
         % hyperv['misplaced'], hyperv['misplaced'] == 0),
        ('DISK_GB on the CSV providers back to zero (%s)' % ', '.join(
            '%s %d' % kv for kv in hyperv['csv_disk_gb_after'].items()),
         not any(hyperv['csv_disk_gb_after'].values())),
        ('every server and VM deleted', hyperv['undeleted'] == 0 and
         hyperv['vms_left'] == 0 and base['undeleted'] == 0),
    ]
    for what, ok in checks:
        print('  [%s] %s' % ('met' if ok else 'NOT MET', what))
    print()
    build_phases.report([(r['driver'], r['phases']) for r in results])
    print('\nMemory (RSS, MB, with each service\'s child processes), with '
          'the servers booted, and CPU seconds until they were:')
    names = list(hyperv['memory_mb'])
    print('  %-32s %8s %8s %8s %8s' % ('service', 'fake', 'hyperv',
                                       'CPU fake', 'hyperv'))
    for name in names:
        print('  %-32s %8.0f %8.0f %8.1f %8.1f' % (
            name, base['memory_mb'].get(name, 0), hyperv['memory_mb'][name],
            base['cpu_seconds'].get(name, 0), hyperv['cpu_seconds'][name]))
    print('  %-32s %8.0f %8.0f %8.1f %8.1f' % (
        'total', sum(base['memory_mb'].values()),
        sum(hyperv['memory_mb'].values()), sum(base['cpu_seconds'].values()),
        sum(hyperv['cpu_seconds'].values())))
    return all(ok for _what, ok in checks)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--servers', type=int, default=50)
    parser.add_argument('--eventlet', action='store_true',
                        help='nova-compute with concurrency_backend = '
                             'eventlet (both clouds)')
    parser.add_argument('--keep-logs', metavar='DIR',
                        help='copy each cloud\'s log folder to DIR/<driver>')
    args = parser.parse_args()
    results = []
    for driver in ('fake', 'hyperv'):
        print('%s cloud: starting, booting %d servers...' % (driver,
                                                             args.servers),
              flush=True)
        results.append(run(driver, args.servers, args.eventlet,
                           args.keep_logs))
    return 0 if report(results, args.servers) else 1


if __name__ == '__main__':
    sys.exit(main())
