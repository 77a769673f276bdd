"""The C header generator: its numbers are the codecs' and the order builder's, it
compiles, and its check fails on any difference."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import construct as cs
import pytest
from tickwire.itch.layouts import offset
from tickwire.ouch import v50
from tickwire.threshold.cheader import (
    COUNTERS,
    ORDER_LENGTHS,
    check_header,
    construct_layout,
    main,
    render_header,
    wire_layouts,
)
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.order import build_order_frame
from tickwire.threshold.stats import ThresholdStats

CONFIG = ThresholdConfig(
    armed=True,
    max_orders=10,
    first_user_ref_num=7,
    feed_port=26477,
    order_port=26400,
    order_session="TWORDERS01",
    instruments=(InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 5000, 10**12),),
)


def defines(text: str) -> dict[str, int]:
    """Every integer #define of the header."""
    out = {}
    for name, value in re.findall(r"^#define (TW_\w+) (0x[0-9a-f]+|\d+)\b", text, re.M):
        out[name] = int(value, 0)
    return out


HEADER = render_header()
D = defines(HEADER)


def order(vlan_tci: int | None, *inner: tuple[int, int]) -> bytes:
    return build_order_frame(
        in_dst_mac=b"\x01\x00\x5e\x00\x00\x01",
        in_src_mac=b"\x02\x00\x00\x00\x00\x02",
        vlan_tags=() if vlan_tci is None else ((0x8100, vlan_tci), *inner),
        in_src_ip=bytes([198, 18, 0, 1]),
        in_dst_ip=bytes([198, 18, 0, 2]),
        config=CONFIG,
        instrument=CONFIG.instruments[0],
        sequence=3,
        user_ref_num=9,
        quantity=200,
        price=1_490_000,
    )


def test_order_lengths_are_the_builders() -> None:
    assert len(order(None)) == D["TW_ORDER_FRAME_LEN"] == ORDER_LENGTHS["TW_ORDER_FRAME_LEN"]
    assert len(order(0x2064)) == D["TW_ORDER_FRAME_TAGGED_LEN"]
    assert len(order(0x2064, (0x8100, 7))) == D["TW_ORDER_FRAME_QINQ_LEN"] == 119
    frame = order(None)
    ip = D["TW_ETH_LEN"]
    assert int.from_bytes(frame[ip + 2 : ip + 4], "big") == D["TW_ORDER_IP_LEN"] == 97
    udp = ip + D["TW_IPV4_LEN"]
    assert int.from_bytes(frame[udp + 4 : udp + 6], "big") == D["TW_ORDER_UDP_LEN"] == 77


def test_enter_order_fields_sit_where_the_header_says() -> None:
    frame = order(None)
    ouch = D["TW_ETH_LEN"] + D["TW_IPV4_LEN"] + D["TW_UDP_LEN"] + D["TW_MOLD_LEN"]
    ouch += D["TW_MOLD_BLOCK_PREFIX_LEN"]
    body = frame[ouch:]
    assert len(body) == D["TW_OUCH_ENTER_ORDER_LEN"] == 47
    assert body[D["TW_OUCH_ENTER_ORDER_MESSAGE_TYPE_OFF"]] == D["TW_OUCH_ENTER_ORDER_TYPE"]

    def field(name: str) -> bytes:
        off = D[f"TW_OUCH_ENTER_ORDER_{name}_OFF"]
        return body[off : off + D[f"TW_OUCH_ENTER_ORDER_{name}_LEN"]]

    assert int.from_bytes(field("USER_REF_NUM"), "big") == 9
    assert int.from_bytes(field("QUANTITY"), "big") == 200
    assert field("SYMBOL") == b"AAPL    "
    assert int.from_bytes(field("PRICE"), "big") == 1_490_000
    assert field("CL_ORD_ID") == b"TW000000000009"
    assert field("APPENDAGES_LENGTH") == b"\x00\x00"
    msg = v50.decode_inbound(body)  # and the codec reads the same message
    assert isinstance(msg, v50.EnterOrder) and (msg.price, msg.quantity) == (1_490_000, 200)


