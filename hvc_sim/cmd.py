"""``hvc-sim``: create and inspect a simulated Hyper-V cluster."""

import argparse
import json
import sys

from hvc_sim import state as sim_state


def _volume_arg(text):
    name, sep, size = text.partition('=')
    if not sep or not name or not size.isdigit() or int(size) < 1:
        raise argparse.ArgumentTypeError(
            'expected NAME=TOTAL_GB with TOTAL_GB a whole number > 0, got %r'
            % text)
    return name, int(size)


def build_parser():
    parser = argparse.ArgumentParser(
        prog='hvc-sim', description='Create and inspect a simulated Hyper-V '
        'failover cluster (its state is one sqlite file).')
    parser.add_argument('--state', required=True, metavar='FILE',
                        help='the state file of the simulated cluster')
    sub = parser.add_subparsers(dest='command', required=True)

    init = sub.add_parser('init', help='create a cluster')
    init.add_argument('--cluster', required=True, metavar='NAME')
    init.add_argument('--node', action='append', required=True,
                      metavar='NAME', help='a node (repeat for each)')
    init.add_argument('--csv', action='append', default=[], type=_volume_arg,
                      metavar='NAME=TOTAL_GB',
                      help='a Cluster Shared Volume (repeat for each)')
    init.add_argument('--vcpus', type=int,
                      default=sim_state.DEFAULT_NODE_VCPUS,
                      help='logical CPUs of each node')
    init.add_argument('--memory-mb', type=int,
                      default=sim_state.DEFAULT_NODE_MEMORY_MB,
                      help='memory of each node, in MB')

    show = sub.add_parser('show', help='print the cluster')
    show.add_argument('--json', action='store_true')

    sub.add_parser('add-node', help='join a node').add_argument('name')
    sub.add_parser('remove-node', help='evict a node').add_argument('name')
    add_csv = sub.add_parser('add-csv', help='add a Cluster Shared Volume')
    add_csv.add_argument('volume', type=_volume_arg, metavar='NAME=TOTAL_GB')
    resize = sub.add_parser('resize-csv', help='grow or shrink a CSV')
    resize.add_argument('volume', type=_volume_arg, metavar='NAME=TOTAL_GB')
    sub.add_parser('remove-csv', help='remove a CSV').add_argument('name')
    return parser


def describe(state):
    """The cluster as a JSON-able dict."""
    return {
        'cluster': state.cluster_name(),
        'nodes': [vars(n) for n in state.nodes()],
        'shared_volumes': [dict(vars(v), path=v.path)
                           for v in state.shared_volumes()],
    }


def _print_text(info):
    print('cluster %s' % info['cluster'])
    print('  nodes:')
    for n in info['nodes']:
        print('    %-20s %-5s %3d vCPU %8d MB' % (
            n['name'], n['state'], n['vcpus'], n['memory_mb']))
    print('  shared volumes:')
    for v in info['shared_volumes']:
        print('    %-20s %6d GB  %s  id %s' % (
            v['name'], v['total_gb'], v['path'], v['id']))


def main(argv=None):
    args = build_parser().parse_args(argv)
    state = sim_state.ClusterState(args.state)
    try:
        if args.command == 'init':
            state.init(args.cluster, args.node, args.csv,
                       vcpus=args.vcpus, memory_mb=args.memory_mb)
        elif args.command == 'add-node':
            state.add_node(args.name)
        elif args.command == 'remove-node':
            state.remove_node(args.name)
        elif args.command == 'add-csv':
            state.add_volume(*args.volume)
        elif args.command == 'resize-csv':
            state.resize_volume(*args.volume)
        elif args.command == 'remove-csv':
            state.remove_volume(args.name)
        if args.command == 'show' and args.json:
            print(json.dumps(describe(state), indent=2))
        elif args.command in ('show', 'init'):
            _print_text(describe(state))
    except sim_state.SimulatorError as e:
        print('hvc-sim: error: %s' % e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
