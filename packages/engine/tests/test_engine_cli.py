"""``python -m tickwire.engine``: book and threshold end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tickwire.engine import cbook
from tickwire.engine.cli import main
from tickwire.itch import AddOrder, BinaryFileWriter, OrderExecuted
from tickwire.moldudp64.codec import parse_downstream
from tickwire.net import PcapWriter, parse_udp_frame, read_pcap
from tickwire.ouch import v50
from tickwire.threshold.testing import add_order, feed_frame

# The real test data ship in the repository: data/ (data/PROVENANCE.md).
DATA = Path(__file__).resolve().parents[3] / "data"
TEST_FILE = DATA / "itch" / "ex20101224.TEST_ITCH_50"
MULTIPLE = DATA / "pcap" / "nasdaq-itch50" / "Multiple.Packets.pcap"

CONFIG = """\
armed = true
max_orders = 10
first_user_ref_num = 100
feed_port = 26477
order_port = 26400
order_session = "TWORDERS01"

[[instrument]]
locate = 6514
symbol = "META"
limit_price = 3600000
base_qty = 100
step_qty = 100
tick = 100
max_order_qty = 1000
max_position = 5000
max_notional = 500000000000
"""


def test_book_json_on_the_real_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["book", str(TEST_FILE), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["unknown_references"] == 0
    assert sorted(out["instruments"]) == ["1", "2", "3"]
    row = out["instruments"]["2"]
    assert list(row) == [
        "symbol",
        "bid_price",
        "bid_size",
        "ask_price",
        "ask_size",
        "orders",
        "levels",
    ]
    assert row["symbol"] == "BOB"
    assert all(isinstance(row[k], int) for k in ("bid_price", "bid_size", "orders", "levels"))


def test_book_on_a_capture_as_a_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tickwire.engine", "book", str(MULTIPLE), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # The capture is a snippet of two packets 4,244,620 messages apart: the books are
    # written, and one error line and exit 1 say they miss those (docs/cli.md,
    # "Captures"); no progress bar when stderr is not a terminal.
    assert result.returncode == 1
    assert result.stderr == (
        f"tickwire-engine book: error: {MULTIPLE}: 1 sequence gaps (4,244,620 messages "
        "missing); the books are built all the same\n"
    )
    out = json.loads(result.stdout)
    assert out["instruments"]["6514"] == {
        "symbol": "META",
        "bid_price": 805200,
        "bid_size": 1,
        "ask_price": 3573300,
        "ask_size": 100,
        "orders": 38,
        "levels": 17,
    }
    # The capture is a snippet: the one delete refers to an order added before it began.
    assert out["unknown_references"] == 1


def test_book_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["book", str(TEST_FILE)]) == 0
    text = capsys.readouterr().out
    assert "12012 messages, 0 unknown references" in text and "BOB" in text


@pytest.mark.parametrize("backend", ["reference", "cython"])
def test_book_shows_the_faults_it_handled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    """A feed that contradicts itself (an add onto a live reference, an execution beyond
    the order, an add of zero shares) is rebuilt by the book's rules and each fault is
    shown, in the text and the JSON. The book counted them, but ``book`` showed only the
    unknown references: the first order vanished from the bid with nothing said."""
    if backend == "cython" and not cbook.AVAILABLE:
        pytest.skip(f"compiled book not built: {cbook.UNAVAILABLE_REASON}")
    day = tmp_path / "day.itch"
    with BinaryFileWriter(day) as w:
        for msg in (
            AddOrder(1, 0, 10, 1, "B", 100, "AAPL", 1_000_000),
            AddOrder(1, 0, 11, 1, "S", 50, "AAPL", 900_000),  # reference 1 is live
            OrderExecuted(1, 0, 12, 1, 80, 1),  # 50 left
            AddOrder(1, 0, 13, 2, "B", 0, "AAPL", 1_000_000),  # zero shares
            AddOrder(1, 0, 14, 3, "X", 10, "AAPL", 1_000_000),  # no side
        ):
            w.write(msg)
    assert main(["book", str(day), "--backend", backend]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        "5 messages, 0 unknown references, 1 adds onto a live reference (the older order "
        "evicted), 1 executions or cancels beyond the order's shares, 2 adds or replaces "
        "not booked (zero shares or price, no side)"
    )
    assert main(["book", str(day), "--backend", backend, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["duplicate_references"], out["clamped"], out["rejected"]) == (1, 1, 2)


def test_book_on_garbage_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.itch"
    bad.write_bytes(b"\x00\x00Z" + b"\x00" * 5)
    assert main(["book", str(bad)]) == 1
    assert "tickwire-engine book: error: " in capsys.readouterr().err


def test_threshold_on_the_real_capture(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    out, stats = tmp_path / "orders.pcap", tmp_path / "stats.json"
    rc = main(
        [
            "threshold",
            "--backend",
            "reference",
            "--config",
            str(cfg),
            str(MULTIPLE),
            "--orders",
            str(out),
            "--json",
            str(stats),
        ]
    )
    assert rc == 0
    data = json.loads(stats.read_text())
    # Frame 2 carries 38 messages of locate 6514, 19 of them sell adds under the limit.
    assert data == {
        "frames": 2,
        "messages_scanned": 39,
        "triggers": 19,
        "orders": 1,
        "suppressed": 18,
        "parse_errors": 0,
        "refused": {"killed": 0, "max_orders": 0, "position": 0, "notional": 0},
        "instruments": {"6514": {"shares": 1000, "notional": 3573300000}},
    }
    (record,) = list(read_pcap(out))
    (second,) = [r for i, r in enumerate(read_pcap(MULTIPLE)) if i == 1]
    assert record.timestamp_ns == second.timestamp_ns
    udp = parse_udp_frame(record.frame, verify=True)
    assert udp.vlan_tci == 141 and udp.dst_ip == "206.200.127.138"
    order = v50.decode_inbound(parse_downstream(udp.payload).messages[0])
    assert (order.user_ref_num, order.price, order.quantity, order.symbol) == (  # type: ignore[attr-defined]
        100,
        3573300,
        1000,
        "META",
    )


def test_threshold_stats_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.replace("locate = 6514", "locate = 13"))
    cap = tmp_path / "in.pcap"
    with PcapWriter(cap) as w:
        w.write(feed_frame([add_order(13, "S", 100)]), timestamp_ns=5)
        w.write(b"\x00" * 20, timestamp_ns=6)
    rc = main(
        [
            "threshold",
            "--backend",
            "reference",
            "--config",
            str(cfg),
            str(cap),
            "--orders",
            str(tmp_path / "o.pcap"),
            "--json",
            "-",
        ]
    )
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["frames"], data["orders"]) == (2, 1)


@pytest.mark.parametrize(
    ("config", "backend", "message"),
    [
        (CONFIG.replace("tick = 100", "tick = 0"), "reference", "instrument[0].tick"),
        (CONFIG, "no-such-backend", "no backend 'no-such-backend'"),
    ],
)
def test_threshold_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, backend: str, message: str
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(config)
    rc = main(
        [
            "threshold",
            "--backend",
            backend,
            "--config",
            str(cfg),
            str(MULTIPLE),
            "--orders",
            str(tmp_path / "o.pcap"),
            "--json",
            str(tmp_path / "s.json"),
        ]
    )
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()


def test_backends_lists_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backends"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "reference"


def test_threshold_refuses_a_non_ethernet_capture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    cap = tmp_path / "raw.pcap"
    with PcapWriter(cap, linktype=101) as w:  # LINKTYPE_RAW: bare IP packets
        w.write(b"\x45" + bytes(40))
    rc = main(
        [
            "threshold",
            "--backend",
            "reference",
            "--config",
            str(cfg),
            str(cap),
            "--orders",
            str(tmp_path / "o.pcap"),
            "--json",
            str(tmp_path / "s.json"),
        ]
    )
    assert rc == 1
    assert "not Ethernet" in capsys.readouterr().err


def test_book_prints_a_symbol_with_control_characters_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An ITCH symbol is eight bytes of anything: ``book`` shows ESC [ 2 J and the 8-bit
    CSI escaped. On the old code they went to the terminal raw (clearing it)."""
    day = tmp_path / "day.itch"
    with BinaryFileWriter(day) as w:
        w.write(AddOrder(1, 0, 10, 1, "B", 100, "\x1b[2J\x9bH", 1_000_000))
    assert main(["book", str(day)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x9b" not in out
    assert "\\x1b[2J\\x9bH" in out
