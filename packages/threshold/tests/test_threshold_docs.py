"""The examples of ``docs/threshold.md`` section 9 run as written: a user's own backend
through the differential harness, and a deliberately broken one caught by it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from tickwire.threshold import ReferenceBackend

DOC = Path(__file__).resolve().parents[3] / "docs" / "threshold.md"


def _python_blocks() -> list[str]:
    section = DOC.read_text().split("## 9. ", 1)[1]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    standalone, suite = _python_blocks()
    namespace: dict[str, Any] = {"__name__": "threshold_doc_example"}
    exec(compile(standalone, f"{DOC}:section 9", "exec"), namespace)
    assert capsys.readouterr().out.startswith("caught: input frame")
    exec(compile(suite, f"{DOC}:section 9 (pytest)", "exec"), namespace)
    namespace["test_my_backend_matches_the_reference"]()
    namespace["test_every_registered_backend_on_one_frame"](ReferenceBackend())
