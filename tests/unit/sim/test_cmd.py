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

"""hvc-sim's VM commands, and old state files."""

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import time

import fixtures
import testtools

from hvc_oswin_api import constants
from hvc_sim import cmd
from hvc_sim import state as sim_state
from tests.unit.sim import fixtures as sim_fixtures


class TestVMCommands(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'cluster.sqlite')
        self.run_cmd('init', '--cluster', 'c1', '--node', 'n1', '--node',
                     'n2', '--csv', 'Volume1=100')
        self.state = sim_state.ClusterState(self.path)
        self.state.create_vm('instance-1', 'n2', 2, '/csv/instance-1',
                             notes=['uuid-1'], state=2)
        self.state.add_disk('instance-1', '/csv/instance-1/root.vhdx',
                            'SCSI0', 0, 'VHD')
        self.state.add_nic('instance-1', 'port-1', 'fa:16:3e:00:00:01')
        self.state.add_cluster_group('instance-1')

    def run_cmd(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cmd.main(['--state', self.path] + list(argv))
        return status, out.getvalue(), err.getvalue()

    def test_vms_lists_owner_state_and_clustering(self):
        status, out, _err = self.run_cmd('vms')
        self.assertEqual(0, status)
        line = out.splitlines()[1].split()
        self.assertEqual(['instance-1', 'n2', 'running', '1', '512', 'MB',
                          'yes'], line)
        status, out, _err = self.run_cmd('vms', '--node', 'n1', '--json')
        self.assertEqual([], json.loads(out))

    def test_vm_shows_disks_nics_and_group(self):
        status, out, _err = self.run_cmd('vm', 'instance-1')
        self.assertEqual(0, status)
        vm = json.loads(out)
        self.assertEqual('n2', vm['cluster_group']['owner_node'])
        self.assertEqual(['/csv/instance-1/root.vhdx'],
                         [d['path'] for d in vm['disks']])
        self.assertEqual(['port-1'], [n['name'] for n in vm['nics']])
        self.assertEqual(['uuid-1'], vm['notes'])
        self.assertEqual({}, vm['serial_ports'])
        self.state.set_serial_port('instance-1', 1, '\\\\.\\pipe\\x')
        status, out, _err = self.run_cmd('vm', 'instance-1')
        self.assertEqual({'1': '\\\\.\\pipe\\x'},
                         json.loads(out)['serial_ports'])
        status, _out, err = self.run_cmd('vm', 'nope')
        self.assertEqual(1, status)
        self.assertIn("no VM 'nope'", err)

    def test_fail_arms_a_fault(self):
        self.assertEqual(0, self.run_cmd('fail', 'vmutils.create_vm',
                                         '--count', '2')[0])
        self.assertEqual({'vmutils.create_vm': 2}, self.state.faults())
        self.assertIsNotNone(self.state.take_fault('vmutils.create_vm'))
        self.assertIsNotNone(self.state.take_fault('vmutils.create_vm'))
        self.assertIsNone(self.state.take_fault('vmutils.create_vm'))
        status, _out, err = self.run_cmd('fail', 'vmutils.crate_vm')
        self.assertEqual(1, status)
        self.assertIn("no simulated os-win method 'vmutils.crate_vm'", err)
        self.assertEqual({}, self.state.faults())

    def test_failover_moves_the_vm_and_its_group(self):
        self.assertEqual(0, self.run_cmd('failover', 'instance-1', 'n1')[0])
        self.assertEqual('n1', self.state.get_vm('instance-1').node)
        self.assertEqual('n1',
                         self.state.get_cluster_group('instance-1').owner_node)
        status, _out, err = self.run_cmd('failover', 'instance-1', 'n9')
        self.assertEqual(1, status)
        self.assertIn("no node 'n9'", err)

    def test_failover_to_its_own_node_is_refused(self):
        status, out, err = self.run_cmd('failover', 'instance-1', 'n2')
        self.assertEqual((1, ''), (status, out))
        self.assertEqual("hvc-sim: error: VM 'instance-1' is on n2 already: "
                         "a failover moves it to another node of its "
                         "cluster\n", err)
        self.assertEqual([], self.state.owner_changes('c1', 0))

    def test_drain_of_the_last_up_node_says_so(self):
        self.assertEqual(0, self.run_cmd('node-down', 'n1')[0])
        status, out, _err = self.run_cmd('drain', 'n2')
        self.assertEqual(0, status)
        self.assertEqual('instance-1 stays: cluster c1 has no other up node\n',
                         out)

    def test_a_node_with_vms_cannot_be_removed(self):
        status, _out, err = self.run_cmd('remove-node', 'n2')
        self.assertEqual(1, status)
        self.assertIn('still owns VMs: instance-1', err)
        self.assertEqual(0, self.run_cmd('remove-node', 'n1')[0])


class TestWorldCommands(TestVMCommands):

    def test_clusters_and_hosts(self):
        self.assertEqual(0, self.run_cmd(
            'add-cluster', '--cluster', 'c2', '--node', 'm1', '--node', 'm2',
            '--csv', 'Data=40')[0])
        self.assertEqual(0, self.run_cmd('add-host', 'solo')[0])
        status, out, err = self.run_cmd('add-node', 'n3')
        self.assertEqual(1, status)
        self.assertIn('holds the clusters c1, c2: name one', err)
        self.assertEqual(0, self.run_cmd('add-node', 'n3', '--cluster',
                                         'c1')[0])
        self.assertEqual(0, self.run_cmd('resize-csv', 'Data=80',
                                         '--cluster', 'c2')[0])
        world = json.loads(self.run_cmd('show', '--json')[1])
        self.assertEqual(
            [('c1', ['n1', 'n2', 'n3'], [('Volume1', 100)]),
             ('c2', ['m1', 'm2'], [('Data', 80)])],
            [(c['name'], [n['name'] for n in c['nodes']],
              [(v['name'], v['total_gb']) for v in c['shared_volumes']])
             for c in world['clusters']])
        self.assertEqual(['solo'], [h['name'] for h in world['hosts']])
        status, out, _err = self.run_cmd('show')
        self.assertIn('standalone hosts:', out)
        self.assertIn('cluster c2', out)


class TestOldStateFiles(testtools.TestCase):

    def test_a_file_of_one_cluster_is_refused_with_the_way_out(self):
        # Files of hvc-sim before the world of several clusters.
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'old.sqlite')
        conn = sqlite3.connect(path)
        conn.executescript('CREATE TABLE cluster (name TEXT, '
                           'schema_version INTEGER);'
                           "INSERT INTO cluster VALUES ('old', 2);")
        conn.commit()
        conn.close()
        err = self.assertRaises(sim_state.SimulatorError,
                                sim_state.ClusterState(path).nodes)
        self.assertIn('made by an older hvc-sim', str(err))
        self.assertIn('init', str(err))


