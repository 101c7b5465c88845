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
    is in MB, rounded up to GB as nova does)."""
    return (flavor['disk'] + flavor.get('OS-FLV-EXT-DATA:ephemeral', 0) +
            int(math.ceil((flavor.get('swap') or 0) / 1024.0)))


def wanted_extra_specs(flavor, extra_specs):
    """The extra specs to set on ``flavor`` (the compute API's flavor
    body) with ``extra_specs`` (its current ones): {} when it is
    converted already, or asks for no disk, or sets DISK_GB itself in a
    way this tool must not override (then ValueError says why).
    """
    gb = disk_gb(flavor)
    wanted = {UNNUMBERED_DISK_KEY: '0', CSV_DISK_KEY: str(gb)}
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
