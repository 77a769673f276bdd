"""The README's Python examples really run."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def test_soupbintcp_readme_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})


def table_rows() -> list[str]:
    """The README's transition table, rendered from TRANSITIONS (closing is left out:
    every state can close)."""
    from tickwire.soupbintcp.state import TRANSITIONS, Direction

    rows = []
    for role, states in TRANSITIONS.items():
        for state, row in states.items():
            groups: dict[tuple[Direction, object], list[str]] = {}
            for trigger, target in row.items():
                if isinstance(trigger, tuple):
                    direction, cls = trigger
                    groups.setdefault((direction, target), []).append(cls.spec.name)
            cells = [
                f"{direction.value} {', '.join(names)} (`{target.name}`)"  # type: ignore[attr-defined]
                for (direction, target), names in groups.items()
            ]
            rows.append(f"| {role.value} | `{state.name}` | {'; '.join(cells) or 'nothing'} |")
    return rows


def test_soupbintcp_readme_transition_table_is_the_table() -> None:
    text = README.read_text()
    for row in table_rows():
        assert row in text, f"README lacks: {row}"