class TestBadInput(testtools.TestCase):
    """hvc-sim refuses what placement_sync would refuse, and a state file
    it cannot use, with one line and exit status 1; it never creates a
    file a command only reads.
    """

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.tmp, 'cluster.sqlite')

    def run_cmd(self, *argv, path=None):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = cmd.main(['--state', path or self.path] +
                                  list(argv))
            except SystemExit as e:  # argparse's usage errors
                status = e.code
        return status, out.getvalue(), err.getvalue()

    def assertRefused(self, message, *argv, status=1, path=None):
        got, out, err = self.run_cmd(*argv, path=path)
        self.assertEqual(status, got, (out, err))
        self.assertIn(message, err)
        self.assertNotIn('Traceback', err)
        # argparse's usage errors (status 2) come after the usage lines.
        lines = [line for line in err.strip().splitlines()
                 if status == 1 or not line.startswith(('usage:', ' '))]
        self.assertEqual(1, len(lines), err)

    def test_names_and_sizes(self):
        self.assertRefused('needs a name', 'init', '--cluster', 'c',
                           '--node', '', '--csv', 'V=10')
        self.assertRefused('needs a name', 'init', '--cluster', ' ',
                           '--node', 'n1')
        self.assertRefused("must not contain ':'", 'init', '--cluster',
                           'a:b', '--node', 'n1')
        self.assertRefused('listed 2 times', 'init', '--cluster', 'c',
                           '--node', 'n1', '--node', 'n1')
        self.assertRefused('at least 1', 'init', '--cluster', 'c',
                           '--node', 'n1', '--vcpus', '0')
        self.assertRefused('NAME=TOTAL_GB', 'init', '--cluster', 'c',
                           '--node', 'n1', '--csv', 'V=0', status=2)
        self.assertRefused('between 1 and 2147483647', 'init', '--cluster',
                           'c', '--node', 'n1', '--csv', 'V=%d' % 2 ** 63)
        self.assertFalse(os.path.exists(self.path))
        self.assertEqual(0, self.run_cmd('init', '--cluster', 'c', '--node',
                                         'n1', '--csv', 'V=10')[0])
        self.assertRefused('exists already', 'add-node', 'N1')
        self.assertRefused('needs a name', 'add-node', '')
        self.assertRefused('NAME=TOTAL_GB', 'add-csv', '=10', status=2)
        self.assertRefused('between 1 and', 'resize-csv',
                           'V=%d' % 2 ** 31)
        self.assertRefused('at least 1', 'fail', 'vmutils.create_vm',
                           '--count', '0')

    def test_a_missing_state_file_is_not_created_by_a_read(self):
        for argv in (['show'], ['vms'], ['vm', 'x'], ['add-node', 'n'],
                     ['failover', 'vm', 'n']):
            self.assertRefused('the file does not exist', *argv)
            self.assertFalse(os.path.exists(self.path))

    def test_a_state_file_it_cannot_use(self):
        not_sqlite = os.path.join(self.tmp, 'notes.txt')
        with open(not_sqlite, 'w') as f:
            f.write('these are my notes, not a cluster\n' * 100)
        self.assertRefused('not a simulated cluster state file', 'show',
                           path=not_sqlite)
        self.assertEqual(0, self.run_cmd('init', '--cluster', 'c', '--node',
                                         'n1', '--csv', 'V=10')[0])
        self.run_cmd('show')
        truncated = os.path.join(self.tmp, 'truncated.sqlite')
        with open(self.path, 'rb') as src, open(truncated, 'wb') as dest:
            dest.write(src.read()[:1000])
        self.assertRefused('cannot use the simulated cluster state file',
                           'show', path=truncated)
        # Locked by another process's transaction for longer than a
        # change waits.
        self.useFixture(fixtures.MockPatch(
            'hvc_sim.state.db.LOCK_TIMEOUT', 0.2))
        holder = sqlite3.connect(self.path, isolation_level=None)
        holder.execute('BEGIN EXCLUSIVE')
        try:
            self.assertRefused('another process holds it locked',
                               'add-node', 'n2')
        finally:
            holder.execute('ROLLBACK')
            holder.close()

    def test_a_read_only_state_file(self):
        self.assertEqual(0, self.run_cmd('init', '--cluster', 'c', '--node',
                                         'n1')[0])
        if os.geteuid() == 0:
            # root ignores permissions, not the immutable attribute.
            if subprocess.call(['chattr', '+i', self.path],
                               stderr=subprocess.DEVNULL):
                self.skipTest('cannot make a read-only file as root here')
            self.addCleanup(subprocess.call, ['chattr', '-i', self.path])
        else:
            os.chmod(self.path, 0o444)
        self.assertRefused('cannot be written', 'add-node', 'n2')


