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

"""``hvc-placement-sync``: publish CSVs to placement, one-shot or periodic;
``report`` what placement and the volumes hold; convert ``flavors``.

Exit status: 0 converged (warnings such as a node without a provider yet
are printed but are not failures), 1 something failed (a service, the
cluster facts, a write, a flavor that could not be converted), 2 bad usage
or configuration.
"""

import logging as py_logging
import os
import random
import signal
import sys
import threading

from oslo_config import cfg
from oslo_log import log as logging

from placement_sync import cache
from placement_sync import capacity
from placement_sync import clients
from placement_sync import conf as sync_conf
from placement_sync import exception
from placement_sync import flavor_cmd
from placement_sync import host_aggregates
from placement_sync import nova
from placement_sync import reconcile
from placement_sync import report as report_mod
from placement_sync import sources

LOG = logging.getLogger(__name__)
# How often periodic mode looks for its stop file.
STOP_FILE_POLL_SECONDS = 0.5

cli_opts = [
    cfg.StrOpt('action', positional=True, required=False, default='sync',
               choices=['sync', 'report', 'flavors'],
               help='sync (the default) converges placement; report prints '
                    'each cluster with its nodes and CSVs, placement\'s '
                    'view beside what the volumes really hold; flavors '
                    'gives the named flavors (or --all) their disk in a '
                    'request group of its own.'),
    cfg.MultiStrOpt('flavor', positional=True, required=False, default=[],
                    metavar='NAME',
                    help='flavors action: the flavors to convert, by name '
                         'or id.'),
    cfg.BoolOpt('all', default=False,
                help='flavors action: convert every flavor.'),
    cfg.StrOpt('format', default='text', choices=['text', 'json'],
               help='report action: text for people, json for monitoring '
                    'scripts.'),
    cfg.StrOpt('os-cloud', metavar='NAME',
               help='Take the placement and nova credentials from the cloud '
                    'NAME of clouds.yaml, as the openstack client does; it '
                    'wins over [placement] and [nova]. Without it, a group '
                    'whose auth_type is unset takes OS_CLOUD or the OS_* '
                    'variables.'),
    cfg.BoolOpt('once', default=False,
                help='Run one sync and exit (the default is periodic).'),
    cfg.BoolOpt('dry-run', default=False,
                help='Print what would change; write nothing.'),
    cfg.IntOpt('interval', min=1,
               help='Seconds between runs in periodic mode (overrides '
                    '[placement_sync] interval).'),
    cfg.StrOpt('stop-file', metavar='PATH',
               help='Periodic mode: stop, as on SIGTERM, once this file '
                    'exists, and remove it (a leftover is removed at '
                    'start). How a scheduled task on Windows is stopped '
                    'cleanly: Windows sends a program no SIGTERM.'),
]


def _print_report(result, dry_run):
    verb = 'would ' if dry_run else ''
    for change in result.changes:
        print('%s%s' % (verb, change))
    for warning in result.warnings:
        print('WARNING: %s' % warning)
    for error in result.errors:
        print('ERROR: %s' % error)
    if not (result.changes or result.warnings or result.errors):
        print('placement is up to date: nothing to change')


_MEASURING_SOURCES = ('oswin', 'simulated', 'agent')


def reserve_policy(conf):
    """How measured CSVs are reserved, or None when they are not."""
    options = conf.placement_sync
    if (not options.reserve_measured_usage or
            options.source not in _MEASURING_SOURCES):
        return None
    return capacity.ReservePolicy(headroom_gb=options.reserve_headroom_gb,
                                  step_gb=options.reserve_step_gb)


def instance_names(conf):
    """Who tells instances' folders apart: nova, when its credentials are
    there; else None (every folder counts as outside nova).
    """
    if not clients.has_credentials(conf, sync_conf.NOVA_GROUP):
        return None
    return nova.InstanceNames(clients.compute_proxy_factory(conf))


