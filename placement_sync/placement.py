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

"""A small placement client: only the calls placement_sync needs.

Every write carries the generation it was computed from; a stale one raises
``GenerationConflict`` so the caller re-reads and computes again. Requests
are counted, reads and writes apart, for the report and the benchmark.
"""

import collections
import json
import urllib.parse

from keystoneauth1 import exceptions as ks_exc
from oslo_log import log as logging

from placement_sync import exception

LOG = logging.getLogger(__name__)

# 1.39: the newest placement 16 speaks; we rely on 1.19 (aggregates with
# generations), 1.20 (POST returns the provider) and 1.22 (forbidden traits).
MICROVERSION = '1.39'


_GENERATION = 'resource_provider_generation'
_PROVIDER = ('uuid', 'name', 'generation')
DISK_GB = 'DISK_GB'


class GenerationConflict(Exception):
    """Someone else wrote the provider since we read it."""


class InUse(Exception):
    """The provider or inventory still has allocations."""


class NotFound(Exception):
    pass


class PlacementClient(object):

    def __init__(self, adapter):
        self._adapter = adapter
        self.requests = collections.Counter()
        self._known_traits = set()
        # Requests whose 5xx outlasted keystoneauth's status code retries:
        # a fault of placement for that very request (a name its database
        # cannot store), not a passing one. Sent once a run, without those
        # retries, until they succeed.
        self._failing = set()
        self._root_checked = False

    def request(self, method, url, body=None, expect=()):
        """One counted request; the JSON body of the answer, or None.

        ``expect``: keys the answer must have. An answer that is not
        placement's (an HTML page, a 404 without placement's error body,
        JSON without those keys) means the endpoint is not placement.
        """
        kind = 'reads' if method == 'GET' else 'writes'
        self.requests[kind] += 1
        key = (method, url, json.dumps(body, sort_keys=True))
        retries = {'status_code_retries': 0} if key in self._failing else {}
        try:
            resp = self._adapter.request(
                url, method, json=body, raise_exc=False,
                microversion=MICROVERSION,
                headers={'Accept': 'application/json'}, **retries)
        except ks_exc.ConnectFailure as e:
            raise exception.ServiceUnavailable(
                'cannot reach %s: %s' % (_endpoint(self._adapter),
                                         _reason(e)))
        except ks_exc.ClientException as e:
            raise exception.ServiceUnavailable(
                'placement request %s %s failed: %s' % (method, url, e))
        if resp.status_code >= 500:
            self._failing.add(key)
        else:
            self._failing.discard(key)
        if resp.status_code in (401, 403):
            raise exception.ServiceUnavailable(
                'placement refused our credentials (HTTP %d on %s %s): check '
                'the [placement] auth options'
                % (resp.status_code, method, url))
        if resp.status_code >= 400:
            self._refused(method, url, resp)
        answer = _json(resp) if resp.content else None
        if expect and not (isinstance(answer, dict) and
                           all(key in answer for key in expect)):
            raise self._not_placement(method, url, resp)
        return answer

    def check_api_root(self):
        """ServiceUnavailable unless the endpoint is placement's API root
        (once per client): a real placement under a wrong path prefix
        answers its JSON 404 to every path, which reads as "nothing
        there".
        """
        if self._root_checked:
            return
        try:
            versions = self.request('GET', '/',
                                    expect=('versions',))['versions']
            answer = 'JSON without placement\'s versions'
        except NotFound:
            versions, answer = None, 'HTTP 404 (placement\'s JSON error)'
        if not (isinstance(versions, list) and any(
                isinstance(v, dict) and 'max_version' in v
                for v in versions)):
            raise exception.ServiceUnavailable(
                '%s is not placement: GET / answered %s where placement '
                'answers its version document; check the [placement] '
                'endpoint or catalog entry, its path too'
                % (self._adapter.get_endpoint(), answer))
        self._root_checked = True

    def _refused(self, method, url, resp):
        errors = _json(resp)
        if not (isinstance(errors, dict) and
                isinstance(errors.get('errors'), list)):
            raise self._not_placement(method, url, resp)
        code = _error_code(errors)
        if resp.status_code == 404:
            raise NotFound(url)
        if resp.status_code == 409:
            if code == 'placement.concurrent_update' or (
                    method == 'POST' and code == 'placement.duplicate_name'):
                # Someone else wrote (or created) it first: re-read, retry.
                raise GenerationConflict(url)
            if code and code.endswith('inuse'):
                raise InUse(url)
        if resp.status_code >= 500:
            raise exception.SyncError(
                'placement failed %s %s with HTTP %d on every try (tried '
                'again next run): %s'
                % (method, url, resp.status_code, _detail(errors)))
        raise exception.SyncError(
            'placement refused %s %s (HTTP %d): %s'
            % (method, url, resp.status_code, _detail(errors)))

    def _not_placement(self, method, url, resp):
        return exception.ServiceUnavailable(
            '%s is not placement: %s %s answered HTTP %d (%s) where placement '
            'answers JSON; check the [placement] endpoint or catalog entry'
            % (self._adapter.get_endpoint(), method, url.split('?')[0],
               resp.status_code,
               resp.headers.get('Content-Type') or 'no content type'))

    # Providers.

    def list_providers(self, **query):
        params = urllib.parse.urlencode(sorted(query.items()))
        url = '/resource_providers' + ('?' + params if params else '')
        return self.request('GET', url,
                            expect=('resource_providers',))[
                                'resource_providers']

    def get_provider(self, uuid):
        try:
            return self.request('GET', '/resource_providers/%s' % uuid,
                                expect=_PROVIDER)
        except NotFound:
            return None

    def create_provider(self, uuid, name):
        return self.request('POST', '/resource_providers',
                            {'uuid': uuid, 'name': name}, expect=_PROVIDER)

    def rename_provider(self, uuid, name):
        return self.request('PUT', '/resource_providers/%s' % uuid,
                            {'name': name}, expect=_PROVIDER)['generation']

    def delete_provider(self, uuid):
        self.request('DELETE', '/resource_providers/%s' % uuid)

    # A provider's inventories, traits and aggregates: three sub-resources
    # of one shape. Each getter returns (generation, value); each setter
    # takes the generation it read and returns the new one.

    def _get_part(self, uuid, part):
        body = self.request('GET', '/resource_providers/%s/%s' % (uuid, part),
                            expect=(_GENERATION, part))
        return body[_GENERATION], body[part]

    def _set_part(self, uuid, part, generation, value):
        body = self.request('PUT', '/resource_providers/%s/%s' % (uuid, part),
                            {_GENERATION: generation, part: value},
                            expect=(_GENERATION,))
        return body[_GENERATION]

    def get_inventories(self, uuid):
        return self._get_part(uuid, 'inventories')

    def set_inventories(self, uuid, generation, inventories):
        return self._set_part(uuid, 'inventories', generation, inventories)

    def get_traits(self, uuid):
        gen, traits = self._get_part(uuid, 'traits')
        return gen, set(traits)

    def set_traits(self, uuid, generation, traits):
        return self._set_part(uuid, 'traits', generation, sorted(traits))

    def get_aggregates(self, uuid):
        gen, aggregates = self._get_part(uuid, 'aggregates')
        return gen, set(aggregates)

    def set_aggregates(self, uuid, generation, aggregates):
        return self._set_part(uuid, 'aggregates', generation,
                              sorted(aggregates))

    def trait_exists(self, name):
        try:
            self.request('GET', '/traits/%s' % name)
            return True
        except NotFound:
            return False

    def ensure_custom_traits(self, traits):
        """Define the custom traits among ``traits`` (once per client)."""
        for trait in sorted(set(traits) - self._known_traits):
            if trait.startswith('CUSTOM_'):
                self.request('PUT', '/traits/%s' % trait)
            self._known_traits.add(trait)

    def get_disk_allocations(self, uuid):
        """(generation, {consumer: DISK_GB}) of the provider's
        allocations of DISK_GB.
        """
        body = self.request(
            'GET', '/resource_providers/%s/allocations' % uuid,
            expect=(_GENERATION, 'allocations'))
        return body[_GENERATION], {
            consumer: alloc['resources'][DISK_GB]
            for consumer, alloc in body['allocations'].items()
            if alloc.get('resources', {}).get(DISK_GB)}

    def get_usages(self, uuid):
        return self.request('GET', '/resource_providers/%s/usages' % uuid,
                            expect=('usages',))['usages']


def _json(resp):
    try:
        return resp.json()
    except ValueError:
        return None


def _error_code(errors):
    try:
        return errors['errors'][0].get('code')
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def _detail(errors):
    """Placement's error details, on one line."""
    return '; '.join(' '.join(str(e.get('detail') or e.get('title')).split())
                     for e in errors['errors'] if isinstance(e, dict))


def _reason(error):
    """The gist of a connection failure; keystoneauth's text is long."""
    if isinstance(error, ks_exc.ConnectTimeout):
        return 'connection timed out'
    if 'Connection refused' in str(error):
        return 'connection refused'
    return str(error)


def _endpoint(adapter):
    """Which service could not be reached, for the message."""
    try:
        return 'placement at %s' % adapter.get_endpoint()
    except ks_exc.ClientException:
        # Finding the endpoint failed too: keystone is down or wrong.
        return 'the identity service (to find placement)'
