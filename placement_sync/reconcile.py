"""Make placement match the desired state, writing only the difference.

The reconciler reads what placement holds for each cluster, compares it
with ``model.desired_state`` and writes what differs, each write carrying
the generation it was computed from. When another writer got there first
(``placement.concurrent_update``) it re-reads that provider and computes
again. It touches only what it owns: CSV providers with its deterministic
uuids, its own aggregate in other providers' aggregate lists, and its own
traits; it never removes anything someone else set.

Steady-state cost: one listing per cluster (``member_of`` its aggregate).
Inventories and traits of a provider whose generation has not moved since
this process last saw it are not read again. A problem (a name clash, a
provider that keeps changing under it) is reported and confined to its
provider or node; the rest of the cluster still converges.
"""

import dataclasses
import random
import time

from oslo_log import log as logging

from placement_sync import exception
from placement_sync import model
from placement_sync import placement as placement_client

LOG = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
# Added to the name of a provider whose CSV is gone, until it is deleted.
DRAINING_MARK = ' (draining '


@dataclasses.dataclass
class Report:
    """What one run did (or, in a dry run, would do), and what is wrong."""
    changes: list = dataclasses.field(default_factory=list)
    warnings: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)

    def change(self, msg, *args):
        self.changes.append(msg % args)
        LOG.info(msg, *args)

    def warn(self, msg, *args):
        self.warnings.append(msg % args)
        LOG.warning(msg, *args)

    def error(self, msg, *args):
        self.errors.append(msg % args)
        LOG.error(msg, *args)


@dataclasses.dataclass
class _Observed:
    """A provider's inventories and traits (and perhaps aggregates), all
    read at one generation."""
    generation: int
    inventories: dict
    traits: set
    aggregates: set = None  # None: not read (a member: it holds ours)


def inventory_to_write(observed, desired):
    """The full inventory to PUT, or None when DISK_GB is already right.

    Other resource classes on the provider are kept as they are.
    """
    current = observed.get(model.DISK_GB, {})
    wanted = desired[model.DISK_GB]
    if all(current.get(k) == v for k, v in wanted.items()):
        return None
    merged = dict(observed)
    merged[model.DISK_GB] = dict(wanted)
    return merged


def drained(observed):
    """The inventory with DISK_GB fully reserved, or None if it already is."""
    disk = observed.get(model.DISK_GB)
    if disk is None or disk['reserved'] == disk['total']:
        return None
    merged = dict(observed)
    merged[model.DISK_GB] = dict(disk, reserved=disk['total'])
    return merged


def _capacity(inv):
    return int((inv['total'] - inv['reserved']) * inv['allocation_ratio'])


