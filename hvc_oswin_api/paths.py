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

"""Windows' rules for the names that become folders and files: a VM's name
(its instance directory), a CSV's name (its mount point under
C:\\ClusterStorage), the parts of the instances folder option.

Microsoft, "Naming Files, Paths, and Namespaces": a name may not hold
``< > : " / \\ | ? *`` nor characters 0-31, may not end in a space or a
period (Windows drops them, so ``a.`` is ``a``), and ``.`` and ``..`` are
the current and parent folders. One such name is one path component: a
path joined from it stays in its folder.
"""

import ntpath
import re

_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def component_problem(name):
    """Why ``name`` cannot be one folder or file name on Windows, or
    None.
    """
    if not isinstance(name, str) or not name:
        return 'is empty'
    bad = sorted(set(_FORBIDDEN.findall(name)))
    if bad:
        return 'holds %s, which Windows names may not' % ', '.join(
            repr(c) for c in bad)
    if name in ('.', '..'):
        return 'is %r, a folder\'s own name for itself or its parent' % name
    if name[-1] in ' .':
        return 'ends in %r, which Windows drops from names' % name[-1]
    return None


def relative_folder_parts(path):
    """The folder names of a relative folder written with either slash
    (``OpenStack\\Instances``); ValueError naming the part Windows would
    refuse, or one that leaves the folder it is relative to.
    """
    parts = [p for p in re.split(r'[\\/]+', path or '') if p]
    if not parts:
        raise ValueError('%r names no folder' % (path,))
    for part in parts:
        problem = component_problem(part)
        if problem:
            raise ValueError('%r: its part %r %s' % (path, part, problem))
    return parts


def key(path):
    """``path`` as Windows compares paths (the same Microsoft document:
    names are case-insensitive, ``/`` separates as ``\\`` does, ``.`` and
    ``..`` are resolved): ``ntpath.normcase`` of ``ntpath.normpath``.
    """
    return ntpath.normcase(ntpath.normpath(path))


def is_within(path, folder):
    """Whether ``path`` is ``folder`` or a path under it, compared as
    Windows compares paths (``key``).
    """
    path, folder = key(path), key(folder)
    return path == folder or path.startswith(folder.rstrip('\\') + '\\')


def same(path, other):
    """Whether two paths name the same file or folder as Windows compares
    them (``key``).
    """
    return key(path) == key(other)
