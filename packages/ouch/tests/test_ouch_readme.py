"""The README's Python examples really run."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def test_ouch_readme_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 3  # codec, client and host, order tracker
    for block in blocks:
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})
