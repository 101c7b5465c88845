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

"""Where cluster facts come from: a YAML file, os-win, the simulator, or
the clusters' hvc-agents.

Each source returns a list of ``model.Cluster``; ``validate_clusters``
checks what no source may get wrong, before anything is written.
"""

import collections
import sqlite3

from placement_sync import exception
from placement_sync import model
from placement_sync.sources import measure


def load_clusters(conf):
    """The clusters named by ``[placement_sync] source``, validated."""
    source = conf.placement_sync.source
    if source in ('oswin', 'simulated', 'agent'):
        try:
            measure.instances_dir('', conf.placement_sync.csv_instances_folder)
        except ValueError as e:
            raise exception.ConfigError(
                '[placement_sync] csv_instances_folder %s' % e)
    if source == 'file':
        from placement_sync.sources import inventory_file
        clusters = inventory_file.load(conf.placement_sync.inventory_file)
    elif source == 'oswin':
        from placement_sync.sources import oswin
        clusters = oswin.load(conf.placement_sync.csv_instances_folder)
    elif source == 'simulated':
        from placement_sync.sources import simulated
        path = conf.placement_sync.simulated_state_file
        try:
            clusters = simulated.load(
                path, conf.placement_sync.csv_instances_folder)
        except (sqlite3.Error, OSError) as e:
            # Whatever the simulator lets through: not a database,
            # truncated, read-only, locked.
            raise exception.InvalidInventory(
                'cannot read the simulated cluster state file %s: %s'
                % (path, e))
    elif source == 'agent':
        from placement_sync.sources import agent
        clusters = agent.load(conf.placement_sync)
    else:  # oslo.config's choices make this unreachable.
        raise exception.InvalidInventory('unknown source %r' % source)
    validate_clusters(clusters)
    return clusters


def validate_clusters(clusters):
    """Refuse facts that would make placement inconsistent."""
    problems = []
    owner_of_node = {}
    for name, count in collections.Counter(
            c.name for c in clusters).items():
        if count > 1:
            problems.append('cluster %r is listed %d times' % (name, count))
    for cluster in clusters:
        problems.extend('cluster %r: %s %s' % (cluster.name, field, problem)
                        for field, problem in model.cluster_problems(cluster))
        for volume in cluster.shared_volumes:
            problems.extend(
                'cluster %r, shared volume %r: %s %s'
                % (cluster.name, volume.name, field, problem)
                for field, problem in model.volume_problems(cluster.name,
                                                            volume))
        names = [n for n in cluster.nodes if not model.name_problem(n)]
        for node in {model.host_key(n): n for n in names}.values():
            other = owner_of_node.setdefault(model.host_key(node),
                                             cluster.name)
            if other != cluster.name:
                problems.append('node %r is in clusters %r and %r'
                                % (node, other, cluster.name))
        volumes = cluster.shared_volumes + cluster.offline_volumes
        for what, values in (
                ('node', [model.host_key(n) for n in names]),
                ('shared volume id', [v.id for v in volumes]),
                ('shared volume name', [v.name for v in volumes])):
            for value, count in collections.Counter(values).items():
                if count > 1:
                    problems.append('cluster %r: %s %r is listed %d times'
                                    % (cluster.name, what, value, count))
    if problems:
        raise exception.InvalidInventory('; '.join(problems))