def test_itch_and_mold_numbers_are_the_tables() -> None:
    for letter in "AF":
        for name in ("stock_locate", "buy_sell_indicator", "price"):
            assert D[f"TW_ITCH_{letter}_{name.upper()}_OFF"] == offset(letter, name)
    assert (D["TW_ITCH_A_LEN"], D["TW_ITCH_F_LEN"]) == (36, 40)
    assert (D["TW_MOLD_LEN"], D["TW_MOLD_COUNT_OFF"], D["TW_MOLD_END_OF_SESSION"]) == (
        20,
        18,
        0xFFFF,
    )


def test_counters_are_the_stats_objects() -> None:
    names = [k for k in ThresholdStats().to_dict() if k not in ("refused", "instruments")]
    refused = [f"refused_{r}" for r in ThresholdStats().to_dict()["refused"]]
    assert list(COUNTERS) == names + refused
    assert [D[f"TW_STAT_{n.upper()}"] for n in COUNTERS] == list(range(len(COUNTERS)))


def test_layout_walker_stops_at_the_variable_part() -> None:
    lay = construct_layout(
        "T",
        "test",
        cs.Struct(
            "a" / cs.Int16ub, "n" / cs.Int8ub, "rest" / cs.Prefixed(cs.Int16ub, cs.GreedyBytes)
        ),
    )
    assert [(f.name, f.offset, f.length) for f in lay.fields] == [
        ("a", 0, 2),
        ("n", 2, 1),
        ("rest_length", 3, 2),
    ]
    assert lay.size == 5
    tail = construct_layout("T", "test", cs.Struct("n" / cs.Int8ub, "xs" / cs.Bytes(cs.this.n)))
    assert tail.size == 1 and [f.name for f in tail.fields] == ["n"]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc missing")
def test_header_compiles_and_its_static_asserts_hold(tmp_path: Path) -> None:
    (tmp_path / "tickwire_layout.h").write_text(HEADER)
    src = tmp_path / "t.c"
    src.write_text(
        '#include "tickwire_layout.h"\n'
        "struct s { unsigned long long frames, messages_scanned, triggers, orders, suppressed,\n"
        "  parse_errors, refused_killed, refused_max_orders, refused_position,\n"
        "  refused_notional; };\n"
        "TW_CHECK_COUNTERS(s);\n"
    )
    cmd = ["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", str(src)]
    subprocess.run(cmd, check=True, capture_output=True, cwd=tmp_path)
    # A struct in another order fails to compile: the check is real.
    src.write_text(src.read_text().replace("frames, messages_scanned", "messages_scanned, frames"))
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0 and "s.frames" in proc.stderr


def test_every_wire_layout_has_a_packed_struct() -> None:
    for lay in wire_layouts():
        assert f"struct tw_wire_{lay.prefix.lower()} {{" in HEADER


def test_cli_writes_checks_and_reports_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tickwire_layout.h"
    assert main([str(out)]) == 0
    assert out.read_text() == HEADER
    assert main(["--check", str(out)]) == 0
    out.write_text(
        HEADER.replace("#define TW_ITCH_A_PRICE_OFF 32", "#define TW_ITCH_A_PRICE_OFF 31")
    )
    assert check_header(out, HEADER) == f"{out} differs from the tables: regenerate it"
    assert main(["--check", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "differs from the tables" in err
    with pytest.raises(SystemExit) as exc:
        main(["--layouts", "tickwire.no_such_module", str(out)])
    assert exc.value.code == 2


def test_python_dash_m_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tickwire.threshold.cheader", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout == HEADER


def test_the_cython_backends_header_is_current() -> None:
    """_cthreshold.pyx includes the header shipped next to it (no --layouts)."""
    import tickwire.threshold as pkg

    shipped = Path(next(iter(pkg.__path__))) / "tickwire_layout.h"
    assert shipped.read_text() == HEADER


def test_wire_spans_slice_real_frames() -> None:
    from tickwire.threshold.cheader import WIRE

    frame = order(None)
    eth, ip, udp, mold = WIRE["ETH"], WIRE["IPV4"], WIRE["UDP"], WIRE["MOLD"]
    assert frame[eth.span("ethertype")] == b"\x08\x00"
    assert frame[ip.span("dst", eth.size)] == bytes([198, 18, 0, 1])  # back to the source
    base = eth.size + ip.size + udp.size
    assert frame[mold.span("session", base)] == b"TWORDERS01"
    assert int.from_bytes(frame[mold.span("sequence", base)], "big") == 3
    with pytest.raises(KeyError, match="MOLD has no field 'nope'"):
        mold.field("nope")
