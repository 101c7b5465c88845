"""Fixtures for the driver's tests: loading, simulated cluster, os-win."""

import os
from unittest import mock

import fixtures
from oslo_config import fixture as config_fixture
import testtools

import nova.conf
import nova.virt

from hvc_driver import conf as hvc_conf
from hvc_driver import hyperv
from hvc_sim import state as sim_state

CONF = nova.conf.CONF
hvc_conf.register_opts(CONF)

# The shim, as ``pip install`` places it inside nova's package.
SHIM_DIR = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'nova',
                        'virt')

# The os-win class behind each utils kind, for create_autospec.
OSWIN_CLASSES = hyperv.OSWIN_CLASSES


def import_class(path):
    module, _sep, name = path.rpartition('.')
    return getattr(__import__(module, fromlist=[name]), name)


class DriverShimFixture(fixtures.Fixture):
    """Make ``nova.virt.hyperv_cluster`` importable from this checkout.

    An editable install does not place the shim inside nova's package, so
    the tests add the checkout's nova/virt to nova.virt's search path.
    """

    def _setUp(self):
        shim_dir = os.path.abspath(SHIM_DIR)
        if shim_dir not in nova.virt.__path__:
            nova.virt.__path__.append(shim_dir)
            self.addCleanup(nova.virt.__path__.remove, shim_dir)


class SimulatedClusterFixture(fixtures.Fixture):
    """A simulated cluster in a temporary state file, and the driver's
    options pointing at it (instances path included).
    """

    def __init__(self, nodes=('node1', 'node2', 'node3'),
                 volumes=(('Volume1', 100),), vcpus=8, memory_mb=16384,
                 cluster='cluster1'):
        super().__init__()
        self.node_names = nodes
        self.volumes = volumes
        self.vcpus = vcpus
        self.memory_mb = memory_mb
        self.cluster_name = cluster

    def _setUp(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        self.state_file = os.path.join(tmp, 'cluster.sqlite')
        self.instances_path = os.path.join(tmp, 'ClusterStorage', 'Volume1',
                                           'Instances')
        self.state = sim_state.ClusterState(self.state_file)
        self.state.init(self.cluster_name, self.node_names, self.volumes,
                        vcpus=self.vcpus, memory_mb=self.memory_mb)
        conf = self.useFixture(config_fixture.Config(CONF))
        conf.config(backend='simulated', simulated_state_file=self.state_file,
                    group='hyperv_cluster')
        conf.config(instances_path=self.instances_path)


class OsWinFixture(fixtures.Fixture):
    """The oswin backend, with each utils object an autospec of os-win's.

    ``self.utils[kind]`` is what ``utilsfactory.get_<kind>()`` returns.
    """

    def _setUp(self):
        conf = self.useFixture(config_fixture.Config(CONF))
        conf.config(backend='oswin', group='hyperv_cluster')
        # The os-win backend runs in nova-compute's eventlet mode only.
        self.useFixture(fixtures.MockPatch(
            'nova.utils.concurrency_mode_threading', return_value=False))
        self.utils = {}
        for kind, path in OSWIN_CLASSES.items():
            self.utils[kind] = mock.create_autospec(import_class(path),
                                                    instance=True)
            self.useFixture(fixtures.MockPatch(
                'os_win.utilsfactory.get_%s' % kind,
                return_value=self.utils[kind]))
        # Windows' name of the machine, which the tests bind as nova's host.
        self.utils['clusterutils'].get_node_name.return_value = 'node1'
        # utilsfactory.get_named_pipe_handler(*args, **kwargs) makes a
        # NamedPipeHandler: the autospec'd class checks the arguments, and
        # makes the one autospec'd handler ``self.pipe_handler``.
        from os_win.utils.io import namedpipe
        self.pipe_handler_class = mock.create_autospec(
            namedpipe.NamedPipeHandler)
        self.pipe_handler = self.pipe_handler_class.return_value
        self.useFixture(fixtures.MockPatch(
            'os_win.utilsfactory.get_named_pipe_handler',
            side_effect=self.pipe_handler_class))


class OsWinTestCase(testtools.TestCase):
    """os-win mocked by autospec of its real classes, and a conf fixture."""

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger())
        self.oswin = self.useFixture(OsWinFixture())
        self.conf = self.useFixture(config_fixture.Config(CONF))


class SimulatedTestCase(testtools.TestCase):
    """The seam on a simulated cluster, playing ``node``."""

    node = 'node1'

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger())
        self.cluster = self.useFixture(SimulatedClusterFixture())
        self.hyperv = hyperv.HyperV(CONF)
        self.hyperv.bind(self.node)
