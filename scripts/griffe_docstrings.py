"""Griffe extension for the documentation site: docstrings written for ``help()`` read as Markdown.

The docstrings are plain text with doctest sessions and a few reST roles. mkdocstrings
renders a docstring as Markdown, where a doctest's output line such as ``[1500000000]``
is a reference link (``mkdocs build --strict`` fails on it) and ``:class:`X``` shows its
colons. Before rendering, every object's docstring goes through :func:`markdownify`:

1. A doctest session (a run of lines from one starting with ``>>>`` up to a blank line,
   at any indentation, outside a fenced block) is wrapped in a ``pycon`` fence.
2. A reST role ``:role:`~a.b.C``` becomes inline code (``C`` with ``~``, else ``a.b.C``).

Loaded by ``mkdocs.yml`` (``extensions: [scripts/griffe_docstrings.py]``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1]}`" if match.group(1) else f"`{target}`"


def markdownify(text: str) -> str:
    """Fence doctest sessions and turn reST roles into inline code (module docstring)."""
    out: list[str] = []
    lines = text.split("\n")
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
        if not in_fence and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}```pycon")
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            out.append(f"{indent}```")
            continue
        out.append(line if in_fence else _ROLE.sub(_role, line))
        i += 1
    return "\n".join(out)


class DocstringsAsMarkdown(griffe.Extension):
    """Rewrite each object's docstring with :func:`markdownify` once it is loaded."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdownify(obj.docstring.value)
