"""``python -m tickwire.threshold``: ``run`` writes what ``python -m tickwire.engine
threshold`` writes (one command, two entry points), ``backends``, and the exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tickwire.engine.cli import main as engine_main
from tickwire.threshold.cli import main

CAPTURE = (
    Path(__file__).resolve().parents[3]
    / "data"
    / "pcap"
    / "nasdaq-itch50"
    / "Multiple.Packets.pcap"
)
CONFIG = (
    "armed = true\nmax_orders = 5\nfirst_user_ref_num = 100\nfeed_port = 26477\n"
    'order_port = 26400\norder_session = "TWORDERS01"\n\n[[instrument]]\nlocate = 6514\n'
    'symbol = "META"\nlimit_price = 3600000\nbase_qty = 1000\nstep_qty = 0\ntick = 100\n'
    "max_order_qty = 1000\nmax_position = 5000\nmax_notional = 1000000000000\n"
)


def _args(tmp_path: Path, name: str, backend: str = "reference") -> list[str]:
    cfg = tmp_path / "t.toml"
    cfg.write_text(CONFIG)
    out, stats = tmp_path / f"{name}.pcap", tmp_path / f"{name}.json"
    return ["--backend", backend, "--config", str(cfg), str(CAPTURE), "--orders", str(out),
            "--json", str(stats)]  # fmt: skip


def test_run_is_the_engine_threshold_command(tmp_path: Path) -> None:
    assert main(["run", *_args(tmp_path, "new")]) == 0
    assert engine_main(["threshold", *_args(tmp_path, "old")]) == 0
    assert (tmp_path / "new.pcap").read_bytes() == (tmp_path / "old.pcap").read_bytes()
    assert (tmp_path / "new.json").read_text() == (tmp_path / "old.json").read_text()
    assert '"orders": 1' in (tmp_path / "new.json").read_text()


def test_unknown_backend_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", *_args(tmp_path, "x", backend="nosuch")]) == 2
    assert "no backend 'nosuch' registered" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_backends_as_a_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tickwire.threshold", "backends"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert out.stdout.splitlines()[0] == "reference"
    assert "cython" in out.stdout.splitlines()


def test_threshold_cli_config_argument_names_the_file_once(tmp_path: Path) -> None:
    """``load_config_argument`` (every backend's ``--config``): the file, then the key;
    a file that is not UTF-8 is named once (``load_config``'s line already names it)."""
    from tickwire.threshold.cli import UsageError, load_config_argument

    bad = tmp_path / "c.toml"
    bad.write_text("armed = true\n")
    with pytest.raises(UsageError) as info:
        load_config_argument(bad)
    assert str(info.value) == f"{bad}: max_orders: missing"
    bad.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(UsageError) as info:
        load_config_argument(bad)
    assert str(info.value).count(str(bad)) == 1 and "not UTF-8" in str(info.value)


def test_out_is_the_deprecated_name_of_orders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out is a folder in every other command; the orders pcap is --orders (issue #18).
    The old spelling still works until 0.3, with a warning."""
    args = _args(tmp_path, "new")
    assert main(["run", *args]) == 0
    assert capsys.readouterr().err == ""
    old = [("--out" if a == "--orders" else a) for a in _args(tmp_path, "old")]
    assert main(["run", *old]) == 0
    assert "--out FILE is deprecated: use --orders FILE" in capsys.readouterr().err
    assert (tmp_path / "new.pcap").read_bytes() == (tmp_path / "old.pcap").read_bytes()
    assert main(["run", *args, "--out", str(tmp_path / "x.pcap")]) == 2
    assert "give --orders only" in capsys.readouterr().err
    no_orders = [a for a in args if a != "--orders" and not a.endswith("new.pcap")]
    assert main(["run", *no_orders]) == 2
    assert "required: --orders" in capsys.readouterr().err


def test_a_failed_run_leaves_no_orders_pcap_and_no_stats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The orders pcap used to be created before the capture was read: a capture that
    failed half way (here: not Ethernet) left it behind, half-written."""
    from tickwire.net import PcapWriter

    bad = tmp_path / "raw.pcap"
    with PcapWriter(bad, linktype=101) as w:  # raw IP, not Ethernet
        w.write(b"\x45" + bytes(40))
    args = [str(bad) if a == str(CAPTURE) else a for a in _args(tmp_path, "x")]
    assert main(["run", *args]) == 1
    assert "is not Ethernet" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw.pcap", "t.toml"]


def test_json_without_a_value_is_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(tmp_path, "x")
    to_stdout = [*args[: args.index("--json")], "--json"]
    assert main(["run", *to_stdout]) == 0
    assert '"orders": 1' in capsys.readouterr().out
