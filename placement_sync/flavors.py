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

"""Flavors whose disk is asked for in a request group of its own.

Nova 34 puts ``in_tree=<host>`` (a targeted move) or ``member_of=...`` (an
availability zone, tenant isolation) on the unnumbered request group, and
placement then looks for DISK_GB on that host's tree or aggregate only,
where no CSV is: NoValidHost. A flavor that asks for its DISK_GB in a
suffixed group, ``resourcesCSV:DISK_GB=<root + ephemeral + swap GB>``, and
for none in the unnumbered one (``resources:DISK_GB=0``), leaves the
restriction on the host and lets any CSV that shares with it serve the
disk. This module is the pure part: what a flavor must be given.
"""

import math

# The request group the disk goes to.
CSV_GROUP_SUFFIX = 'CSV'
CSV_DISK_KEY = 'resources%s:DISK_GB' % CSV_GROUP_SUFFIX
UNNUMBERED_DISK_KEY = 'resources:DISK_GB'


def disk_gb(flavor):
    """The DISK_GB nova asks for a flavor: root, ephemeral and swap (swap
    is in MB, rounded up to GB as nova does).
    """
    return (flavor['disk'] + flavor.get('OS-FLV-EXT-DATA:ephemeral', 0) +
            int(math.ceil((flavor.get('swap') or 0) / 1024.0)))


def keeps_no_local_disk(flavor, extra_specs):
    """Whether the flavor says itself that it claims no disk
    (``resources:DISK_GB=0`` without the CSV group, e.g. for boots from
    volume): a CSV claim of its disk would change what it asks for.
    """
    return (extra_specs.get(UNNUMBERED_DISK_KEY) == '0' and
            CSV_DISK_KEY not in extra_specs and disk_gb(flavor) > 0)


def wanted_extra_specs(flavor, extra_specs):
    """The extra specs to set on ``flavor`` (the compute API's flavor
    body) with ``extra_specs`` (its current ones): {} when it is
    converted already, or asks for no disk, or keeps no local disk; or
    ValueError, saying why, when it sets DISK_GB or the CSV group itself
    in a way this tool must not override.
    """
    if keeps_no_local_disk(flavor, extra_specs):
        return {}
    gb = disk_gb(flavor)
    wanted = {UNNUMBERED_DISK_KEY: '0', CSV_DISK_KEY: str(gb)}
    csv_group = 'resources%s:' % CSV_GROUP_SUFFIX
    shared = sorted(k[len(csv_group):] for k in extra_specs
                    if k.startswith(csv_group) and k != CSV_DISK_KEY)
    if shared:
        # One provider serves a request group, and a CSV's has DISK_GB
        # only: no host could boot the flavor.
        raise ValueError('its request group %s asks for %s, which no CSV '
                         'provider has: the disk needs that group for '
                         'itself' % (csv_group[:-1], ', '.join(shared)))
    current = {k: extra_specs.get(k) for k in wanted}
    if current == wanted:
        return {}
    others = sorted(k for k, v in extra_specs.items()
                    if k.endswith(':DISK_GB') and k not in wanted)
    if others:
        raise ValueError('it asks for DISK_GB in %s already'
                         % ', '.join(others))
    groups = sorted({k.split(':', 1)[0] for k in extra_specs
                     if k.startswith('resources') and ':' in k} -
                    {'resources', 'resources' + CSV_GROUP_SUFFIX})
    if groups and 'group_policy' not in extra_specs:
        raise ValueError('it has the request group(s) %s, and nova needs a '
                         'group_policy once the disk has one of its own: '
                         'set group_policy first' % ', '.join(groups))
    if extra_specs.get(UNNUMBERED_DISK_KEY) not in (None, '0'):
        raise ValueError('it sets %s=%s itself' % (
            UNNUMBERED_DISK_KEY, extra_specs[UNNUMBERED_DISK_KEY]))
    if gb == 0:
        return {}
    return {k: v for k, v in wanted.items() if current[k] != v}
