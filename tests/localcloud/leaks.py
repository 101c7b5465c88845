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

"""Where a local cloud's passwords must not be: on a command line (of a
recorded launch or of any process now) or in a log file; and every file of
the cloud that holds one, and every log, is readable by its owner
only.
"""

import os
import stat

import psutil

# Larger files outside the log folder are data (images, the simulated
# disks), not configuration.
MAX_CONFIG_BYTES = 1024 * 1024


def _holding(data, secrets):
    """The names of the passwords ``data`` (bytes) holds."""
    return sorted(name for name, value in secrets.items()
                  if value.encode() in data)


def _files(cloud):
    """(path, stat) of the cloud's regular files but the database's own
    (MariaDB keeps them in a folder of its owner's; nova stores its cells'
    URLs in them).
    """
    skipped = cloud.path('data', 'mariadb')
    for folder, subfolders, names in os.walk(cloud.root):
        if folder == skipped:
            subfolders[:] = []
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(info.st_mode):
                yield path, info


def find(cloud):
    """Each leak of the cloud's passwords, the password named, not shown."""
    secrets = cloud.secrets
    leaks = []
    for name, record in cloud.processes().items():
        for key in _holding('\0'.join(record['argv']).encode(), secrets):
            leaks.append('the recorded argv of %s holds %s' % (name, key))
    for proc in psutil.process_iter(['cmdline']):
        cmdline = '\0'.join(proc.info['cmdline'] or ()).encode()
        for key in _holding(cmdline, secrets):
            leaks.append('the command line of process %d holds %s'
                         % (proc.pid, key))
    logs = cloud.path('log') + os.sep
    for path, info in _files(cloud):
        is_log = path.startswith(logs)
        if not is_log and info.st_size > MAX_CONFIG_BYTES:
            continue
        try:
            with open(path, 'rb') as f:
                keys = _holding(f.read(), secrets)
        except FileNotFoundError:
            continue
        relative = os.path.relpath(path, cloud.root)
        if is_log:
            leaks.extend('%s holds %s' % (relative, key) for key in keys)
        if (is_log or keys) and info.st_mode & 0o077:
            leaks.append('%s has mode %o' % (relative,
                                             stat.S_IMODE(info.st_mode)))
    return leaks
