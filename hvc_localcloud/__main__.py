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

"""``python -m hvc_localcloud start|stop|status``: the local cloud.

    install install the Debian packages the cloud runs (as root)
    start   install what is missing, start every service, wait until a
            server can be booted, write ROOT/openrc and return
    stop    stop everything the cloud in ROOT started
    status  what runs, with pids, ports and memory
"""

import argparse
import os
import signal
import sys
import time

from hvc_localcloud import cloud as cloud_mod
from hvc_localcloud import debian
from hvc_localcloud import neutron
from hvc_localcloud import procs

DEFAULT_ROOT = '.cloud'


def _wait_for_exit(pid):
    record = {'pid': pid, 'start_time': procs.start_time(pid)}
    while procs.alive(record):
        time.sleep(1)


def status(cloud, out=sys.stdout):
    processes = cloud.processes()
    if not processes:
        print('no cloud runs in %s' % cloud.root, file=out)
        return 1
    print('%-34s %8s %6s %10s' % ('SERVICE', 'PID', 'STATE', 'MEMORY'),
          file=out)
    dead = 0
    for name, record in processes.items():
        alive = procs.alive(record)
        dead += not alive
        print('%-34s %8d %6s %7.0f MB' % (
            name, record['pid'], 'up' if alive else 'DEAD',
            procs.rss_mb(record['pid']) if alive else 0), file=out)
    print('ports: %s' % ', '.join('%s %d' % kv for kv in
                                  sorted(cloud.ports.items())), file=out)
    if dead:
        print('%d process(es) died; their logs are in %s' % (
            dead, os.path.join(cloud.root, 'log')), file=out)
    return 1 if dead else 0


def usage(cloud, root_arg):
    driver = cloud.state.get('driver', cloud.driver)
    return '''\
The local cloud runs (started in {seconds} s; {driver} compute driver).

    source {root}/openrc
    openstack server create --image {image} --flavor hvc.tiny {nic} --wait vm1
    openstack server list --long
    openstack resource provider list
    hvc-sim --state $HVC_SIM_STATE vms

Logs: {root}/log/   Status: python -m hvc_localcloud status --root {root}
Stop: make cloud-stop  (python -m hvc_localcloud stop --root {root})'''.format(
        seconds=cloud.state.get('start_seconds', '?'),
        driver=driver, root=root_arg, image=cloud_mod.IMAGE_NAME,
        # nova's fake driver runs no neutron agent: no port is bound.
        nic=('--nic none' if driver == 'fake'
             else '--network %s' % neutron.NETWORK))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m hvc_localcloud',
        description='A local OpenStack cloud on the simulated Hyper-V '
        'clusters: every service in its own process on 127.0.0.1.')
    parser.add_argument('command',
                        choices=('start', 'stop', 'status', 'install'))
    parser.add_argument('--root', default=DEFAULT_ROOT,
                        help='the cloud\'s folder (default: %(default)s)')
    parser.add_argument('--driver', choices=sorted(
        cloud_mod.nova.DRIVERS), default='hyperv',
        help='the nova-compute driver: the Hyper-V cluster driver on the '
             'simulated clusters, or nova\'s fake.SmallFakeDriver')
    parser.add_argument('--eventlet', action='store_true',
                        help='run nova-compute with concurrency_backend = '
                             'eventlet instead of native threads')
    parser.add_argument('--debug', action='store_true',
                        help='debug logging in every service')
    parser.add_argument('--after-pid', type=int, metavar='PID',
                        help='stop: first wait until process PID has ended '
                             '(a watchdog for test runs)')
    args = parser.parse_args(argv)
    cloud = cloud_mod.Cloud(args.root, driver=args.driver,
                            eventlet=args.eventlet, debug=args.debug)
    if args.command == 'install':
        try:
            debian.ensure_installed()
        except debian.InstallError as e:
            print('error: %s' % e, file=sys.stderr)
            return 1
        return 0
    if args.command == 'status':
        return status(cloud)
    if args.command == 'stop':
        if args.after_pid:
            _wait_for_exit(args.after_pid)
            cloud = cloud_mod.Cloud(args.root)  # what runs by now
        if not cloud.processes():
            print('no cloud runs in %s' % cloud.root)
            return 0
        killed = cloud.stop()
        print('stopped the cloud in %s%s' % (
            cloud.root, '' if not killed else
            ' (killed after a timeout: %s)' % ', '.join(killed)))
        return 0
    # A stop from elsewhere (or a watchdog) ends a start with SIGTERM: the
    # start then stops what it had started.
    signal.signal(signal.SIGTERM, lambda *_args: sys.exit(143))
    try:
        cloud.start()
    except cloud_mod.AlreadyRunning as e:
        print(e)
        print(usage(cloud, args.root))
        return 0
    except (procs.StartError, RuntimeError) as e:
        print('error: %s' % e, file=sys.stderr)
        return 1
    print(usage(cloud, args.root))
    return 0


if __name__ == '__main__':
    sys.exit(main())
