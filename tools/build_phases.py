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

"""Where the builds of a boot storm spent their time, from a local cloud's
logs (``hvc_localcloud`` logs nova's lock waits and the driver's inventory
reports for this; see ``hvc_localcloud/nova.py``).

Each server create is followed by its request id through nova-api (the
POST), nova-scheduler (the host state it consumed), and its nova-compute
(the build's lock, the resource claim under ``compute_resources``, the
spawn, the end of the build). Per build, the phases in order:

    api         the POST /servers until nova-api answered
    schedule    until the scheduler consumed the chosen host (conductor,
                placement's allocation candidates and claim, filters)
    to compute  until the compute service took the build
    build slot  waiting for one of max_concurrent_builds
    pre-claim   until it asked for the resource tracker's lock
    claim wait  waiting for compute_resources (held by other claims and
                by the periodic update_available_resource)
    claim       holding it: nova's instance_claim, which reads every
                allocation of the node from placement and calls the
                driver's update_provider_tree
    resources   networks and block devices
    spawn       the driver's spawn
    finish      until the build was done (instance ACTIVE)

    .venv/bin/python tools/build_phases.py LOG_FOLDER
"""

import collections
import datetime
import glob
import os
import re
import statistics
import sys

PHASES = ('api', 'schedule', 'to compute', 'build slot', 'pre-claim',
          'claim wait', 'claim', 'resources', 'spawn', 'finish')

_LINE = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) \d+ \w+ \S+ '
                   r'\[(?:\S+ )?(req-[0-9a-f-]{36})?')
_POST = re.compile(r'"POST /v2\.1/servers" status: 202 .*time: ([\d.]+)')
_ACQUIRED = re.compile(r'Lock "([^"]+)" acquired by "([^"]+)" :: '
                       r'waited ([\d.]+)s')
_RELEASED = re.compile(r'Lock "([^"]+)" "released" by "([^"]+)" :: '
                       r'held ([\d.]+)s')
_TOOK = re.compile(r'Took ([\d.]+) seconds to (spawn|build)')
_DRIVER = re.compile(r'The driver\'s (\S+) of node \S+ took ([\d.]+) s')
_CONSUME = 'HostState.consume_from_request'
_BUILD_LOCK = '_locked_do_build_and_run_instance'
_CLAIM = 'ResourceTracker.instance_claim'
_RESOURCES_LOCK = 'compute_resources'


def _lines(path):
    if not os.path.exists(path):
        return
    with open(path, errors='replace') as f:
        for line in f:
            m = _LINE.match(line)
            if m:
                at = datetime.datetime.strptime(
                    m.group(1), '%Y-%m-%d %H:%M:%S.%f').timestamp()
                yield at, m.group(2), line


def _short(function):
    """nova.compute.resource_tracker.ResourceTracker.instance_claim ->
    ResourceTracker.instance_claim
    """
    parts = function.split('.<locals>')[0].split('.')
    return '.'.join(parts[-2:])


def parse(log_folder):
    """{'builds': {request id: {mark: time or seconds}}, 'hosts': Counter,
    'locks': {holder: [held s]}, 'driver': {call: [s]}}.
    """
    builds = collections.defaultdict(dict)
    locks = collections.defaultdict(list)
    driver = collections.defaultdict(list)
    hosts = collections.Counter()
    for at, req, line in _lines(os.path.join(log_folder, 'nova-api.log')):
        m = _POST.search(line)
        if m and req:
            builds[req]['api_end'] = at
            builds[req]['api'] = float(m.group(1))
    for at, req, line in _lines(os.path.join(log_folder,
                                             'nova-scheduler.log')):
        m = _ACQUIRED.search(line)
        if m and req and _CONSUME in m.group(2):
            builds[req].setdefault('consumed', at)
    for path in sorted(glob.glob(os.path.join(log_folder,
                                              'nova-compute-*.log'))):
        host = os.path.basename(path)[len('nova-compute-'):-len('.log')]
        for at, req, line in _lines(path):
            m = _ACQUIRED.search(line)
            if m:
                if req and _BUILD_LOCK in m.group(2):
                    builds[req]['taken'] = at
                elif (req and m.group(1) == _RESOURCES_LOCK and
                        _CLAIM in m.group(2)):
                    builds[req]['claim_acquired'] = at
                    builds[req]['claim wait'] = float(m.group(3))
                continue
            m = _RELEASED.search(line)
            if m:
                if m.group(1) == _RESOURCES_LOCK:
                    locks[_short(m.group(2))].append(float(m.group(3)))
                    if req and _CLAIM in m.group(2):
                        builds[req]['claim_released'] = at
                        builds[req]['claim'] = float(m.group(3))
                continue
            m = _TOOK.search(line)
            if m and req:
                builds[req][m.group(2) + '_end'] = at
                builds[req][m.group(2)] = float(m.group(1))
                if m.group(2) == 'build':
                    builds[req]['host'] = host
                    hosts[host] += 1
                continue
            m = _DRIVER.search(line)
            if m:
                driver[m.group(1)].append(float(m.group(2)))
    return {'builds': {r: b for r, b in builds.items() if 'build' in b},
            'hosts': hosts, 'locks': dict(locks), 'driver': dict(driver)}


