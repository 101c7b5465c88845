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

"""Cluster facts from a YAML file, for a controller outside the cluster.

The whole file is checked before anything is returned; every problem is
reported with the path of the bad field, e.g.
``clusters[0].shared_volumes[1].total_gb: must be an integer > 0``.
"""

import dataclasses

import yaml

from placement_sync import exception
from placement_sync import model

_CLUSTER_KEYS = {'name', 'nodes', 'shared_volumes'}
_VOLUME_KEYS = {'id', 'name', 'total_gb', 'reserved_gb', 'allocation_ratio',
                'traits'}


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping, which
    YAML would resolve silently by keeping the last (a second
    ``shared_volumes: []`` would retire every CSV of the cluster).
    """

    def construct_document(self, node):
        duplicates = []
        _find_duplicate_keys(node, '', set(), duplicates)
        if duplicates:
            raise exception.InvalidInventory('; '.join(
                'line %d: %s is given twice (first on line %d)' % duplicate
                for duplicate in sorted(duplicates)))
        return super().construct_document(node)


def _find_duplicate_keys(node, where, seen, duplicates):
    """Add (line, key path, first line) to duplicates for each key given
    twice in a mapping under ``node``.
    """
    if id(node) in seen:  # an alias of a node already looked at
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line = {}
        for key, value in node.value:
            label = key.value if isinstance(key, yaml.ScalarNode) else '?'
            path = '%s.%s' % (where, label) if where else label
            if (isinstance(key, yaml.ScalarNode) and
                    key.tag != 'tag:yaml.org,2002:merge'):
                line = key.start_mark.line + 1
                if (key.tag, label) in first_line:
                    duplicates.append((line, path,
                                       first_line[(key.tag, label)]))
                else:
                    first_line[(key.tag, label)] = line
            _find_duplicate_keys(value, path, seen, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _find_duplicate_keys(item, '%s[%d]' % (where, i), seen,
                                 duplicates)


def load(path):
    try:
        with open(path) as f:
            data = yaml.load(f, Loader=_UniqueKeyLoader)
    except OSError as e:
        raise exception.InvalidInventory(
            'cannot read inventory file %s: %s' % (path, e.strerror))
    except yaml.YAMLError as e:
        raise exception.InvalidInventory(
            'inventory file %s is not valid YAML: %s' % (path, e))
    except exception.InvalidInventory as e:
        raise exception.InvalidInventory('inventory file %s, %s' % (path, e))
    try:
        return parse(data)
    except exception.InvalidInventory as e:
        raise exception.InvalidInventory('inventory file %s: %s' % (path, e))


def parse(data):
    """Clusters from the loaded YAML document, or InvalidInventory."""
    errors = []
    if not isinstance(data, dict) or not isinstance(
            data.get('clusters'), list):
        raise exception.InvalidInventory(
            "the top level must be a mapping with a 'clusters' list")
    unknown = set(data) - {'clusters'}
    if unknown:
        errors.append('unknown top-level key(s): %s'
                      % ', '.join(sorted(unknown)))
    clusters = []
    for i, raw in enumerate(data['clusters']):
        cluster = _parse_cluster('clusters[%d]' % i, raw, errors)
        if cluster:
            clusters.append(cluster)
    if errors:
        raise exception.InvalidInventory('; '.join(errors))
    return clusters


def _parse_cluster(where, raw, errors):
    if not isinstance(raw, dict):
        errors.append('%s: must be a mapping' % where)
        return None
    _unknown_keys(where, raw, _CLUSTER_KEYS, errors)
    name = raw.get('name')
    nodes = raw.get('nodes')
    if not isinstance(nodes, list) or not nodes:
        errors.append('%s.nodes: must be a non-empty list of nova compute '
                      'host names' % where)
        nodes = []
    # Required, even if empty: a forgotten key must not read as "this
    # cluster has no CSVs any more", which would drain them all.
    volumes = raw.get('shared_volumes')
    if not isinstance(volumes, list):
        errors.append('%s.shared_volumes: must be a list (empty if the '
                      'cluster has no CSV)' % where)
        volumes = []
    cluster = model.Cluster(name=name, nodes=tuple(nodes), shared_volumes=())
    _add_problems(where, model.cluster_problems(cluster), errors)
    cluster_name = name if isinstance(name, str) else ''
    return dataclasses.replace(cluster, shared_volumes=tuple(
        _parse_volume('%s.shared_volumes[%d]' % (where, j), v, cluster_name,
                      errors)
        for j, v in enumerate(volumes)))


def _parse_volume(where, raw, cluster_name, errors):
    if not isinstance(raw, dict):
        errors.append('%s: must be a mapping' % where)
        return None
    before = len(errors)
    _unknown_keys(where, raw, _VOLUME_KEYS, errors)
    total = _integer(where + '.total_gb', raw.get('total_gb'), errors)
    reserved = _integer(where + '.reserved_gb', raw.get('reserved_gb', 0),
                        errors)
    ratio = raw.get('allocation_ratio', 1.0)
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)):
        errors.append('%s.allocation_ratio: must be a number, got %r'
                      % (where, ratio))
    traits = raw.get('traits', [])
    if not isinstance(traits, list):
        errors.append('%s.traits: must be a list' % where)
        traits = []
    for j, trait in enumerate(traits):
        problem = model.trait_problem(trait)
        if problem:
            errors.append('%s.traits[%d]: %s' % (where, j, problem))
    volume_id = _name(where + '.id', raw.get('id'), errors)
    name = _name(where + '.name', raw.get('name'), errors)
    if len(errors) > before:
        return None
    volume = model.SharedVolume(
        id=volume_id, name=name, total_gb=total, reserved_gb=reserved,
        allocation_ratio=ratio, traits=frozenset(traits))
    _add_problems(where, model.volume_problems(cluster_name, volume), errors)
    return volume


def _add_problems(where, problems, errors):
    errors.extend('%s.%s: %s' % (where, field, problem)
                  for field, problem in problems)


def _unknown_keys(where, raw, allowed, errors):
    unknown = set(raw) - allowed
    if unknown:
        errors.append('%s: unknown key(s) %s (allowed: %s)' % (
            where, ', '.join(sorted(map(str, unknown))),
            ', '.join(sorted(allowed))))


def _name(where, value, errors):
    problem = model.name_problem(value)
    if problem:
        errors.append('%s: %s' % (where, problem))
        return None
    return value


def _integer(where, value, errors):
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append('%s: must be an integer, got %r' % (where, value))
        return None
    return value
