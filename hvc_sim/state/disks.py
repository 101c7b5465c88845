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

"""The simulated virtual disk files, and what files take on a CSV."""

import json
import os
import stat

from hvc_sim.state import records


# A simulated virtual disk is a small JSON file that describes the disk
# (hvc_sim.oswin.storage.vhdutils writes them); this is its mark.
VIRTUAL_DISK_MAGIC = 'hvc-sim-virtual-disk'
_VIRTUAL_DISK_HEAD = 4096
SIZE_UNITS = {'': 1, 'K': 1024, 'M': 1024 ** 2, 'G': 1024 ** 3,
               'T': 1024 ** 4}


def physical_bytes(path):
    """What a file on a simulated CSV really takes on the volume.

    A simulated virtual disk takes what the disk would take on Hyper-V: a
    fixed disk its virtual size; a dynamic or differencing disk what its
    guest wrote into it (``physical_size``, set by ``write_to_disk``), or
    the small file itself while nothing is written. Any other file takes
    its length (a sparse file too: NTFS counts it so unless told
    otherwise).
    """
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        # A FIFO, a socket, a device, a link: no data of its own on the
        # volume (and reading a FIFO would wait for a writer for ever).
        return 0
    size = info.st_size
    if size > _VIRTUAL_DISK_HEAD:
        return size
    disk = virtual_disk(path)
    if disk is None:
        return size
    if disk.get('type') == VHD_TYPE_FIXED:
        return disk['virtual_size']
    return disk.get('physical_size', size)


# os-win's VHD_TYPE_FIXED (hvc_oswin_api.constants, not imported here).
VHD_TYPE_FIXED = 2


def virtual_disk(path):
    """The description of a simulated virtual disk, or None."""
    try:
        with open(path, 'rb') as f:
            disk = json.loads(f.read(_VIRTUAL_DISK_HEAD).decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(disk, dict) and disk.get('magic') == VIRTUAL_DISK_MAGIC:
        return disk
    return None


def parse_size(text):
    """Bytes from ``text``: a whole number with an optional unit K, M, G
    or T (powers of 1024), e.g. 512M or 20G.
    """
    text = text.strip().upper().rstrip('B').rstrip('I')
    number, unit = text, ''
    if text and text[-1] in SIZE_UNITS:
        number, unit = text[:-1], text[-1]
    if not number.isdigit():
        raise records.SimulatorError(
            'expected a size such as 512M or 20G, got %r'
            % text)
    return int(number) * SIZE_UNITS[unit]


def folder_physical_bytes(path):
    """What the files under ``path`` really take (0 if it is missing)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += physical_bytes(os.path.join(root, name))
            except FileNotFoundError:
                pass  # removed while we walked.
    return total
