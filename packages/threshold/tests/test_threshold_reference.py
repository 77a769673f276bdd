"""The reference threshold strategy against hand-computed expectations, one rule of
``docs/threshold.md`` at a time, plus independent decoders of its order frames."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from tickwire.itch import OrderDelete, encode
from tickwire.moldudp64.codec import parse_downstream
from tickwire.net import PcapWriter, ipv4_checksum, parse_udp_frame
from tickwire.ouch import v50
from tickwire.threshold import InstrumentConfig, ThresholdConfig, ThresholdEngine
from tickwire.threshold.testing import add_order, feed_frame

AAPL = InstrumentConfig(
    locate=13,
    symbol="AAPL",
    limit_price=1_500_000,
    base_qty=100,
    step_qty=100,
    tick=100,
    max_order_qty=1000,
    max_position=5000,
    max_notional=500_000_000_000,
)
MSFT = dataclasses.replace(AAPL, locate=14, symbol="MSFT", limit_price=3_000_000)
CONFIG = ThresholdConfig(
    armed=True,
    max_orders=1000,
    first_user_ref_num=1,
    feed_port=26477,
    order_port=26400,
    order_session="TWORDERS01",
    instruments=(AAPL, MSFT),
)

# The order frame for an A sell of AAPL at $149.9000 (10 ticks under the limit), computed
# by hand field by field from docs/threshold.md section 5.
#   quantity = min(100 + 100 * 10, 1000, 5000 - 0) = 1000
#   IPv4 checksum: 4500+0061+0000+4000+4011+0000+c613+0c6f+c612+0001 = 0x25e07,
#   folded 0x5e09, complemented 0xa1f6.
EXPECTED_FIRST_ORDER = bytes.fromhex(
    "00005e0001fe"  # destination MAC: the feed frame's source
    "01005e364c6f"  # source MAC: the feed frame's destination
    "0800"  # IPv4
    "45"
    "00"
    "0061"
    "0000"
    "4000"
    "40"
    "11"
    "a1f6"  # IHL 5, TOS 0, len 97, ID 0, DF, TTL 64, UDP
    "c6130c6f"  # source IP 198.19.12.111 (the feed's destination)
    "c6120001"  # destination IP 198.18.0.1 (the feed's source)
    "676d"
    "6720"
    "004d"
    "0000"  # UDP 26477 -> 26400, length 77, no checksum
    "54574f52444552533031"  # MoldUDP64 session "TWORDERS01"
    "0000000000000001"
    "0001"  # sequence 1, count 1
    "002f"  # block length 47
    "4f"
    "00000001"
    "42"
    "000003e8"  # 'O', UserRefNum 1, Side 'B', quantity 1000
    "4141504c20202020"  # symbol "AAPL    "
    "000000000016df78"  # price 1499000
    "33"
    "59"
    "50"
    "4e"
    "4e"  # TIF '3', Display 'Y', Capacity 'P', ISO 'N', Cross 'N'
    "5457303030303030303030303031"  # ClOrdID "TW000000000001"
    "0000"  # appendage length 0
)


def run(
    config: ThresholdConfig, frames: list[bytes]
) -> tuple[list[list[bytes]], dict[str, object]]:
    engine = ThresholdEngine(config)
    out = [engine.feed(f) for f in frames]
    return out, engine.stats().to_dict()


def stats_of(**changes: object) -> dict[str, object]:
    """Expected stats: zeros everywhere except ``changes``."""
    base: dict[str, object] = {
        "frames": 1,
        "messages_scanned": 0,
        "triggers": 0,
        "orders": 0,
        "suppressed": 0,
        "parse_errors": 0,
        "refused": {"killed": 0, "max_orders": 0, "position": 0, "notional": 0},
        "instruments": {
            "13": {"shares": 0, "notional": 0},
            "14": {"shares": 0, "notional": 0},
        },
    }
    for key, value in changes.items():
        if key in ("killed", "max_orders", "position", "notional") and isinstance(value, int):
            base["refused"][key] = value  # type: ignore[index]
        elif key in ("aapl", "msft"):
            base["instruments"]["13" if key == "aapl" else "14"] = value  # type: ignore[index]
        else:
            base[key] = value
    return base


SELL_149_90 = add_order(13, "S", 1_499_000)


# --------------------------------------------------------------------------- the order frame


def test_sent_order_frame_is_byte_exact() -> None:
    out, stats = run(CONFIG, [feed_frame([SELL_149_90])])
    assert out == [[EXPECTED_FIRST_ORDER]]
    assert stats == stats_of(
        messages_scanned=1,
        triggers=1,
        orders=1,
        aapl={"shares": 1000, "notional": 1_499_000_000},
    )


def test_order_frame_decodes_with_the_codecs() -> None:
    ((frame,),) = run(CONFIG, [feed_frame([SELL_149_90])])[0]
    udp = parse_udp_frame(frame, verify=True)  # verify: the IPv4 checksum is valid
    assert ipv4_checksum(frame[14:34]) == 0
    assert (udp.src_port, udp.dst_port, udp.udp_checksum, udp.ip_ttl) == (26477, 26400, 0, 64)
    packet = parse_downstream(udp.payload)
    assert (packet.session, packet.sequence, len(packet.messages)) == ("TWORDERS01", 1, 1)
    order = v50.decode_inbound(packet.messages[0])
    assert order == v50.EnterOrder(
        user_ref_num=1,
        side="B",
        quantity=1000,
        symbol="AAPL",
        price=1_499_000,
        time_in_force="3",
        display="Y",
        capacity="P",
        intermarket_sweep_eligibility="N",
        cross_type="N",
        cl_ord_id="TW000000000001",
        appendages=(),
    )


def test_vlan_tag_kept_and_input_ip_options_dropped() -> None:
    frame = feed_frame([SELL_149_90], vlan_tci=0x208D, options=bytes([1, 1, 1, 1]) * 3)
    (out,), _ = run(CONFIG, [frame])
    assert out == [
        EXPECTED_FIRST_ORDER[:12] + bytes.fromhex("8100208d") + EXPECTED_FIRST_ORDER[12:]
    ]


@pytest.mark.parametrize("outer", [0x88A8, 0x8100])  # 802.1ad S-tag, or 802.1Q twice
def test_a_qinq_feed_frame_is_read_and_its_tags_go_back(outer: int) -> None:
    """Two stacked tags (QinQ) are read as parse_udp_frame reads them, and the order carries
    both back as they came (docs/threshold.md sections 2 and 5). Before, the frame was
    ignored: no order, not even a scanned message."""
    tags = bytes.fromhex(f"{outer:04x}e0098100208d")  # outer TPID + TCI, inner TPID + TCI
    untagged = feed_frame([SELL_149_90])
    frame = untagged[:12] + tags + untagged[12:]
    assert frame == feed_frame([SELL_149_90], vlan_tags=((outer, 0xE009), (0x8100, 0x208D)))
    assert parse_udp_frame(frame).vlan_tci == 0xE009  # the captures path reads it
    (out,), stats = run(CONFIG, [frame])
    assert out == [EXPECTED_FIRST_ORDER[:12] + tags + EXPECTED_FIRST_ORDER[12:]]
    assert len(out[0]) == 119 and stats["messages_scanned"] == 1 and stats["orders"] == 1


def test_a_lone_8021ad_tag_is_a_tag_and_goes_back_as_it_came() -> None:
    frame = feed_frame([SELL_149_90], vlan_tags=((0x88A8, 7),))
    (out,), _ = run(CONFIG, [frame])
    assert out == [
        EXPECTED_FIRST_ORDER[:12] + bytes.fromhex("88a80007") + EXPECTED_FIRST_ORDER[12:]
    ]


def test_user_ref_num_and_sequence_count_up() -> None:
    cfg = dataclasses.replace(CONFIG, first_user_ref_num=4_294_967_290, max_orders=6)
    out, stats = run(cfg, [feed_frame([add_order(13, "S", 1_500_000)])] * 2)
    orders = [
        v50.decode_inbound(parse_downstream(parse_udp_frame(o[0]).payload).messages[0]) for o in out
    ]
    assert [(o.user_ref_num, o.cl_ord_id, o.quantity) for o in orders] == [  # type: ignore[attr-defined]
        (4_294_967_290, "TW004294967290", 100),
        (4_294_967_291, "TW004294967291", 100),
    ]
    assert [parse_downstream(parse_udp_frame(o[0]).payload).sequence for o in out] == [1, 2]
    assert stats["orders"] == 2


# ------------------------------------------------------------------------------- triggers


@pytest.mark.parametrize(
    ("message", "triggers"),
    [
        (add_order(13, "S", 1_500_000), 1),  # price == limit
        (add_order(13, "S", 1), 1),  # smallest positive price
        (add_order(13, "S", 1_500_001), 0),  # above the limit
        (add_order(13, "S", 0), 0),  # zero price never triggers
        (add_order(13, "B", 1_000_000), 0),  # buy side
        (add_order(15, "S", 1_000_000), 0),  # unwatched locate
        (add_order(13, "S", 1_000_000, mpid="GSCO"), 1),  # F triggers like A
        (encode(OrderDelete(13, 0, 0, 1)), 0),  # other types are scanned, never trigger
    ],
)
def test_trigger_rule(message: bytes, triggers: int) -> None:
    out, stats = run(CONFIG, [feed_frame([message])])
    assert stats["messages_scanned"] == 1
    assert stats["triggers"] == triggers
    assert len(out[0]) == triggers


def test_quantity_formula_and_caps() -> None:
    # price == limit: base only; 3 ticks under: base + 3 steps; floor division of ticks.
    cfg = dataclasses.replace(
        CONFIG, instruments=(dataclasses.replace(AAPL, max_order_qty=999_999),)
    )
    for price, qty in (
        (1_500_000, 100),
        (1_499_700, 400),
        (1_499_650, 400),
        (1_499_601, 400),
        (1_499_600, 500),
    ):
        (out,), _ = run(cfg, [feed_frame([add_order(13, "S", price)])])
        order = v50.decode_inbound(parse_downstream(parse_udp_frame(out[0]).payload).messages[0])
        assert order.quantity == qty, price  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------- refusals


def test_refused_killed_when_not_armed() -> None:
    out, stats = run(dataclasses.replace(CONFIG, armed=False), [feed_frame([SELL_149_90])])
    assert out == [[]]
    assert stats == stats_of(messages_scanned=1, triggers=1, killed=1)


def test_refused_max_orders() -> None:
    frames = [feed_frame([SELL_149_90])] * 3
    out, stats = run(dataclasses.replace(CONFIG, max_orders=1), frames)
    assert [len(o) for o in out] == [1, 0, 0]
    assert stats == stats_of(
        frames=3,
        messages_scanned=3,
        triggers=3,
        orders=1,
        max_orders=2,
        aapl={"shares": 1000, "notional": 1_499_000_000},
    )
    _, stats = run(dataclasses.replace(CONFIG, max_orders=0), frames[:1])
    assert stats == stats_of(messages_scanned=1, triggers=1, max_orders=1)


def test_refused_position_and_partial_fill_of_the_limit() -> None:
    cfg = dataclasses.replace(
        CONFIG, instruments=(dataclasses.replace(AAPL, max_position=1500), MSFT)
    )
    out, stats = run(cfg, [feed_frame([SELL_149_90])] * 3)
    assert [len(o) for o in out] == [1, 1, 0]
    second = v50.decode_inbound(parse_downstream(parse_udp_frame(out[1][0]).payload).messages[0])
    assert second.quantity == 500  # type: ignore[attr-defined]  # max_position - position
    assert stats == stats_of(
        frames=3,
        messages_scanned=3,
        triggers=3,
        orders=2,
        position=1,
        aapl={"shares": 1500, "notional": 1500 * 1_499_000},
    )
    _, stats = run(
        dataclasses.replace(CONFIG, instruments=(dataclasses.replace(AAPL, max_position=0),)),
        [feed_frame([SELL_149_90])],
    )
    assert stats["refused"] == {"killed": 0, "max_orders": 0, "position": 1, "notional": 0}


def test_refused_notional_boundary() -> None:
    exact = 1000 * 1_499_000
    cfg = dataclasses.replace(CONFIG, instruments=(dataclasses.replace(AAPL, max_notional=exact),))
    out, stats = run(cfg, [feed_frame([SELL_149_90])] * 2)
    assert [len(o) for o in out] == [1, 0]  # exactly at max_notional is allowed
    assert stats["refused"] == {"killed": 0, "max_orders": 0, "position": 0, "notional": 1}
    cfg = dataclasses.replace(
        CONFIG, instruments=(dataclasses.replace(AAPL, max_notional=exact - 1),)
    )
    out, stats = run(cfg, [feed_frame([SELL_149_90])])
    assert out == [[]] and stats["refused"]["notional"] == 1  # type: ignore[index]


# ---------------------------------------------------------------------------- suppression


def test_one_order_per_packet_later_triggers_suppressed() -> None:
    frame = feed_frame([SELL_149_90, add_order(14, "S", 2_000_000), add_order(13, "S", 1)])
    out, stats = run(CONFIG, [frame])
    assert out == [[EXPECTED_FIRST_ORDER]]
    assert stats == stats_of(
        messages_scanned=3,
        triggers=3,
        orders=1,
        suppressed=2,
        aapl={"shares": 1000, "notional": 1_499_000_000},
    )


def test_refused_trigger_does_not_stop_a_later_one() -> None:
    cfg = dataclasses.replace(CONFIG, instruments=(dataclasses.replace(AAPL, max_position=0), MSFT))
    frame = feed_frame([SELL_149_90, add_order(14, "S", 3_000_000)])
    out, stats = run(cfg, [frame])
    assert len(out[0]) == 1
    assert stats == stats_of(
        messages_scanned=2,
        triggers=2,
        orders=1,
        position=1,
        msft={"shares": 100, "notional": 300_000_000},
    )


# ------------------------------------------------------------------------- the 64 limit


def test_only_64_messages_scanned() -> None:
    filler = encode(OrderDelete(13, 0, 0, 1))
    late = feed_frame([filler] * 64 + [SELL_149_90])
    out, stats = run(CONFIG, [late])
    assert out == [[]] and stats == stats_of(messages_scanned=64)
    last = feed_frame([filler] * 63 + [SELL_149_90] + [filler] * 10)
    out, stats = run(CONFIG, [last])
    assert len(out[0]) == 1 and stats["messages_scanned"] == 64
    # A defect after the 64th block is never seen: no parse error.
    broken_late = feed_frame([filler] * 66, cut=20 + 65 * 21 + 5)
    out, stats = run(CONFIG, [broken_late])
    assert stats == stats_of(messages_scanned=64)


# ----------------------------------------------------------------------------- parse errors


@pytest.mark.parametrize(
    ("cut", "scanned", "orders"),
    [
        (0, 0, 0),  # no MoldUDP64 header at all
        (19, 0, 0),  # header runs past the end
        (20, 0, 0),  # header only, count promises blocks: block length runs past the end
        (20 + 38 + 1, 1, 1),  # second block's length field cut in half
        (20 + 38 + 2 + 35, 1, 1),  # second block cut inside its message
    ],
)
def test_parse_error_truncated(cut: int, scanned: int, orders: int) -> None:
    frame = feed_frame([SELL_149_90, add_order(14, "S", 2_000_000)], cut=cut)
    out, stats = run(CONFIG, [frame])
    assert stats["parse_errors"] == 1
    assert stats["messages_scanned"] == scanned
    assert len(out[0]) == orders  # messages before the bad block may still trigger


@pytest.mark.parametrize(
    "short",
    [SELL_149_90[:35], add_order(13, "S", 1_499_000, mpid="GSCO")[:39], b"F" + SELL_149_90[1:36]],
)
def test_parse_error_add_block_shorter_than_its_type(short: bytes) -> None:
    out, stats = run(CONFIG, [feed_frame([add_order(14, "S", 2_000_000), short, SELL_149_90])])
    assert stats == stats_of(
        messages_scanned=1,
        triggers=1,
        orders=1,
        parse_errors=1,
        msft={"shares": 1000, "notional": 2_000_000_000},
    )
    assert len(out[0]) == 1


def test_longer_add_block_and_zero_length_block_are_fine() -> None:
    out, stats = run(CONFIG, [feed_frame([b"", SELL_149_90 + b"extra"], trailing=b"\x00\x07")])
    assert out == [[EXPECTED_FIRST_ORDER]]
    assert stats["messages_scanned"] == 2 and stats["parse_errors"] == 0


def test_snap_length_truncation_reads_up_to_the_cut() -> None:
    full = feed_frame([SELL_149_90, add_order(14, "S", 2_000_000)])
    out, stats = run(CONFIG, [full[: len(full) - 5]])
    assert len(out[0]) == 1
    assert stats["messages_scanned"] == 1 and stats["parse_errors"] == 1


def test_udp_length_below_8_is_a_parse_error() -> None:
    frame = bytearray(feed_frame([SELL_149_90]))
    frame[38:40] = (7).to_bytes(2, "big")  # UDP length field of an untagged, option-less frame
    out, stats = run(CONFIG, [bytes(frame)])
    assert out == [[]] and stats == stats_of(parse_errors=1)


def test_ethernet_padding_and_heartbeats() -> None:
    frames = [
        feed_frame([SELL_149_90], padding=30),
        feed_frame([]),  # heartbeat: count 0
        feed_frame([], end_of_session=True),  # count 0xFFFF
    ]
    out, stats = run(CONFIG, frames)
    assert out == [[EXPECTED_FIRST_ORDER], [], []]
    assert stats["parse_errors"] == 0 and stats["messages_scanned"] == 1


# --------------------------------------------------------------------------- ignored frames


def _patched(frame: bytes, offset: int, value: bytes) -> bytes:
    return frame[:offset] + value + frame[offset + len(value) :]


@pytest.mark.parametrize(
    "frame",
    [
        feed_frame([SELL_149_90], dst_port=26478),  # another port
        feed_frame([SELL_149_90], flags_fragment=0x2000),  # first fragment (MF)
        feed_frame([SELL_149_90], flags_fragment=0x0001),  # later fragment
        _patched(feed_frame([SELL_149_90]), 12, b"\x86\xdd"),  # not IPv4
        _patched(feed_frame([SELL_149_90]), 23, b"\x06"),  # TCP
        _patched(feed_frame([SELL_149_90]), 14, b"\x65"),  # IP version 6
        _patched(feed_frame([SELL_149_90]), 14, b"\x44"),  # IHL 4
        feed_frame([SELL_149_90], vlan_tags=((0x88A8, 5), (0x8100, 6), (0x8100, 7))),  # 3 tags
        feed_frame([SELL_149_90], vlan_tags=((0x8100, 5), (0x88A8, 6), (0x8100, 7))),
        feed_frame([SELL_149_90], vlan_tags=((0x88A8, 5), (0x8100, 6)))[:21],  # 2nd tag cut
        feed_frame([SELL_149_90])[:13],  # runt
        feed_frame([SELL_149_90])[:41],  # UDP header cut
        feed_frame([SELL_149_90], vlan_tci=5)[:17],  # tag cut
    ],
)
def test_ignored_frames(frame: bytes) -> None:
    out, stats = run(CONFIG, [frame])
    assert out == [[]] and stats == stats_of()


# ------------------------------------------------------------------------------ statistics


def test_stats_json_text_is_canonical() -> None:
    engine = ThresholdEngine(CONFIG)
    engine.feed(feed_frame([SELL_149_90]))
    text = engine.stats().to_json()
    assert text.startswith('{\n  "frames": 1,\n  "messages_scanned": 1,\n  "triggers": 1,')
    assert list(json.loads(text)) == [
        "frames",
        "messages_scanned",
        "triggers",
        "orders",
        "suppressed",
        "parse_errors",
        "refused",
        "instruments",
    ]
    assert list(json.loads(text)["instruments"]) == ["13", "14"]
    assert type(engine.stats()).from_dict(json.loads(text)) == engine.stats()


def test_feed_before_configure_raises() -> None:
    with pytest.raises(RuntimeError):
        ThresholdEngine().feed(b"")


# ------------------------------------------------------------------------ tshark dissector


@pytest.mark.tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reads_the_order_frames(tmp_path: Path) -> None:
    engine = ThresholdEngine(CONFIG)
    frames = [
        feed_frame([SELL_149_90]),
        feed_frame([add_order(14, "S", 2_999_900)], vlan_tci=0x0123),
    ]
    pcap = tmp_path / "orders.pcap"
    with PcapWriter(pcap) as w:
        for i, f in enumerate(frames):
            for order in engine.feed(f):
                w.write(order, timestamp_ns=i)
    result = subprocess.run(
        [
            "tshark",
            "-r",
            str(pcap),
            "-o",
            "ip.check_checksum:TRUE",
            "-d",
            "udp.port==26400,moldudp64",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "vlan.id",
            "-e",
            "ip.checksum.status",
            "-e",
            "udp.dstport",
            "-e",
            "moldudp64.session",
            "-e",
            "moldudp64.sequence",
            "-e",
            "moldudp64.count",
            "-e",
            "moldudp64.msglen",
            "-e",
            "moldudp64.msgdata",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    rows = [line.split("|") for line in result.stdout.splitlines()]
    assert len(rows) == 2
    for row, seq in zip(rows, ("1", "2"), strict=True):
        assert row[1] == "1"  # checksum status: 1 = good (0 bad, 2 unverified)
        assert row[2:7] == ["26400", "TWORDERS01", seq, "1", "47"]
        payload = bytes.fromhex(row[7].replace(":", ""))
        assert v50.decode_inbound(payload).user_ref_num == int(seq)  # type: ignore[attr-defined]
    assert rows[0][0] == "" and rows[1][0] == "291"
