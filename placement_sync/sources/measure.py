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

"""What a CSV holds in its instances folder, for sources that see it.

The compute driver puts each instance's folder, named like its VM, in
``<CSV mount path>\\<csv_instances_folder>`` on the CSV that holds its
DISK_GB (hvc_driver.layout); this measures each such folder.

On Windows a file is measured by what the volume allocates to it,
``GetCompressedFileSizeW`` (Microsoft Learn, "GetCompressedFileSizeW
function (fileapi.h)"): the bytes on disk of a compressed or sparse file,
the file's size for any other. A file that Data Deduplication optimized
keeps its data in the volume's chunk store, shared by every file that
holds the same chunks (Microsoft Learn, "Understanding Data
Deduplication"): its own allocation is what it takes alone, and the chunk
store is counted once, as used space outside the instances' folders,
rather than once in every folder that shares it. Elsewhere (the
simulated world and inventory files measure otherwise) a file is its
length.
"""

import ctypes
from ctypes import wintypes
import os

from hvc_oswin_api import paths

if os.name == 'nt':
    _kernel32 = ctypes.WinDLL('kernel32', use_last_error=True)
    _get_compressed_file_size = _kernel32.GetCompressedFileSizeW
    _get_compressed_file_size.argtypes = (wintypes.LPCWSTR,
                                          ctypes.POINTER(wintypes.DWORD))
    _get_compressed_file_size.restype = wintypes.DWORD
    _get_last_error = ctypes.get_last_error
    _format_error = ctypes.FormatError
else:
    _get_compressed_file_size = _get_last_error = _format_error = None

# GetCompressedFileSizeW's low DWORD on failure, which is also the low
# DWORD of a valid size: the last error tells them apart.
_INVALID_FILE_SIZE = 0xFFFFFFFF
_NO_ERROR = 0

# The compute driver's default [hyperv_cluster] csv_instances_folder.
DEFAULT_INSTANCES_FOLDER = 'OpenStack\\Instances'


def instances_dir(csv_path, instances_folder):
    """The instances folder on a CSV (the option is Windows-spelled, and
    checked by Windows' rules: ValueError for a part such as ``..``).
    """
    return os.path.join(csv_path, *paths.relative_folder_parts(
        instances_folder))


def file_bytes(path):
    """What the file at ``path`` takes on its volume: on Windows its
    allocated size, elsewhere its length. OSError if it cannot be read
    (FileNotFoundError for a file that is gone: on Windows, OSError maps
    the Windows error code it is given).
    """
    if _get_compressed_file_size is None:
        return os.path.getsize(path)
    high = wintypes.DWORD(0)
    low = _get_compressed_file_size(path, ctypes.pointer(high))
    if low == _INVALID_FILE_SIZE:
        error = _get_last_error()
        if error != _NO_ERROR:
            raise OSError(None, _format_error(error), path, error)
    return high.value << 32 | low


def folder_bytes(path, size_of=file_bytes):
    """What the files under ``path`` take; OSError when one cannot be
    read (a walk that skipped it would under-count).
    """
    def fail(error):
        raise error
    total = 0
    for root, _dirs, files in os.walk(path, onerror=fail):
        for name in files:
            try:
                total += size_of(os.path.join(root, name))
            except FileNotFoundError:
                pass  # removed while we walked: it takes nothing now.
    return total


def instance_folders(csv_path, instances_folder, size_of=file_bytes):
    """((folder name, bytes), ...) of each folder in the CSV's instances
    folder, sorted; () when there is no such folder yet.
    """
    root = instances_dir(csv_path, instances_folder)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError:
        return ()
    return tuple((entry.name, folder_bytes(entry.path, size_of))
                 for entry in entries if entry.is_dir())
