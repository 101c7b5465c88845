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

"""os_win.utils.compute.livemigrationutils on the simulated cluster."""

import errno
import json
import os
import shutil

from oslo_log import log as logging

from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim.oswin import base
from hvc_sim import state as sim_state

LOG = logging.getLogger(__name__)


class LiveMigrationUtils(base.SimulatedUtils):
    """os_win.utils.compute.livemigrationutils.LiveMigrationUtils on a
    simulated host, with the seam's live migration with storage.

    Every simulated host is this machine: a migration to another host
    copies the VM's disk files into the destination folder, as Hyper-V
    copies them over the network, so what it moves takes real bytes.
    """

    KIND = 'livemigrationutils'

    @base.faultable(os_win_exc.HyperVException)
    def check_live_migration_config(self):
        node = self._state.node(self._node)
        if node is None or node.state != sim_state.NODE_UP:
            raise os_win_exc.HyperVException(
                'Live migration is not available on host %s: it is %s'
                % (self._node, 'unknown' if node is None else node.state))

    @base.faultable(os_win_exc.HyperVException)
    def destroy_existing_planned_vm(self, vm_name):
        # The simulated world migrates in one transaction and leaves no
        # planned VM behind a failure: there is none to destroy.
        pass

    # Not in os-win 5.9's public API: the seam adds it to os-win's
    # LiveMigrationUtils.
    @base.faultable(os_win_exc.HyperVException)
    def live_migrate_vm_with_storage(self, vm_name, dest_host, dest_dir,
                                     timeout=None):
        """Move the VM, running or not, to Hyper-V host ``dest_host``, its
        virtual hard disks of its own directory into ``dest_dir`` there,
        each keeping its file name (disks elsewhere, volumes on SMB shares,
        stay), as Move-VM does.

        The parents of a differencing disk are copied along into
        ``dest_dir`` (the copy of the child points at the copy of its
        parent: what Msvm_MoveUnmanagedVhd asks) and stay at the source
        (RetainVhdCopiesOnSource: an image cache other VMs use). The
        moved disks leave the source; other files of the VM's folder (a
        console log) stay, as Hyper-V does not own them.

        A DVD image in its own directory (a config drive ISO) is refused
        (HyperVException, nothing changed): the destination cannot reach
        it and Hyper-V migrates no DVD image; the caller ejects it first.
        The VM keeps its power state and uptime. A refusal or a failure
        changes nothing. ``timeout``: the copy here takes no time worth
        bounding.
        """
        vm = self._state.get_vm(vm_name)
        if vm is None or vm.node != self._node:
            raise os_win_exc.HyperVVMNotFoundException(vm_name=vm_name)
        if self._state.get_cluster_group(vm_name) is not None:
            raise os_win_exc.HyperVException(
                sim_state.CLUSTERED_VM_MIGRATION % vm_name)
        dest = self._destination(dest_host)
        disks = self._state.disks(vm_name)
        copies, parents, moved = self._copies(
            disks, vm.instance_path, dest_dir)
        created_dirs = _missing_dirs(dest_dir)
        copied = []
        try:
            os.makedirs(dest_dir, exist_ok=True)
            for src, dest_path in copies.items():
                _copy_file(src, dest_path)
                copied.append(dest_path)
            for child, parent in parents.items():
                _set_parent(copies[child], copies[parent])
            self._state.migrate_vm(
                vm_name, dest, dest_dir,
                {d.path: copies.get(d.path, d.path)
                 for d in disks},
                owner=self._node)
        except BaseException as e:
            for path in copied:
                _remove_quietly(path)
            for path in created_dirs:
                _remove_quietly(path, folder=True)
            if isinstance(e, OSError):
                # Hyper-V's migration job fails: os-win raises this.
                raise os_win_exc.HyperVException(
                    'The live migration of %s to %s failed: %s'
                    % (vm_name, dest, e)) from e
            raise
        for path in moved:
            _remove_quietly(path)

    def _destination(self, dest_host):
        """The world's name of host ``dest_host``, which must be up and
        another host than this one.
        """
        name = self._state.resolve_node(dest_host)
        node = self._state.node(name) if name else None
        if node is None or node.state != sim_state.NODE_UP:
            # What os-win says when it cannot reach the host's WMI.
            raise os_win_exc.HyperVException(
                'Target live migration host "%s" is unreachable%s'
                % (dest_host, '' if node is None else
                   ' (it is %s)' % node.state))
        if node.name == self._node:
            raise os_win_exc.HyperVException(
                'Cannot live-migrate to %s: the VM runs there already'
                % dest_host)
        return node.name

    def _copies(self, disks, own_dir, dest_dir):
        """What to copy ({source: copy}, in order), the parent of each
        differencing disk ({source child: source parent}), the disks that
        move (leave the source) as opposed to parents, which stay.
        """
        copies, parents, moved = {}, {}, []
        taken = {}

        def copy_of(src):
            if src in copies:
                return
            if not os.path.isfile(src):
                raise os_win_exc.HyperVException(
                    'The virtual disk %s cannot be found' % src)
            dest_path = os.path.join(dest_dir, os.path.basename(src))
            if dest_path in taken:
                raise os_win_exc.HyperVException(
                    '%s and %s would both be %s' % (taken[dest_path], src,
                                                    dest_path))
            if os.path.lexists(dest_path):
                raise os_win_exc.HyperVException(
                    'The file %s exists already on the destination'
                    % dest_path)
            taken[dest_path] = src
            copies[src] = dest_path

        for disk in disks:
            if disk.drive_type == 'PHYS':
                continue  # a passed-through volume: no file to move.
            if os.path.dirname(disk.path) != os.path.normpath(own_dir):
                continue  # a volume on an SMB share: both hosts reach it.
            if disk.drive_type == constants.DVD:
                raise os_win_exc.HyperVException(
                    'The DVD image %s is in the directory of %s, which the '
                    'destination cannot reach: eject it before the '
                    'migration' % (disk.path, os.path.basename(own_dir)))
            copy_of(disk.path)
            moved.append(disk.path)
            child = disk.path
            parent = _parent_path(child)
            while parent and child not in parents:
                copy_of(parent)
                parents[child] = parent
                child, parent = parent, _parent_path(parent)
        return copies, parents, moved


