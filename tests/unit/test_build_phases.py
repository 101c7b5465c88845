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

"""tools/build_phases.py: a build's phases read from the cloud's logs."""

import importlib.util
import logging
import os
import tempfile

import fixtures
import testtools

from nova.compute import provider_tree

from hvc_driver import hostops
from hvc_driver import hyperv
from tests.unit.driver import fixtures as driver_fixtures

_TOOL = os.path.join(os.path.dirname(__file__), '..', '..', 'tools',
                     'build_phases.py')
_spec = importlib.util.spec_from_file_location('build_phases', _TOOL)
build_phases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_phases)

REQ = 'req-0b1c2d3e-0000-4000-8000-000000000001'
CTX = '[None %s 6c1f user project - - default default]' % REQ
UUID = '[instance: 9a1c2d3e-0000-4000-8000-00000000000a]'
PID = 4242


def _line(at, logger, message, level='INFO', context=CTX):
    return '2026-12-02 15:00:%06.3f %d %s %s %s %s\n' % (
        at, PID, level, logger, context, message)


# One build as nova 34 logs it with the local cloud's log levels.
LOGS = {
    'nova-api.log': [
        _line(1.0, 'nova.api.openstack.requestlog',
              '127.0.0.1 "POST /v2.1/servers" status: 202 len: 372 '
              'microversion: 2.95 time: 0.500000')],
    'nova-scheduler.log': [
        _line(3.0, 'oslo_concurrency.lockutils',
              'Lock "hv-a1-hv-a1" acquired by "nova.scheduler.host_manager.'
              'HostState.consume_from_request.<locals>._locked" :: waited '
              '0.000s inner /x/lockutils.py:525', 'DEBUG')],
    'nova-compute-hv-a1.log': [
        _line(3.5, 'oslo_concurrency.lockutils',
              'Lock "9a1c2d3e-0000-4000-8000-00000000000a" acquired by "nova.'
              'compute.manager.ComputeManager.build_and_run_instance.<locals>'
              '._locked_do_build_and_run_instance" :: waited 0.000s inner '
              '/x/lockutils.py:525', 'DEBUG'),
        # The periodic task holds the lock 2 s, without a request.
        _line(6.0, 'oslo_concurrency.lockutils',
              'Lock "compute_resources" "released" by "nova.compute.'
              'resource_tracker.ResourceTracker._update_available_resource" '
              ':: held 2.000s inner /x/lockutils.py:544', 'DEBUG',
              context='[None req-0b1c2d3e-0000-4000-8000-0000000000ff - - - '
                      '- - -]'),
        _line(6.0, 'oslo_concurrency.lockutils',
              'Lock "compute_resources" acquired by "nova.compute.'
              'resource_tracker.ResourceTracker.instance_claim" :: waited '
              '1.500s inner /x/lockutils.py:525', 'DEBUG'),
        _line(6.1, 'nova.compute.claims', UUID + ' Claim successful on '
              'node hv-a1'),
        _line(6.3, 'hvc_driver.hostops', 'The driver\'s '
              'update_provider_tree of node hv-a1 took 0.040 s', 'DEBUG'),
        _line(6.5, 'oslo_concurrency.lockutils',
              'Lock "compute_resources" "released" by "nova.compute.'
              'resource_tracker.ResourceTracker.instance_claim" :: held '
              '0.500s inner /x/lockutils.py:544', 'DEBUG'),
        _line(7.5, 'nova.compute.manager', UUID + ' Took 0.75 seconds to '
              'spawn the instance on the hypervisor.'),
        _line(7.75, 'nova.compute.manager', UUID + ' Took 3.75 seconds to '
              'build instance.')],
}


class TestBuildPhases(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.folder = self.useFixture(fixtures.TempDir()).path
        for name, lines in LOGS.items():
            with open(os.path.join(self.folder, name), 'w') as f:
                f.writelines(lines)

    def test_one_build_phase_by_phase(self):
        parsed = build_phases.parse(self.folder)
        self.assertEqual([REQ], list(parsed['builds']))
        got = build_phases.phases(parsed['builds'][REQ])
        want = {'api': 0.5, 'schedule': 2.0, 'to compute': 0.5,
                'build slot': 0.5, 'pre-claim': 0.5, 'claim wait': 1.5,
                'claim': 0.5, 'resources': 0.25, 'spawn': 0.75,
                'finish': 0.25, 'total': 7.25}
        self.assertEqual(set(want), set(got))
        for phase, seconds in want.items():
            self.assertAlmostEqual(seconds, got[phase], places=3, msg=phase)
        # The phases add up to the whole, from the POST to ACTIVE.
        self.assertAlmostEqual(
            got['total'], sum(got[p] for p in build_phases.PHASES), places=3)
        self.assertEqual({'hv-a1': 1}, dict(parsed['hosts']))
        self.assertEqual({'ResourceTracker._update_available_resource': [2.0],
                          'ResourceTracker.instance_claim': [0.5]},
                         parsed['locks'])
        self.assertEqual({'update_provider_tree': [0.04]}, parsed['driver'])

    def test_report_names_each_phase_and_node(self):
        printed = []
        parsed = build_phases.parse(self.folder)
        build_phases.report([('fake', parsed), ('hyperv', parsed)],
                            out=printed.append)
        text = '\n'.join(printed)
        for phase in build_phases.PHASES:
            self.assertIn('\n  %s ' % phase, text)
        self.assertIn('hyperv: builds per node: hv-a1 1', text)
        self.assertIn('update_provider_tree', text)

    def test_missing_logs_leave_phases_out(self):
        os.remove(os.path.join(self.folder, 'nova-scheduler.log'))
        open(os.path.join(self.folder, 'nova-scheduler.log'), 'w').close()
        got = build_phases.phases(build_phases.parse(self.folder)['builds'][
            REQ])
        self.assertNotIn('schedule', got)
        self.assertNotIn('to compute', got)
        self.assertIn('claim', got)


class TestDriverReportsItsTime(driver_fixtures.OsWinTestCase):
    """The driver's debug line is the one build_phases reads."""

    def test_inventory_and_resources_log_their_time(self):
        hostutils = self.oswin.utils['hostutils']
        hostutils.get_cpus_info.return_value = [
            {'Architecture': 9, 'Name': 'Xeon', 'Manufacturer': 'Intel',
             'MaxClockSpeed': 2400, 'NumberOfCores': 8,
             'NumberOfLogicalProcessors': 16}]
        hostutils.get_memory_info.return_value = (65536 * 1024, 32768 * 1024)
        hostutils.get_windows_version.return_value = '10.0.20348'
        self.useFixture(fixtures.MockPatch(
            'nova.virt.node.get_local_node_uuid', return_value='node-uuid'))
        seam = hyperv.HyperV(driver_fixtures.CONF)
        seam.bind('node1')
        ops = hostops.HostOps(seam)
        tree = provider_tree.ProviderTree()
        tree.new_root('node1', '9a1c2d3e-0000-4000-8000-0000000000aa')
        logger = self.useFixture(fixtures.FakeLogger(
            name='hvc_driver.hostops', level=logging.DEBUG))
        ops.update_provider_tree(tree, 'node1')
        ops.get_available_resource('node1')
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, 'nova-compute-n.log'), 'w') as f:
                f.writelines(_line(1.0, 'hvc_driver.hostops', message,
                                   'DEBUG')
                             for message in logger.output.splitlines())
            reported = build_phases.parse(folder)['driver']
        self.assertEqual({'get_available_resource', 'update_provider_tree'},
                         set(reported))
