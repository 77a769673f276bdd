"""The README's examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text()
    (toml,) = re.findall(r"```toml\n(.*?)```", text, re.S)
    (python,) = re.findall(r"```python\n(.*?)```", text, re.S)
    (tmp_path / "threshold.toml").write_text(toml)
    monkeypatch.chdir(tmp_path)
    exec(compile(python, str(README), "exec"), {})
