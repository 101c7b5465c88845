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

"""What is on the CSVs besides the VMs' disks."""

import json
import os

from hvc_sim.state import disks
from hvc_sim.state import records


class Volumes(object):
    """ClusterState's files on CSVs."""

    # What is on a CSV besides the VMs' disks: an image cache, an upload
    # in progress, an administrator's files, other VMs of the cluster.

    def volume(self, name, cluster=None):
        """The CSV ``name`` of ``cluster`` (the only one, when not named)."""
        with self._db() as conn:
            cluster = self._the_cluster(conn, cluster)
            row = conn.execute('SELECT * FROM shared_volumes WHERE '
                               'cluster = ? AND name = ?',
                               (cluster, name)).fetchone()
        if row is None:
            raise records.SimulatorError('no shared volume %r in cluster %s'
                                         % (name, cluster))
        return records.SharedVolume(**row)

    def volume_used_bytes(self, name, cluster=None):
        """What the files on a CSV really take (see ``physical_bytes``)."""
        return disks.folder_physical_bytes(self.volume(name, cluster).path)

    def add_file(self, volume_name, relative_path, size_bytes, cluster=None):
        """A file of ``size_bytes`` on a CSV that is no VM's disk (made
        sparse: it costs this machine nothing). Refused when the volume
        has not that much free, as Windows refuses it.
        """
        volume = self.volume(volume_name, cluster)
        path = self._path_on(volume, relative_path)
        if os.path.exists(path):
            raise records.SimulatorError('%s exists already' % path)
        free = (volume.total_gb * disks.SIZE_UNITS['G'] -
                disks.folder_physical_bytes(volume.path))
        if size_bytes > free:
            raise records.SimulatorError(
                'not enough space on shared volume %s: %d bytes free, %d '
                'asked for' % (volume.name, max(free, 0), size_bytes))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.truncate(size_bytes)
        return path

    def remove_file(self, volume_name, relative_path, cluster=None):
        path = self._path_on(self.volume(volume_name, cluster),
                             relative_path)
        try:
            os.remove(path)
        except FileNotFoundError:
            raise records.SimulatorError('no file %s' % path)
        except IsADirectoryError:
            raise records.SimulatorError('%s is a folder, not a file' % path)

    def _path_on(self, volume, relative_path):
        parts = [p for p in relative_path.replace('\\', '/').split('/')
                 if p not in ('', '.')]
        if not parts or '..' in parts:
            raise records.SimulatorError(
                'a file on a shared volume needs a path '
                'inside it, got %r' % relative_path)
        return os.path.join(volume.path, *parts)

    def write_to_disk(self, path, physical_size):
        """A guest wrote into a dynamic or differencing simulated disk: it
        now takes ``physical_size`` bytes on its volume (at most its
        virtual size).
        """
        disk = disks.virtual_disk(path) if os.path.isfile(path) else None
        if disk is None or disk.get('type') == disks.VHD_TYPE_FIXED:
            raise records.SimulatorError('%s is not a dynamic or differencing '
                                         'simulated disk' % path)
        if not 0 <= physical_size <= disk['virtual_size']:
            raise records.SimulatorError(
                'a disk of %d bytes cannot take %d bytes'
                % (disk['virtual_size'], physical_size))
        disk['physical_size'] = physical_size
        tmp = path + '.writing'
        with open(tmp, 'w') as f:
            json.dump(disk, f)
        os.replace(tmp, path)
