"""The input-frame scanner of the threshold strategy (``docs/threshold.md`` sections 2-4).

Why hand-written rather than ``tickwire.net.parse_udp_frame`` followed by
``codec.parse_downstream``: those decode a frame or a packet whole and raise on its first
defect, but the contract needs byte-level control that a whole-packet decoder cannot give:
the messages *before* a bad block still count and may trigger, a frame cut by a snap length
is read up to the cut, and at most 64 blocks are looked at (a defect after the 64th must
not be seen). The scanner is therefore small, allocation-light and checked against those
codecs and against ``tickwire.itch.decode`` by hypothesis (``packages/threshold/tests/test_threshold_scan.py``).

It only *locates* things: the A/F field offsets it reads (stock locate, side, price) are
cross-checked against the ITCH codec, and the A/F minimum lengths come from
``tickwire.itch.MESSAGE_LENGTHS``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

from tickwire.itch import MESSAGE_LENGTHS
from tickwire.itch.layouts import offset as itch_offset
from tickwire.net.frames import ETHERTYPE_QINQ, ETHERTYPE_VLAN

__all__ = [
    "A_LOCATE",
    "A_PRICE",
    "A_SIDE",
    "MAX_SCANNED",
    "MAX_TAGS",
    "AddView",
    "FeedFrame",
    "add_order_view",
    "field_offset",
    "min_add_lengths",
    "scan_frame",
]

MAX_SCANNED = 64
"""Blocks looked at per MoldUDP64 packet; later blocks are neither counted nor checked."""

_ETH_IPV4 = 0x0800
_TAG_TPIDS = (ETHERTYPE_VLAN, ETHERTYPE_QINQ)
MAX_TAGS = 2
"""VLAN tags read before the EtherType, as :func:`tickwire.net.parse_ethernet` reads them."""
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_TYPE_A = 0x41
_TYPE_F = 0x46


def field_offset(message_type: str, name: str) -> int:
    """Byte offset of field ``name`` in an ITCH message: :func:`tickwire.itch.layouts.offset`
    (KeyError, as before, for a type or field the table does not have)."""
    try:
        return itch_offset(message_type, name)
    except ValueError as exc:
        raise KeyError(str(exc)) from None


def min_add_lengths() -> tuple[int, int]:
    """The lengths of ITCH ``A`` and ``F`` (type byte included), from the ITCH package."""
    return MESSAGE_LENGTHS["A"], MESSAGE_LENGTHS["F"]


# Offsets of the three fields the strategy reads; A and F share them (F only appends
# the attribution), which is checked here rather than assumed.
_A_LOCATE, _A_SIDE, _A_PRICE = (
    field_offset("A", n) for n in ("stock_locate", "buy_sell_indicator", "price")
)
if tuple(field_offset("F", n) for n in ("stock_locate", "buy_sell_indicator", "price")) != (
    _A_LOCATE,
    _A_SIDE,
    _A_PRICE,
):  # pragma: no cover - would mean the ITCH table changed shape
    raise AssertionError("A and F disagree on the offsets the threshold strategy reads")
A_LOCATE, A_SIDE, A_PRICE = _A_LOCATE, _A_SIDE, _A_PRICE


class AddView(NamedTuple):
    """The three fields of an A/F message the strategy reads."""

    stock_locate: int
    sell: bool
    price: int


def add_order_view(message: bytes) -> AddView | None:
    """Read locate, side and price of an A/F message (None for any other message)."""
    if not message or message[0] not in (_TYPE_A, _TYPE_F):
        return None
    return AddView(
        (message[_A_LOCATE] << 8) | message[_A_LOCATE + 1],
        message[_A_SIDE] == 0x53,
        _U32.unpack_from(message, _A_PRICE)[0],
    )


@dataclass(frozen=True, slots=True)
class FeedFrame:
    """A frame for the feed port, as far as the scanner read it.

    ``blocks`` are the scanned messages (at most 64, each a complete block that passed
    the A/F length rule); ``parse_error`` says the scan stopped on a defect.
    ``vlan_tags`` are the frame's VLAN tags as they came, outer first, each a
    ``(TPID, TCI)`` pair: none, one, or two (QinQ); the order frame carries them back.
    """

    dst_mac: bytes
    src_mac: bytes
    vlan_tags: tuple[tuple[int, int], ...]
    src_ip: bytes
    dst_ip: bytes
    src_port: int
    dst_port: int
    blocks: tuple[bytes, ...]
    parse_error: bool

    @property
    def vlan_tci(self) -> int | None:
        """The outer tag's TCI (None untagged), as ``parse_udp_frame`` reports it."""
        return self.vlan_tags[0][1] if self.vlan_tags else None


