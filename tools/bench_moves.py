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

"""What a move inside a cluster costs, against what a storage move costs.

Also a cold migration to a second cluster, which copies the instance's
own disk files, and a live migration back, which copies the whole disk
chain while the VM runs.

nova's in-process deployment (real API, conductor, scheduler with
hvc_scheduler's filter and weigher, three compute services running
HyperVClusterDriver on one simulated cluster, placement with the CSV that
placement_sync publishes) and a server whose disk chain on the CSV holds a
few hundred MB of real bytes (its image, cached once per cluster, under a
differencing root disk). For a live migration and a cold migration
(confirmed) inside the cluster it prints the wall time and the bytes the
move wrote on the CSV (goal: 0), and for comparison the time a storage
move of the same chain takes on this machine (a plain copy of its files:
what a move that copies the disks, out of the cluster or compute-hyperv's
cold migration, must pay at least). It also prints the peak DISK_GB
claimed on the CSV during the cold migration against the instance's size
(nova claims the disk twice until the resize is confirmed), and what a
cold migration to the cluster's other CSV costs when the own CSV has no
room for that second claim, and what the resize of a VHD instance costs
(its chain copied into one standalone disk).

    .venv/bin/python tools/bench_moves.py [--image-mb 300]
"""

import argparse
import io
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

# Nova's monkey patching comes first (see tests/functional/driver).
from tests.functional import driver as driver_tests  # noqa
from tests.functional.driver import test_moves  # noqa: E402

import fixtures  # noqa: E402

from hvc_sim.oswin.compute import livemigrationutils  # noqa: E402
from hvc_sim.oswin import pathutils  # noqa: E402

IMAGE_MB = 300


