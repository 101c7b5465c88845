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

"""The checks of what the world is made of: names and sizes."""

import collections

from hvc_oswin_api import paths
from hvc_sim.state import records


# Placement's limit on inventory amounts, which a CSV's size becomes.
MAX_VOLUME_GB = 2 ** 31 - 1


def check_cluster(cluster_name, nodes, volumes, vcpus, memory_mb):
    check_name('cluster', cluster_name, forbidden=':')
    check_folder_name('cluster', cluster_name)
    check_count('vCPUs of a node', vcpus)
    check_count('memory of a node (MB)', memory_mb)
    for name in nodes:
        check_name('node', name)
    for name, total_gb in volumes:
        check_volume_name(name)
        check_size(total_gb)
    for what, names in (('node', [n.lower() for n in nodes]),
                        ('shared volume', [v[0] for v in volumes])):
        for name, count in collections.Counter(names).items():
            if count > 1:
                raise records.SimulatorError('%s %r is listed %d times'
                                             % (what, name, count))


def check_name(what, name, forbidden=''):
    """Names are what nodes, placement providers and aggregates are found
    by: an empty one would match anything.
    """
    if not isinstance(name, str) or not name.strip():
        raise records.SimulatorError(
            'a %s needs a name, got %r' % (what, name))
    bad = sorted(set(forbidden) & set(name))
    if bad:
        raise records.SimulatorError(
            '%s name %r must not contain %s'
            % (what, name, ' '.join(repr(c) for c in bad)))


def check_volume_name(name):
    check_name('shared volume', name)
    check_folder_name('shared volume', name)


def check_folder_name(what, name):
    """A cluster's and a CSV's names are folders of the world's storage
    (a CSV's mount point is C:\\ClusterStorage\\<name> on Windows): one
    folder name each, or it would land outside the storage, or in another
    CSV's folder and be counted twice.
    """
    problem = paths.component_problem(name)
    if problem:
        raise records.SimulatorError('%s name %r cannot name a folder: it %s'
                                     % (what, name, problem))


def check_count(what, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise records.SimulatorError(
            '%s must be a whole number of at least 1, got '
            '%r' % (what, value))


def check_size(total_gb):
    if (isinstance(total_gb, bool) or not isinstance(total_gb, int) or
            not 1 <= total_gb <= MAX_VOLUME_GB):
        raise records.SimulatorError(
            'a shared volume needs a size between 1 and %d '
            'GB, got %r' % (MAX_VOLUME_GB, total_gb))
