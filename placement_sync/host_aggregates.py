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

"""One nova host aggregate per cluster, through nova's compute API.

Nova mirrors a host aggregate into a placement aggregate of the same uuid
when hosts are added or removed, so the aggregate's uuid is the placement
aggregate the cluster's CSV providers join. Adding the cluster's hosts
also lets a weigher or operator keep moves inside the cluster.

An aggregate is ours when its metadata names the cluster
(``hyperv_cluster=<name>``). Its host list is ours to keep equal to the
cluster's nodes; other metadata (an availability zone, say) is left alone.
"""

import collections
import dataclasses

from openstack import exceptions as sdk_exc
from oslo_log import log as logging

import hvc_names
from placement_sync import exception
from placement_sync import model
from placement_sync import nova
from placement_sync import plan

LOG = logging.getLogger(__name__)


class HostAggregates(nova.NovaClient):

    def __init__(self, compute_factory):
        """``compute_factory()`` makes the openstacksdk compute proxy; it
        is called on first use, so that nova being down at start-up is an
        outage to ride out, not a crash.
        """
        super().__init__(compute_factory)
        self._nova_hosts = None

    def _list(self):
        return self._call('reads', lambda c: list(c.aggregates()))

    def sync(self, desired, report, dry_run, listed=None):
        """Converge the host aggregates; return ``desired`` with each
        cluster's placement aggregate set (None for a cluster whose
        aggregate could not be made, or is new in a dry run).

        ``listed``: every cluster name the source lists (``desired``'s by
        default); a node of ``desired`` is taken out of the aggregate of a
        cluster the source no longer lists.
        """
        existing = self._list()
        self._nova_hosts = None
        self._leave_unlisted(desired, existing, report, dry_run,
                             {c.name for c in desired} | set(listed or ()))
        result = []
        for cluster in desired:
            error = None
            try:
                agg = self._sync_one(cluster, existing, report, dry_run)
            except exception.ServiceUnavailable:
                raise
            except (exception.SyncError, sdk_exc.SDKException) as e:
                error, agg = e, None
            if error is not None:
                # Outside the except block: oslo.log would repeat it.
                report.error('host aggregate of cluster %s: %s',
                             cluster.name, error)
            result.append(dataclasses.replace(cluster,
                                              placement_aggregate=agg))
        return result

    def _leave_unlisted(self, desired, existing, report, dry_run, listed):
        """Hosts that are nodes of ``desired`` clusters leave the host
        aggregates of clusters the source no longer lists (a node moved
        from a cluster removed from the source): one node, one cluster.
        """
        node_of = {model.host_key(n): c.name for c in desired
                   for n in c.nodes}
        for agg in existing:
            old = (agg.metadata or {}).get(
                hvc_names.HOST_AGGREGATE_CLUSTER_KEY)
            if not old or old in listed:
                continue
            for host in sorted(agg.hosts or []):
                cluster = node_of.get(model.host_key(host))
                if cluster is None:
                    continue
                action = RemoveHost(agg.name, host, old,
                                    'it is a node of cluster %s now, and '
                                    'the source no longer lists cluster %s'
                                    % (cluster, old))
                if dry_run or self._apply(action, agg, report):
                    report.change('%s', action.describe())

    def _find(self, cluster, existing):
        marked = [agg for agg in existing if (agg.metadata or {}).get(
            hvc_names.HOST_AGGREGATE_CLUSTER_KEY) == cluster.name]
        if len(marked) > 1:
            raise exception.NameClash(
                'nova has %d host aggregates marked %s=%s (ids %s): keep '
                'one' % (len(marked), hvc_names.HOST_AGGREGATE_CLUSTER_KEY,
                         cluster.name, ', '.join(str(a.id) for a in marked)))
        if marked:
            return marked[0]
        for agg in existing:
            if agg.name == cluster.host_aggregate_name:
                if agg.hosts or agg.metadata:
                    raise exception.NameClash(
                        'nova already has a host aggregate named %s (id %s) '
                        'that placement_sync did not create; rename it, or '
                        'set its metadata %s=%s to hand it over'
                        % (agg.name, agg.id,
                           hvc_names.HOST_AGGREGATE_CLUSTER_KEY, cluster.name))
                # An empty, unmarked aggregate of our name is our own from
                # a run cut short between create and set_metadata.
                return agg
        return None

    def _sync_one(self, cluster, existing, report, dry_run):
        """Converge one cluster's aggregate; return its uuid."""
        agg = self._find(cluster, existing)
        if agg is None:
            create = CreateHostAggregate(cluster.host_aggregate_name,
                                         cluster.name)
            if dry_run:
                report.change('%s', create.describe())
                report.change('then add hosts %s to it and join the CSV '
                              'providers to its placement aggregate',
                              ', '.join(cluster.nodes))
                return None
            agg = self._create(cluster, existing)
            report.change('%s', create.describe())
        if not agg.uuid:
            raise exception.SyncError(
                'nova did not return the uuid of host aggregate %s: the '
                'compute API must offer microversion 2.41 or later' % agg.name)
        nova_hosts = None
        if _missing_hosts(cluster, agg):
            nova_hosts = self._compute_hosts()
        step = plan_host_aggregate(cluster, agg, nova_hosts)
        for action in step.actions:
            if dry_run or self._apply(action, agg, report):
                report.change('%s', action.describe())
        for warning in step.warnings:
            report.warn('%s', warning)
        for error in step.errors:
            report.error('%s', error)
        return agg.uuid

    def _compute_hosts(self):
        """{model.host_key: [host names]} of nova's compute services, read
        once per run: a host is added under nova's own spelling.
        """
        if self._nova_hosts is None:
            self._nova_hosts = collections.defaultdict(list)
            for service in self._call('reads', lambda c: list(
                    c.services(binary='nova-compute'))):
                self._nova_hosts[model.host_key(service.host)].append(
                    service.host)
        return self._nova_hosts

    def _create(self, cluster, existing):
        try:
            return self._call('writes', lambda c: c.create_aggregate(
                name=cluster.host_aggregate_name))
        except sdk_exc.ConflictException:
            # Another copy of this tool created it just now.
            existing[:] = self._list()
            agg = self._find(cluster, existing)
            if agg is None:
                raise
            return agg

    def _apply(self, action, agg, report):
        """Carry out one action; False when it could not be (reported)."""
        if isinstance(action, MarkHostAggregate):
            self._call('writes', lambda c: c.set_aggregate_metadata(
                agg, {hvc_names.HOST_AGGREGATE_CLUSTER_KEY: action.cluster}))
            return True
        if isinstance(action, AddHost):
            return self._add_host(agg, action.host, action.cluster, report)
        return self._remove_host(agg, action.host, report)

    def _hosts_now(self, agg):
        """The aggregate's hosts as nova has them now (it may be gone), by
        model.host_key.
        """
        try:
            return {model.host_key(h) for h in self._call(
                'reads', lambda c: c.get_aggregate(agg.id)).hosts or []}
        except sdk_exc.NotFoundException:
            raise exception.SyncError(
                'host aggregate %s was deleted while this run used it; the '
                'next run makes it again' % agg.name)

    def _add_host(self, agg, host, cluster, report):
        try:
            self._call('writes', lambda c: c.add_host_to_aggregate(agg, host))
            return True
        except sdk_exc.HttpException as e:
            if model.host_key(host) in self._hosts_now(agg):
                return False  # added meanwhile by another copy of this tool
            if e.status_code == 404:
                report.warn('host %s of cluster %s is not a nova compute '
                            'host yet; a later run adds it to %s', host,
                            cluster, agg.name)
            else:  # e.g. 409: the host is in another availability zone
                report.error('nova refused to add host %s to host aggregate '
                             '%s: %s', host, agg.name, e.details or e)
            return False

    def _remove_host(self, agg, host, report):
        try:
            self._call('writes',
                       lambda c: c.remove_host_from_aggregate(agg, host))
            return True
        except sdk_exc.HttpException as e:
            if model.host_key(host) in self._hosts_now(agg):
                report.error('nova refused to remove host %s from host '
                             'aggregate %s: %s', host, agg.name,
                             e.details or e)
            return False


