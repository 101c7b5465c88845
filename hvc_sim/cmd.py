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

"""``hvc-sim``: create, change and inspect a simulated Hyper-V world:
failover clusters with their nodes and CSVs, standalone hosts, VMs.
"""

import argparse
import json
import sys

from hvc_sim.oswin import utilsfactory
from hvc_sim import state as sim_state


def _volume_arg(text):
    name, sep, size = text.partition('=')
    if not sep or not name or not size.isdigit() or int(size) < 1:
        raise argparse.ArgumentTypeError(
            'expected NAME=TOTAL_GB with TOTAL_GB a whole number > 0, got %r'
            % text)
    return name, int(size)


def _size_arg(text):
    try:
        return sim_state.parse_size(text)
    except sim_state.SimulatorError as e:
        raise argparse.ArgumentTypeError(str(e))


def describe_usage(state, cluster=None):
    """Each CSV's size and what its files really take, in bytes."""
    clusters = [cluster] if cluster else state.clusters()
    rows = []
    for name in clusters:
        for volume in state.shared_volumes(cluster=name):
            total = volume.total_gb * 1024 ** 3
            used = sim_state.folder_physical_bytes(volume.path)
            rows.append({'cluster': name, 'name': volume.name,
                         'path': volume.path, 'total_bytes': total,
                         'used_bytes': used,
                         'free_bytes': max(total - used, 0)})
    return rows


def _print_usage(rows):
    gib = float(1024 ** 3)
    print('%-16s %-16s %10s %10s %10s' % ('CLUSTER', 'CSV', 'SIZE GB',
                                          'USED GB', 'FREE GB'))
    for row in rows:
        print('%-16s %-16s %10.1f %10.1f %10.1f' % (
            row['cluster'], row['name'], row['total_bytes'] / gib,
            row['used_bytes'] / gib, row['free_bytes'] / gib))


def _cluster_args(parser, required):
    parser.add_argument('--cluster', required=required, metavar='NAME')
    parser.add_argument('--node', action='append', required=required,
                        default=[], metavar='NAME',
                        help='a node (repeat for each)')
    parser.add_argument('--csv', action='append', default=[],
                        type=_volume_arg, metavar='NAME=TOTAL_GB',
                        help='a Cluster Shared Volume (repeat for each)')
    _size_args(parser)


def _size_args(parser):
    parser.add_argument('--vcpus', type=int,
                        default=sim_state.DEFAULT_NODE_VCPUS,
                        help='logical CPUs of each node')
    parser.add_argument('--memory-mb', type=int,
                        default=sim_state.DEFAULT_NODE_MEMORY_MB,
                        help='memory of each node, in MB')


def _in_cluster(parser):
    parser.add_argument('--cluster', metavar='NAME',
                        help='the cluster (needed when there are several)')
    return parser


