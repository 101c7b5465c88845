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

"""What to write to placement: a pure function of what it holds and of
what the facts call for.

``reconcile`` reads what placement holds (``Provider`` snapshots in an
``ObservedCluster``), asks ``plan_cluster`` for the steps, and prints them
(``--dry-run``) or applies them in order: both see the same plan. A step
is one provider's (or one node's) list of actions; each action is a small
dataclass that says what it does (``describe``) and does it (``apply``)
with the generation the plan was computed from. When placement says that
generation is stale, ``reconcile`` reads that step's provider again and
plans that step again.

Nothing here reads or writes anything until ``apply`` is called.
"""

import dataclasses

from oslo_log import log as logging

import hvc_names
from placement_sync import capacity as volume_capacity
from placement_sync import exception
from placement_sync import model

LOG = logging.getLogger(__name__)

# Added to the name of a provider whose CSV is gone, until it is deleted.
DRAINING_MARK = ' (draining '


@dataclasses.dataclass(frozen=True)
class Provider:
    """A provider as placement showed it; a part that was not read is
    None (``aggregates`` of a member listed in the cluster's aggregate:
    it holds that one).
    """
    uuid: str
    name: str
    generation: int
    inventories: dict = None
    traits: frozenset = None
    aggregates: frozenset = None
    usages: dict = None
    # {consumer: DISK_GB}: read for a CSV whose use is measured.
    allocations: dict = None

    @property
    def used_gb(self):
        return (self.usages or {}).get(model.DISK_GB, 0)

    @property
    def in_use(self):
        return any((self.usages or {}).values())


@dataclasses.dataclass(frozen=True)
class ObservedCluster:
    """What placement holds for one cluster, as far as the plan needs it."""
    # Members of the cluster's aggregate that are neither its CSVs nor
    # its nodes: traits, inventories and aggregates read, usages too
    # when it is a CSV provider of ours.
    members: tuple = ()
    # Desired provider uuid -> Provider (None: placement has none).
    csvs: dict = dataclasses.field(default_factory=dict)
    # Desired provider uuid -> the Provider holding its name, when
    # placement has none of that uuid (traits, aggregates, usages read).
    name_holders: dict = dataclasses.field(default_factory=dict)
    # Node missing from the aggregate -> the Providers whose name is the
    # node's, case aside (aggregates read).
    nodes: dict = dataclasses.field(default_factory=dict)
    # {aggregate: cluster} among those nodes' other aggregates: the ones of
    # clusters the source no longer lists (holding CSV providers of ours).
    unlisted: dict = dataclasses.field(default_factory=dict)
    # Members of the derived aggregate the cluster no longer uses
    # (aggregates read).
    stale_members: tuple = ()
    # {consumer: VM name} of the consumers on measured CSVs, as far as
    # nova told (None: no instance).
    instance_names: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Plan:
    """One step: the actions, in order, and what is worth telling."""
    actions: list = dataclasses.field(default_factory=list)
    warnings: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)
    # A CSV provider of ours as it is once the actions are applied (its
    # generation the observed one): what the reconciler remembers.
    settled: Provider = None


# Actions. ``uuid`` is the provider written; ``generation`` the one the
# action was computed from (None: the write takes none).

def describe_disk(inventories):
    disk = inventories[model.DISK_GB]
    return 'total %d GB, reserved %d GB, ratio %s' % (
        disk['total'], disk['reserved'], disk['allocation_ratio'])


@dataclasses.dataclass(frozen=True)
class CreateProvider:
    uuid: str
    name: str
    inventories: dict
    traits: frozenset
    aggregate: str
    generation = None

    def describe(self):
        return ('create provider %s (%s) with DISK_GB %s, traits %s, '
                'aggregate %s' % (self.name, self.uuid,
                                  describe_disk(self.inventories),
                                  ', '.join(sorted(self.traits)),
                                  self.aggregate))

    def apply(self, placement, generation):
        """All or nothing, as far as placement allows: a provider that
        cannot be finished is deleted again; one cut short (the process
        killed) carries the owner trait, so the next run finishes it or,
        when its name is wanted for another CSV, removes it.
        """
        placement.ensure_custom_traits(self.traits)
        gen = placement.create_provider(self.uuid, self.name)['generation']
        try:
            gen = placement.set_traits(self.uuid, gen, self.traits)
            gen = placement.set_inventories(self.uuid, gen, self.inventories)
            # Joining the aggregate comes last: until then the scheduler
            # cannot see the provider.
            return placement.set_aggregates(self.uuid, gen, {self.aggregate})
        except exception.SyncError as e:
            _roll_back(placement, self.uuid)
            raise exception.SyncError('could not create provider %s: %s'
                                      % (self.name, e))


