"""The command lines: ``tickwire.threshold run --backend fpga`` and ``tickwire.fpga control``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tickwire.fpga.__main__ import main
from tickwire.net import PcapWriter, read_pcap
from tickwire.threshold.cli import main as threshold_main
from tickwire.threshold.testing import add_order, feed_frame

CONFIG = """\
armed = true
max_orders = 10
first_user_ref_num = 100
feed_port = 26477
order_port = 26400
order_session = "TWORDERS01"

[[instrument]]
locate = 13
symbol = "AAPL"
limit_price = 1500000
base_qty = 100
step_qty = 100
tick = 100
max_order_qty = 1000
max_position = 5000
max_notional = 500000000000
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    cap = tmp_path / "in.pcap"
    with PcapWriter(cap) as w:
        w.write(feed_frame([add_order(13, "S", 1_499_800)]), timestamp_ns=5)
        w.write(b"\x00" * 20, timestamp_ns=6)
        w.write(feed_frame([add_order(13, "S", 1_400_000)], vlan_tci=7), timestamp_ns=7)
    return cfg, cap


def _threshold(backend: str, cfg: Path, cap: Path, tmp: Path) -> tuple[bytes, str]:
    out, stats = tmp / f"{backend}.pcap", tmp / f"{backend}.json"
    args = ["run", "--backend", backend, "--config", str(cfg), str(cap)]
    assert threshold_main([*args, "--orders", str(out), "--json", str(stats)]) == 0
    return out.read_bytes(), stats.read_text()


def test_threshold_command_line_on_fpga_is_the_reference(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    cfg, cap = files
    want = _threshold("reference", cfg, cap, tmp_path)
    assert json.loads(want[1])["orders"] == 2
    assert _threshold("fpga", cfg, cap, tmp_path) == want


def test_control_session(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, cap = files
    orders = tmp_path / "orders.pcap"
    script = tmp_path / "s.txt"
    script.write_text(
        "\n".join(
            [
                "disarm",
                f"feed {cap}",  # both triggers refused: killed
                "arm",
                "set 13 limit_price=1450000  # now only the second frame triggers",
                f"feed {cap} {orders}",
                "read ARMED",
                "read INST_MAX_POSITION",
                "stats",
            ]
        )
    )
    assert main(["control", "--config", str(cfg), str(script)]) == 0
    out = capsys.readouterr().out
    stats = json.loads(out[out.index("{") :])
    assert stats["refused"]["killed"] == 2
    assert stats["orders"] == 1 and stats["triggers"] == 3
    assert "ARMED[0] = 1 (0x1)" in out and "INST_MAX_POSITION[0] = 5000" in out
    frames = [r.frame for r in read_pcap(orders)]
    assert len(frames) == 1 and frames[0][12:14] == b"\x81\x00"  # the tagged frame's order


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("frobnicate", "unknown command 'frobnicate'"),
        ("set 13 tick=0", "tick"),
        ("set 99 limit_price=5", "needs every instrument key"),
        ("unset 99", "no instrument has locate 99"),
        ("read NOPE", "no register 'NOPE'"),
        ("write FRAMES 1", "FRAMES is STAT"),
        ('set 1 limit_price "5', "No closing quotation"),  # shlex's error had no line
        # the last of two values was applied without a word (hostile-input round 4)
        ("set 13 max_position=5 max_position=6", "max_position is given twice"),
    ],
)
def test_control_session_errors_exit_1(
    files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    line: str,
    message: str,
) -> None:
    cfg, _ = files
    script = tmp_path / "s.txt"
    script.write_text(f"stats\n{line}\n")
    assert main(["control", "--config", str(cfg), str(script)]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("tickwire-fpga control: error: line 2: ") and message in err
    assert out == ""  # checked whole first: line 1's stats never ran (it did before)


@pytest.mark.parametrize(
    ("last", "message"),
    [
        ("feed {tmp}/no/o.pcap", "no such file"),
        ("feed {cap} {tmp}/no/o.pcap", "no such folder"),
        ("feed {cap} {tmp}", "is a directory, not a file"),
        ("feed {cap} {cap}", "is also this command's input"),
        ("feed {cap} {cfg}", "is also this command's input"),
        ("feed {cap} {orders}", "is also another output of this command"),
        ("set 13 limit_price=5", "needs every instrument key"),  # line 2 emptied it
        ("unset 14", "no instrument has locate 14"),  # line 3 emptied it
    ],
)
def test_control_script_is_checked_whole_before_a_line_is_applied(
    files: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    last: str,
    message: str,
) -> None:
    """A bad last line (a feed that cannot read or write, or a change to a slot an earlier
    line emptied) is one error line naming it, and nothing of the lines before happened:
    no output, the orders file of line 1 not written, the capture and config untouched.
    On the old code lines 1 to 4 ran first (their output printed, the orders written) and
    ``feed CAP CAP`` replaced the capture with the orders."""
    cfg, cap = files
    orders = tmp_path / "orders.pcap"
    new = "set 14 symbol=MSFT limit_price=5 base_qty=1 step_qty=1 tick=1 max_order_qty=9 "
    new += "max_position=9 max_notional=99"
    lines = [f"feed {cap} {orders}", "unset 13", new, "unset 14", "stats"]
    lines.append(last.format(tmp=tmp_path, cap=cap, cfg=cfg, orders=orders))
    script = tmp_path / "s.txt"
    script.write_text("\n".join(lines) + "\n")
    before = cap.read_bytes(), cfg.read_bytes()
    assert main(["control", "--config", str(cfg), str(script)]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("tickwire-fpga control: error: line 6: ") and message in err, err
    assert err.count("\n") == 1 and out == ""
    assert not orders.exists() and (cap.read_bytes(), cfg.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "in.pcap", "s.txt"]
    # Without the last line the same script runs whole.
    script.write_text("\n".join(lines[:-1]) + "\n")
    assert main(["control", "--config", str(cfg), str(script)]) == 0
    assert "fed 3 frames, 2 orders" in capsys.readouterr().out
    assert len(list(read_pcap(orders))) == 2


def test_control_script_not_utf8_names_the_file(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said "'utf-8' codec can't decode byte 0xff in position 6: ..." (or decoded with
    the locale's encoding) without naming the script."""
    cfg, _ = files
    script = tmp_path / "s.txt"
    script.write_bytes(b"stats\n\xff\xfe\n")
    assert main(["control", "--config", str(cfg), str(script)]) == 1
    err = capsys.readouterr().err
    assert err == f"tickwire-fpga control: error: {script}: not UTF-8 text (invalid start byte)\n"


def test_control_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.replace("tick = 100", "tick = 0"))
    assert main(["control", "--config", str(cfg)]) == 2
    assert "instrument[0].tick" in capsys.readouterr().err
