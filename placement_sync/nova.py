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

"""The compute API, through openstacksdk: what placement_sync asks nova.

``NovaClient`` makes the connection on first use (nova down at start-up
is an outage to ride out, not a crash), counts requests, and turns
connection failures and refused credentials into ServiceUnavailable.
"""

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from placement_sync import exception


class NovaClient(object):

    def __init__(self, compute_factory):
        """``compute_factory()`` makes the openstacksdk compute proxy."""
        self._compute_factory = compute_factory
        self._compute = None
        self.requests = {'reads': 0, 'writes': 0}

    def _call(self, kind, func):
        """One request to nova: ``func(compute_proxy)``."""
        self.requests[kind] += 1
        try:
            if self._compute is None:
                self._compute = self._compute_factory()
            return func(self._compute)
        except sdk_exc.HttpException as e:
            if e.status_code in (401, 403):
                raise exception.ServiceUnavailable(
                    'nova refused our credentials (HTTP %s): check the '
                    '[nova] auth options' % e.status_code)
            raise
        except (sdk_exc.SDKException, ks_exc.ClientException) as e:
            raise exception.ServiceUnavailable(
                'cannot reach the nova API: %s' % e)


class InstanceNames(NovaClient):
    """Which VM (and so which folder on its CSV) a consumer is: nova's
    ``OS-EXT-SRV-ATTR:instance_name`` of the server of that uuid.

    An instance's name never changes, so each is asked once per process;
    a consumer that is no server (a migration's, during a resize) once
    too. The cluster cannot tell this itself: a VM's notes, which hold
    its instance's uuid, are visible only on the node that runs it.
    """

    def __init__(self, compute_factory):
        super().__init__(compute_factory)
        self._known = {}

    def names(self, consumers):
        """{consumer: VM name, or None when it is no instance}."""
        for consumer in sorted(set(consumers) - set(self._known)):
            try:
                server = self._call('reads',
                                    lambda c: c.get_server(consumer))
            except sdk_exc.NotFoundException:
                self._known[consumer] = None
                continue
            if server.instance_name:
                self._known[consumer] = server.instance_name
            # else: still being built; asked again next time.
        return {c: self._known.get(c) for c in consumers}
