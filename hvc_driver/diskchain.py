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

"""Chains of virtual disks: a differencing disk and its parents.

An instance's root disk is a differencing disk over the cluster's cached
image, with a revert point between them for each resize that grew it
(migrationops). A snapshot, or the growth of a VHD (whose differencing
disks cannot be resized), needs it as one standalone disk.
"""


from nova import exception

# Disks in a chain, at most: a loop of parents would never end.
MAX_CHAIN = 64


def chain_of(vhdutils, top):
    """``top`` and its parents, top first."""
    chain = [top]
    for _depth in range(MAX_CHAIN):
        parent = vhdutils.get_vhd_parent_path(chain[-1])
        if not parent:
            return chain
        chain.append(parent)
    raise exception.NovaException('%s has a chain of more than %d virtual '
                                  'disks' % (top, MAX_CHAIN))


def flat_copy(hyperv, top, dest):
    """Copy ``top`` and its parents into one standalone dynamic disk at
    ``dest`` with ``top``'s contents and size; the chain is left as it is.

    Each disk is copied beside ``dest`` (keeping its extension, which the
    virtual disk API reads the format from), each copy pointed at the copy
    of its parent, and merged down into it.
    """
    pathutils, vhdutils = hyperv.pathutils, hyperv.vhdutils
    base, ext = hyperv.path.splitext(dest)
    chain = chain_of(vhdutils, top)
    copies = ['%s.part%d%s' % (base, level, ext)
              for level in range(len(chain))]
    for path, copy in zip(chain, copies):
        pathutils.copyfile(path, copy)
    for child, parent in zip(copies, copies[1:]):
        vhdutils.reconnect_parent_vhd(child, parent)
        # A child grown beyond its parent needs the parent as large before
        # its blocks can all go into it.
        size = vhdutils.get_vhd_size(child)['VirtualSize']
        if size > vhdutils.get_vhd_size(parent)['VirtualSize']:
            vhdutils.resize_vhd(parent, size, is_file_max_size=False)
    for child in copies[:-1]:
        vhdutils.merge_vhd(child)
    pathutils.rename(copies[-1], dest)
    return dest
