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

"""``hvc-placement-sync flavors``: give flavors' disk a request group of
its own, through the compute API (see ``flavors`` for why).

Idempotent: a flavor converted already is left as it is, and so is one
that claims no local disk itself (``resources:DISK_GB=0`` alone). A
flavor this must not touch (it asks for DISK_GB elsewhere, its CSV group
asks for other resources, or it has other request groups and no
group_policy) is reported and left alone; the others are still
converted.
"""

from openstack import exceptions as sdk_exc

from placement_sync import exception
from placement_sync import flavors
from placement_sync import nova


class FlavorConverter(nova.NovaClient):

    def convert(self, names=(), every=False, dry_run=False):
        """Convert the named flavors (by name or id), or every flavor;
        returns (lines to print, whether every flavor could be).
        """
        lines, ok = [], True
        listed = self._call('reads', lambda c: list(
            c.flavors(details=True, is_public='none')))
        if every:
            chosen = sorted(listed, key=lambda f: f.name)
        else:
            chosen = []
            for name in names:
                found = [f for f in listed if name in (f.name, f.id)]
                if not found:
                    lines.append('ERROR: no flavor named %s' % name)
                    ok = False
                chosen.extend(found)
        for flavor in chosen:
            line, converted = self._convert_one(flavor, dry_run)
            lines.append(line)
            ok = ok and converted
        return lines, ok

    def _convert_one(self, flavor, dry_run):
        label = 'flavor %s (%s)' % (flavor.name, flavor.id)
        specs = self._call('reads', lambda c: c.fetch_flavor_extra_specs(
            flavor)).extra_specs or {}
        body = {'disk': flavor.disk or 0,
                'OS-FLV-EXT-DATA:ephemeral': flavor.ephemeral or 0,
                'swap': flavor.swap or 0}
        try:
            wanted = flavors.wanted_extra_specs(body, specs)
        except ValueError as e:
            return 'ERROR: %s not converted: %s' % (label, e), False
        if not wanted:
            if flavors.keeps_no_local_disk(body, specs):
                return ('%s sets %s=0 itself (no local disk): left as it '
                        'is' % (label, flavors.UNNUMBERED_DISK_KEY)), True
            if flavors.disk_gb(body) == 0 and not specs.get(
                    flavors.CSV_DISK_KEY):
                return '%s asks for no disk: nothing to do' % label, True
            return '%s is converted already' % label, True
        change = ', '.join('%s=%s' % kv for kv in sorted(wanted.items()))
        if dry_run:
            return 'would convert %s: set %s' % (label, change), True
        try:
            self._call('writes', lambda c: c.create_flavor_extra_specs(
                flavor, wanted))
        except sdk_exc.HttpException as e:
            raise exception.SyncError('nova refused the extra specs of %s: '
                                      '%s' % (label, e))
        return 'converted %s: set %s' % (label, change), True