# What to change in a host aggregate: planned, then printed (dry run) or
# carried out.

@dataclasses.dataclass(frozen=True)
class CreateHostAggregate:
    name: str
    cluster: str

    def describe(self):
        return 'create nova host aggregate %s for cluster %s' % (
            self.name, self.cluster)


@dataclasses.dataclass(frozen=True)
class MarkHostAggregate:
    aggregate: str
    cluster: str

    def describe(self):
        return 'mark host aggregate %s with %s=%s' % (
            self.aggregate, hvc_names.HOST_AGGREGATE_CLUSTER_KEY, self.cluster)


@dataclasses.dataclass(frozen=True)
class AddHost:
    aggregate: str
    host: str
    cluster: str

    def describe(self):
        return 'add host %s to host aggregate %s' % (self.host,
                                                     self.aggregate)


@dataclasses.dataclass(frozen=True)
class RemoveHost:
    aggregate: str
    host: str
    cluster: str
    why: str = None

    def describe(self):
        return 'remove host %s from host aggregate %s: %s' % (
            self.host, self.aggregate,
            self.why or 'it left cluster %s' % self.cluster)


def _missing_hosts(cluster, agg):
    """The cluster's nodes missing from the aggregate, by model.host_key."""
    return ({model.host_key(n) for n in cluster.nodes} -
            {model.host_key(h) for h in agg.hosts or []})


def plan_host_aggregate(cluster, agg, nova_hosts):
    """What makes the cluster's existing host aggregate ``agg`` match it.

    Host names are compared as nova compares them (model.host_key);
    ``nova_hosts`` (read when a node is missing from ``agg``) gives
    nova's spelling of each: {host key: [names of nova compute hosts]}.
    """
    step = plan.Plan()
    if (agg.metadata or {}).get(
            hvc_names.HOST_AGGREGATE_CLUSTER_KEY) != cluster.name:
        step.actions.append(MarkHostAggregate(agg.name, cluster.name))
    nodes = {model.host_key(n): n for n in cluster.nodes}
    for key in sorted(_missing_hosts(cluster, agg)):
        spellings = sorted(set(nova_hosts.get(key, ())))
        if not spellings:
            step.warnings.append(
                'host %s of cluster %s is not a nova compute host yet; a '
                'later run adds it to %s' % (nodes[key], cluster.name,
                                             agg.name))
        elif len(spellings) > 1:
            step.errors.append(
                'node %s of cluster %s matches several nova compute hosts '
                '(%s): nova host names are not case-sensitive; delete the '
                'stale compute service' % (nodes[key], cluster.name,
                                           ', '.join(spellings)))
        else:
            step.actions.append(AddHost(agg.name, spellings[0],
                                        cluster.name))
    step.actions.extend(
        RemoveHost(agg.name, host, cluster.name)
        for host in sorted(agg.hosts or [])
        if model.host_key(host) not in nodes)
    return step
