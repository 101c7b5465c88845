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

"""The placement client and keystoneauth's retries of a 5xx."""

import json

from keystoneauth1 import adapter
from keystoneauth1.loading import get_plugin_loader
from keystoneauth1 import session
import requests
import testtools

from placement_sync import exception
from placement_sync import placement

ENDPOINT = 'http://placement.test'


class _Placement(requests.adapters.BaseAdapter):
    """Answers every request with ``status`` (placement's JSON error body
    for an error), without a network; counts the requests.
    """

    def __init__(self):
        super().__init__()
        self.status = 500
        self.hits = 0

    def send(self, request, **kwargs):
        self.hits += 1
        resp = requests.Response()
        resp.status_code = self.status
        resp.request, resp.url = request, request.url
        resp.headers['Content-Type'] = 'application/json'
        resp._content = json.dumps(
            {'uuid': 'u', 'name': 'n', 'generation': 0}
            if self.status < 400 else {'errors': [{
                'status': self.status, 'title': 'Internal Server Error',
                'detail': 'Incorrect string value'}]}).encode()
        return resp

    def close(self):
        pass


class TestRepeatedServerError(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.placement = _Placement()
        transport = requests.Session()
        transport.mount(ENDPOINT, self.placement)
        auth = get_plugin_loader('admin_token').load_from_options(
            endpoint=ENDPOINT, token='admin')
        self.client = placement.PlacementClient(adapter.Adapter(
            session.Session(auth=auth, session=transport),
            service_type='placement', status_code_retries=2,
            status_code_retry_delay=0.001, retriable_status_codes=[500]))

    def _create(self, name='n'):
        return self.client.create_provider('u', name)

    def test_tried_once_a_run_while_it_repeats(self):
        error = self.assertRaises(exception.SyncError, self._create)
        self.assertEqual(
            'placement failed POST /resource_providers with HTTP 500 on '
            'every try (tried again next run): Incorrect string value',
            str(error))
        self.assertEqual(3, self.placement.hits)  # keystoneauth's retries
        # The next run: the same request once, the same one line.
        error = self.assertRaises(exception.SyncError, self._create)
        self.assertIn('HTTP 500 on every try', str(error))
        self.assertEqual(4, self.placement.hits)
        # Another request still has its retries.
        self.assertRaises(exception.SyncError, self._create, 'other')
        self.assertEqual(7, self.placement.hits)
        # Once it succeeds, a later 5xx of it is retried again.
        self.placement.status = 200
        self._create()
        self.placement.status = 500
        self.assertRaises(exception.SyncError, self._create)
        self.assertEqual(11, self.placement.hits)
