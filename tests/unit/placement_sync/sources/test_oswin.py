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

"""The os-win source, with os-win mocked by autospec (no Windows here).

The WMI objects carry the properties Microsoft documents for the cluster
provider (root/MSCluster), with the values Windows gives them.
"""

from unittest import mock

import fixtures
from os_win import exceptions as os_win_exc
from os_win.utils.compute import clusterutils
from os_win.utils.storage import diskutils
import testtools

from hvc_agent import oswin as agent_oswin
from placement_sync import exception
from placement_sync import model
from placement_sync import sources
from placement_sync.sources import measure
from placement_sync.sources import oswin

MiB, GiB = 1024 ** 2, 1024 ** 3
ONLINE, OFFLINE = 2, 3
RESOURCE_1 = '6a4e1b86-5c2a-4f69-9c3e-1f0d2b7a9e01'
RESOURCE_2 = '0d3c9f52-8b1e-4a7d-b6c4-5e2f1a9d8c02'


def _csv(path, guid, offset=MiB):
    """An MSCluster_ClusterSharedVolume; its VolumeOffset a uint64, which
    the wmi module gives as a string.
    """
    return mock.Mock(spec_set=['Name', 'VolumeName', 'VolumeOffset'],
                     Name=path, VolumeName='\\\\?\\Volume{%s}\\' % guid,
                     VolumeOffset=str(offset))


def _resource(name, resource_id, state=ONLINE):
    """An MSCluster_Resource."""
    return mock.Mock(spec_set=['Name', 'Id', 'State', 'Type'], Name=name,
                     Id=resource_id, State=state, Type='Physical Disk')


def _link(csv, resource):
    """An MSCluster_ClusterSharedVolumeToResource: the wmi module gives its
    references as the objects they point at.
    """
    return mock.Mock(spec_set=['GroupComponent', 'PartComponent'],
                     GroupComponent=csv, PartComponent=resource)


