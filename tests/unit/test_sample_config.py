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

"""The sample configurations in etc/hvc/ are what oslo-config-generator
makes of the options today (``make sample-config`` and ``tox -e
genconfig`` regenerate them from etc/oslo-config-generator/).
"""

import configparser
import glob
import os
import re

import fixtures
from oslo_config import cfg
from oslo_config import generator
import testtools

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
GENERATOR = os.path.join('etc', 'oslo-config-generator')


def _generator_files():
    """{namespace: (generator file, sample file)} of
    etc/oslo-config-generator/.
    """
    found = {}
    for path in sorted(glob.glob(os.path.join(ROOT, GENERATOR, '*.conf'))):
        conf = configparser.ConfigParser()
        conf.read(path)
        found[conf['DEFAULT']['namespace'].strip()] = (
            os.path.join(GENERATOR, os.path.basename(path)),
            conf['DEFAULT']['output_file'].strip())
    return found


class TestSampleConfig(testtools.TestCase):

    def test_every_namespace_has_a_sample_in_make_and_tox(self):
        setup = configparser.ConfigParser()
        setup.read(os.path.join(ROOT, 'setup.cfg'))
        namespaces = {line.split('=')[0].strip() for line in
                      setup['entry_points'][
                          'oslo.config.opts'].strip().splitlines()}
        generated = _generator_files()
        self.assertEqual(namespaces, set(generated))
        with open(os.path.join(ROOT, 'Makefile')) as f:
            makefile = f.read().replace('\\\n', ' ')
        [recipe] = re.findall(r'^sample-config:.*\n((?:\t.*\n)+)', makefile,
                              re.MULTILINE)
        self.assertIn('oslo-config-generator --config-file $$conf', recipe)
        self.assertIn('etc/oslo-config-generator/*.conf', recipe)
        with open(os.path.join(ROOT, 'tox.ini')) as f:
            tox = re.findall(r'oslo-config-generator --config-file=(\S+)',
                             f.read())
        self.assertEqual(sorted(conf for conf, _ in generated.values()),
                         sorted(tox))
        for _conf, sample in generated.values():
            self.assertTrue(sample.startswith('etc/hvc/'), sample)

    def test_samples_are_current(self):
        output = self.useFixture(fixtures.TempDir()).join('sample')
        for namespace, (path, sample) in sorted(_generator_files().items()):
            conf = cfg.ConfigOpts()
            generator.register_cli_opts(conf)
            conf(['--config-file', os.path.join(ROOT, path),
                  '--output-file', output])
            self.assertEqual([namespace], conf.namespace)
            generator.generate(conf)
            with open(output) as generated, \
                    open(os.path.join(ROOT, sample)) as f:
                self.assertEqual(
                    generated.read(), f.read(),
                    '%s is not what the options make of it: run make '
                    'sample-config' % sample)
