"""What a CSV holds in its instances folder, for sources that see it.

The compute driver puts each instance's folder, named like its VM, in
``<CSV mount path>\\<csv_instances_folder>`` on the CSV that holds its
DISK_GB (hvc_driver.layout); this measures each such folder.
"""

import os

from hvc_oswin_api import paths

# The compute driver's default [hyperv_cluster] csv_instances_folder.
DEFAULT_INSTANCES_FOLDER = 'OpenStack\\Instances'


def instances_dir(csv_path, instances_folder):
    """The instances folder on a CSV (the option is Windows-spelled, and
    checked by Windows' rules: ValueError for a part such as ``..``)."""
    return os.path.join(csv_path, *paths.relative_folder_parts(
        instances_folder))


def file_bytes(path):
    return os.path.getsize(path)


def folder_bytes(path, size_of=file_bytes):
    """What the files under ``path`` take; OSError when one cannot be
    read (a walk that skipped it would under-count)."""
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
    folder, sorted; () when there is no such folder yet."""
    root = instances_dir(csv_path, instances_folder)
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError:
        return ()
    return tuple((entry.name, folder_bytes(entry.path, size_of))
                 for entry in entries if entry.is_dir())
