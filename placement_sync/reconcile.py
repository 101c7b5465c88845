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

"""Make placement match the desired state, writing only the difference.

For each cluster the reconciler reads what placement holds, asks
``plan.plan_cluster`` for the steps, and prints them (dry run) or applies
them, each write carrying the generation it was computed from. When
another writer got there first (``placement.concurrent_update``), it reads
that step's provider again, plans the step again and retries. It touches
only what it owns: CSV providers with its deterministic uuids, its own
aggregate in other providers' aggregate lists, and its own traits; it
never removes anything someone else set.

Steady-state cost: one listing per cluster (``member_of`` its aggregate).
Inventories, traits and allocations of a provider whose generation has
not moved since this process last saw it are not read again (placement
bumps it on every allocation too). A problem (a name clash, a
provider that keeps changing under it) is reported and confined to its
step; the rest of the cluster still converges.
"""

import collections
import dataclasses
import random
import time

from oslo_log import log as logging

import hvc_names
from placement_sync import exception
from placement_sync import model
from placement_sync import placement as placement_client
from placement_sync import plan as plan_mod

LOG = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
_STALE = (placement_client.GenerationConflict, placement_client.NotFound,
          placement_client.InUse)
_ALL_PARTS = ('inventories', 'traits', 'aggregates', 'usages')
_NO_PARTS = ()


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