def build_parser():
    parser = argparse.ArgumentParser(
        prog='hvc-sim', description='Create and inspect a simulated Hyper-V '
        'world: failover clusters, standalone hosts and their VMs (its '
        'state is one sqlite file; each CSV is a folder beside it).')
    parser.add_argument('--state', required=True, metavar='FILE',
                        help='the state file of the simulated world')
    sub = parser.add_subparsers(dest='command', required=True)

    _cluster_args(sub.add_parser('init', help='create the world with a '
                                 'first cluster'), required=True)
    _cluster_args(sub.add_parser('add-cluster', help='add another failover '
                                 'cluster'), required=True)
    host = sub.add_parser('add-host', help='add a standalone Hyper-V host, '
                          'in no cluster')
    host.add_argument('name')
    _size_args(host)

    show = sub.add_parser('show', help='print the clusters and hosts')
    show.add_argument('--json', action='store_true')

    add_node = _in_cluster(sub.add_parser('add-node', help='join a node'))
    add_node.add_argument('name')
    _size_args(add_node)
    sub.add_parser('remove-node', help='evict a node').add_argument('name')
    add_csv = _in_cluster(sub.add_parser('add-csv',
                                         help='add a Cluster Shared Volume'))
    add_csv.add_argument('volume', type=_volume_arg, metavar='NAME=TOTAL_GB')
    resize = _in_cluster(sub.add_parser('resize-csv',
                                        help='grow or shrink a CSV'))
    resize.add_argument('volume', type=_volume_arg, metavar='NAME=TOTAL_GB')
    _in_cluster(sub.add_parser('remove-csv',
                               help='remove a CSV')).add_argument('name')

    df = _in_cluster(sub.add_parser(
        'df', help='what each CSV really holds: size, used, free'))
    df.add_argument('--json', action='store_true')
    add_file = _in_cluster(sub.add_parser(
        'add-file', help='put a file that is no VM disk on a CSV (an image '
        'cache, an upload, an administrator\'s file), of SIZE bytes (512M, '
        '20G)'))
    add_file.add_argument('volume', metavar='CSV')
    add_file.add_argument('path', metavar='PATH',
                          help='where on the CSV, e.g. backups/db.bak')
    add_file.add_argument('size', type=_size_arg, metavar='SIZE')
    remove_file = _in_cluster(sub.add_parser(
        'remove-file', help='remove a file from a CSV'))
    remove_file.add_argument('volume', metavar='CSV')
    remove_file.add_argument('path', metavar='PATH')
    write = sub.add_parser(
        'write-disk', help='a guest wrote into a dynamic or differencing '
        'disk: it now takes SIZE on its CSV')
    write.add_argument('path', metavar='DISK_FILE')
    write.add_argument('size', type=_size_arg, metavar='SIZE')

    vms = sub.add_parser('vms', help='list the VMs')
    vms.add_argument('--node', help='only the VMs this node runs')
    vms.add_argument('--json', action='store_true')
    vm = sub.add_parser('vm', help='show one VM: disks, NICs, cluster group')
    vm.add_argument('name')
    move = sub.add_parser(
        'failover', help='move a clustered VM (and its group) to another '
        'node of its cluster, as the failover cluster does when its node '
        'fails: a VM that runs restarts there')
    move.add_argument('vm')
    move.add_argument('node')
    sub.add_parser(
        'node-down', help='a node fails: the cluster restarts its VMs on '
        'the other nodes, each where the most memory is free; one that '
        'fits nowhere stays off, its group Failed').add_argument('node')
    up = sub.add_parser('node-up', help='a node that was down is up again')
    up.add_argument('node')
    sub.add_parser(
        'drain', help='pause a node and live-migrate its VMs to the other '
        'nodes (Suspend-ClusterNode -Drain); a paused node takes no VMs'
    ).add_argument('node')
    resume = sub.add_parser('resume', help='a paused node takes VMs again '
                            '(Resume-ClusterNode)')
    resume.add_argument('node')
    sub.add_parser(
        'isolate', help='a node loses touch with its cluster (Windows '
        'Server 2016+): out of the membership, it takes no VM while its VMs '
        'go on running there; node-down ends it as the cluster does after '
        'its resiliency period').add_argument('node')
    sub.add_parser(
        'quarantine', help='a node that left its cluster too often is kept '
        'out (Windows Server 2016+): its VMs live-migrate to the other '
        'nodes').add_argument('node')
    heal = sub.add_parser(
        'heal', help='an isolated node is in touch again, a quarantined one '
        'let back in (Start-ClusterNode -ClearQuarantine): up')
    heal.add_argument('node')
    for back in (up, resume, heal):
        back.add_argument('--failback', action='store_true',
                          help='bring back the VMs that left the node when '
                          'it went down, was drained or quarantined')
    sub.add_parser(
        'group-move-seconds', help='how long the clusters take to move a VM '
        'group from now on (live or offline), as a real cluster\'s moves '
        'take their time; a caller that goes away meanwhile does not stop '
        'the move (by default a live move is done at once and an offline '
        'one takes %s s, as Windows completes it after the call returns)'
        % sim_state.OFFLINE_MOVE_SECONDS
    ).add_argument('seconds', type=float)
    fail = sub.add_parser(
        'fail', help='make the next call(s) of a simulated os-win method '
        'fail, e.g. "vmutils.create_vm"')
    fail.add_argument('method', metavar='KIND.METHOD')
    fail.add_argument('--count', type=int, default=1,
                      help='how many calls fail (default 1)')
    return parser


