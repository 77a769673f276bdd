"""``python -m tickwire.xdp``: every command, run in-process against a pinned program.

Attaching for real is covered by test_xdp_e2e.py; here the program is loaded and pinned
without an interface, which is all arm, disarm, set and stats need.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.testing import add_order, feed_frame
from tickwire.xdp import PIN_ROOT, XDP_PASS, XDP_TX, XdpProgram
from tickwire.xdp.cli import main

CONFIG = ThresholdConfig(
    armed=True,
    max_orders=100,
    first_user_ref_num=1,
    feed_port=26477,
    order_port=26400,
    order_session="TWORDERS01",
    instruments=(InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 5000, 10**12),),
)
TRIGGER = feed_frame([add_order(13, "S", 1_490_000)])


@pytest.fixture
def iface(pin: Callable[[ThresholdConfig], str]) -> str:
    return pin(CONFIG)


def test_disarm_and_arm(
    program: XdpProgram, iface: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["disarm", iface]) == 0
    assert program.test_run(TRIGGER).retval == XDP_PASS
    assert main(["arm", iface]) == 0
    assert program.test_run(TRIGGER).retval == XDP_TX
    assert "armed" in capsys.readouterr().out


def test_set_changes_and_adds(program: XdpProgram, iface: str) -> None:
    assert main(["set", iface, "--locate", "13", "--limit-price", "1000000"]) == 0
    assert program.test_run(TRIGGER).retval == XDP_PASS
    args = ["set", iface, "--locate", "14", "--symbol", "MSFT", "--limit-price", "4000000"]
    args += ["--base-qty", "10", "--step-qty", "0", "--tick", "1", "--max-order-qty", "10"]
    args += ["--max-position", "100", "--max-notional", "1000000000000"]
    assert main(args) == 0
    assert program.test_run(feed_frame([add_order(14, "S", 3_000_000)])).retval == XDP_TX


def test_set_errors_are_clear(iface: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["set", iface, "--locate", "13", "--tick", "0"]) == 2
    assert "tick: must be between 1 and" in capsys.readouterr().err
    assert main(["set", iface, "--locate", "99", "--tick", "5"]) == 2
    assert "a new instrument needs --symbol" in capsys.readouterr().err
    assert main(["set", iface, "--locate", "13"]) == 2
    assert "nothing to change" in capsys.readouterr().err


@pytest.mark.parametrize("symbol", ["", "   ", "TOOLONGSYM", "BRK B"])
def test_set_refuses_a_bad_symbol_while_parsing(
    symbol: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked by the same type as every ``--symbol`` (``tickwire.cli.stock_symbol``),
    before any pin is opened: the interface here has none."""
    assert main(["set", "twxnopin0", "--locate", "13", "--symbol", symbol]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    assert "argument --symbol: symbol " in line


def test_mirror_mode_changes_on_the_next_frame(
    program: XdpProgram, iface: str, capsys: pytest.CaptureFixture[str]
) -> None:
    quiet = feed_frame([add_order(13, "B", 1_490_000)])  # passed, never an order
    reader = program.mirror_reader()
    try:
        reader.consume()
        assert main(["mirror", iface, "all"]) == 0
        program.test_run(quiet)
        assert [f.data for f in reader.consume()] == [quiet]
        assert main(["mirror", iface, "none"]) == 0
        program.test_run(TRIGGER)
        assert reader.consume() == []
        assert main(["mirror", iface, "orders"]) == 0
        program.test_run(quiet)
        program.test_run(TRIGGER)
        assert [(f.data, f.ordered) for f in reader.consume()] == [(TRIGGER, True)]
    finally:
        reader.close()
    assert capsys.readouterr().out.splitlines()[-1] == f"{iface}: mirror orders"
    assert main(["mirror", iface, "some"]) == 2  # argparse: an unknown mode is a usage error


def test_stats(program: XdpProgram, iface: str, capsys: pytest.CaptureFixture[str]) -> None:
    program.test_run(TRIGGER)
    assert main(["stats", iface, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == program.raw_stats().threshold_stats().to_dict()
    assert data["orders"] == 1 and data["instruments"]["13"]["shares"] == 1000
    assert main(["stats", iface, "--watch", "0.01", "--count", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("orders 1") == 2 and "armed yes" in out
    assert "1000" in out and "149,000.0000" in out  # shares and dollars committed


def test_operational_errors(iface: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detach", iface]) == 0  # pinned, but its interface does not exist: stale
    assert f"{iface} no longer exists" in capsys.readouterr().out
    assert not (PIN_ROOT / iface).exists()  # the stale pins are gone (test_xdp_pins.py)
    assert main(["stats", "twxnosuch0"]) == 1
    err = capsys.readouterr().err
    assert "nothing attached" in err
    assert "attach a program first with `python -m tickwire.xdp attach twxnosuch0" in err


def test_attach_rejects_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG.to_toml().replace("max_position = 5000", "max_positon = 5000"))
    assert main(["attach", "lo", "--config", str(bad)]) == 2
    assert "instrument[0].max_positon: unknown key" in capsys.readouterr().err
    assert main(["attach", "lo"]) == 2  # --config is required
    assert "--config" in capsys.readouterr().err
    assert main(["attach", "lo", "--config", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["set", "lo", "--locate", "70000"]) == 2
    assert "locate 70000 is not in 1..65535" in capsys.readouterr().err
    assert main(["stats", "lo", "--watch", "-1"]) == 2
    assert "-1.0 is not above 0" in capsys.readouterr().err