def build_reconciler(conf):
    aggregates = None
    if conf.placement_sync.manage_host_aggregates:
        aggregates = host_aggregates.HostAggregates(
            clients.compute_proxy_factory(conf))
    reserve = reserve_policy(conf)
    cache_file = conf.placement_sync.cache_file
    return reconcile.Reconciler(
        clients.placement_client(conf), aggregates, dry_run=conf.dry_run,
        seen=cache.load(cache_file) if cache_file else None,
        reserve=reserve,
        instance_names=instance_names(conf) if reserve else None)


def _sync(conf, reconciler):
    reconciler.placement.check_api_root()
    result = reconciler.sync(sources.load_clusters(conf))
    if conf.placement_sync.cache_file and not conf.dry_run:
        cache.save(conf.placement_sync.cache_file, reconciler.seen())
    return result


def run_once(conf, reconciler):
    """One sync. Returns the exit status."""
    result = _sync(conf, reconciler)
    _print_report(result, conf.dry_run)
    return 1 if result.errors else 0


def run_periodic(conf, reconciler, stop):
    """Sync every interval until ``stop`` is set; ride out outages."""
    interval = conf.interval or conf.placement_sync.interval
    max_backoff = conf.placement_sync.max_backoff
    backoff = min(interval, max_backoff)
    while not stop.is_set():
        outcome = _until_stopped(lambda: _attempt(conf, reconciler), stop)
        if outcome is None:
            break
        result, failure = outcome
        if failure is None:
            LOG.info('sync done: %d change(s), %d warning(s), %d error(s)',
                     len(result.changes), len(result.warnings),
                     len(result.errors))
            backoff, wait = min(interval, max_backoff), interval
        else:
            # Jitter, so that several copies do not retry in lockstep.
            wait = backoff * random.uniform(0.8, 1.2)
            LOG.error('sync failed, next try in %.0fs: %s', wait, failure)
            backoff = min(backoff * 2, max_backoff)
        stop.wait(wait)
    LOG.info('stopped')
    return 0


def _attempt(conf, reconciler):
    """One periodic sync: (report, None) or (None, why it failed)."""
    try:
        return _sync(conf, reconciler), None
    except exception.ConfigError:
        raise  # no use retrying: the operator must fix the file.
    except exception.SyncError as e:
        # Placement down, a bad inventory file: say so, wait, retry.
        return None, str(e)
    except Exception:
        # A bug: a daemon logs it and carries on rather than dying.
        LOG.exception('sync failed unexpectedly')
        return None, 'unexpected error (logged above)'


def _until_stopped(func, stop):
    """func()'s result, or None when ``stop`` is set first.

    func runs in a daemon thread, so that SIGTERM during a request that
    hangs stops the process at once rather than after the timeout: the
    request is abandoned with the thread. Nothing is lost: every write
    carries its generation and a provider is complete before it joins an
    aggregate, so the next run takes over where this one stopped.
    """
    outcome = {}

    def run():
        try:
            outcome['value'] = func()
        except BaseException as e:
            outcome['error'] = e

    worker = threading.Thread(target=run, name='sync', daemon=True)
    worker.start()
    while worker.is_alive():
        if stop.wait(0.1):
            LOG.info('stopping in the middle of a sync')
            return None
    if 'error' in outcome:
        raise outcome['error']
    return outcome['value']


def stop_on_signals(stop):
    """Set ``stop`` on SIGTERM, SIGINT (Ctrl+C) and, on Windows, SIGBREAK
    (Ctrl+Break, which a console program can send to a process group it
    started: Python documents signal.SIGBREAK on Windows only).
    """
    for name in ('SIGTERM', 'SIGINT', 'SIGBREAK'):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda *a: stop.set())


