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

"""Under pytest, skip nova's in-process tests with the way to run them.

Nova's functional test classes are testtools based: pytest 9 runs them but
fails them in teardown. stestr and testtools run them properly
(``make test``, or ``.venv/bin/stestr run tests.functional``).
"""

import pytest

from nova import test as nova_test


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(
        reason='nova\'s testtools-based harness: run it with stestr '
               '("make test" or "stestr run tests.functional")')
    for item in items:
        if item.cls is not None and issubclass(item.cls, nova_test.TestCase):
            item.add_marker(skip)
