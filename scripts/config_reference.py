"""Write (or check) the configuration references in the docs from the schemas.

    uv run --no-sync python scripts/config_reference.py          # rewrite the tables
    uv run --no-sync python scripts/config_reference.py --check  # exit 1 if one is stale

A reference is the Markdown table between ``<!-- schema: MODULE:CLASS [PREFIX] -->`` and
``<!-- /schema -->`` in ``docs/*.md`` and the package READMEs: the keys of the settings
dataclass ``CLASS`` (declared with :mod:`tickwire.threshold.schema`), each with its type,
default, valid values and notes, rendered by :func:`tickwire.threshold.schema.reference_table`
with key paths under ``PREFIX`` (``risk`` for ``[risk]``). ``tests/test_config_schema.py``
runs the check, so a bound changed in code and not in the docs fails the suite.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path

from tickwire.threshold.schema import reference_table

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(
    r"(?P<open><!-- schema: (?P<target>[\w.]+:\w+)(?: (?P<prefix>[\w.]+))? -->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- /schema -->)",
    re.S,
)


def documents() -> list[Path]:
    """The Markdown files that may hold references."""
    return sorted([*ROOT.glob("docs/*.md"), *ROOT.glob("packages/*/README.md")])


def render(target: str, prefix: str | None) -> str:
    """The table of ``MODULE:CLASS`` with keys under ``prefix``."""
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return reference_table(cls, prefix or "")


def references(text: str) -> list[tuple[str, str]]:
    """``(target, prefix)`` of each reference block in ``text``."""
    return [(m["target"], m["prefix"] or "") for m in BLOCK.finditer(text)]


def rewrite(text: str) -> str:
    """``text`` with every reference block's table rendered anew."""
    # Blank lines around the table: Markdown would read a table right after an HTML
    # comment line as part of that HTML block.
    return BLOCK.sub(
        lambda m: m["open"] + "\n" + render(m["target"], m["prefix"]) + "\n" + m["close"], text
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale tables")
    args = parser.parse_args(argv)
    stale = []
    for path in documents():
        text = path.read_text(encoding="utf-8")
        new = rewrite(text)
        if new != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(new, encoding="utf-8")
    for p in stale:
        print(f"{p}: {'stale' if args.check else 'rewritten'}", file=sys.stderr)
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