class BenchMoves(test_moves.MovesTestCase):

    image_mb = IMAGE_MB
    other_clusters = (('cluster2', ('b1', 'b2'), (('Data', 500),)),)
    # Volume2 too small for the server at first: it boots on Volume1.
    volumes = (('Volume1', 100), ('Volume2', 5))

    def _csv_bytes(self):
        """Every file on the CSV with its size and identity."""
        found = {}
        for volume in self.sim.shared_volumes():
            for root, _dirs, files in os.walk(volume.path):
                for name in files:
                    stat = os.stat(os.path.join(root, name))
                    found[os.path.join(root, name)] = (
                        stat.st_size, stat.st_ino, stat.st_mtime_ns)
        return found

    @staticmethod
    def _written(before, after):
        """Bytes of the files made or changed between two listings, but
        for console logs (which a booting guest writes to).
        """
        return sum(after[p][0] for p in after
                   if before.get(p) != after[p] and
                   not os.path.basename(p).startswith('console.log'))

    def _chain(self, server):
        """The server's disk files and their parents, with sizes."""
        name = server['OS-EXT-SRV-ATTR:instance_name']
        vhdutils = self.computes[server['OS-EXT-SRV-ATTR:host']].manager \
            .driver._hyperv.vhdutils
        chain = []
        for disk in self.sim.disks(name):
            path = disk.path
            while path:
                chain.append(path)
                path = vhdutils.get_vhd_parent_path(path)
        return [(p, os.path.getsize(p)) for p in chain]

    def _count_copies(self):
        """Count the bytes the simulated hosts copy (file copies, and the
        storage migration's), in self.copied.
        """
        self.copied = 0
        copy, copy_file = pathutils.shutil.copy, livemigrationutils._copy_file

        def counted(real):
            def count(src, dest, *args, **kwargs):
                self.copied += os.path.getsize(src)
                return real(src, dest, *args, **kwargs)
            return count
        self.useFixture(fixtures.MonkeyPatch(
            'hvc_sim.oswin.pathutils.shutil.copy', counted(copy)))
        self.useFixture(fixtures.MonkeyPatch(
            'hvc_sim.oswin.compute.livemigrationutils._copy_file',
            counted(copy_file)))

    def _timed_move(self, server, action, status, server_status):
        before = self._csv_bytes()
        self.copied = 0
        start = time.perf_counter()
        server = self._move(server, action, status, server_status)
        if server_status == 'VERIFY_RESIZE':
            peak = self._get_provider_usages(self.csv_rp)['DISK_GB']
            server = self._confirm_resize(server)
        else:
            peak = None
        seconds = time.perf_counter() - start
        return server, seconds, (self._written(before, self._csv_bytes()),
                                 self.copied), peak

    def test_bench(self):
        out = sys.stdout
        image = self.glance.create(None, {
            'name': 'big', 'disk_format': 'vhdx',
            'container_format': 'bare', 'size': self.image_mb * 2 ** 20},
            data=io.BytesIO(os.urandom(self.image_mb * 2 ** 20)))['id']
        flavor = self._flavor(disk=10, disk_group=True)
        self.admin_api.microversion = '2.74'
        server = self._create_server(image_uuid=image, flavor_id=flavor,
                                     networks='none', host='node1',
                                     api=self.admin_api)
        chain = self._chain(server)
        chain_bytes = sum(size for _path, size in chain)
        print('\nServer on %s: 10 GB flavor, disk chain on the CSV of %d '
              'file(s), %.0f MB of real bytes'
              % (server['OS-EXT-SRV-ATTR:host'], len(chain),
                 chain_bytes / 2 ** 20), file=out)

        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            for path, _size in chain:
                shutil.copyfile(path, os.path.join(tmp, os.path.basename(
                    path)))
                with open(os.path.join(tmp, os.path.basename(path)),
                          'rb+') as f:
                    os.fsync(f.fileno())
            copy_seconds = time.perf_counter() - start
        self._count_copies()
        print('\n%-44s %9s %14s %14s' % ('move', 'seconds', 'bytes written',
                                         'bytes copied'),
              file=out)
        source = server['OS-EXT-SRV-ATTR:host']
        target = self._another_node(source)
        server, seconds, written, _peak = self._timed_move(
            server, {'os-migrateLive': {'host': target,
                                        'block_migration': 'auto'}},
            'completed', 'ACTIVE')
        print('%-44s %9.2f %14d %14d' % (
            'live migration inside the cluster', seconds, *written), file=out)
        source = server['OS-EXT-SRV-ATTR:host']
        target = self._another_node(source)
        server, seconds, written, peak = self._timed_move(
            server, {'migrate': {'host': target}}, 'finished',
            'VERIFY_RESIZE')
        print('%-44s %9.2f %14d %14d' % (
            'cold migration inside the cluster + confirm', seconds, *written),
            file=out)
        inside_peak = peak
        inside_after = self._get_provider_usages(self.csv_rp)['DISK_GB']
        # Volume1 now has no room for the disk a second time; Volume2 has.
        self.sim.resize_volume('Volume1', 15, cluster='cluster1')
        self.sim.resize_volume('Volume2', 100, cluster='cluster1')
        self._publish_csvs()
        source = server['OS-EXT-SRV-ATTR:host']
        server, seconds, written, _peak = self._timed_move(
            server, {'migrate': {'host': self._another_node(source)}},
            'finished', 'VERIFY_RESIZE')
        print('%-44s %9.2f %14d %14d' % (
            'cold migration to the other CSV + confirm', seconds, *written),
            file=out)
        server, seconds, written, _peak = self._timed_move(
            server, {'migrate': {'host': 'b1'}}, 'finished',
            'VERIFY_RESIZE')
        print('%-44s %9.2f %14d %14d' % (
            'cold migration to another cluster + confirm', seconds,
            *written), file=out)
        server, seconds, written, _peak = self._timed_move(
            server, {'os-migrateLive': {'host': 'node1',
                                        'block_migration': 'auto'}},
            'completed', 'ACTIVE')
        print('%-44s %9.2f %14d %14d' % (
            'live migration to another cluster', seconds, *written),
            file=out)
        peak = inside_peak

        vhd = self.glance.create(None, {
            'name': 'big-vhd', 'disk_format': 'vhd',
            'container_format': 'bare', 'size': self.image_mb * 2 ** 20},
            data=io.BytesIO(os.urandom(self.image_mb * 2 ** 20)))['id']
        vhd_server = self._create_server(image_uuid=vhd, flavor_id=flavor,
                                         networks='none', host='node1',
                                         api=self.admin_api)
        self.admin_api.microversion = '2.56'
        _server, seconds, written, _peak = self._timed_move(
            vhd_server, {'resize': {'flavorRef': self._flavor(
                disk=20, disk_group=True)}}, 'finished', 'VERIFY_RESIZE')
        print('%-44s %9.2f %14d %14d' % (
            'resize of a VHD (standalone copy) + confirm', seconds,
            *written), file=out)
        print('%-44s %9.2f %14d %14d' % (
            'storage copy of the same chain (baseline)', copy_seconds,
            chain_bytes, chain_bytes), file=out)
        rate = chain_bytes / copy_seconds / 2 ** 20
        print('\nThe cluster moves write nothing whatever the disks hold; a '
              'storage copy grows with them: at this machine\'s local rate '
              '(%.0f MB/s, a network copy is slower) a 40 GB disk takes '
              '%.0f s.' % (rate, 40 * 1024 / rate), file=out)
        print('A cold migration to the cluster\'s other CSV (when the '
              'own CSV lacks room for nova\'s second claim) copies the '
              'instance\'s own disk files, not the cached image.', file=out)
        print('A resize that grows a VHD instance\'s disk copies its whole '
              'chain into one standalone disk (a differencing VHD cannot '
              'grow); a VHDX grows over a new differencing child. (The '
              'simulated world keeps a disk it ever resized as a '
              'description, not as bytes: on Hyper-V that copy moves every '
              'allocated byte of the chain, the image\'s at least.)',
              file=out)
        print('A cold migration to another cluster copies the instance\'s '
              'own disk files (here differencing children over the image); '
              'the other cluster also downloads the image once if its cache '
              'lacks it (not here: in one process both clusters share one '
              'image cache). A live migration to another cluster copies '
              'the whole chain, image included, while the VM runs '
              '(Hyper-V\'s storage migration).', file=out)
        print('\nPeak DISK_GB claimed on the CSV during the cold migration: '
              '%d GB for an instance of 10 GB (nova holds the source\'s '
              'claim on the migration until confirm)' % peak, file=out)
        print('After confirm: %d GB' % inside_after, file=out)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--image-mb', type=int, default=IMAGE_MB,
                        help='size of the image (the bytes of the disk '
                             'chain), in MB')
    args = parser.parse_args(argv)
    BenchMoves.image_mb = args.image_mb
    return driver_tests.run_as_tool(BenchMoves('test_bench'))


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
