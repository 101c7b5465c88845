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

"""Cluster facts from the clusters' hvc-agents, so that placement_sync
runs anywhere (a Linux controller) and not only on a cluster node.

Each cluster is listed with the agents of its nodes (``[placement_sync]
agent_cluster``): they are asked in order (``GET /v1/cluster``, over
HTTPS with this tool's client certificate) until one answers with that
cluster, measured as the os-win source measures it on the node
(``placement_sync.sources.oswin.cluster``, or the simulated source's for
a simulated node). An agent that fails (down, refusing, reporting another
cluster or a standalone host) is logged with its URL once another agent
of the cluster has answered; a cluster none of whose agents answers fails
the run (InvalidInventory, nothing written), as a source that cannot be
read does.

The clusters are listed with their agents rather than as one list of
agents grouped by what each reports: an agent that does not answer
reports no cluster, so a cluster whose every agent is down would vanish
from the run unnoticed.
"""

import urllib.parse

from oslo_log import log as logging

from hvc_agent import client as agent_client
from hvc_oswin_api import exceptions as oswin_exc
from placement_sync import exception
from placement_sync import model

LOG = logging.getLogger(__name__)

OPTION = '[placement_sync] agent_cluster'


# What asking one agent may raise: the agent down or refusing
# (wire.AgentError), an error the agent raised (as the wire gives it
# back), an answer that is not a cluster.
_AGENT_FAILURES = (oswin_exc.OSWinException, oswin_exc.x_wmi, OSError,
                   ValueError)


def parse_clusters(values):
    """[(cluster name, [agent URL, ...])] of the agent_cluster option's
    values; ConfigError naming the value that is wrong.
    """
    clusters, names, urls = [], {}, {}
    for value in values:
        name, sep, rest = value.partition(':')
        name = name.strip()
        if not sep or not name or rest.lstrip().startswith('//'):
            raise exception.ConfigError(
                '%s = %s: give a cluster and its agents as "NAME: URL, '
                'URL, ..."' % (OPTION, value))
        agents = [url.strip() for url in rest.split(',') if url.strip()]
        if not agents:
            raise exception.ConfigError('%s = %s: cluster %s has no agent'
                                        % (OPTION, value, name))
        if name.casefold() in names:
            raise exception.ConfigError(
                '%s: cluster %s is given twice' % (OPTION, name))
        names[name.casefold()] = name
        for url in agents:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme not in ('https', 'http') or not parts.hostname:
                raise exception.ConfigError(
                    '%s = %s: %s is not an https:// (or http://) URL'
                    % (OPTION, value, url))
            if url.rstrip('/') in urls:
                raise exception.ConfigError(
                    '%s: the agent %s is given for cluster %s and for '
                    'cluster %s' % (OPTION, url, urls[url.rstrip('/')], name))
            urls[url.rstrip('/')] = name
        clusters.append((name, agents))
    if not clusters:
        raise exception.ConfigError(
            '%s is not set: source = agent needs each cluster and its '
            'nodes\' agents' % OPTION)
    return clusters


def load(options):
    """The clusters of ``options`` (conf.placement_sync), each from the
    first of its agents that answers; InvalidInventory naming every
    cluster none of whose agents answered.
    """
    problems, clusters = [], []
    for name, urls in parse_clusters(options.agent_cluster):
        failures = []
        for url in urls:
            try:
                found = _ask(url, name, options)
            except _AGENT_FAILURES as e:
                failures.append(_failure(url, e))
                continue
            for failure in failures:
                LOG.warning('cluster %s: %s; asked %s instead', name,
                            failure, url)
            clusters.append(found)
            break
        else:
            problems.append('cluster %s: none of its agents answered (%s)'
                            % (name, '; '.join(failures)))
    if problems:
        raise exception.InvalidInventory(
            '%s; nothing is written' % '; '.join(problems))
    return clusters


def _failure(url, error):
    """What went wrong with the agent at ``url``, on one line that names
    it.
    """
    reason = ' '.join(str(error).split())
    if url.rstrip('/') in reason:
        return reason
    return 'the agent at %s: %s' % (url, reason)


def _ask(url, name, options):
    agent = agent_client.AgentClient(
        url, ca_file=options.agent_ca_file,
        cert_file=options.agent_cert_file, key_file=options.agent_key_file,
        timeout=options.agent_timeout)
    try:
        found = model.cluster_from_plain(
            agent.cluster(options.csv_instances_folder))
    finally:
        agent.close()
    if str(found.name).casefold() != name.casefold():
        raise ValueError('it is a node of cluster %s, not of %s'
                         % (found.name, name))
    return found