def stop_on_file(path, stop):
    """Set ``stop`` once the file ``path`` exists, and remove it.

    Windows has no SIGTERM to send to another process: os.kill and
    ``taskkill /F`` end it with TerminateProcess, and Ctrl+C or Ctrl+Break
    reach only a process of the sender's console (Python's os.kill
    documentation), which a scheduled task has not. Creating this file is
    how an operator stops it cleanly. A leftover from a stop that found no
    process is removed first; ConfigError if it cannot be.
    """
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise exception.ConfigError(
            '--stop-file %s exists and cannot be removed, so it would stop '
            'the sync at once: %s' % (path, e))

    def watch():
        while not stop.wait(STOP_FILE_POLL_SECONDS):
            if os.path.exists(path):
                LOG.info('stop file %s found: stopping', path)
                try:
                    os.remove(path)
                except OSError as e:
                    LOG.error('cannot remove the stop file %s (the next '
                              'start will refuse to run): %s', path, e)
                stop.set()
    threading.Thread(target=watch, name='stop-file', daemon=True).start()


def _usage_problem(conf):
    """What is wrong with the command line beyond what oslo.config checks."""
    if conf.action == 'flavors':
        if conf.all == bool(conf.flavor):
            return 'flavors needs --all or flavor names (not both)'
    elif conf.flavor or conf.all:
        return ('flavor names and --all go with the flavors action only, '
                'got %s' % ' '.join(conf.flavor or ['--all']))
    return None


def run_report(conf):
    placement = clients.placement_client(conf)
    placement.check_api_root()
    clusters, names = [], None
    if conf.placement_sync.source in _MEASURING_SOURCES:
        clusters = sources.load_clusters(conf)
        names = instance_names(conf)
    headroom = conf.placement_sync.reserve_headroom_gb
    result = report_mod.gather(placement, clusters, headroom, names)
    if conf.format == 'json':
        print(report_mod.format_json(result))
    else:
        print(report_mod.format_report(result))
    return 0


def run_flavors(conf):
    converter = flavor_cmd.FlavorConverter(
        clients.compute_proxy_factory(conf))
    lines, ok = converter.convert(conf.flavor, conf.all, conf.dry_run)
    for line in lines:
        print(line)
    return 0 if ok else 1


def main(argv=None):
    conf = cfg.ConfigOpts()
    sync_conf.register_opts(conf)
    conf.register_cli_opts(cli_opts)
    logging.register_options(conf)
    # stdout carries the report; logs go to stderr unless a file is set.
    conf.set_default('use_stderr', True)
    try:
        conf(sys.argv[1:] if argv is None else argv, project='hvc',
             prog='hvc-placement-sync')
        # Values are checked when read: read them all now, before any work.
        for opt in sync_conf.sync_opts:
            getattr(conf.placement_sync, opt.dest)
    except (cfg.Error, ValueError) as e:
        print('hvc-placement-sync: %s' % e, file=sys.stderr)
        return 2
    except SystemExit as e:
        # argparse and oslo.config have printed why; oslo.config exits 1
        # on a bad option value, which is bad usage all the same.
        return 2 if e.code else 0
    logging.setup(conf, 'hvc-placement-sync')
    if (conf.once or conf.dry_run) and not conf.debug:
        # One-shot: stdout carries the changes; the log keeps to problems.
        py_logging.getLogger('placement_sync').setLevel(py_logging.WARNING)
    usage = _usage_problem(conf) or sync_conf.options_problem(conf)
    if usage:
        print('hvc-placement-sync: %s' % usage, file=sys.stderr)
        return 2
    try:
        if conf.action == 'report':
            return run_report(conf)
        if conf.action == 'flavors':
            return run_flavors(conf)
        reconciler = build_reconciler(conf)
        if conf.once or conf.dry_run:
            return run_once(conf, reconciler)
        stop = threading.Event()
        stop_on_signals(stop)
        if conf.stop_file:
            stop_on_file(conf.stop_file, stop)
        return run_periodic(conf, reconciler, stop)
    except exception.ConfigError as e:
        print('hvc-placement-sync: configuration error: %s' % e,
              file=sys.stderr)
        return 2
    except exception.SyncError as e:
        print('hvc-placement-sync: error: %s' % e, file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