def _roll_back(placement, uuid):
    try:
        placement.delete_provider(uuid)
    except Exception as e:  # the next run finishes or removes it.
        LOG.warning('could not delete the unfinished provider %s: %s',
                    uuid, e)


@dataclasses.dataclass(frozen=True)
class DeleteProvider:
    uuid: str
    name: str
    why: str
    generation = None

    def describe(self):
        return 'delete provider %s (%s): %s' % (self.name, self.uuid,
                                                self.why)

    def apply(self, placement, generation):
        placement.delete_provider(self.uuid)


@dataclasses.dataclass(frozen=True)
class RenameProvider:
    uuid: str
    generation: int
    name: str
    new_name: str

    def describe(self):
        return 'rename provider %s (%s) to %s' % (self.name, self.uuid,
                                                  self.new_name)

    def apply(self, placement, generation):
        return placement.rename_provider(self.uuid, self.new_name)


@dataclasses.dataclass(frozen=True)
class SetInventories:
    uuid: str
    generation: int
    name: str
    inventories: dict
    why: str = None

    def describe(self):
        return 'set DISK_GB on %s: %s%s' % (
            self.name, describe_disk(self.inventories),
            ' (%s)' % self.why if self.why else '')

    def apply(self, placement, generation):
        return placement.set_inventories(self.uuid, generation,
                                         self.inventories)


@dataclasses.dataclass(frozen=True)
class DrainProvider(SetInventories):
    """Reserve all of DISK_GB: nothing new lands there."""

    def describe(self):
        return ('drain provider %s (reserved = total): its shared volume is '
                'gone' % self.name)


@dataclasses.dataclass(frozen=True)
class AddTraits:
    uuid: str
    generation: int
    name: str
    traits: frozenset  # the provider's whole set once added
    added: frozenset

    def describe(self):
        return 'add traits %s to %s' % (', '.join(sorted(self.added)),
                                        self.name)

    def apply(self, placement, generation):
        placement.ensure_custom_traits(self.added)
        return placement.set_traits(self.uuid, generation, self.traits)


@dataclasses.dataclass(frozen=True)
class SetAggregates:
    """Join or leave one aggregate, keeping the others."""
    uuid: str
    generation: int
    name: str
    aggregates: frozenset  # the provider's whole set once changed
    aggregate: str
    join: bool
    why: str

    def describe(self):
        return '%s %s %s aggregate %s: %s' % (
            'add' if self.join else 'remove', self.name,
            'to' if self.join else 'from', self.aggregate, self.why)

    def apply(self, placement, generation):
        return placement.set_aggregates(self.uuid, generation,
                                        self.aggregates)


# Planning.

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


def capacity(inventories):
    """DISK_GB that can be allocated in all."""
    disk = inventories[model.DISK_GB]
    return int((disk['total'] - disk['reserved']) * disk['allocation_ratio'])


def with_measured_reserve(want, provider, reserve, instance_names):
    """``want`` with its reserve set from what its volume holds outside
    nova (see ``capacity``), and why; ``want`` as it is when the volume is
    not measured or ``reserve`` (a capacity.ReservePolicy) is None.
    """
    usage = want.volume.usage
    if reserve is None or usage is None:
        return want, None
    current = None
    if provider is not None and model.DISK_GB in provider.inventories:
        current = provider.inventories[model.DISK_GB]['reserved']
    # Allocations not read count as none: all the volume's use is then
    # outside, which reserves more, never less.
    outside = volume_capacity.outside_nova_bytes(
        usage, (provider and provider.allocations) or {}, instance_names)
    reserved = volume_capacity.reserve_gb(want.volume, outside, reserve,
                                          current)
    why = ('%.1f GB used outside nova\'s allocations, %d GB headroom, '
           'at least %d GB' % (outside / volume_capacity.GiB,
                               reserve.headroom_gb, want.volume.reserved_gb))
    return dataclasses.replace(want, reserved_gb=reserved), why


