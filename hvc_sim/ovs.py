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

"""``ovs-vsctl`` on a simulated node: its Open vSwitch database is in the
simulated cluster's state file.
"""

import itertools

from oslo_concurrency import processutils


# What the simulated Open vSwitch accepts before a command.
_OVS_OPTIONS = ('--may-exist', '--if-exists')


def ovs_vsctl(state, node, args):
    """``ovs-vsctl ARGS`` on a simulated node, in one transaction.

    Knows the commands the driver runs: ``add-port BRIDGE PORT`` (the port
    of a vNIC of a VM the node runs, connected to a virtual switch), ``set
    Interface PORT external-ids:KEY=VALUE...`` and ``del-port [BRIDGE]
    PORT``, with ``--may-exist``, ``--if-exists`` and ``--timeout=N``.
    Fails as ovs-vsctl does: ProcessExecutionError, nothing changed.
    """
    cmdline = 'ovs-vsctl %s' % ' '.join(args)

    def fail(message):
        raise processutils.ProcessExecutionError(
            stdout='', stderr='ovs-vsctl: %s\n' % message, exit_code=1,
            cmd=cmdline)

    groups = [list(group) for is_sep, group in
              itertools.groupby(args, lambda a: a == '--') if not is_sep]

    def run(ports, nic_vswitches):
        for group in groups:
            opts = list(itertools.takewhile(lambda a: a.startswith('--'),
                                            group))
            for opt in opts:
                if not (opt in _OVS_OPTIONS or opt.startswith('--timeout=')):
                    fail('%s: option not known to the simulated Open '
                         'vSwitch' % opt)
            words = group[len(opts):]
            if not words:
                continue
            verb, params = words[0], words[1:]
            if verb == 'add-port' and len(params) == 2:
                bridge, name = params
                if name in ports:
                    if ('--may-exist' in opts and
                            ports[name]['bridge'] == bridge):
                        continue
                    fail('cannot create a port named %s because a port '
                         'named %s already exists on bridge %s'
                         % (name, name, ports[name]['bridge']))
                if name not in nic_vswitches:
                    fail("Error detected while setting up '%s': could not "
                         "open network device %s (No such device)"
                         % (name, name))
                ports[name] = {'bridge': bridge, 'external_ids': {}}
            elif verb == 'del-port' and len(params) in (1, 2):
                name = params[-1]
                if name not in ports:
                    if '--if-exists' in opts:
                        continue
                    fail('no port named %s' % name)
                del ports[name]
            elif (verb == 'set' and len(params) >= 3 and
                    params[0] == 'Interface'):
                name = params[1]
                if name not in ports:
                    fail('no row "%s" in table Interface' % name)
                for setting in params[2:]:
                    column, sep, value = setting.partition('=')
                    if not sep or not column.startswith('external-ids:'):
                        fail('%s: the simulated Open vSwitch sets only '
                             'external-ids:KEY=VALUE' % setting)
                    key = column[len('external-ids:'):]
                    ports[name]['external_ids'][key] = value
            else:
                fail('%s: not a command the simulated Open vSwitch knows'
                     % ' '.join(words))

    state.change_ovs_ports(node, run)
    return ''