class Reconciler(object):

    def __init__(self, placement, host_aggregates=None, dry_run=False,
                 seen=None, reserve=None, instance_names=None):
        """``seen``: what an earlier process saw of the providers, from
        ``cache.load`` (entries are used only while their generation
        holds). ``reserve``: a capacity.ReservePolicy to reserve what
        measured volumes hold outside nova (None: their reserved_gb);
        ``instance_names``: a nova.InstanceNames, which tells the
        instances' folders from the rest (None: every folder counts as
        outside nova).
        """
        self.placement = placement
        self.host_aggregates = host_aggregates
        self.dry_run = dry_run
        self.reserve = reserve
        self.instance_names = instance_names
        self._warned_no_names = False
        self._cache = {
            uuid: plan_mod.Provider(uuid, None, gen, inventories,
                                    frozenset(traits),
                                    allocations=allocations)
            for uuid, (gen, inventories, traits, allocations)
            in (seen or {}).items()}
        # The clusters whose derived aggregate, left over from running
        # without host aggregates, this process has cleared (once each).
        self._stale_cleared = set()
        # Every provider (by model.host_key of its name), listed once per
        # run when a node is missing from its cluster's aggregate or a
        # provider is new.
        self._providers = None
        self._by_host_key = None
        # The cluster names the source lists in this run.
        self._listed = set()

    def sync(self, clusters):
        """Converge every cluster; return a Report.

        Raises ServiceUnavailable when placement (or nova) cannot be
        reached at all; any other problem is confined to its cluster,
        provider or node, and reported.
        """
        report = Report()
        self._providers = self._by_host_key = None
        listed = self._listed = {c.name for c in clusters}
        clusters = self._without_renamed(clusters, report)
        desired = model.desired_state(clusters)
        if self.host_aggregates is not None:
            desired = self.host_aggregates.sync(desired, report,
                                                self.dry_run, listed)
        else:
            desired = [dataclasses.replace(
                c, placement_aggregate=hvc_names.placement_aggregate_uuid(
                    c.name))
                for c in desired]
        for cluster in desired:
            if cluster.placement_aggregate is None:
                continue  # its host aggregate failed (reported) or is new.
            self._guarded(report, self._sync_cluster, cluster, report)
        return report

    def _without_renamed(self, clusters, report):
        """The clusters, less those the source renamed: a CSV's identity is
        its id, and a volume placement_sync already publishes under
        another cluster name (one the source no longer lists) and shared
        with this cluster's nodes is never published a second time (its
        DISK_GB would be counted twice). Such a cluster is refused whole,
        with one error, and nothing of it is written: the old providers go
        on serving its nodes.

        Looked for only when a cluster has a provider this process does
        not know yet (a new name is a new provider): one listing of the
        providers (which the nodes share), and, for a volume id found
        under another name, the nodes of that provider's aggregates.
        """
        if all(hvc_names.provider_uuid(c.name, v.id) in self._cache
               for c in clusters for v in c.shared_volumes):
            return clusters
        listed = {c.name for c in clusters}
        others = {}
        for found in self._all_providers():
            cluster = hvc_names.cluster_of_provider_name(found['name'])
            if cluster is not None and cluster not in listed:
                others[found['uuid']] = (cluster, found)
        if not others:
            return clusters
        kept = []
        for cluster in clusters:
            published = self._published_elsewhere(cluster, others)
            if published is None:
                kept.append(cluster)
                continue
            volume, old_cluster, provider = published
            report.error(
                'cluster %s is refused: its shared volume %s (id %s) is '
                'published already as provider %s (%s) of cluster %s, which '
                'the source no longer lists, in the aggregate of its nodes; '
                'a volume is published once. Was the cluster renamed? Give '
                'it its old name back in the source, or delete the old '
                'providers once nothing is allocated on them',
                cluster.name, volume.name, volume.id, provider['name'],
                provider['uuid'], old_cluster)
        return kept

    def _published_elsewhere(self, cluster, others):
        """(volume, cluster name, provider) of a volume of ``cluster``
        published as a provider of another cluster (``others``: {uuid:
        (cluster name, provider)}) in an aggregate that holds nodes of
        ``cluster`` and none of its CSV providers (the old cluster's, not a
        stray in this cluster's own); None if there is none.
        """
        nodes = {model.host_key(n) for n in cluster.nodes}
        for volume in cluster.shared_volumes + cluster.offline_volumes:
            for old_cluster in sorted({name for name, _p in others.values()}):
                uuid = hvc_names.provider_uuid(old_cluster, volume.id)
                if uuid not in others:
                    continue
                for aggregate in sorted(
                        self.placement.get_aggregates(uuid)[1]):
                    members = self.placement.list_providers(
                        member_of=aggregate)
                    if any(hvc_names.cluster_of_provider_name(m['name']) ==
                           cluster.name for m in members):
                        continue
                    if any(model.host_key(m['name']) in nodes
                           for m in members):
                        return volume, old_cluster, others[uuid][1]
        return None

    def seen(self):
        """What this reconciler saw of each provider, for ``cache.save``."""
        return {uuid: (p.generation, p.inventories, p.traits,
                       p.allocations)
                for uuid, p in self._cache.items()}

    def _guarded(self, report, func, *args):
        """Run func; report a SyncError instead of letting it spread."""
        try:
            func(*args)
            return
        except exception.ServiceUnavailable:
            raise
        except exception.SyncError as e:
            error = e
        # Outside the except block: oslo.log would repeat the message.
        report.error('%s', error)

    def _sync_cluster(self, cluster, report):
        clear_stale = (self.host_aggregates is not None and
                       cluster.name not in self._stale_cleared)
        observed = self._observe(cluster, clear_stale)
        for key, step in plan_mod.plan_cluster(cluster, observed,
                                               self.reserve):
            self._guarded(report, self._carry_out, cluster, key, step,
                          report)
        if clear_stale:
            self._stale_cleared.add(cluster.name)

    def _carry_out(self, cluster, key, step, report):
        """Apply the step (report it, in a dry run); when a generation
        turns out stale, read again, plan again and retry.
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                self._apply(step, report)
                return
            except _STALE as e:
                # Changed, deleted or allocated behind our back.
                LOG.debug('%s on %s, attempt %d', type(e).__name__, key,
                          attempt)
                self._cache.pop(key[1], None)
                time.sleep(random.uniform(0, 0.05 * attempt))
                step = self._replan(cluster, key)
        kind, subject = key
        raise exception.SyncError(
            'gave up on %s %s of cluster %s after %d generation conflicts in '
            'a row: another writer keeps changing it'
            % ('node' if kind == 'node' else 'provider', subject,
               cluster.name, MAX_ATTEMPTS))

    def _apply(self, step, report):
        generations = {}
        for action in step.actions:
            if not self.dry_run:
                generations[action.uuid] = action.apply(
                    self.placement,
                    generations.get(action.uuid, action.generation))
                if isinstance(action, plan_mod.DeleteProvider):
                    self._cache.pop(action.uuid, None)
            # Only once it is done: a write that failed is no change.
            report.change('%s', action.describe())
        for warning in step.warnings:
            report.warn('%s', warning)
        for error in step.errors:
            report.error('%s', error)
        settled = step.settled
        if settled is not None and not self.dry_run:
            self._cache[settled.uuid] = dataclasses.replace(
                settled, generation=generations.get(settled.uuid,
                                                    settled.generation))

    # Reading what placement holds.

    def _observe(self, cluster, clear_stale):
        wanted = {p.uuid: p for p in cluster.providers}
        nodes = {model.host_key(n) for n in cluster.nodes}
        csvs, holders, members, present = {}, {}, [], set()
        for listed in self.placement.list_providers(
                member_of=cluster.placement_aggregate):
            if listed['uuid'] in wanted:
                csvs[listed['uuid']] = self._observe_listed_csv(
                    wanted[listed['uuid']], listed)
            elif model.host_key(listed['name']) in nodes:
                present.add(model.host_key(listed['name']))
            elif listed['uuid'] not in cluster.offline:  # kept unread
                member = self._read_if_there(listed, _ALL_PARTS)
                if member is not None:
                    members.append(member)
        for want in cluster.providers:
            if want.uuid not in csvs:
                csvs[want.uuid], holders[want.uuid] = self._observe_csv(want)
        names = self._instance_names(csvs.values())
        nodes_missing = {node: self._node_candidates(node)
                         for node in cluster.nodes
                         if model.host_key(node) not in present}
        stale_members = ()
        if clear_stale:
            stale_members = tuple(filter(None, (
                self._read_if_there(listed, ('aggregates',))
                for listed in self.placement.list_providers(
                    member_of=hvc_names.placement_aggregate_uuid(
                        cluster.name)))))
        return plan_mod.ObservedCluster(
            members=tuple(members), csvs=csvs, name_holders=holders,
            nodes=nodes_missing,
            unlisted=self._unlisted_aggregates(nodes_missing),
            stale_members=stale_members, instance_names=names)

    def _unlisted_aggregates(self, nodes_missing):
        """{aggregate: cluster} of the other aggregates of the nodes missing
        from their cluster's aggregate that hold this tool's CSV providers
        of a cluster the source no longer lists.
        """
        unlisted = {}
        others = {agg for candidates in nodes_missing.values()
                  for c in candidates for agg in c.aggregates}
        for agg in sorted(others):
            for found in self.placement.list_providers(member_of=agg):
                cluster = hvc_names.cluster_of_provider_name(found['name'])
                if cluster is not None and cluster not in self._listed:
                    unlisted[agg] = cluster
        return unlisted

    def _replan(self, cluster, key):
        """Read one step's provider again and plan that step again."""
        kind, subject = key
        if kind == 'csv':
            want = next(p for p in cluster.providers if p.uuid == subject)
            provider, holder = self._observe_csv(want)
            return plan_mod.plan_csv(
                want, cluster.placement_aggregate, provider, holder,
                reserve=self.reserve,
                instance_names=self._instance_names([provider]))
        if kind == 'node':
            self._providers = self._by_host_key = None
            candidates = self._node_candidates(subject)
            return plan_mod.plan_node(
                cluster, subject, candidates,
                self._unlisted_aggregates({subject: candidates}))
        listed = self.placement.get_provider(subject)
        if kind == 'member':
            member = listed and self._read_if_there(listed, _ALL_PARTS)
            if member is None or (cluster.placement_aggregate
                                  not in member.aggregates):
                return plan_mod.Plan()  # gone, or no longer a member.
            return plan_mod.plan_member(cluster, member)
        member = listed and self._read_if_there(listed, ('aggregates',))
        if member is None:
            return plan_mod.Plan()
        return plan_mod.plan_membership(
            member, hvc_names.placement_aggregate_uuid(cluster.name), False,
            'cluster %s now uses its nova host aggregate' % cluster.name)

    def _observe_listed_csv(self, want, listed):
        """A CSV provider listed in the cluster's aggregate."""
        cached = self._cache.get(want.uuid)
        measured = self._measured_parts(want)
        if cached and cached.generation == listed['generation'] and (
                not measured or cached.allocations is not None):
            provider = dataclasses.replace(cached, name=listed['name'])
        else:
            provider = self._read_if_there(
                listed, ('inventories', 'traits') + measured)
            if provider is None:
                return self._observe_csv(want)[0]
        return self._with_usages_if_resized(want, provider)

    def _observe_csv(self, want):
        """(provider of want.uuid or None, provider holding its name)."""
        for _attempt in range(MAX_ATTEMPTS):
            listed = self.placement.get_provider(want.uuid)
            provider = listed and self._read_if_there(
                listed, ('inventories', 'traits', 'aggregates') +
                self._measured_parts(want))
            if provider is not None:
                return self._with_usages_if_resized(want, provider), None
            holder = self._name_holder(want.name)
            if holder is None or holder.uuid != want.uuid:
                return None, holder
            # Another copy of this tool created it since we looked.
        raise exception.SyncError(
            'provider %s keeps appearing and vanishing: another writer '
            'keeps changing it' % want.name)

    def _measured_parts(self, want):
        """Allocations, for a volume whose reserve follows its use."""
        if self.reserve is not None and want.volume.usage is not None:
            return ('allocations',)
        return _NO_PARTS

    def _instance_names(self, providers):
        """{consumer: VM name} of the consumers of measured CSVs."""
        consumers = set()
        for provider in providers:
            if provider is not None and provider.allocations:
                consumers.update(provider.allocations)
        if not consumers:
            return {}
        if self.instance_names is None:
            if not self._warned_no_names:
                self._warned_no_names = True
                LOG.warning('no nova credentials: every instance folder on '
                            'a measured CSV counts as used outside nova, '
                            'which reserves more than needed; set [nova] '
                            '(or --os-cloud) to tell them apart')
            return {}
        return self.instance_names.names(consumers)

    def _with_usages_if_resized(self, want, provider):
        """Usages tell whether a new size is below what is allocated."""
        if provider.allocations is not None:
            # Allocations say it as well, at the same generation.
            return dataclasses.replace(provider, usages={
                model.DISK_GB: sum(provider.allocations.values())})
        if plan_mod.inventory_to_write(provider.inventories,
                                       want.inventory) is None:
            return provider
        return dataclasses.replace(
            provider, usages=self.placement.get_usages(provider.uuid))

    def _name_holder(self, name):
        """The provider named exactly ``name``, or None. Never the first
        of several: a case-blind database may return other spellings.
        """
        found = [p for p in self.placement.list_providers(name=name)
                 if p['name'] == name]
        if len(found) > 1:
            raise exception.SyncError(
                'placement lists %d providers named %s' % (len(found), name))
        if not found:
            return None
        return self._read_if_there(found[0], ('traits', 'aggregates',
                                              'usages'))

    def _all_providers(self):
        """Every provider placement has, listed once per run (by the first
        step that needs them).
        """
        if self._providers is None:
            self._providers = self.placement.list_providers()
        return self._providers

    def _node_candidates(self, node):
        """The providers named as the node, case aside. Placement's
        ``?name=`` is as case-sensitive as its database, so one listing
        of every provider serves all the nodes of the run.
        """
        if self._by_host_key is None:
            self._by_host_key = collections.defaultdict(list)
            for listed in self._all_providers():
                self._by_host_key[model.host_key(listed['name'])].append(
                    listed)
        return tuple(filter(None, (
            self._read_if_there(listed, ('aggregates',))
            for listed in self._by_host_key.get(model.host_key(node), ()))))

    def _read_if_there(self, listed, parts):
        """A consistent snapshot of ``parts`` (every part read at one
        generation), or None if the provider was deleted meanwhile.
        """
        get = {'inventories': self.placement.get_inventories,
               'traits': self.placement.get_traits,
               'aggregates': self.placement.get_aggregates,
               'allocations': self.placement.get_disk_allocations}
        try:
            for _attempt in range(MAX_ATTEMPTS):
                values, generations = {}, set()
                for part in parts:
                    if part == 'usages':
                        # Placement guards a delete with allocations on
                        # its own; usages need not be at the generation.
                        values[part] = self.placement.get_usages(
                            listed['uuid'])
                        continue
                    gen, value = get[part](listed['uuid'])
                    generations.add(gen)
                    values[part] = (frozenset(value) if isinstance(value, set)
                                    else value)
                if len(generations) <= 1:
                    return plan_mod.Provider(
                        listed['uuid'], listed['name'],
                        generations.pop() if generations
                        else listed['generation'], **values)
        except placement_client.NotFound:
            LOG.debug('provider %s was deleted meanwhile', listed['name'])
            return None
        raise exception.SyncError(
            'provider %s keeps changing while it is read: another writer '
            'keeps changing it' % listed['name'])
