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
this process last saw it are not read again.
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
    """One provider's inventories and traits at one generation."""
    generation: int
    inventories: dict
    traits: set


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

    def __init__(self, placement, host_aggregates=None, dry_run=False):
        self.placement = placement
        self.host_aggregates = host_aggregates
        self.dry_run = dry_run
        self._cache = {}
        self._known_traits = set()

    def sync(self, clusters):
        """Converge every cluster; return a Report.

        Raises PlacementUnavailable when placement (or nova) cannot be
        reached at all; any other problem is confined to its cluster or
        provider and reported.
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
            try:
                self._sync_cluster(cluster, report)
            except exception.PlacementUnavailable:
                raise
            except exception.SyncError as e:
                report.error('cluster %s: %s', cluster.name, e)
        return report

    def _sync_cluster(self, cluster, report):
        agg = cluster.placement_aggregate
        members = self.placement.list_providers(member_of=agg)
        by_uuid = {p['uuid']: p for p in members}
        wanted = {p.uuid for p in cluster.providers}
        for provider in cluster.providers:
            try:
                self._with_retries(provider.name, self._converge_provider,
                                   provider, agg,
                                   by_uuid.get(provider.uuid), report)
            except exception.NameClash as e:
                report.error('%s', e)
        nodes = set(cluster.nodes)
        present = set()
        for member in members:
            if member['uuid'] in wanted:
                continue
            if member['name'] in nodes:
                present.add(member['name'])
            else:
                self._retire_member(cluster, member, report)
        for node in sorted(nodes - present):
            self._join_node(cluster, node, report)

    def _with_retries(self, what, func, *args):
        """Call func(*args, fresh=...) until it wins the generation race.

        ``fresh`` tells it that what it knew is stale and must be re-read.
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return func(*args, fresh=attempt > 1)
            except placement_client.GenerationConflict:
                LOG.debug('generation conflict on %s, attempt %d', what,
                          attempt)
                time.sleep(random.uniform(0, 0.05 * attempt))
        raise exception.SyncError(
            'gave up on %s after %d generation conflicts in a row: another '
            'writer keeps changing it' % (what, MAX_ATTEMPTS))

    # CSV providers.

    def _converge_provider(self, want, agg, listed, report, fresh=False):
        if fresh:
            listed = None
        if listed is None:
            provider = self.placement.get_provider(want.uuid)
            if provider is None:
                self._create_provider(want, agg, report)
                return
            aggregates = self._read_aggregates(provider['uuid'])
        else:
            provider, aggregates = listed, None  # a member: agg is there.
        observed = self._observe(provider)
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
            if not self.dry_run:
                gen = self.placement.set_inventories(uuid, gen, inventories)
                observed.inventories = inventories
                self._warn_if_overcommitted(want, report)
        if not want.traits <= observed.traits:
            traits = observed.traits | want.traits
            report.change('add traits %s to %s', ', '.join(
                sorted(want.traits - observed.traits)), want.name)
            if not self.dry_run:
                self._ensure_traits(want.traits)
                gen = self.placement.set_traits(uuid, gen, traits)
                observed.traits = traits
        if aggregates is not None and agg not in aggregates:
            report.change('add %s to aggregate %s of cluster %s',
                          want.name, agg, want.cluster)
            if not self.dry_run:
                gen = self.placement.set_aggregates(uuid, gen,
                                                    aggregates | {agg})
        observed.generation = gen
        if not self.dry_run:
            self._cache[uuid] = observed

    def _create_provider(self, want, agg, report):
        clash = self.placement.list_providers(name=want.name)
        if clash and clash[0]['uuid'] == want.uuid:
            # Another copy of this tool created it since we looked.
            raise placement_client.GenerationConflict(want.uuid)
        if clash:
            raise exception.NameClash(
                'cannot create provider %s for shared volume %s of cluster '
                '%s: placement already has a provider of that name (%s) '
                'that placement_sync did not create; rename or delete it'
                % (want.name, want.volume.id, want.cluster, clash[0]['uuid']))
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

    def _observe(self, provider):
        cached = self._cache.get(provider['uuid'])
        if cached and cached.generation == provider['generation']:
            return cached
        gen, inventories = self.placement.get_inventories(provider['uuid'])
        _gen, traits = self.placement.get_traits(provider['uuid'])
        if _gen != gen:
            raise placement_client.GenerationConflict(provider['uuid'])
        return _Observed(gen, inventories, traits)

    def _read_aggregates(self, uuid):
        return self.placement.get_aggregates(uuid)[1]

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
                'shared volume %s of cluster %s now offers %d GB but %d GB '
                'are allocated on it: nothing new will land there, and the '
                'volume may run out of space', want.volume.name, want.cluster,
                capacity, used)

    # Members of the cluster aggregate that are not wanted there.

    def _retire_member(self, cluster, member, report):
        _gen, traits = self.placement.get_traits(member['uuid'])
        if model.OWNER_TRAIT in traits:
            if not member['name'].startswith(
                    model.provider_name(cluster.name, '')):
                report.warn('provider %s is in the aggregate of cluster %s '
                            'but is the CSV of another cluster; left alone',
                            member['name'], cluster.name)
                return
            self._with_retries(member['name'], self._retire_provider,
                               member, report)
        elif model.SHARING_TRAIT in traits:
            LOG.debug('leaving foreign sharing provider %s in %s',
                      member['name'], cluster.name)
        else:
            self._with_retries(member['name'], self._set_membership,
                               cluster, member, False, report)

    def _retire_provider(self, member, report, fresh=False):
        """A CSV that is gone: drain it, delete it once it is empty."""
        uuid = member['uuid']
        if self.dry_run:
            report.change('drain provider %s and delete it once it has no '
                          'allocations', member['name'])
            return
        try:
            self.placement.delete_provider(uuid)
            report.change('deleted provider %s (%s): its shared volume is '
                          'gone', member['name'], uuid)
            self._cache.pop(uuid, None)
            return
        except placement_client.InUse:
            pass
        gen, inventories = self.placement.get_inventories(uuid)
        drained_inv = drained(inventories)
        if drained_inv is not None:
            report.change('drain provider %s (reserved = total): its shared '
                          'volume is gone', member['name'])
            self.placement.set_inventories(uuid, gen, drained_inv)
        used = self.placement.get_usages(uuid).get(model.DISK_GB, 0)
        report.warn('provider %s is draining: its shared volume is gone but '
                    '%d GB are still allocated; it is deleted once they are '
                    'freed', member['name'], used)

    # Compute node providers.

    def _join_node(self, cluster, node, report):
        found = self.placement.list_providers(name=node)
        if not found:
            report.warn('node %s of cluster %s has no resource provider yet '
                        '(nova-compute not started?); a later run adds it',
                        node, cluster.name)
            return
        self._with_retries(node, self._set_membership, cluster, found[0],
                           True, report)

    def _set_membership(self, cluster, provider, member, report,
                        fresh=False):
        agg = cluster.placement_aggregate
        gen, aggregates = self.placement.get_aggregates(provider['uuid'])
        if (agg in aggregates) == member:
            return
        if member:
            report.change('add node %s to aggregate %s of cluster %s',
                          provider['name'], agg, cluster.name)
            aggregates = aggregates | {agg}
        else:
            report.change('remove %s from aggregate %s: it left cluster %s',
                          provider['name'], agg, cluster.name)
            aggregates = aggregates - {agg}
        if not self.dry_run:
            self.placement.set_aggregates(provider['uuid'], gen, aggregates)


def _describe(inv):
    return 'total %(total)d GB, reserved %(reserved)d GB, ratio %(ratio)s' % {
        'total': inv['total'], 'reserved': inv['reserved'],
        'ratio': inv['allocation_ratio']}