_LEN_A, _LEN_F = min_add_lengths()


def scan_frame(frame: bytes, feed_port: int) -> FeedFrame | None:
    """Scan one Ethernet frame; None when it is not a frame for the feed port.

    Up to two VLAN tags (``docs/threshold.md`` section 2 rule 1): an EtherType 0x8100 or
    0x88A8 at 12, then at 16, is a tag, whose TCI follows it, the same rule as
    :func:`tickwire.net.parse_ethernet` (QinQ: a provider's S-tag over the customer's
    VLAN). Why: a feed carried in QinQ was read by every capture reader but ignored
    here, so a backtest of a capture and the live strategy answered the same feed
    differently. A third tag leaves a tag TPID where IPv4 is expected: not for the feed.
    Test: ``packages/threshold/tests/test_threshold_reference.py::test_a_qinq_feed_frame_is_read_and_its_tags_go_back``.
    """
    n = len(frame)
    if n < 14:
        return None
    ethertype = (frame[12] << 8) | frame[13]
    tags: list[tuple[int, int]] = []
    l3 = 14
    while ethertype in _TAG_TPIDS and len(tags) < MAX_TAGS:
        if n < l3 + 4:
            return None
        tags.append((ethertype, (frame[l3] << 8) | frame[l3 + 1]))
        ethertype = (frame[l3 + 2] << 8) | frame[l3 + 3]
        l3 += 4
    if ethertype != _ETH_IPV4 or n < l3 + 20:
        return None
    vihl = frame[l3]
    ihl = vihl & 0x0F
    if vihl >> 4 != 4 or ihl < 5:
        return None
    l4 = l3 + 4 * ihl
    if n < l4 or frame[l3 + 9] != 17:
        return None
    if ((frame[l3 + 6] << 8) | frame[l3 + 7]) & 0x3FFF:
        return None  # MF set or a non-zero fragment offset
    if n < l4 + 8:
        return None
    dst_port = (frame[l4 + 2] << 8) | frame[l4 + 3]
    if dst_port != feed_port:
        return None
    udp_len = (frame[l4 + 4] << 8) | frame[l4 + 5]
    blocks, error = (
        ((), True) if udp_len < 8 else scan_moldudp64(frame, l4 + 8, min(l4 + udp_len, n))
    )
    return FeedFrame(
        dst_mac=frame[0:6],
        src_mac=frame[6:12],
        vlan_tags=tuple(tags),
        src_ip=frame[l3 + 12 : l3 + 16],
        dst_ip=frame[l3 + 16 : l3 + 20],
        src_port=(frame[l4] << 8) | frame[l4 + 1],
        dst_port=dst_port,
        blocks=blocks,
        parse_error=error,
    )


def scan_moldudp64(data: bytes, start: int, end: int) -> tuple[tuple[bytes, ...], bool]:
    """Scan the MoldUDP64 packet in ``data[start:end]``: (scanned messages, parse error)."""
    if end - start < 20:
        return (), True
    count = (data[start + 18] << 8) | data[start + 19]
    if count == 0 or count == 0xFFFF:
        return (), False
    q = start + 20
    out: list[bytes] = []
    for _ in range(min(count, MAX_SCANNED)):
        if q + 2 > end:
            return tuple(out), True
        length = (data[q] << 8) | data[q + 1]
        q += 2
        if q + length > end:
            return tuple(out), True
        msg = data[q : q + length]
        if length and (
            (msg[0] == _TYPE_A and length < _LEN_A) or (msg[0] == _TYPE_F and length < _LEN_F)
        ):
            return tuple(out), True
        out.append(msg)
        q += length
    return tuple(out), False
