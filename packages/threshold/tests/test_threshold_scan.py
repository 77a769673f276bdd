"""The threshold scanner (``tickwire.threshold.scan``) checked against the codecs it stands
in for: ``tickwire.net.parse_udp_frame``, ``codec.parse_downstream`` and
``tickwire.itch.decode`` (see ``docs/threshold.md`` section 3 for why it exists)."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.itch import AddOrder, AddOrderMPID, decode, encode
from tickwire.itch.strategies import messages_of
from tickwire.moldudp64.codec import parse_downstream
from tickwire.net import BadFrame, parse_udp_frame, read_pcap
from tickwire.threshold.harness import FEED_PORT, FrameSpec, frame_specs
from tickwire.threshold.scan import MAX_SCANNED, add_order_view, field_offset, scan_frame

PCAPS = Path(__file__).resolve().parents[3] / "data" / "pcap" / "nasdaq-itch50"


def _well_formed(spec: FrameSpec) -> FrameSpec:
    return dataclasses.replace(
        spec,
        dst_port=FEED_PORT,
        flags_fragment=None,
        cut=None,
        trailing=b"",
        snap=None,
        vlan_tags=spec.vlan_tags[:2],  # a third tag is not well formed (parse_udp_frame)
        unchecked=(),  # a codec may check what the contract does not
        not_udp=None,
        udp_length=None,
        count=None,
        blocks=tuple(
            b for b in spec.blocks if not (b and b[0] in b"AF" and len(b) < 36 + 4 * (b[0] == 70))
        ),
    )


@settings(max_examples=200, deadline=None)
@given(spec=frame_specs())
def test_scanner_agrees_with_the_codecs_on_well_formed_frames(spec: FrameSpec) -> None:
    spec = _well_formed(spec)
    frame = spec.build()
    udp = parse_udp_frame(frame)
    packet = parse_downstream(udp.payload)
    seen = scan_frame(frame, FEED_PORT)
    assert seen is not None and not seen.parse_error
    assert (seen.dst_mac, seen.src_mac, seen.vlan_tci) == (udp.dst_mac, udp.src_mac, udp.vlan_tci)
    assert socket.inet_ntoa(seen.src_ip) == udp.src_ip
    assert socket.inet_ntoa(seen.dst_ip) == udp.dst_ip
    assert (seen.src_port, seen.dst_port) == (udp.src_port, udp.dst_port)
    assert list(seen.blocks) == list(packet.messages[:MAX_SCANNED])
    assert seen.vlan_tags == spec.tags


@settings(max_examples=100, deadline=None)
@given(spec=frame_specs(), tpids=st.lists(st.sampled_from([0x8100, 0x88A8]), min_size=3))
def test_tags_are_read_as_parse_udp_frame_reads_them(spec: FrameSpec, tpids: list[int]) -> None:
    """Up to two tags, either TPID at either depth; a third makes the frame not for the
    feed, as it is a BadFrame to the codec (docs/threshold.md section 2 rule 1)."""
    spec = _well_formed(spec)
    for n in range(len(tpids) + 1):
        tags = tuple((tpid, 0x1000 + i) for i, tpid in enumerate(tpids[:n]))
        frame = dataclasses.replace(spec, vlan_tci=None, vlan_tags=tags).build()
        seen = scan_frame(frame, FEED_PORT)
        if n <= 2:
            assert seen is not None and seen.vlan_tags == tags
            assert seen.vlan_tci == parse_udp_frame(frame).vlan_tci
        else:
            assert seen is None
            with pytest.raises(BadFrame, match="more than 2 VLAN tags"):
                parse_udp_frame(frame)


@settings(max_examples=200, deadline=None)
@given(spec=frame_specs(), cut=st.integers(0, 400))
def test_truncated_frames_yield_a_prefix_and_one_error(spec: FrameSpec, cut: int) -> None:
    spec = _well_formed(spec)
    whole = spec.packet_length
    seen = scan_frame(dataclasses.replace(spec, cut=cut).build(), FEED_PORT)
    assert seen is not None
    full = scan_frame(spec.build(), FEED_PORT)
    assert full is not None
    assert list(seen.blocks) == list(full.blocks[: len(seen.blocks)])
    if cut < whole and spec.blocks and not spec.end_of_session:
        # Cut short of the end: an error unless the cut falls after the 64th block.
        assert seen.parse_error or len(seen.blocks) == MAX_SCANNED
    if cut < 20:
        assert seen.parse_error and not seen.blocks


@settings(max_examples=300, deadline=None)
@given(msg=st.one_of(messages_of(AddOrder), messages_of(AddOrderMPID)))
def test_add_view_agrees_with_the_itch_codec(msg: AddOrder | AddOrderMPID) -> None:
    raw = encode(msg)
    view = add_order_view(raw)
    assert view is not None
    assert view.stock_locate == msg.stock_locate
    assert view.sell == (msg.buy_sell_indicator == "S")
    assert view.price == msg.price
    assert decode(raw) == msg


def test_offsets_come_from_the_itch_table() -> None:
    assert (field_offset("A", "stock_locate"), field_offset("A", "buy_sell_indicator")) == (1, 19)
    assert field_offset("F", "price") == field_offset("A", "price") == 32
    assert add_order_view(b"") is None and add_order_view(b"D" + bytes(18)) is None


def test_scanner_on_the_real_captures() -> None:
    paths = sorted(PCAPS.glob("*.pcap"))
    assert paths, f"no captures in {PCAPS}"
    for path in paths:
        for rec in read_pcap(path):
            seen = scan_frame(rec.frame, 26477)
            assert seen is not None and not seen.parse_error and seen.vlan_tci == 141
            assert list(seen.blocks) == list(
                parse_downstream(parse_udp_frame(rec.frame).payload).messages
            )
            assert scan_frame(rec.frame, 26478) is None
