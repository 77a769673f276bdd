"""The core's offsets and order frame against the one wire table and the codecs.

``tickwire.fpga.wire`` derives every offset the core reads and every constant of the
order frame from ``tickwire.threshold.cheader.WIRE`` (the tables the XDP and bare-metal C
get their header from). Here: each offset reads its field in frames the codecs build
(tagged or not, with IPv4 options), :func:`~tickwire.fpga.core.order_frame_bytes`
(simulated) writes the frame ``build_order_frame`` writes, and ``check`` fails when a
table no longer has the shape the design assumes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from amaranth import Cat, Elaboratable, Module, Signal
from amaranth.sim import Simulator
from tickwire.fpga import wire
from tickwire.fpga.core import DESC, order_frame_bytes
from tickwire.moldudp64.codec import DownstreamPacket
from tickwire.net import build_udp_frame
from tickwire.threshold.cheader import WIRE, CField, CLayout
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.order import build_order_frame

CONFIG = ThresholdConfig(
    armed=True,
    max_orders=10,
    first_user_ref_num=1,
    feed_port=26477,
    order_port=26400,
    order_session="TWORDERS01",
    instruments=(InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 5000, 10**12),),
)


@pytest.mark.parametrize("vlan", [None, 0x0123])
@pytest.mark.parametrize("options", [b"", b"\x01" * 8, b"\x01" * 40])
def test_every_offset_reads_its_field_in_a_frame_the_codecs_build(
    vlan: int | None, options: bytes
) -> None:
    packet = DownstreamPacket("SESSION001", 77, (b"\x00" * 3, b"A" * 40)).build()
    frame = build_udp_frame(
        packet,
        src_ip=b"\xc6\x12\x00\x01",
        dst_ip=b"\xc6\x12\x00\x02",
        src_port=1234,
        dst_port=26477,
        dst_mac=b"\x02" * 6,
        src_mac=b"\x04" * 6,
        vlan_tci=vlan,
        options=options,
    )

    def u16(at: int) -> int:
        return int.from_bytes(frame[at : at + 2], "big")

    if vlan is None:
        assert u16(wire.ETHERTYPE) == 0x0800
        l3 = wire.L3_UNTAGGED
    else:
        assert u16(wire.ETHERTYPE) == 0x8100
        assert u16(wire.TCI) == vlan and u16(wire.INNER_ETHERTYPE) == 0x0800
        l3 = wire.L3_TAGGED
    vihl = frame[l3 + wire.IP_VIHL]
    assert vihl >> 4 == wire.IP_VERSION
    assert vihl & 15 == wire.IP_MIN_IHL + len(options) // 4
    assert frame[l3 + wire.IP_PROTO] == 17 and u16(l3 + wire.IP_FRAG) == 0x4000
    assert frame[l3 + wire.IP_SRC : l3 + wire.IP_SRC + 4] == b"\xc6\x12\x00\x01"
    assert frame[l3 + wire.IP_DST : l3 + wire.IP_DST + 4] == b"\xc6\x12\x00\x02"
    l4 = l3 + 4 * (vihl & 15)
    assert u16(l4 + wire.UDP_DPORT) == 26477
    assert u16(l4 + wire.UDP_LENGTH) == wire.UDP_HEADER + len(packet)
    p = l4 + wire.UDP_HEADER
    assert frame[p:] == packet
    assert u16(p + wire.COUNT_LO - 1) == 2
    assert u16(p + wire.FIRST_BLOCK) == 3  # the first block's length field
    second = p + wire.FIRST_BLOCK + wire.BLOCK_PREFIX + 3
    assert u16(second) == 40 and frame[second + wire.BLOCK_PREFIX] == ord("A")


class _Framer(Elaboratable):
    """order_frame_bytes alone: a descriptor in, the frame's bytes out."""

    def __init__(self, ntags: int) -> None:
        self.desc = Signal(DESC)
        self.out = Signal(8 * wire.ORDER_FRAME_LENS[ntags])
        self.ntags = ntags

    def elaborate(self, platform: Any) -> Module:
        m = Module()
        m.d.comb += self.out.eq(Cat(*order_frame_bytes(self.desc, self.ntags)))
        return m


def _words(raw: bytes) -> int:
    """Big-endian 32-bit words packed low word first (the core's session and symbol)."""
    raw = raw + bytes(-len(raw) % 4)
    return sum(int.from_bytes(raw[k : k + 4], "big") << (8 * k) for k in range(0, len(raw), 4))


def _bcd(n: int) -> int:
    return sum(int(d) << (4 * k) for k, d in enumerate(reversed(f"{n:010d}")))