def plan_csv(want, aggregate, provider, holder=None, freed=frozenset(),
             reserve=None, instance_names=None):
    """Converge one CSV's provider.

    ``provider``: placement's provider of ``want.uuid``, or None.
    ``holder``: when there is none, the provider holding ``want.name``;
    ``freed``: uuids of providers whose retirement frees their name.
    ``reserve``: a capacity.ReservePolicy to reserve what a measured
    volume holds outside nova (``instance_names`` tell its instances'
    folders), or None to reserve the volume's reserved_gb.
    """
    plan = Plan()
    want, why = with_measured_reserve(want, provider, reserve,
                                      instance_names or {})
    if provider is None:
        if holder is not None and holder.uuid not in freed:
            if not unfinished(holder):
                plan.errors.append(_clash_message(want, holder))
                return plan
            plan.actions.append(DeleteProvider(
                holder.uuid, holder.name, 'an unfinished provider of '
                'placement_sync holds the name of shared volume %s'
                % want.volume.id))
        plan.actions.append(CreateProvider(
            want.uuid, want.name, want.inventory, want.traits, aggregate))
        plan.settled = Provider(want.uuid, want.name, None, want.inventory,
                                want.traits)
        return plan
    uuid, gen = want.uuid, provider.generation
    if provider.name != want.name:
        plan.actions.append(RenameProvider(uuid, gen, provider.name,
                                           want.name))
    inventories = inventory_to_write(provider.inventories, want.inventory)
    if inventories is not None:
        plan.actions.append(SetInventories(uuid, gen, want.name,
                                           inventories, why))
        offered = capacity(want.inventory)
        if provider.used_gb > offered:
            plan.warnings.append(
                'shared volume %s of cluster %s offers %d GB from now on '
                'but %d GB are allocated on it: nothing new will land '
                'there, and the volume may run out of space'
                % (want.volume.name, want.cluster, offered,
                   provider.used_gb))
    if not want.traits <= provider.traits:
        plan.actions.append(AddTraits(uuid, gen, want.name,
                                      provider.traits | want.traits,
                                      want.traits - provider.traits))
    if provider.aggregates is not None and (
            aggregate not in provider.aggregates):
        plan.actions.append(SetAggregates(
            uuid, gen, want.name, provider.aggregates | {aggregate},
            aggregate, True, 'it is a shared volume of cluster %s'
            % want.cluster))
    plan.settled = Provider(uuid, want.name, gen,
                            inventories or provider.inventories,
                            provider.traits | want.traits,
                            allocations=provider.allocations)
    return plan


def unfinished(provider):
    """Ours, but cut short before it joined an aggregate: nothing can use
    it (the owner trait is set first, the aggregate last).
    """
    return (model.OWNER_TRAIT in provider.traits and
            not provider.aggregates and not provider.in_use)


def _clash_message(want, holder):
    what = ('placement already has a provider of that name (%s) that '
            'placement_sync did not create; rename or delete it'
            % holder.uuid)
    if model.OWNER_TRAIT in holder.traits:
        what = ('placement_sync\'s provider %s, made for a shared volume '
                'of the same name but another id, still holds the name '
                'outside the cluster\'s aggregate; has the volume\'s id '
                'changed?' % holder.uuid)
    return ('cannot create provider %s for shared volume %s of cluster '
            '%s: %s' % (want.name, want.volume.id, want.cluster, what))


def plan_member(cluster, member):
    """A member of the cluster's aggregate that is neither one of its CSVs
    nor one of its nodes.
    """
    plan = Plan()
    if model.OWNER_TRAIT in member.traits:
        if not member.name.startswith(
                hvc_names.provider_name(cluster.name, '')):
            plan.warnings.append(
                'provider %s is in the aggregate of cluster %s but is the '
                'CSV of another cluster; left alone'
                % (member.name, cluster.name))
            return plan
        return plan_retirement(member)
    if model.SHARING_TRAIT in member.traits:
        return plan  # somebody else's shared storage: theirs to manage.
    if {'VCPU', 'MEMORY_MB'} & set(member.inventories):
        return plan_membership(member, cluster.placement_aggregate, False,
                               'it left cluster %s' % cluster.name)
    plan.warnings.append(
        'provider %s is in the aggregate of cluster %s but is neither one of '
        'its nodes nor one of its CSVs; left alone'
        % (member.name, cluster.name))
    return plan


def plan_retirement(member):
    """A CSV that is gone: delete its provider, or drain it while
    something is still allocated on it.
    """
    plan = Plan()
    if not member.in_use:
        plan.actions.append(DeleteProvider(member.uuid, member.name,
                                           'its shared volume is gone'))
        return plan
    inventories = drained(member.inventories)
    if inventories is not None:
        plan.actions.append(DrainProvider(member.uuid, member.generation,
                                          member.name, inventories))
    if DRAINING_MARK not in member.name:
        # Frees the name for a new CSV of the same name.
        plan.actions.append(RenameProvider(
            member.uuid, member.generation, member.name,
            draining_name(member.name, member.uuid)))
    plan.warnings.append(
        'provider %s is draining: its shared volume is gone but %d GB are '
        'still allocated; it is deleted once they are freed'
        % (member.name, member.used_gb))
    return plan