def describe(state):
    """The world as a JSON-able dict: clusters, then standalone hosts."""
    nodes = state.nodes()
    volumes = state.shared_volumes()
    return {
        'clusters': [{
            'name': cluster,
            'nodes': [_node(n) for n in nodes if n.cluster == cluster],
            'shared_volumes': [vars(v) for v in volumes
                               if v.cluster == cluster],
        } for cluster in state.clusters()],
        'hosts': [_node(n) for n in nodes if n.cluster is None],
    }


def _node(node):
    return {'name': node.name, 'state': node.state, 'vcpus': node.vcpus,
            'memory_mb': node.memory_mb}


_POWER_STATES = {sim_state.VM_STATE_ENABLED: 'running',
                 sim_state.VM_STATE_DISABLED: 'off',
                 sim_state.VM_STATE_SHUTTING_DOWN: 'stopping',
                 sim_state.VM_STATE_REBOOT: 'rebooting',
                 sim_state.VM_STATE_PAUSED: 'paused',
                 sim_state.VM_STATE_SUSPENDED: 'saved'}


def describe_vm(state, vm):
    """One VM as a JSON-able dict, with its disks, NICs and cluster group."""
    group = state.get_cluster_group(vm.name)
    vswitches = state.nic_vswitches(vm_name=vm.name)
    vlans = state.nic_vlans(vm.name)
    # The node's Open vSwitch ports named after the VM's NICs.
    ovs_ports = {p.name: p for p in state.ovs_ports(vm.node)}

    def ovs_port(name):
        port = ovs_ports.get(name)
        return None if port is None else {
            'bridge': port.bridge, 'external_ids': port.external_ids}
    return {
        'name': vm.name,
        'id': vm.id,
        'node': vm.node,
        'state': _POWER_STATES.get(vm.state, str(vm.state)),
        'generation': vm.generation,
        'vcpus': vm.vcpus,
        'memory_mb': vm.memory_mb,
        'notes': list(vm.notes),
        'instance_path': vm.instance_path,
        'disks': [{'path': d.path, 'controller': d.controller,
                   'slot': d.slot, 'type': d.drive_type}
                  for d in state.disks(vm.name)],
        'nics': [{'name': n.name, 'mac_address': n.mac_address,
                  'vswitch': vswitches.get(n.name),
                  'vlan': vlans.get(n.name),
                  'ovs_port': ovs_port(n.name),
                  # Its switch port's extended ACLs, highest weight first.
                  'acls': sorted(state.nic_acls(vm.name, n.name),
                                 key=lambda acl: -acl['Weight'])}
                 for n in state.nics(vm.name)],
        'serial_ports': {str(number): connection for number, connection in
                         sorted(state.serial_ports(vm.name).items())},
        'cluster_group': None if group is None else {
            'id': group.id, 'owner_node': group.owner_node},
    }


def _print_vms(vms):
    print('%-20s %-12s %-9s %5s %8s %s' % ('VM', 'NODE', 'STATE', 'VCPU',
                                           'MEMORY', 'CLUSTERED'))
    for vm in vms:
        print('%-20s %-12s %-9s %5d %6d MB %s' % (
            vm['name'], vm['node'], vm['state'], vm['vcpus'],
            vm['memory_mb'], 'yes' if vm['cluster_group'] else 'no'))


def _check_faultable(name):
    """A typo would arm a fault that never fires: refuse it."""
    kind, _sep, method = name.partition('.')
    cls = utilsfactory.UTILS_CLASSES.get(kind)
    if (cls is None or method.startswith('_') or
            not callable(getattr(cls, method, None))):
        raise sim_state.SimulatorError(
            'no simulated os-win method %r: use KIND.METHOD with KIND one '
            'of %s, e.g. vmutils.create_vm'
            % (name, ', '.join(sorted(utilsfactory.UTILS_CLASSES))))