class TestOsWinSource(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.cluster = mock.create_autospec(clusterutils.ClusterUtils,
                                            instance=True)
        # Set by os-win's constructor on Windows, so not in the autospec.
        self.cluster._conn_cluster = mock.Mock()
        self.disk = mock.create_autospec(diskutils.DiskUtils, instance=True)
        for name, value in (('get_clusterutils', self.cluster),
                            ('get_diskutils', self.disk)):
            self.useFixture(fixtures.MockPatch(
                'os_win.utilsfactory.' + name, return_value=value))
        conn = self.cluster._conn_cluster
        conn.MSCluster_Cluster.return_value = [mock.Mock(Name='HVCLUSTER')]
        self.cluster.get_cluster_node_names.return_value = ['HV1', 'HV2']
        self.sizes = {}
        self.disk.get_disk_capacity.side_effect = (
            lambda path: (self.sizes[path], 10 * GiB))

    def _csvs(self, *volumes):
        """(mount path, resource[, offset]) of each CSV volume, as the
        cluster lists them.
        """
        conn = self.cluster._conn_cluster
        csvs = [_csv(path, 'c0ffee0%d-0000-4000-8000-00000000000%d' % (i, i),
                     *offset)
                for i, (path, _resource, *offset) in enumerate(volumes)]
        conn.MSCluster_ClusterSharedVolume.return_value = csvs
        conn.MSCluster_ClusterSharedVolumeToResource.return_value = [
            _link(csv, resource)
            for csv, (_path, resource, *_offset) in zip(csvs, volumes)]

    def test_reads_nodes_and_csvs(self):
        self._csvs(('C:\\ClusterStorage\\Volume1',
                    _resource('Cluster Disk 1', RESOURCE_1)),
                   ('C:\\ClusterStorage\\Volume2',
                    _resource('Cluster Disk 2', RESOURCE_2)))
        self.sizes = {'C:\\ClusterStorage\\Volume1': 500 * GiB + 7,
                      'C:\\ClusterStorage\\Volume2': 100 * GiB}

        [cluster] = oswin.load()

        self.assertEqual('HVCLUSTER', cluster.name)
        self.assertEqual(('HV1', 'HV2'), cluster.nodes)
        self.assertEqual([(RESOURCE_1, 'Volume1', 500),
                          (RESOURCE_2, 'Volume2', 100)],
                         [(v.id, v.name, v.total_gb)
                          for v in cluster.shared_volumes])
        self.assertEqual((), cluster.offline_volumes)
        self.disk.get_disk_capacity.assert_has_calls([
            mock.call('C:\\ClusterStorage\\Volume1'),
            mock.call('C:\\ClusterStorage\\Volume2')])
        self.cluster.check_cluster_state.assert_called_once_with()
        sources.validate_clusters([cluster])  # two CSVs, two names

    def test_renamed_mount_folder_keeps_the_provider(self):
        self._csvs(('C:\\ClusterStorage\\Volume1',
                    _resource('Cluster Disk 1', RESOURCE_1)))
        self.sizes = {'C:\\ClusterStorage\\Volume1': 500 * GiB,
                      'C:\\ClusterStorage\\Data': 500 * GiB}
        [before] = oswin.load()
        self._csvs(('C:\\ClusterStorage\\Data',
                    _resource('Data disk', RESOURCE_1)))
        [after] = oswin.load()
        self.assertEqual('Data', after.shared_volumes[0].name)
        [old], [new] = model.desired_state([before])[0].providers, (
            model.desired_state([after])[0].providers)
        self.assertEqual(old.uuid, new.uuid)

    def test_each_csv_volume_of_one_disk_resource_has_its_own_id(self):
        # Two partitions of one cluster disk, each a CSV of its own: the
        # first by offset keeps the resource's Id (as a disk of one
        # volume, so its provider stays if a partition is added), the
        # other gets its offset too. Listed in any order.
        disk = _resource('Cluster Disk 1', RESOURCE_1)
        second = 200 * GiB + MiB
        self._csvs(('C:\\ClusterStorage\\Volume2', disk, second),
                   ('C:\\ClusterStorage\\Volume1', disk, MiB),
                   ('C:\\ClusterStorage\\Volume3',
                    _resource('Cluster Disk 2', RESOURCE_2)))
        self.sizes = {'C:\\ClusterStorage\\Volume1': 200 * GiB,
                      'C:\\ClusterStorage\\Volume2': 300 * GiB,
                      'C:\\ClusterStorage\\Volume3': 100 * GiB}

        [cluster] = oswin.load()

        sources.validate_clusters([cluster])
        self.assertEqual(
            [('Volume1', RESOURCE_1, 200),
             ('Volume2', '%s:%d' % (RESOURCE_1, second), 300),
             ('Volume3', RESOURCE_2, 100)],
            [(v.name, v.id, v.total_gb) for v in cluster.shared_volumes])

    def test_offline_csv_does_not_block_the_others(self):
        self._csvs(('C:\\ClusterStorage\\Volume1',
                    _resource('Cluster Disk 1', RESOURCE_1, OFFLINE)),
                   ('C:\\ClusterStorage\\Volume2',
                    _resource('Cluster Disk 2', RESOURCE_2)),
                   ('C:\\ClusterStorage\\Volume3',
                    _resource('Cluster Disk 3', 'e3')))
        self.sizes = {'C:\\ClusterStorage\\Volume2': 100 * GiB}

        def capacity(path):
            if path.endswith('Volume3'):
                raise os_win_exc.Win32Exception(
                    message='The device is not ready.', error_code=21)
            return self.sizes[path], 0
        self.disk.get_disk_capacity.side_effect = capacity

        [cluster] = oswin.load()

        self.assertEqual(['Volume2'],
                         [v.name for v in cluster.shared_volumes])
        offline, unreadable = cluster.offline_volumes
        self.assertEqual((RESOURCE_1, 'Volume1'), (offline.id, offline.name))
        self.assertIn('Cluster Disk 1 is offline', offline.reason)
        self.assertEqual('Volume3', unreadable.name)
        self.assertIn('The device is not ready', unreadable.reason)
        sources.validate_clusters([cluster])

    def test_csv_without_a_cluster_resource_is_an_error(self):
        self._csvs(('C:\\ClusterStorage\\Volume1',
                    _resource('Cluster Disk 1', RESOURCE_1)))
        self.cluster._conn_cluster.MSCluster_ClusterSharedVolumeToResource\
            .return_value = []
        err = self.assertRaises(exception.InvalidInventory, oswin.load)
        self.assertIn('no cluster resource for the shared volume '
                      'C:\\ClusterStorage\\Volume1', str(err))

    def test_csv_without_a_name_is_refused(self):
        self._csvs(('', _resource('Cluster Disk 1', RESOURCE_1)),
                   ('', _resource('Cluster Disk 2', RESOURCE_2)))
        self.sizes = {'': GiB}
        err = self.assertRaises(exception.InvalidInventory,
                                sources.validate_clusters, oswin.load())
        self.assertIn('name must be a non-empty string', str(err))

    def test_wmi_failure_is_a_clear_error(self):
        self.cluster._conn_cluster.MSCluster_Cluster.side_effect = (
            os_win_exc.x_wmi('RPC server unavailable'))
        err = self.assertRaises(exception.InvalidInventory, oswin.load)
        self.assertIn('RPC server unavailable', str(err))

    def test_os_win_failure_is_a_clear_error(self):
        self.cluster.check_cluster_state.side_effect = (
            os_win_exc.HyperVClusterException('Not enough cluster nodes.'))
        err = self.assertRaises(exception.InvalidInventory, oswin.load)
        self.assertIn('cannot read the local failover cluster', str(err))
        self.assertIn('Not enough cluster nodes', str(err))

    def test_the_agent_serves_what_the_source_reads_on_the_node(self):
        # hvc-agent's os-win host, for the agent source: the same cluster,
        # through os-win's own utils of the request's thread.
        self._csvs(('C:\\ClusterStorage\\Volume1',
                    _resource('Cluster Disk 1', RESOURCE_1)),
                   ('C:\\ClusterStorage\\Volume2',
                    _resource('Cluster Disk 2', RESOURCE_2, OFFLINE)))
        self.sizes = {'C:\\ClusterStorage\\Volume1': 500 * GiB}
        host = agent_oswin.OsWin(standalone=False)
        [cluster] = oswin.load('Instances')
        self.assertEqual(cluster, host.cluster_facts('Instances'))
        self.assertEqual(1, len(cluster.offline_volumes))
        # os-win's errors, not the agent's translations of them: the
        # source says what failed.
        self.cluster.check_cluster_state.side_effect = (
            os_win_exc.HyperVClusterException('Not enough cluster nodes.'))
        err = self.assertRaises(exception.InvalidInventory,
                                host.cluster_facts, 'Instances')
        self.assertIn('Not enough cluster nodes', str(err))


class TestAllocatedSize(testtools.TestCase):
    """On Windows a file counts what its volume allocates to it:
    kernel32's GetCompressedFileSizeW, stood in for here as ctypes calls
    it (the size's low DWORD returned, its high DWORD written through the
    pointer given).
    """

    PATH = 'C:\\ClusterStorage\\Volume1\\OpenStack\\Instances\\vm\\root.vhdx'

    def _windows(self, allocated, last_error=0):
        calls = []

        def get_compressed_file_size(path, high):
            calls.append(path)
            high.contents.value = allocated >> 32
            return allocated & 0xFFFFFFFF
        for name, value in (
                ('_get_compressed_file_size', get_compressed_file_size),
                ('_get_last_error', lambda: last_error),
                ('_format_error', lambda code: 'The system cannot find the '
                                               'file specified.')):
            self.useFixture(fixtures.MockPatch(
                'placement_sync.sources.measure.' + name, value))
        return calls

    def test_a_file_counts_its_allocated_bytes(self):
        # A deduplicated or sparse VHDX: far less than its length.
        calls = self._windows(5 * GiB + 4096)
        self.assertEqual(5 * GiB + 4096, measure.file_bytes(self.PATH))
        self.assertEqual([self.PATH], calls)

    def test_a_low_dword_of_all_ones_is_a_size_when_no_error_is_set(self):
        self._windows(GiB * 4 + 0xFFFFFFFF)
        self.assertEqual(GiB * 4 + 0xFFFFFFFF,
                         measure.file_bytes(self.PATH))

    def test_a_failure_names_the_file(self):
        self._windows(0xFFFFFFFF, last_error=2)  # ERROR_FILE_NOT_FOUND
        err = self.assertRaises(OSError, measure.file_bytes, self.PATH)
        self.assertEqual((self.PATH, 'The system cannot find the file '
                          'specified.'), (err.filename, err.strerror))