class Reconciler(object):

    def __init__(self, placement, host_aggregates=None, dry_run=False,
                 seen=None):
        """``seen``: what an earlier process saw of the providers, from
        ``cache.load`` (entries are used only while their generation
        holds)."""
        self.placement = placement
        self.host_aggregates = host_aggregates
        self.dry_run = dry_run
        self._cache = {uuid: _Observed(*entry)
                       for uuid, entry in (seen or {}).items()}
        self._known_traits = set()
        # The clusters whose derived aggregate, left over from running
        # without host aggregates, this process has cleared (once each).
        self._stale_cleared = set()

    def sync(self, clusters):
        """Converge every cluster; return a Report.

        Raises ServiceUnavailable when placement (or nova) cannot be
        reached at all; any other problem is confined to its cluster,
        provider or node, and reported.
        """
        report = Report()
        desired = model.desired_state(clusters)
        if self.host_aggregates is not None:
            desired = self.host_aggregates.sync(desired, report,
                                                self.dry_run)
        else:
            desired = [dataclasses.replace(
                c, placement_aggregate=model.placement_aggregate_uuid(c.name))
                for c in desired]
        for cluster in desired:
            if cluster.placement_aggregate is None:
                continue  # its host aggregate failed (reported) or is new.
            self._guarded(report, self._sync_cluster, cluster, report)
        return report

    def seen(self):
        """What this reconciler saw of each provider, for ``cache.save``."""
        return {uuid: (o.generation, o.inventories, o.traits)
                for uuid, o in self._cache.items()}

    def _guarded(self, report, func, *args):
        """Run func; report a SyncError instead of letting it spread."""
        try:
            func(*args)
        except exception.ServiceUnavailable:
            raise
        except exception.SyncError as e:
            report.error('%s', e)

    def _sync_cluster(self, cluster, report):
        agg = cluster.placement_aggregate
        members = self.placement.list_providers(member_of=agg)
        wanted = {p.uuid for p in cluster.providers}
        nodes = set(cluster.nodes)
        listed, present = {}, set()
        # Retire first: a CSV that is gone frees its name for a new one.
        for member in members:
            if member['uuid'] in wanted:
                listed[member['uuid']] = member
            elif member['name'] in nodes:
                present.add(member['name'])
            else:
                self._guarded(report, self._retire_member, cluster, member,
                              report)
        for provider in cluster.providers:
            self._guarded(
                report, self._with_retries, provider.name,
                lambda first, p=provider: self._converge_provider(
                    p, agg, listed.get(p.uuid) if first else None, report))
        for node in sorted(nodes - present):
            self._guarded(report, self._join_node, cluster, node, report)
        if (self.host_aggregates is not None
                and cluster.name not in self._stale_cleared):
            self._leave_stale_aggregate(cluster, report)
            self._stale_cleared.add(cluster.name)

    def _with_retries(self, what, attempt):
        """Call attempt(first) until it wins the generation race.

        ``first`` is False on a retry: what it knew is stale, re-read it.
        """
        for n in range(1, MAX_ATTEMPTS + 1):
            try:
                return attempt(n == 1)
            except placement_client.GenerationConflict:
                LOG.debug('generation conflict on %s, attempt %d', what, n)
                time.sleep(random.uniform(0, 0.05 * n))
        raise exception.SyncError(
            'gave up on %s after %d generation conflicts in a row: another '
            'writer keeps changing it' % (what, MAX_ATTEMPTS))

    # CSV providers.

    def _converge_provider(self, want, agg, listed, report):
        """One attempt; ``listed``: the provider as the member_of listing
        showed it (so it holds our aggregate), or None to read it all."""
        try:
            self._converge_provider_once(want, agg, listed, report)
        except (placement_client.GenerationConflict,
                placement_client.NotFound):
            # Changed or deleted behind our back: forget it, re-read.
            self._cache.pop(want.uuid, None)
            raise placement_client.GenerationConflict(want.uuid)

    def _converge_provider_once(self, want, agg, listed, report):
        if listed is None:
            provider = self.placement.get_provider(want.uuid)
            if provider is None:
                self._create_provider(want, agg, report)
                return
            observed = self._read(want.uuid, with_aggregates=True)
        else:
            provider = listed
            observed = self._observe(listed)
        uuid, gen = want.uuid, observed.generation

        if provider['name'] != want.name:
            report.change('rename provider %s from %s to %s', uuid,
                          provider['name'], want.name)
            if not self.dry_run:
                gen = self.placement.rename_provider(uuid, want.name)
        inventories = inventory_to_write(observed.inventories,
                                         want.inventory)
        if inventories is not None:
            report.change('set DISK_GB on %s: %s', want.name,
                          _describe(want.inventory[model.DISK_GB]))
            self._warn_if_overcommitted(want, report)
            if not self.dry_run:
                gen = self.placement.set_inventories(uuid, gen, inventories)
                observed.inventories = inventories
        if not want.traits <= observed.traits:
            traits = observed.traits | want.traits
            report.change('add traits %s to %s', ', '.join(
                sorted(want.traits - observed.traits)), want.name)
            if not self.dry_run:
                self._ensure_traits(want.traits)
                gen = self.placement.set_traits(uuid, gen, traits)
                observed.traits = traits
        if observed.aggregates is not None and agg not in observed.aggregates:
            report.change('add %s to aggregate %s of cluster %s',
                          want.name, agg, want.cluster)
            if not self.dry_run:
                gen = self.placement.set_aggregates(
                    uuid, gen, observed.aggregates | {agg})
        observed.generation = gen
        observed.aggregates = None
        if not self.dry_run:
            self._cache[uuid] = observed

    def _create_provider(self, want, agg, report):
        clash = self.placement.list_providers(name=want.name)
        if clash and clash[0]['uuid'] == want.uuid:
            # Another copy of this tool created it since we looked.
            raise placement_client.GenerationConflict(want.uuid)
        if clash:
            raise exception.NameClash(self._clash_message(want, clash[0]))
        report.change('create provider %s (%s) with DISK_GB %s, traits %s, '
                      'aggregate %s', want.name, want.uuid,
                      _describe(want.inventory[model.DISK_GB]),
                      ', '.join(sorted(want.traits)), agg)
        if self.dry_run:
            return
        self._ensure_traits(want.traits)
        # Joining the aggregate comes last: until then the scheduler cannot
        # see the provider, so a run cut short leaves nothing half-usable.
        gen = self.placement.create_provider(want.uuid, want.name)[
            'generation']
        gen = self.placement.set_inventories(want.uuid, gen, want.inventory)
        gen = self.placement.set_traits(want.uuid, gen, want.traits)
        gen = self.placement.set_aggregates(want.uuid, gen, {agg})
        self._cache[want.uuid] = _Observed(gen, dict(want.inventory),
                                           set(want.traits))

    def _clash_message(self, want, other):
        what = ('placement already has a provider of that name (%s) that '
                'placement_sync did not create; rename or delete it'
                % other['uuid'])
        if model.OWNER_TRAIT in self.placement.get_traits(other['uuid'])[1]:
            what = ('placement_sync\'s provider %s, made for a shared volume '
                    'of the same name but another id, still holds the name '
                    'outside the cluster\'s aggregate; has the volume\'s id '
                    'changed?' % other['uuid'])
        return ('cannot create provider %s for shared volume %s of cluster '
                '%s: %s' % (want.name, want.volume.id, want.cluster, what))

    def _observe(self, listed):
        cached = self._cache.get(listed['uuid'])
        if cached and cached.generation == listed['generation']:
            return cached
        return self._read(listed['uuid'], with_aggregates=False)

    def _read(self, uuid, with_aggregates):
        """A consistent snapshot: every part read at one generation."""
        gen, inventories = self.placement.get_inventories(uuid)
        parts = [self.placement.get_traits(uuid)]
        if with_aggregates:
            parts.append(self.placement.get_aggregates(uuid))
        if any(part_gen != gen for part_gen, _value in parts):
            raise placement_client.GenerationConflict(uuid)
        return _Observed(gen, inventories, *(value for _g, value in parts))

    def _ensure_traits(self, traits):
        for trait in sorted(traits - self._known_traits):
            if trait.startswith('CUSTOM_'):
                self.placement.ensure_custom_trait(trait)
            self._known_traits.add(trait)

    def _warn_if_overcommitted(self, want, report):
        used = self.placement.get_usages(want.uuid).get(model.DISK_GB, 0)
        capacity = _capacity(want.inventory[model.DISK_GB])
        if used > capacity:
            report.warn(
                'shared volume %s of cluster %s offers %d GB from now on but '
                '%d GB are allocated on it: nothing new will land there, and '
                'the volume may run out of space', want.volume.name,
                want.cluster, capacity, used)

    # Members of the cluster aggregate that are not wanted there.

    def _retire_member(self, cluster, member, report):
        try:
            _gen, traits = self.placement.get_traits(member['uuid'])
            if model.OWNER_TRAIT in traits:
                if not member['name'].startswith(
                        model.provider_name(cluster.name, '')):
                    report.warn('provider %s is in the aggregate of cluster '
                                '%s but is the CSV of another cluster; left '
                                'alone', member['name'], cluster.name)
                    return
                self._with_retries(member['name'], lambda first:
                                   self._retire_provider(member, report))
            elif model.SHARING_TRAIT in traits:
                LOG.debug('leaving foreign sharing provider %s in %s',
                          member['name'], cluster.name)
            elif _is_compute_node(
                    self.placement.get_inventories(member['uuid'])[1]):
                self._with_retries(member['name'], lambda first:
                                   self._set_membership(
                                       member, cluster.placement_aggregate,
                                       False, 'it left cluster %s'
                                       % cluster.name, report))
            else:
                report.warn('provider %s is in the aggregate of cluster %s '
                            'but is neither one of its nodes nor one of its '
                            'CSVs; left alone', member['name'], cluster.name)
        except placement_client.NotFound:
            LOG.debug('provider %s was deleted meanwhile', member['name'])

    def _retire_provider(self, member, report):
        """A CSV that is gone: drain it, delete it once it is empty."""
        uuid, name = member['uuid'], member['name']
        if self.dry_run:
            used = self.placement.get_usages(uuid).get(model.DISK_GB, 0)
            if used:
                report.change('drain provider %s: its shared volume is gone; '
                              'delete it once its %d GB are freed', name,
                              used)
            else:
                report.change('delete provider %s: its shared volume is '
                              'gone', name)
            return
        try:
            self.placement.delete_provider(uuid)
            report.change('deleted provider %s (%s): its shared volume is '
                          'gone', name, uuid)
            self._cache.pop(uuid, None)
            return
        except placement_client.InUse:
            pass
        gen, inventories = self.placement.get_inventories(uuid)
        drained_inv = drained(inventories)
        if drained_inv is not None:
            report.change('drain provider %s (reserved = total): its shared '
                          'volume is gone', name)
            gen = self.placement.set_inventories(uuid, gen, drained_inv)
        if DRAINING_MARK not in name:
            # Free the name for a new CSV of the same name.
            new_name = '%s%s%s)' % (name, DRAINING_MARK, uuid[:8])
            report.change('rename draining provider %s to %s', name,
                          new_name)
            self.placement.rename_provider(uuid, new_name)
        used = self.placement.get_usages(uuid).get(model.DISK_GB, 0)
        report.warn('provider %s is draining: its shared volume is gone but '
                    '%d GB are still allocated; it is deleted once they are '
                    'freed', name, used)

    def _leave_stale_aggregate(self, cluster, report):
        """Leave the derived aggregate used before host aggregates were
        managed: only the host aggregate may connect nodes and CSVs."""
        stale = model.placement_aggregate_uuid(cluster.name)
        for member in self.placement.list_providers(member_of=stale):
            self._guarded(report, self._with_retries, member['name'],
                          lambda first, m=member: self._set_membership(
                              m, stale, False, 'cluster %s now uses its '
                              'nova host aggregate' % cluster.name, report))

    # Compute node providers.

    def _join_node(self, cluster, node, report):
        found = self.placement.list_providers(name=node)
        if not found:
            report.warn('node %s of cluster %s has no resource provider yet '
                        '(nova-compute not started?); a later run adds it',
                        node, cluster.name)
            return
        self._with_retries(node, lambda first: self._set_membership(
            found[0], cluster.placement_aggregate, True,
            'it is a node of cluster %s' % cluster.name, report))

    def _set_membership(self, provider, agg, member, why, report):
        """Add the provider to agg (member) or remove it; nothing else."""
        try:
            gen, aggregates = self.placement.get_aggregates(provider['uuid'])
            if (agg in aggregates) == member:
                return
            report.change('%s %s %s aggregate %s: %s',
                          'add' if member else 'remove', provider['name'],
                          'to' if member else 'from', agg, why)
            if not self.dry_run:
                self.placement.set_aggregates(
                    provider['uuid'], gen,
                    aggregates | {agg} if member else aggregates - {agg})
        except placement_client.NotFound:
            LOG.debug('provider %s was deleted meanwhile', provider['name'])


def _is_compute_node(inventories):
    return bool({'VCPU', 'MEMORY_MB'} & set(inventories))


def _describe(inv):
    return 'total %(total)d GB, reserved %(reserved)d GB, ratio %(ratio)s' % {
        'total': inv['total'], 'reserved': inv['reserved'],
        'ratio': inv['allocation_ratio']}
