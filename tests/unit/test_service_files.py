"""The service files in etc/ start hvc-placement-sync the way it runs."""

import configparser
import os
import re
import shlex

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
        argv = shlex.split(arguments.format(self.conf_file, 'sync.log'))
        conf = _parse(argv)
        self.assertEqual(('sync', False, 'sync.log'),
                         (conf.action, conf.once, conf.log_file))
        self.assertIn('New-ScheduledTaskTrigger -AtStartup', script)
