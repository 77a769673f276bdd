"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    if "columnar" in BLOCKS[index]:
        pytest.importorskip("pyarrow")  # the [arrow] extra
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    if "columnar.to_arrow" in BLOCKS[index]:
        expected = "2 ['stock_locate', 'tracking_number', 'timestamp', 'order_reference_number']"
        assert f"{expected} [3000000, 3000100]" in out
    if "# 5 {" in BLOCKS[index]:  # the printed result shown in the README is the real one
        assert "5 {'A': 1, 'D': 1, 'E': 1, 'S': 2}" in out
        assert "add 100 MSFT @ 300.0000" in out