def draining_name(name, uuid):
    """``name`` marked as draining, cut short as far as it takes to fit
    placement's limit (a CSV's name may fill it already).
    """
    mark = '%s%s)' % (DRAINING_MARK, uuid[:8])
    return name[:model.MAX_NAME - len(mark)] + mark


def releases_name(plan):
    """Whether applying the plan frees its provider's name."""
    return any(isinstance(a, (DeleteProvider, RenameProvider))
               for a in plan.actions)


def plan_membership(provider, aggregate, join, why):
    """Add the provider to the aggregate (join) or remove it; nothing else."""
    plan = Plan()
    if (aggregate in provider.aggregates) != join:
        aggregates = (provider.aggregates | {aggregate} if join
                      else provider.aggregates - {aggregate})
        plan.actions.append(SetAggregates(
            provider.uuid, provider.generation, provider.name, aggregates,
            aggregate, join, why))
    return plan


def plan_node(cluster, node, candidates, unlisted=None):
    """A node of the cluster missing from its aggregate; ``candidates``:
    the providers whose name is the node's, case aside. It leaves the
    aggregates of clusters the source no longer lists (``unlisted``:
    {aggregate: cluster}) as it joins: one node, one cluster.
    """
    if len(candidates) > 1:
        return Plan(errors=[
            'node %s of cluster %s matches several resource providers (%s): '
            'nova host names are not case-sensitive; delete the stale one'
            % (node, cluster.name,
               ', '.join(sorted('%s %s' % (c.name, c.uuid)
                                for c in candidates)))])
    if not candidates:
        return Plan(warnings=[
            'node %s of cluster %s has no resource provider yet '
            '(nova-compute not started?); a later run adds it'
            % (node, cluster.name)])
    node_rp = candidates[0]
    plan = plan_membership(node_rp, cluster.placement_aggregate, True,
                           'it is a node of cluster %s' % cluster.name)
    generation = node_rp.generation
    aggregates = node_rp.aggregates | {cluster.placement_aggregate}
    for agg, old in sorted((unlisted or {}).items()):
        if agg in node_rp.aggregates:
            aggregates = aggregates - {agg}
            plan.actions.append(SetAggregates(
                node_rp.uuid, generation, node_rp.name, aggregates, agg,
                False, 'it is a node of cluster %s, and the source no '
                'longer lists cluster %s' % (cluster.name, old)))
    return plan


def plan_cluster(cluster, observed, reserve=None):
    """The steps that make placement match one cluster, in order:
    [(step key, Plan)]. A key names what ``reconcile`` reads again when
    the step's generation turns out stale: ('member', uuid), ('csv',
    uuid), ('node', name) or ('stale', uuid); ('offline', uuid) only
    warns. ``reserve``: see ``plan_csv``.
    """
    steps = []
    freed = set()
    for uuid, volume in sorted(cluster.offline.items()):
        steps.append((('offline', uuid), Plan(warnings=[
            'shared volume %s (%s) of cluster %s is offline: %s; its '
            'provider is left as it is until it is back'
            % (volume.name, volume.id, cluster.name, volume.reason)])))
    # Retire first: a CSV that is gone frees its name for a new one.
    for member in observed.members:
        if member.uuid in cluster.offline:
            continue
        plan = plan_member(cluster, member)
        if releases_name(plan):
            freed.add(member.uuid)
        steps.append((('member', member.uuid), plan))
    for want in cluster.providers:
        steps.append((('csv', want.uuid), plan_csv(
            want, cluster.placement_aggregate, observed.csvs.get(want.uuid),
            observed.name_holders.get(want.uuid), frozenset(freed),
            reserve, observed.instance_names)))
    for node in cluster.nodes:
        if node in observed.nodes:
            steps.append((('node', node), plan_node(
                cluster, node, observed.nodes[node], observed.unlisted)))
    stale = hvc_names.placement_aggregate_uuid(cluster.name)
    for member in observed.stale_members:
        steps.append((('stale', member.uuid), plan_membership(
            member, stale, False, 'cluster %s now uses its nova host '
            'aggregate' % cluster.name)))
    return steps
