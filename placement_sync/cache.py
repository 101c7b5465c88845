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

"""What the reconciler last saw of each provider, kept across processes.

Placement bumps a provider's generation on every change to it, so an entry
is only used while the generation placement lists still matches it: a
stale or foreign cache costs reads, never a wrong decision. That makes a
one-shot run (cron, a deployment hook) as cheap as the periodic mode's
steady state: one listing per cluster.
"""

import json
import os

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

VERSION = 1


def load(path):
    """{provider uuid: (generation, inventories, traits, allocations)},
    or {}; allocations None when they were not read.
    """
    try:
        with open(path) as f:
            data = json.load(f)
        if data.get('version') != VERSION:
            raise ValueError('version %r' % data.get('version'))
        return {uuid: (entry['generation'], entry['inventories'],
                       set(entry['traits']), entry.get('allocations'))
                for uuid, entry in data['providers'].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        LOG.warning('ignoring the cache file %s (%s): this run reads every '
                    'provider', path, e)
        return {}


def save(path, entries):
    """Write atomically: a crash leaves the old file or the new one."""
    data = {'version': VERSION, 'providers': {
        uuid: {'generation': gen, 'inventories': inventories,
               'traits': sorted(traits), 'allocations': allocations}
        for uuid, (gen, inventories, traits, allocations)
        in entries.items()}}
    tmp = '%s.%d.tmp' % (path, os.getpid())
    try:
        with open(tmp, 'w') as f:
            json.dump(data, f, sort_keys=True)
        os.replace(tmp, path)
    except OSError as e:
        LOG.warning('cannot write the cache file %s: %s', path, e)
