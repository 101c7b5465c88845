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