ORDERS = [
    # (vlan tci, sequence, user_ref_num, quantity, price)
    (0, 1, 1, 100, 1_499_900),
    (0x0FFF, 2, 4_294_967_295, 999_999, 4_294_967_295),
    (7, 2**32, 123_456_789, 1, 1),
]


@pytest.mark.parametrize("ntags", [0, 1, 2])
def test_order_frame_bytes_writes_the_frame_of_build_order_frame(ntags: int) -> None:
    framer = _Framer(ntags)
    inst = CONFIG.instruments[0]
    got: list[bytes] = []
    want: list[bytes] = []
    for tci, seq, uref, qty, price in ORDERS:
        tags = ((0x88A8, tci ^ 0xF0F0), (0x8100, tci))[2 - ntags :]
        frame = build_order_frame(
            in_dst_mac=b"\x02\x00\x00\x00\x00\x01",
            in_src_mac=b"\x02\x00\x00\x00\x00\x02",
            vlan_tags=tags,
            in_src_ip=b"\xc6\x12\x00\x01",
            in_dst_ip=b"\xc6\x12\x00\x02",
            config=CONFIG,
            instrument=inst,
            sequence=seq,
            user_ref_num=uref,
            quantity=qty,
            price=price,
        )
        want.append(frame)
        l3 = (wire.L3_UNTAGGED, wire.L3_TAGGED, wire.L3_QINQ)[ntags]
        csum = WIRE["IPV4"].span("checksum", l3)
        raw_tags = b"".join(t.to_bytes(2, "big") + c.to_bytes(2, "big") for t, c in tags)
        got.append(
            DESC.const(
                {
                    "dmac": int.from_bytes(b"\x02\x00\x00\x00\x00\x02", "little"),
                    "smac": int.from_bytes(b"\x02\x00\x00\x00\x00\x01", "little"),
                    "ntags": ntags,
                    "tags": int.from_bytes(raw_tags, "little"),
                    "sip": int.from_bytes(b"\xc6\x12\x00\x02", "little"),
                    "dip": int.from_bytes(b"\xc6\x12\x00\x01", "little"),
                    "csum": int.from_bytes(frame[csum], "big"),
                    "fport": CONFIG.feed_port,
                    "oport": CONFIG.order_port,
                    "session": _words(CONFIG.order_session.encode()),
                    "seq": seq,
                    "uref": uref,
                    "qty": qty,
                    "symbol": _words(inst.symbol.encode().ljust(8)),
                    "price": price,
                    "bcd": _bcd(uref),
                }
            ).as_bits()
        )
    out: list[bytes] = []

    async def bench(ctx: Any) -> None:
        for bits in got:
            ctx.set(framer.desc.as_value(), bits)
            value = ctx.get(framer.out)
            out.append(value.to_bytes(len(framer.out) // 8, "little"))

    sim = Simulator(framer)
    sim.add_testbench(bench)
    sim.run()
    assert out == want
    assert len(want[0]) == wire.ORDER_FRAME_LENS[ntags]


def test_check_names_the_assumption_a_changed_table_breaks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert wire.check() == []
    mold = WIRE["MOLD"]
    # A MoldUDP64 header with a field after the count: the first block would move.
    grown = CLayout(mold.prefix, mold.source, (*mold.fields, CField("extra", 20, 2)), 22)
    monkeypatch.setattr(wire, "WIRE", {**WIRE, "MOLD": grown})
    assert wire.check() == [
        "the MoldUDP64 count closes its header",
        "FIRST_BLOCK is 20, the table says 22",
        "the order frame: Ethernet, IPv4 without options, UDP, one MoldUDP64 block",
    ]
    # A UDP header with its length field elsewhere.
    udp = WIRE["UDP"]
    moved = dataclasses.replace(
        udp, fields=(udp.fields[0], udp.fields[2], udp.fields[1], udp.fields[3])
    )
    moved = dataclasses.replace(
        moved,
        fields=tuple(dataclasses.replace(f, offset=2 * k) for k, f in enumerate(moved.fields)),
    )
    monkeypatch.setattr(wire, "WIRE", {**WIRE, "UDP": moved})
    assert wire.check() == ["UDP_DPORT is 2, the table says 4", "UDP_LENGTH is 4, the table says 2"]
    enter = WIRE["OUCH_ENTER_ORDER"]
    swapped = dataclasses.replace(
        enter, fields=(enter.fields[1], enter.fields[0], *enter.fields[2:])
    )
    monkeypatch.setattr(wire, "WIRE", {**WIRE, "OUCH_ENTER_ORDER": swapped})
    assert wire.check() == ["the Enter Order's fields as order_frame_bytes writes them"]
