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

"""hvc-agent runs on Windows with etc/windows/hvc-agent-requirements.txt
alone: its os-win path imports nothing else (tools/agent_dependencies.py),
and none of it is nova's side.
"""

import importlib.util
import json
import os
import subprocess
import sys

import testtools

_TOOL = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'tools',
                     'agent_dependencies.py')
_spec = importlib.util.spec_from_file_location('agent_dependencies', _TOOL)
agent_dependencies = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(agent_dependencies)

NOVA_SIDE = {'nova', 'keystoneauth1', 'openstacksdk', 'os-traits',
             'python-novaclient', 'oslo-messaging', 'hyperv-cluster'}


class TestAgentDependencies(testtools.TestCase):

    def test_the_requirements_pull_in_nothing_of_nova_s_side(self):
        closure = agent_dependencies.closure()
        self.assertEqual(set(), closure & NOVA_SIDE)
        self.assertTrue({'os-win', 'cheroot', 'six', 'setuptools',
                         'oslo-config', 'oslo-log'} <= closure)

    def test_the_os_win_path_imports_only_what_they_install(self):
        proc = subprocess.run(
            [sys.executable, _TOOL, '--json'], capture_output=True,
            text=True, timeout=300)
        self.assertEqual(0, proc.returncode, proc.stderr + proc.stdout)
        result = json.loads(proc.stdout)
        self.assertIsNone(result['failed'])
        dists = {agent_dependencies._name(d)
                 for d in result['distributions']}
        self.assertEqual(set(), dists & NOVA_SIDE)
        self.assertTrue({'os-win', 'cheroot', 'oslo-config', 'oslo-log',
                         'oslo-concurrency', 'six', 'setuptools'} <= dists,
                        dists)