class TestCommands(testtools.TestCase):
    """hvc-sim node-down, node-up, drain, resume and failover."""

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                 'cluster.sqlite')
        self.state = sim_state.ClusterState(self.path)
        self.state.init('c1', ['n1', 'n2'], [('Volume1', 100)])
        self.state.create_vm('instance-1', 'n2', 2, '/csv/instance-1',
                             state=constants.HYPERV_VM_STATE_ENABLED)
        self.state.add_cluster_group('instance-1')

    run_cmd = TestVMCommands.run_cmd

    def test_failover_restarts_the_vm(self):
        before = time.time()
        self.assertEqual(0, self.run_cmd('failover', 'instance-1', 'n1')[0])
        vm = self.state.get_vm('instance-1')
        self.assertEqual('n1', vm.node)
        self.assertGreaterEqual(vm.started_at, before)

    def test_node_down_and_up(self):
        status, out, _err = self.run_cmd('node-down', 'n2')
        self.assertEqual((0, 'instance-1 -> n1\n'), (status, out))
        self.assertEqual('down', self.state.node('n2').state)
        self.assertEqual(0, self.run_cmd('node-up', 'n2')[0])
        status, _out, err = self.run_cmd('node-up', 'n2')
        self.assertEqual((1, 'hvc-sim: error: node n2 is up\n'),
                         (status, err))

    def test_isolate_quarantine_and_heal(self):
        self.assertEqual((0, ''), self.run_cmd('isolate', 'n2')[:2])
        self.assertEqual('isolated', self.state.node('n2').state)
        self.assertEqual('n2', self.state.get_vm('instance-1').node)
        self.assertEqual((0, 'instance-1 -> n1\n'),
                         self.run_cmd('quarantine', 'n2')[:2])
        self.assertEqual('quarantined', self.state.node('n2').state)
        self.assertEqual((0, 'instance-1 -> n2\n'),
                         self.run_cmd('heal', 'n2', '--failback')[:2])
        status, _out, err = self.run_cmd('heal', 'n2')
        self.assertEqual((1, 'hvc-sim: error: node n2 is up\n'),
                         (status, err))

    def test_drain_and_resume_with_failback(self):
        self.assertEqual((0, 'instance-1 -> n1\n'),
                         self.run_cmd('drain', 'n2')[:2])
        self.assertEqual('paused', self.state.node('n2').state)
        self.assertEqual((0, 'instance-1 -> n2\n'),
                         self.run_cmd('resume', 'n2', '--failback')[:2])


class TestFaultCommand(sim_fixtures.WorldTestCase):

    def test_hvc_sim_fail_arms_the_new_methods(self):
        for method in ('livemigrationutils.live_migrate_vm_with_storage',
                       'livemigrationutils.check_live_migration_config',
                       'diskutils.get_disk_capacity'):
            with contextlib.redirect_stderr(io.StringIO()):
                self.assertEqual(0, cmd.main(['--state', self.state.path,
                                              'fail', method]))
            self.assertEqual(1, self.state.faults()[method])
