"""The os-win source, with os-win mocked by autospec (no Windows here)."""

from unittest import mock

from os_win import exceptions as os_win_exc
from os_win.utils.compute import clusterutils
from os_win.utils.storage import diskutils
import testtools

from placement_sync import exception
from placement_sync.sources import oswin

GiB = 1024 ** 3


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
            self.useFixture(_patch('os_win.utilsfactory.' + name, value))

    def test_reads_nodes_and_csvs(self):
        conn = self.cluster._conn_cluster
        conn.MSCluster_Cluster.return_value = [mock.Mock(Name='HVCLUSTER')]
        conn.MSCluster_ClusterSharedVolume.return_value = [
            mock.Mock(Name='Cluster Disk 1',
                      VolumeName='C:\\ClusterStorage\\Volume1\\')]
        self.disk.get_disk_capacity.return_value = (500 * GiB + 7, 10 * GiB)
        self.cluster.get_cluster_node_names.return_value = ['HV1', 'HV2']

        [cluster] = oswin.load()

        self.assertEqual('HVCLUSTER', cluster.name)
        self.assertEqual(('HV1', 'HV2'), cluster.nodes)
        [vol] = cluster.shared_volumes
        self.assertEqual(('Cluster Disk 1', 'Volume1', 500),
                         (vol.id, vol.name, vol.total_gb))
        self.disk.get_disk_capacity.assert_called_once_with(
            'C:\\ClusterStorage\\Volume1\\')
        self.cluster.check_cluster_state.assert_called_once_with()

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


def _patch(target, value):
    import fixtures
    return fixtures.MockPatch(target, return_value=value)
