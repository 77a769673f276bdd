"""The package without its extensions (``TICKWIRE_PURE=1``), and the CLI's ``--backend``.

The pure run happens in a subprocess, because the choice is made at import time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tickwire.engine import cbook
from tickwire.engine.cli import main
from tickwire.threshold import cbackend

# The real test data ship in the repository: data/ (data/PROVENANCE.md).
DATA = Path(__file__).resolve().parents[3] / "data"
TEST_FILE = DATA / "itch" / "ex20101224.TEST_ITCH_50"
PCAPS = DATA / "pcap" / "nasdaq-itch50"

_PURE_SCRIPT = """
import sys
from tickwire.engine import cbook
from tickwire.threshold import cbackend
from tickwire.threshold.backends import BackendUnavailable, load_backend
from tickwire.engine.cli import main
from tickwire.threshold.config import ThresholdConfig
assert not cbook.AVAILABLE and not cbackend.AVAILABLE
assert "TICKWIRE_PURE" in cbook.UNAVAILABLE_REASON
try:
    cbook.make_book_manager("cython")
except BackendUnavailable:
    pass
else:
    raise SystemExit("cython book did not refuse")
try:
    load_backend("cython").configure(ThresholdConfig(True, 0, 1, 26477, 26400, "S"))
except BackendUnavailable:
    pass
else:
    raise SystemExit("cython backend did not refuse")
# The reference still works.
assert cbook.make_book_manager("reference").summary()["instruments"] == {}
# The engine's events are built by tickwire.net's Python constructor.
from tickwire.engine.strategy.api import BookUpdate
from tickwire.engine.strategy.context import _book_update
assert type(_book_update).__name__ == "function"
assert type(_book_update("X", 1, 2, None, None, None)) is BookUpdate
sys.exit(main(["book", "--backend", "cython", sys.argv[1]]))
"""


def test_package_works_without_the_extensions() -> None:
    env = {**os.environ, "TICKWIRE_PURE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _PURE_SCRIPT, str(TEST_FILE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 2, out.stderr
    assert "not available" in out.stderr and "TICKWIRE_PURE" in out.stderr


def test_availability_flags_agree() -> None:
    assert (cbook.UNAVAILABLE_REASON is None) == cbook.AVAILABLE
    assert (cbackend.UNAVAILABLE_REASON is None) == cbackend.AVAILABLE


@pytest.mark.skipif(not cbook.AVAILABLE, reason=f"{cbook.UNAVAILABLE_REASON}")
@pytest.mark.parametrize("capture", [False, True])
def test_book_cli_backends_agree(capture: bool, capsys: pytest.CaptureFixture[str]) -> None:
    path = PCAPS / "Multiple.Packets.pcap" if capture else TEST_FILE
    results = []
    for backend in ("reference", "cython"):
        # the capture is a snippet with a gap: exit 1 (docs/cli.md, "Captures")
        assert main(["book", "--backend", backend, str(path), "--json"]) == (1 if capture else 0)
        results.append(json.loads(capsys.readouterr().out))
    assert results[0] == results[1]
    assert results[1]["instruments"]


@pytest.mark.skipif(not cbackend.AVAILABLE, reason=f"{cbackend.UNAVAILABLE_REASON}")
def test_threshold_cli_cython_equals_reference(tmp_path: Path) -> None:
    captures = sorted(PCAPS.glob("*.pcap"))
    assert captures, f"no captures in {PCAPS}"
    config = tmp_path / "t.toml"
    config.write_text(
        "armed = true\nmax_orders = 5\nfirst_user_ref_num = 1\nfeed_port = 26477\n"
        'order_port = 26400\norder_session = "TWORDERS01"\n\n[[instrument]]\nlocate = 6514\n'
        'symbol = "META"\nlimit_price = 3600000\nbase_qty = 10\nstep_qty = 1\ntick = 100\n'
        "max_order_qty = 500\nmax_position = 1000\nmax_notional = 1000000000000\n"
    )
    outputs = []
    for backend in ("reference", "cython"):
        out, stats = tmp_path / f"{backend}.pcap", tmp_path / f"{backend}.json"
        rc = main(
            [
                "threshold",
                "--backend",
                backend,
                "--config",
                str(config),
                str(captures[0]),
                "--orders",
                str(out),
                "--json",
                str(stats),
            ]
        )
        assert rc == 0
        outputs.append((out.read_bytes(), stats.read_text()))
    assert outputs[0] == outputs[1]
