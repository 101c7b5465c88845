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

"""The simulated cluster behaves like os-win: same methods, same
signatures.
"""

import inspect

import testtools

from hvc_agent import oswin as agent_oswin
from hvc_sim.oswin.io import namedpipe as sim_namedpipe
from hvc_sim.oswin import utilsfactory as sim_utilsfactory
from tests.unit.driver import fixtures as driver_fixtures


def _undecorated(func, name):
    """The function os-win wrote as ``name``, below its decorators.

    os-win's decorators (retry_decorator, not_found_decorator...) do not use
    functools.wraps: the decorated function sits in the wrapper's closure.
    """
    func = inspect.unwrap(func)
    if func.__name__ == name:
        return func
    for cell in func.__closure__ or ():
        inner = cell.cell_contents
        if inspect.isfunction(inner):
            found = _undecorated(inner, name)
            if found is not None:
                return found
    return None


def _public_methods(cls):
    return sorted(name for name, member in inspect.getmembers(cls)
                  if inspect.isfunction(member) and not name.startswith('_'))


class TestSignatures(testtools.TestCase):

    def test_every_simulated_method_matches_os_win(self):
        for kind, cls in sim_utilsfactory.UTILS_CLASSES.items():
            oswin_cls = driver_fixtures.import_class(
                agent_oswin.OSWIN_CLASSES[kind])
            methods = _public_methods(cls)
            self.assertTrue(methods, kind)
            adapter = agent_oswin._OSWIN_ADAPTERS.get(kind)
            for name in methods:
                oswin_method = getattr(oswin_cls, name, None)
                if oswin_method is not None:
                    oswin_method = _undecorated(oswin_method, name)
                elif adapter is not None:
                    # What os-win lacks, the seam adds to it.
                    oswin_method = getattr(adapter, name, None)
                self.assertIsNotNone(
                    oswin_method, '%s.%s is not an os-win method of %s'
                    % (kind, name, oswin_cls.__name__))
                self.assertEqual(
                    inspect.signature(oswin_method),
                    inspect.signature(getattr(cls, name)),
                    '%s.%s' % (kind, name))

    def test_the_simulated_named_pipe_handler_matches_os_win(self):
        # What utilsfactory.get_named_pipe_handler makes; the seam makes
        # the simulated one with the same arguments.
        from os_win.utils.io import namedpipe
        oswin_cls = namedpipe.NamedPipeHandler
        cls = sim_namedpipe.NamedPipeHandler
        for name in _public_methods(cls):
            self.assertEqual(
                inspect.signature(getattr(oswin_cls, name)),
                inspect.signature(getattr(cls, name)), name)
        # The simulated one takes the state file and the node first.
        params = list(inspect.signature(cls.__init__).parameters.values())
        self.assertEqual(['self', 'state', 'node'],
                         [p.name for p in params[:3]])
        self.assertEqual(
            list(inspect.signature(oswin_cls.__init__).parameters.values())[
                1:], params[3:])

    def test_the_counterparts_are_what_utilsfactory_picks(self):
        # On Windows Server 2016+ utilsfactory returns these classes.
        from os_win import utilsfactory
        for kind, path in agent_oswin.OSWIN_CLASSES.items():
            variants = utilsfactory.utils_map[kind]
            newest = variants[-1] if isinstance(variants, list) else variants
            self.assertEqual(path, newest['path'], kind)

    def test_the_decorated_os_win_methods_are_unwrapped(self):
        from os_win.utils.compute import vmutils10
        self.assertEqual(
            ['self', 'vm_name', 'req_state'],
            list(inspect.signature(_undecorated(
                vmutils10.VMUtils10.set_vm_state,
                'set_vm_state')).parameters))
