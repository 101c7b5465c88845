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

"""What every simulated os-win utils class shares: the state and node it
works on, and faults (``hvc-sim fail KIND.METHOD``) that make a method
raise the os-win exception a failing Hyper-V call raises.
"""

import functools

from hvc_oswin_api import constants
from hvc_oswin_api import exceptions as os_win_exc
from hvc_sim import state as sim_state


RUNNING = (constants.HYPERV_VM_STATE_ENABLED,
           constants.HYPERV_VM_STATE_PAUSED)


def faultable(exc_class):
    """Raise ``exc_class`` when a fault is armed for this method."""
    def decorator(func):
        @functools.wraps(func)
        def wrapper(self, *args, **kwargs):
            name = '%s.%s' % (self.KIND, func.__name__)
            message = self._state.take_fault(name)
            if message is not None:
                raise exc_class(message)
            try:
                return func(self, *args, **kwargs)
            except sim_state.VMNotFound as e:
                raise os_win_exc.HyperVVMNotFoundException(vm_name=e.vm_name)
            except sim_state.SimulatorError as e:
                raise exc_class(str(e))
        return wrapper
    return decorator


class SimulatedUtils(object):
    KIND = None

    def __init__(self, state, node):
        self._state = state
        self._node = node