def _parent_path(path):
    """The parent of a simulated differencing disk, or None."""
    disk = sim_state.virtual_disk(path)
    return disk.get('parent') if disk else None


def _set_parent(path, parent):
    """Point the differencing disk ``path`` at ``parent``, as
    VHDUtils.reconnect_parent_vhd does, keeping what was written in it.
    """
    disk = sim_state.virtual_disk(path)
    disk['parent'] = parent
    with open(path, 'w') as f:
        json.dump(disk, f)


def _copy_file(src, dest):
    """Copy ``src`` into a new file ``dest`` (never over one), which a
    failure removes again.
    """
    with open(src, 'rb') as fsrc:
        fdest = open(dest, 'xb')
        try:
            with fdest:
                _copy_data(fsrc, fdest)
        except BaseException:
            _remove_quietly(dest)
            raise


def _copy_data(fsrc, fdest):
    """A sparse file stays sparse: a simulated disk of many GB costs this
    machine what it did.
    """
    info = os.fstat(fsrc.fileno())
    if (info.st_blocks * 512 >= info.st_size or
            not hasattr(os, 'SEEK_DATA')):
        shutil.copyfileobj(fsrc, fdest)
        return
    offset = 0
    while offset < info.st_size:
        try:
            start = os.lseek(fsrc.fileno(), offset, os.SEEK_DATA)
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
            break  # only a hole is left.
        end = os.lseek(fsrc.fileno(), start, os.SEEK_HOLE)
        fsrc.seek(start)
        fdest.seek(start)
        while start < end:
            chunk = fsrc.read(min(end - start, 1024 * 1024))
            if not chunk:
                break
            fdest.write(chunk)
            start += len(chunk)
        offset = end
    fdest.truncate(info.st_size)


def _missing_dirs(path):
    """The folders ``os.makedirs(path)`` would make, deepest first."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def _remove_quietly(path, folder=False):
    try:
        if folder:
            os.rmdir(path)  # only if nothing else was put there.
        else:
            os.remove(path)
    except OSError as e:
        LOG.warning('Could not remove %s: %s', path, e)
