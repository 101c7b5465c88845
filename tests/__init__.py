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

# Nova's in-process harness runs nova's services on eventlet, as nova's own
# functional tests do, and nova must monkey-patch before anything imports
# oslo.context or urllib3. Here, for every test: stestr's discovery imports
# every test module into each worker, and a patch in tests.functional came
# after tests.agent and tests.unit had imported urllib3, whose TLS contexts
# then recursed without end in eventlet's ssl. Patched late, greenthreads
# share "thread-local" request contexts and DB transactions, and writes of
# concurrent tasks get lost. (The real nova-compute runs the driver in
# native threading mode: the local cloud's end-to-end tests show that.)
import logging  # noqa: I100
import warnings

# What eventlet and nova say once per test process about eventlet being
# deprecated is known: it would stand between the results.
warnings.filterwarnings('ignore', message='(?s).*Eventlet is deprecated')
logging.getLogger('nova.monkey_patch').setLevel(logging.ERROR)
from nova import monkey_patch; monkey_patch.patch()  # noqa: E402,E702,I100
# nova.test sets up oslo.log at import with an INFO handler on stderr;
# tests capture their logs (nova's StandardLogging), but nova shuts its
# thread pools down after that capture ends, and those INFO lines would be
# printed for every passing test. Keep stderr to warnings.
from nova import test as nova_test  # noqa: E402,F401
for _handler in logging.getLogger().handlers:
    _handler.setLevel(logging.WARNING)
