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

"""The deploying guide (doc/source/install/deploying.md) and the files it
installs: every option it names exists, its configuration snippets are
valid as written, the systemd template unit runs nova-compute on them,
and the Windows service runs hvc-agent on its snippet.
"""

import configparser
import importlib.metadata
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import fixtures
from oslo_config import cfg
from oslo_log import log as logging
import testtools

from hvc_agent import conf as agent_conf
from tests import docs

ETC = os.path.join(os.path.dirname(__file__), '..', '..', 'etc')
UNIT = os.path.join(ETC, 'systemd', 'nova-compute-hyperv@.service')
NEUTRON_UNIT = os.path.join(ETC, 'systemd', 'hvc-neutron-agent@.service')
WINSW = os.path.join(ETC, 'windows', 'hvc-agent-service.xml')
# Where the guide's options may come from: nova's own, the libraries'
# nova-compute reads, neutron's ML2, and this project's driver, agents and
# placement_sync.
NAMESPACES = ('nova.conf', 'oslo.log', 'oslo.concurrency', 'oslo.messaging',
              'neutron.ml2', 'hvc.driver', 'hvc.agent', 'hvc.placement_sync',
              'hvc.neutron_agent')
# This project's groups: only its own namespaces define them.
OWN_GROUPS = {'hyperv_cluster': 'hvc.driver', 'agent': 'hvc.agent',
              'placement_sync': 'hvc.placement_sync',
              'hyperv_agent': 'hvc.neutron_agent'}


def _list_opts(namespaces=NAMESPACES):
    """[(namespace, group name, opt)] of ``namespaces``."""
    list_opts = {ep.name: ep.load for ep in importlib.metadata.entry_points(
        group='oslo.config.opts')}
    found = []
    for namespace in namespaces:
        for group, opts in list_opts[namespace]()():
            name = getattr(group, 'name', group) or 'DEFAULT'
            found.extend((namespace, name, opt) for opt in opts)
    return found


def _config_opts(namespaces=NAMESPACES):
    """A ConfigOpts with the options of ``namespaces``."""
    conf = cfg.ConfigOpts()
    for _, group, opt in _list_opts(namespaces):
        if opt.required:
            continue  # keystoneauth's, e.g. [cinder] auth_url
        try:
            conf.register_opt(opt, group=None if group == 'DEFAULT'
                              else group)
        except cfg.DuplicateOptError:
            pass  # a library's option that two namespaces list
    return conf


def _value(conf, section, option):
    return getattr(conf if section == 'DEFAULT' else conf[section], option)


