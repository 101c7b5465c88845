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
