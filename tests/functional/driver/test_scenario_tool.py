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

"""tools/nova_scenario.py gives up on a server that never gets there."""

import importlib.util
import os

import testtools

_TOOL = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'tools',
                     'nova_scenario.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('nova_scenario', _TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _StuckServer(object):
    """Stands in for the scenario's test case: the server stays BUILD."""

    def __init__(self, testcase):
        self.calls = 0
        self.testcase = testcase
        self.api = self

    def get_server(self, server_id):
        self.calls += 1
        if self.calls > 2000:
            # Without a deadline _wait would poll for ever.
            self.testcase.fail('_wait polled %d times without giving up'
                               % self.calls)
        return {'id': server_id, 'status': 'BUILD'}

    def fail(self, message):
        raise AssertionError(message)


class TestScenarioWait(testtools.TestCase):

    def test_wait_has_a_deadline(self):
        tool = _load_tool()
        stuck = _StuckServer(self)
        err = self.assertRaises(AssertionError, tool.Scenario._wait, stuck,
                                'server-1', 'ACTIVE', timeout=0.2)
        self.assertIn('still BUILD', str(err))