def _ini_options(block):
    """[(section, option)] an ini snippet sets."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(block)
    options = [('DEFAULT', key) for key in parser.defaults()]
    for section in parser.sections():
        options.extend((section, key) for key in parser[section]
                       if key not in parser.defaults())
    return options


class TestReadmeDeploying(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.text = docs.page('install/deploying.md')
        self.ini = docs.blocks(self.text, 'ini')
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def _files(self, *blocks):
        paths = []
        for number, block in enumerate(blocks):
            paths.append(os.path.join(self.tmp, '%d.conf' % number))
            with open(paths[-1], 'w') as f:
                f.write(block)
        return paths

    def test_every_option_it_names_exists(self):
        registered = {}
        for namespace, group, opt in _list_opts():
            registered.setdefault((group, opt.dest), set()).add(namespace)
        named = set(re.findall(r'\[(\w+)\]\s+(\w+)', self.text))
        for block in self.ini:
            named.update(_ini_options(block))
        self.assertIn(('hyperv_cluster', 'agent_url'), named)
        self.assertIn(('agent', 'ca_file'), named)
        for group, option in sorted(named):
            self.assertIn((group, option), registered,
                          '[%s] %s is no option' % (group, option))
            if group in OWN_GROUPS:
                self.assertEqual({OWN_GROUPS[group]},
                                 registered[(group, option)])
        # `name = value` in the text: an option of some group.
        names = {name for _, name in registered}
        for name in re.findall(r'`(\w+) =', self.text):
            self.assertIn(name, names)

    def test_its_snippets_are_valid_as_written(self):
        # Each value as the option's type reads it (a comment on an
        # option's line would be part of its value).
        self.assertEqual(5, len(self.ini))
        for block in self.ini:
            conf = _config_opts()
            conf(['--config-file'] + self._files(block), project='hvc-test',
                 default_config_files=[])
            for section, option in _ini_options(block):
                _value(conf, section, option)

    def test_the_unit_runs_nova_compute_on_its_two_files(self):
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.read(UNIT)
        service = unit['Service']
        argv = shlex.split(service['ExecStart'])
        self.assertEqual('nova-compute', os.path.basename(argv[0]))
        self.assertEqual(['--config-file', '/etc/nova/nova.conf',
                          '--config-file', '/etc/nova/hyperv/%i.conf'],
                         argv[1:])
        self.assertEqual('on-failure', service['Restart'])
        self.assertEqual('nova/hyperv/%i', service['StateDirectory'])
        self.assertEqual('multi-user.target', unit['Install']['WantedBy'])
        # The guide's files at the unit's paths, for hv-node1.
        # (The Windows agent's, then nova-compute's two, then networking's.)
        _, nova_conf, host_conf = self.ini[:3]
        files = dict(zip(['/etc/nova/nova.conf', '/etc/nova/hyperv/%i.conf'],
                         self._files(nova_conf, host_conf)))
        conf = _config_opts(('nova.conf', 'oslo.concurrency', 'hvc.driver'))
        conf([files.get(arg, arg) for arg in argv[1:]], project='nova',
             default_config_files=[])
        self.assertEqual(
            ('hv-node1', '/var/lib/nova/hyperv/hv-node1',
             'C:\\ClusterStorage\\Volume1\\OpenStack\\Instances',
             'hyperv_cluster.HyperVClusterDriver'),
            (conf.host, conf.state_path, conf.instances_path,
             conf.compute_driver))
        self.assertEqual('/var/lib/nova/hyperv/%s/' % conf.host,
                         os.path.join('/var/lib', service['StateDirectory'],
                                      '').replace('%i', conf.host))
        options = conf.hyperv_cluster
        self.assertEqual(
            ('agent', 'https://hv-node1.example.org:8642',
             '/etc/nova/hyperv/pki/hvc-ca.crt'),
            (options.backend, options.agent_url, options.agent_ca_file))
        self.assertTrue(options.agent_cert_file.endswith(
            'nova-compute-hv-node1.crt'))
        self.assertIn('systemctl enable --now nova-compute-hyperv@hv-node1',
                      self.text)

    def test_the_neutron_unit_runs_the_agent_on_its_two_files(self):
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.read(NEUTRON_UNIT)
        service = unit['Service']
        argv = shlex.split(service['ExecStart'])
        self.assertEqual('hvc-neutron-agent', os.path.basename(argv[0]))
        self.assertEqual(
            ['--config-file', '/etc/neutron/neutron.conf',
             '--config-file', '/etc/neutron/hvc-neutron-agent-%i.conf'],
            argv[1:])
        self.assertEqual(('neutron', 'on-failure', 'multi-user.target'),
                         (service['User'], service['Restart'],
                          unit['Install']['WantedBy']))
        # The guide's file, installed at the unit's path for hv-node1.
        [agent_ini] = [block for block in self.ini
                       if '[hyperv_agent]' in block]
        name = os.path.basename(argv[4].replace('%i', 'hv-node1'))
        self.assertIn('`/etc/neutron/%s`' % name, self.text)
        self.assertIn('install -o root -g neutron -m 0640 %s /etc/neutron/'
                      % name, self.text)
        conf = _config_opts(('hvc.neutron_agent',))
        conf.register_opt(cfg.StrOpt('host'))  # neutron's own
        conf(['--config-file', self._files(agent_ini)[0]], project='neutron',
             default_config_files=[])
        self.assertEqual(
            ('hv-node1', 'https://hv-node1.example.org:8642'),
            (conf.host, conf.hyperv_agent.agent_url))
        self.assertIn('systemctl enable --now hvc-neutron-agent@hv-node1',
                      self.text)

    @testtools.skipUnless(shutil.which('systemd-analyze'),
                          'systemd-analyze is not installed')
    def test_systemd_accepts_the_units(self):
        # An instance of each template, its command where it is installed
        # here (systemd checks that it is executable).
        for unit, command in ((UNIT, 'nova-compute'),
                              (NEUTRON_UNIT, 'hvc-neutron-agent')):
            with open(unit) as f:
                text = f.read().replace(
                    '/usr/bin/' + command,
                    os.path.join(os.path.dirname(sys.executable), command))
            instance = os.path.join(self.tmp, os.path.basename(
                unit).replace('@', '@hv-node1'))
            with open(instance, 'w') as f:
                f.write(text)
            proc = subprocess.run(['systemd-analyze', 'verify', instance],
                                  capture_output=True, text=True, timeout=60)
            complaints = [line for line in proc.stderr.splitlines()
                          if os.path.basename(instance) in line]
            self.assertEqual(([], 0), (complaints, proc.returncode),
                             proc.stderr)

    def test_the_windows_service_runs_the_agent_on_its_snippet(self):
        service = ElementTree.parse(WINSW).getroot()
        self.assertEqual('hvc-agent', service.findtext('id'))
        executable = service.findtext('executable')
        self.assertEqual('hvc-agent.exe', executable.rsplit('\\', 1)[1])
        argv = service.findtext('arguments').split()
        self.assertEqual(['--config-file',
                          'C:\\ProgramData\\hvc\\hvc-agent.conf'], argv)
        [agent_ini] = [block for block in self.ini
                       if block.startswith('[agent]')]
        conf = cfg.ConfigOpts()
        agent_conf.register_opts(conf)
        logging.register_options(conf)
        conf(['--config-file', self._files(agent_ini)[0]], project='hvc',
             default_config_files=[])
        self.assertEqual((8642, 'C:\\ProgramData\\hvc\\pki\\hvc-ca.crt'),
                         (conf.agent.bind_port, conf.agent.ca_file))
        self.assertEqual(['restart'] * 3, [
            failure.get('action') for failure in service.findall(
                'onfailure')])
        self.assertEqual('15 sec', service.findtext('stoptimeout'))
        # The guide installs it under the names WinSW finds each other by.
        self.assertIn('C:\\hvc\\hvc-agent-service.exe install', self.text)
        self.assertIn('Copy-Item hvc-agent-service.xml C:\\hvc\\',
                      self.text)
        self.assertIn(executable.rsplit('\\', 2)[0], self.text)

    def test_the_windows_requirements_it_installs_exist(self):
        self.assertIn('pip install -r hvc-agent-requirements.txt', self.text)
        self.assertTrue(os.path.exists(os.path.join(
            ETC, 'windows', 'hvc-agent-requirements.txt')))
