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

"""The documentation's pages and the code blocks in them, for the tests
that check what it tells operators to type.
"""

import os
import re

DOC = os.path.join(os.path.dirname(__file__), '..', 'doc', 'source')


def page(path):
    """The text of ``doc/source/<path>``."""
    with open(os.path.join(DOC, path)) as f:
        return f.read()


def blocks(text, language):
    """The fenced ```language blocks of ``text``, their indent removed."""
    found = []
    for indent, body in re.findall(
            r'^( *)```%s\n(.*?)^\1```$' % re.escape(language), text,
            re.MULTILINE | re.DOTALL):
        found.append(''.join(line[len(indent):]
                             for line in body.splitlines(True)))
    return found
