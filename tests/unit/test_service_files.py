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

"""The service files in etc/ start hvc-placement-sync the way it runs."""

import configparser
import os
import re
import shlex
import signal
import threading
import time
import types

import fixtures
from oslo_config import cfg
from oslo_log import log as logging
import testtools

from placement_sync import cmd
from placement_sync import conf as sync_conf

ETC = os.path.join(os.path.dirname(__file__), '..', '..', 'etc')


def _parse(argv):
    """argv as hvc-placement-sync's main() parses it."""
    conf = cfg.ConfigOpts()
    sync_conf.register_opts(conf)
    conf.register_cli_opts(cmd.cli_opts)
    logging.register_options(conf)
    conf(argv, project='hvc', default_config_files=[])
    return conf


class TestServiceFiles(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf_file = self.useFixture(fixtures.TempDir()).join('s.conf')
        open(self.conf_file, 'w').close()

    def test_systemd_unit_runs_periodic_mode(self):
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.read(os.path.join(ETC, 'systemd', 'hvc-placement-sync.service'))
        argv = shlex.split(unit['Service']['ExecStart'])
        self.assertEqual('hvc-placement-sync', os.path.basename(argv[0]))
        argv[argv.index('--config-file') + 1] = self.conf_file
        conf = _parse(argv[1:])
        self.assertEqual(('sync', False, False),
                         (conf.action, conf.once, conf.dry_run))
        # Exit 2 (bad configuration) is never restarted.
        self.assertEqual('2', unit['Service']['RestartPreventExitStatus'])
        self.assertEqual('multi-user.target', unit['Install']['WantedBy'])

    def test_windows_task_runs_periodic_mode(self):
        with open(os.path.join(ETC, 'windows',
                               'install-hvc-placement-sync.ps1')) as f:
            script = f.read()
        [arguments] = re.findall(r"-Argument \('([^']*)'", script)
        argv = shlex.split(arguments.format(self.conf_file, 'sync.log',
                                            'sync.stop'))
        conf = _parse(argv)
        self.assertEqual(('sync', False, 'sync.log', 'sync.stop'),
                         (conf.action, conf.once, conf.log_file,
                          conf.stop_file))
        self.assertIn('New-ScheduledTaskTrigger -AtStartup', script)
        self.assertIn("$StopFile = 'C:\\ProgramData\\hvc\\"
                      "hvc-placement-sync.stop'", script)


class TestStoppingPeriodicMode(testtools.TestCase):
    """Windows sends a program no SIGTERM: periodic mode also stops on its
    stop file, and on Ctrl+Break (SIGBREAK).
    """

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.FakeLogger())
        self.stop_file = self.useFixture(fixtures.TempDir()).join('stop')
        self.useFixture(fixtures.MockPatchObject(
            cmd, 'STOP_FILE_POLL_SECONDS', 0.05))

    def test_a_stop_file_stops_it_in_the_middle_of_a_sync(self):
        # A sync that hangs (a request never answered).
        self.useFixture(fixtures.MockPatchObject(
            cmd, '_attempt', lambda conf, reconciler: threading.Event().wait(
                60)))
        conf = types.SimpleNamespace(interval=1, placement_sync=(
            types.SimpleNamespace(interval=1, max_backoff=1)))
        stop = threading.Event()
        cmd.stop_on_file(self.stop_file, stop)
        threading.Timer(0.2, open, (self.stop_file, 'w')).start()
        start = time.monotonic()
        self.assertEqual(0, cmd.run_periodic(conf, None, stop))
        self.assertLess(time.monotonic() - start, 5)
        self.assertFalse(os.path.exists(self.stop_file))

    def test_a_leftover_stop_file_is_removed_at_start(self):
        open(self.stop_file, 'w').close()
        stop = threading.Event()
        self.addCleanup(stop.set)  # ends the watcher
        cmd.stop_on_file(self.stop_file, stop)
        self.assertFalse(os.path.exists(self.stop_file))
        self.assertFalse(stop.wait(0.3))

    def test_ctrl_break_stops_it(self):
        # signal.SIGBREAK exists on Windows only: SIGUSR1 plays it.
        self.useFixture(fixtures.MockPatchObject(
            signal, 'SIGBREAK', signal.SIGUSR1, create=True))
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            self.addCleanup(signal.signal, number, signal.getsignal(number))
        stop = threading.Event()
        cmd.stop_on_signals(stop)
        os.kill(os.getpid(), signal.SIGUSR1)
        self.assertTrue(stop.wait(5))