def _print_placements(placements):
    for placement in placements:
        if placement.node:
            print('%s -> %s' % (placement.vm_name, placement.node))
        else:
            print('%s stays: %s' % (placement.vm_name, placement.reason))


def _print_text(info):
    for cluster in info['clusters']:
        print('cluster %s' % cluster['name'])
        print('  nodes:')
        for n in cluster['nodes']:
            _print_node(n)
        print('  shared volumes:')
        for v in cluster['shared_volumes']:
            print('    %-20s %6d GB  %s  id %s' % (
                v['name'], v['total_gb'], v['path'], v['id']))
    if info['hosts']:
        print('standalone hosts:')
        for n in info['hosts']:
            _print_node(n)


def _print_node(node):
    print('    %-20s %-11s %3d vCPU %8d MB' % (
        node['name'], node['state'], node['vcpus'], node['memory_mb']))


def main(argv=None):
    args = build_parser().parse_args(argv)
    state = sim_state.ClusterState(args.state)
    try:
        if args.command == 'init':
            state.init(args.cluster, args.node, args.csv,
                       vcpus=args.vcpus, memory_mb=args.memory_mb)
        elif args.command == 'add-cluster':
            state.add_cluster(args.cluster, args.node, args.csv,
                              vcpus=args.vcpus, memory_mb=args.memory_mb)
        elif args.command == 'add-host':
            state.add_host(args.name, vcpus=args.vcpus,
                           memory_mb=args.memory_mb)
        elif args.command == 'add-node':
            state.add_node(args.name, vcpus=args.vcpus,
                           memory_mb=args.memory_mb, cluster=args.cluster)
        elif args.command == 'remove-node':
            state.remove_node(args.name)
        elif args.command == 'add-csv':
            state.add_volume(*args.volume, cluster=args.cluster)
        elif args.command == 'resize-csv':
            state.resize_volume(*args.volume, cluster=args.cluster)
        elif args.command == 'remove-csv':
            state.remove_volume(args.name, cluster=args.cluster)
        elif args.command == 'failover':
            state.move_vm(args.vm, args.node, restart=True)
        elif args.command == 'node-down':
            _print_placements(state.node_down(args.node))
        elif args.command == 'drain':
            _print_placements(state.drain(args.node))
        elif args.command == 'node-up':
            _print_placements(state.node_up(args.node, args.failback))
        elif args.command == 'resume':
            _print_placements(state.resume(args.node, args.failback))
        elif args.command == 'isolate':
            state.isolate(args.node)
        elif args.command == 'quarantine':
            _print_placements(state.quarantine(args.node))
        elif args.command == 'heal':
            _print_placements(state.heal(args.node, args.failback))
        elif args.command == 'group-move-seconds':
            state.set_group_move_seconds(args.seconds)
        elif args.command == 'fail':
            _check_faultable(args.method)
            state.arm_fault(args.method, args.count)
        elif args.command == 'df':
            rows = describe_usage(state, args.cluster)
            if args.json:
                print(json.dumps(rows, indent=2))
            else:
                _print_usage(rows)
        elif args.command == 'add-file':
            print(state.add_file(args.volume, args.path, args.size,
                                 cluster=args.cluster))
        elif args.command == 'remove-file':
            state.remove_file(args.volume, args.path, cluster=args.cluster)
        elif args.command == 'write-disk':
            state.write_to_disk(args.path, args.size)
        elif args.command == 'vms':
            state.clusters()  # a clear error when there is no world
            vms = [describe_vm(state, vm) for vm in state.vms(args.node)]
            if args.json:
                print(json.dumps(vms, indent=2))
            else:
                _print_vms(vms)
        elif args.command == 'vm':
            vm = state.get_vm(args.name)
            if vm is None:
                raise sim_state.SimulatorError('no VM %r' % args.name)
            print(json.dumps(describe_vm(state, vm), indent=2))
        if args.command == 'show' and args.json:
            print(json.dumps(describe(state), indent=2))
        elif args.command in ('show', 'init', 'add-cluster'):
            _print_text(describe(state))
    except sim_state.SimulatorError as e:
        print('hvc-sim: error: %s' % e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
