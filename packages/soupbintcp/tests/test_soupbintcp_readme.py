"""The README's transition table is the one in ``tickwire.soupbintcp.state``.

(Its Python examples run in ``tests/test_docs_examples.py``, with every other document's.)
"""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


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
