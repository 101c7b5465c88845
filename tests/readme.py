"""README.md's sections and the code blocks in them, for the tests that
check what it tells operators to type.
"""

import os
import re

README = os.path.join(os.path.dirname(__file__), '..', 'README.md')


def section(title):
    """The text of the ``## title`` section, up to the next ``## ``."""
    with open(README) as f:
        text = f.read()
    start = text.index('\n## %s\n' % title)
    end = text.find('\n## ', start + 1)
    return text[start:end if end != -1 else len(text)]


def blocks(text, language):
    """The fenced ```language blocks of ``text``, their indent removed."""
    found = []
    for indent, body in re.findall(
            r'^( *)```%s\n(.*?)^\1```$' % re.escape(language), text,
            re.MULTILINE | re.DOTALL):
        found.append(''.join(line[len(indent):]
                             for line in body.splitlines(True)))
    return found
