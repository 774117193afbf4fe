"""A griffe extension that lets lrkit's docstrings, written for ``help()`` and doctest
(reST roles, ``>>>`` sessions), render as Markdown in the API reference.

* a ``>>>`` session (prompt lines, ``...`` continuations, output, up to a blank
  line) becomes a fenced ``pycon`` block, so its output stays verbatim;
* ``:meth:`x```, ``:class:`~a.b```, ... become code spans;
* a title underlined with ``~``, ``=`` or ``-`` (a Note) becomes a bold line,
  not a Markdown fence or heading.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:meth|func|class|mod|attr|data|exc|obj):`~?([^`]+)`")
UNDERLINE = re.compile(r"^\s*([~=\-^])\1{2,}\s*$")


def to_markdown(text: str) -> str:
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```pycon")
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            out.append(f"{indent}```")
            continue
        if line.strip() and i + 1 < len(lines) and UNDERLINE.match(lines[i + 1]):
            out.append(f"**{line.strip()}**")
            out.append("")
            i += 2
            continue
        out.append(ROLE.sub(r"`\1`", line))
        i += 1
    return "\n".join(out)


class RestToMarkdown(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
