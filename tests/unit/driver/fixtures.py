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

"""Fixtures for the driver's tests: loading, simulated cluster, os-win."""

import os
from unittest import mock
import uuid

import fixtures
from oslo_config import fixture as config_fixture
import testtools

import nova.conf
import nova.virt

from hvc_agent import oswin as agent_oswin
from hvc_driver import conf as hvc_conf
from hvc_driver import hyperv
from hvc_driver import layout
from hvc_sim import state as sim_state

CONF = nova.conf.CONF
hvc_conf.register_opts(CONF)

# The shim, as ``pip install`` places it inside nova's package.
SHIM_DIR = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'nova',
                        'virt')

# The os-win class behind each utils kind, for create_autospec.
OSWIN_CLASSES = agent_oswin.OSWIN_CLASSES


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
        self.state = sim_state.ClusterState(self.state_file)
        self.state.init(self.cluster_name, self.node_names, self.volumes,
                        vcpus=self.vcpus, memory_mb=self.memory_mb)
        # As operators do: instances_path (the image cache, instances of no
        # disk) is the instances folder of the first CSV.
        self.instances_path = self.csv_instances_dir(self.volumes[0][0])
        conf = self.useFixture(config_fixture.Config(CONF))
        conf.config(backend='simulated', simulated_state_file=self.state_file,
                    group='hyperv_cluster')
        conf.config(instances_path=self.instances_path)

    def csv_instances_dir(self, volume_name):
        """The folder of the instances whose disks are on a CSV."""
        [path] = [v.path for v in self.state.shared_volumes()
                  if v.name == volume_name]
        return os.path.join(path, 'OpenStack', 'Instances')


class WMIObject(object):
    def __init__(self, **properties):
        self.__dict__.update(properties)


class WMICluster(object):
    """``root/MSCluster`` as the wmi module shows it: classes are methods
    that list their instances; associations hold the objects they link.
    """

    def __init__(self, name):
        self.cluster = WMIObject(Name=name)
        self.volumes = []
        self.links = []

    def add_csv(self, mount_path, resource_id, online=True,
                offset=1024 ** 2):
        """A CSV volume of the disk resource ``resource_id`` (one resource
        may have several, at different offsets on its disk).
        """
        csv = WMIObject(Name=mount_path, VolumeOffset=str(offset),
                        VolumeName='\\\\?\\Volume{%s}\\' % uuid.uuid5(
                            uuid.NAMESPACE_URL, mount_path))
        resource = WMIObject(Id=resource_id, Name='Cluster Disk',
                             State=2 if online else 3)
        self.volumes.append(csv)
        self.links.append(WMIObject(GroupComponent=csv,
                                    PartComponent=resource))

    def MSCluster_Cluster(self):  # noqa: N802 (WMI's class names)
        return [self.cluster]

    def MSCluster_ClusterSharedVolume(self):  # noqa: N802
        return list(self.volumes)

    def MSCluster_ClusterSharedVolumeToResource(self):  # noqa: N802
        return list(self.links)


class OsWinFixture(fixtures.Fixture):
    """The agent's os-win host (``hvc_agent.oswin.OsWin``) in this
    process, behind the driver's seam, with each utils object an autospec
    of os-win's: the driver and the agent's os-win side together, without
    the wire between them (which the agent's contract tests cover).

    ``self.utils[kind]`` is what ``utilsfactory.get_<kind>()`` returns.
    """

    def _setUp(self):
        conf = self.useFixture(config_fixture.Config(CONF))
        conf.config(backend='agent', group='hyperv_cluster')
        connect = hyperv.HyperV._connect

        def oswin_unless_simulated(seam, host):
            if seam.simulated:
                return connect(seam, host)
            return agent_oswin.OsWin(standalone=bool(
                CONF.hyperv_cluster.standalone_host))
        self.useFixture(fixtures.MockPatchObject(
            hyperv.HyperV, '_connect', oswin_unless_simulated))
        # What the agent writes to the host's storage in plain Python.
        self.write_file = self.useFixture(fixtures.MockPatch(
            'hvc_agent.files.write_file', autospec=True)).mock
        self.utils = {}
        for kind, path in OSWIN_CLASSES.items():
            self.utils[kind] = mock.create_autospec(import_class(path),
                                                    instance=True)
            self.useFixture(fixtures.MockPatch(
                'os_win.utilsfactory.get_%s' % kind,
                return_value=self.utils[kind]))
        # Windows' name of the machine, which the tests bind as nova's host.
        clusterutils = self.utils['clusterutils']
        clusterutils.get_node_name.return_value = 'node1'
        # The cluster's WMI namespace, which os-win's ClusterUtils keeps
        # (hvc_oswin_api.cluster_wmi reads the cluster's name and CSVs
        # there): objects shaped as Microsoft documents them.
        self.wmi = WMICluster('cluster1')
        clusterutils._conn_cluster = self.wmi
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
    volumes = (('Volume1', 100),)
    # Hyper-V hosts in no cluster, beside the cluster's nodes.
    standalone_hosts = ()

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger())
        self.cluster = self.useFixture(SimulatedClusterFixture(
            volumes=self.volumes))
        for name in self.standalone_hosts:
            self.cluster.state.add_host(name)
        self.hyperv = hyperv.HyperV(CONF)
        self.hyperv.bind(self.node)
        self.layout = layout.InstanceLayout(self.hyperv)
