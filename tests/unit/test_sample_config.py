"""The sample configurations in etc/hvc/ are what oslo-config-generator
makes of the options today (``make sample-config`` regenerates them).
"""

import configparser
import os
import re

import fixtures
from oslo_config import cfg
from oslo_config import generator
import testtools

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')


def _makefile_samples():
    """{namespace: sample file} of the Makefile's sample-config target."""
    with open(os.path.join(ROOT, 'Makefile')) as f:
        makefile = f.read().replace('\\\n', ' ')
    [recipe] = re.findall(r'^sample-config:.*\n((?:\t.*\n)+)', makefile,
                          re.MULTILINE)
    return dict(re.findall(r'--namespace (\S+)\s+--output-file (\S+)',
                           recipe))


class TestSampleConfig(testtools.TestCase):

    def test_every_namespace_has_a_sample_in_make_and_tox(self):
        setup = configparser.ConfigParser()
        setup.read(os.path.join(ROOT, 'setup.cfg'))
        namespaces = {line.split('=')[0].strip() for line in
                      setup['options.entry_points'][
                          'oslo.config.opts'].strip().splitlines()}
        samples = _makefile_samples()
        self.assertEqual(namespaces, set(samples))
        with open(os.path.join(ROOT, 'tox.ini')) as f:
            tox = dict(re.findall(r'--namespace (\S+) --output-file (\S+)',
                                  f.read()))
        self.assertEqual(samples, tox)

    def test_samples_are_current(self):
        output = self.useFixture(fixtures.TempDir()).join('sample')
        for namespace, sample in sorted(_makefile_samples().items()):
            conf = cfg.ConfigOpts()
            generator.register_cli_opts(conf)
            conf(['--namespace', namespace, '--output-file', output])
            generator.generate(conf)
            with open(output) as generated, \
                    open(os.path.join(ROOT, sample)) as f:
                self.assertEqual(
                    generated.read(), f.read(),
                    '%s is not what the options make of it: run make '
                    'sample-config' % sample)
