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

"""Every simulated node's administrative share.

On Windows another node's files are reached through its administrative
share, ``\\\\NODE\\C$\\ClusterStorage\\...`` for its
``C:\\ClusterStorage\\...``: a path that names the same file by another
string, which is what a path stored on one node (a differencing disk's
parent) is not compared with by accident. The simulated world's nodes
are all this machine, so a share path is the local path behind a
``//NODE/C$`` prefix (either slash, any case, as Windows reads it), and
the simulated utils that take paths open the local file behind it.
"""

import functools
import inspect
import re

_SHARE = re.compile(r'^[\\/]{2}[^\\/]+[\\/][A-Za-z]\$(?=[\\/]|$)')


def share_path(node, path):
    """``path`` of ``node`` as another node reaches it."""
    return '//%s/C$%s' % (node, path)


def local_path(path):
    """The local path behind a share path; any other path as it is."""
    if isinstance(path, str):
        match = _SHARE.match(path)
        if match:
            return path[match.end():] or '/'
    return path


def reached_through_shares(cls):
    """Make each public method of a simulated utils class take share
    paths: its string arguments are read as the local paths behind.
    """
    for name, func in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith('_'):
            setattr(cls, name, _taking_share_paths(func))
    return cls


def _taking_share_paths(func):
    @functools.wraps(func)
    def wrapper(self, *args, **kwargs):
        return func(self, *map(local_path, args),
                    **{k: local_path(v) for k, v in kwargs.items()})
    return wrapper