def phases(build):
    """{phase: seconds} of one build, for the phases its logs tell."""
    b = build
    out = {}

    def put(phase, *marks, value=None):
        if all(m in b for m in marks):
            out[phase] = value(*[b[m] for m in marks])

    put('api', 'api', value=lambda s: s)
    put('schedule', 'api_end', 'consumed', value=lambda a, c: c - a)
    put('to compute', 'consumed', 'taken', value=lambda c, t: t - c)
    put('build slot', 'taken', 'build_end', 'build',
        value=lambda t, e, s: (e - s) - t)
    put('pre-claim', 'build_end', 'build', 'claim_acquired', 'claim wait',
        value=lambda e, s, a, w: a - w - (e - s))
    put('claim wait', 'claim wait', value=lambda w: w)
    put('claim', 'claim', value=lambda h: h)
    put('resources', 'claim_released', 'spawn_end', 'spawn',
        value=lambda r, e, s: (e - s) - r)
    put('spawn', 'spawn', value=lambda s: s)
    put('finish', 'spawn_end', 'build_end', value=lambda s, e: e - s)
    put('total', 'api_end', 'api', 'build_end',
        value=lambda a, s, e: e - (a - s))
    return out


def _median(values):
    return statistics.median(values) if values else float('nan')


def summary(parsed):
    """{phase: median seconds} over the builds, with 'total' (from the POST
    to the end of the build) and 'builds'.
    """
    per_build = [phases(b) for b in parsed['builds'].values()]
    out = {'builds': len(per_build)}
    for phase in PHASES + ('total',):
        out[phase] = _median([p[phase] for p in per_build if phase in p])
    return out


def report(results, out=print):
    """Print the phases of several runs side by side: results is
    [(name, parse(...))].
    """
    sums = [(name, summary(parsed)) for name, parsed in results]
    out('Where a build\'s time went (median seconds per build, from the '
        'services\' logs):')
    out('  %-34s' % 'phase' + ''.join('%10s' % n for n, _s in sums))
    for phase in PHASES + ('total',):
        out('  %-34s' % phase + ''.join(
            '%10.2f' % s[phase] for _n, s in sums))
    out('  %-34s' % 'builds found in the logs' + ''.join(
        '%10d' % s['builds'] for _n, s in sums))
    for name, parsed in results:
        out('  %s: builds per node: %s' % (name, ', '.join(
            '%s %d' % hc for hc in sorted(parsed['hosts'].items())) or
            'none found'))
    out('The resource tracker\'s lock (compute_resources), all nodes: '
        'holder: times, median / max / total seconds held')
    for name, parsed in results:
        for holder, held in sorted(parsed['locks'].items(),
                                   key=lambda kv: -sum(kv[1])):
            if sum(held) < 0.05:
                continue
            out('  %-8s %-48s %4d %7.3f %7.3f %8.1f' % (
                name, holder, len(held), _median(held), max(held),
                sum(held)))
    out('The driver\'s own time (its inventory reports, made under that '
        'lock): call: times, median / max / total seconds')
    for name, parsed in results:
        if not parsed['driver']:
            out('  %-8s none in its logs (nova\'s fake driver reports none)'
                % name)
        for call, took in sorted(parsed['driver'].items()):
            out('  %-8s %-48s %4d %7.3f %7.3f %8.1f' % (
                name, call, len(took), _median(took), max(took), sum(took)))


def main():
    if len(sys.argv) < 2:
        sys.exit('usage: %s LOG_FOLDER [LOG_FOLDER...]' % sys.argv[0])
    report([(os.path.basename(os.path.normpath(f)) or f, parse(f))
            for f in sys.argv[1:]])


if __name__ == '__main__':
    main()
