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

"""os_win.utils.pathutils on the simulated cluster."""

import errno
import os
import shutil
import time

from hvc_agent import files as agent_files
from hvc_sim.oswin import base
from hvc_sim import shares


@shares.reached_through_shares
class PathUtils(base.SimulatedUtils):
    """os_win.utils.pathutils.PathUtils: plain file operations.

    The simulated cluster's shared storage is a local directory, so these
    are the file operations os-win does, on the local file system, with
    Windows' rules where POSIX differs (rename and copy do not replace an
    existing file) and os-win's errors: plain OSError.
    """

    KIND = 'pathutils'

    @base.faultable(OSError)
    def open(self, path, mode):
        return open(path, mode)

    @base.faultable(OSError)
    def exists(self, path):
        return os.path.exists(path)

    @base.faultable(OSError)
    def get_size(self, path):
        return os.path.getsize(path)

    @base.faultable(OSError)
    def read_file(self, path, offset=0, length=-1):
        return agent_files.read_file(path, offset, length)

    @base.faultable(OSError)
    def write_file(self, path, data, offset=0):
        agent_files.write_file(path, data, offset)

    @base.faultable(OSError)
    def listdir(self, path):
        return os.listdir(path)

    @base.faultable(OSError)
    def get_age_of_file(self, file_name):
        return time.time() - os.path.getmtime(file_name)

    @base.faultable(OSError)
    def makedirs(self, path):
        os.makedirs(path)

    @base.faultable(OSError)
    def check_create_dir(self, path):
        if not os.path.exists(path):
            os.makedirs(path)

    @base.faultable(OSError)
    def check_remove_dir(self, path):
        if os.path.exists(path):
            shutil.rmtree(path)

    @base.faultable(OSError)
    def rmtree(self, path):
        shutil.rmtree(path)

    @base.faultable(OSError)
    def remove(self, path):
        os.remove(path)

    @base.faultable(OSError)
    def rename(self, src, dest):
        # MoveFile (os.rename on Windows) fails on an existing target.
        if os.path.exists(dest):
            raise FileExistsError(errno.EEXIST, 'Cannot create a file when '
                                  'that file already exists', dest)
        os.rename(src, dest)

    @base.faultable(OSError)
    def copyfile(self, src, dest):
        # os-win: copy(src, dest), which fails if dest exists.
        self.copy(src, dest)

    @base.faultable(OSError)
    def copy(self, src, dest, fail_if_exists=True):
        if os.path.isdir(dest):
            dest = os.path.join(dest, os.path.basename(src))
        if fail_if_exists and os.path.exists(dest):
            # os-win turns CopyFileW's failure into IOError.
            raise IOError('The file copy from %s to %s failed. Exception: '
                          'the file exists' % (src, dest))
        shutil.copy(src, dest)
