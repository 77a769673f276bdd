"""Builders of threshold-strategy input frames, for tests of any backend.

Everything is built with the project codecs (``tickwire.itch.encode``,
``tickwire.moldudp64.codec.DownstreamPacket``, ``tickwire.net.build_udp_frame``);
the knobs (``cut``, ``trailing``, ``padding``, ``snap``) produce the malformed and
truncated frames the contract has rules for, without re-describing any wire layout.
"""

from __future__ import annotations

from tickwire.itch import AddOrder, AddOrderMPID, encode
from tickwire.moldudp64.codec import DownstreamPacket
from tickwire.net import build_udp_frame

__all__ = [
    "FEED_DST_IP",
    "FEED_DST_MAC",
    "FEED_SRC_IP",
    "FEED_SRC_MAC",
    "add_order",
    "feed_frame",
    "tag_frames",
]

FEED_SRC_MAC = bytes.fromhex("00005e0001fe")
FEED_DST_MAC = bytes.fromhex("01005e364c6f")
FEED_SRC_IP = "198.18.0.1"
FEED_DST_IP = "198.19.12.111"


def add_order(
    locate: int,
    side: str,
    price: int,
    *,
    shares: int = 100,
    ref: int = 1,
    stock: str = "AAPL",
    mpid: str | None = None,
    timestamp: int = 34_200_000_000_000,
) -> bytes:
    """The wire bytes of an ITCH Add Order (``F`` when ``mpid`` is given, else ``A``)."""
    if mpid is None:
        return encode(
            AddOrder(
                stock_locate=locate,
                tracking_number=0,
                timestamp=timestamp,
                order_reference_number=ref,
                buy_sell_indicator=side,
                shares=shares,
                stock=stock,
                price=price,
            )
        )
    return encode(
        AddOrderMPID(
            stock_locate=locate,
            tracking_number=0,
            timestamp=timestamp,
            order_reference_number=ref,
            buy_sell_indicator=side,
            shares=shares,
            stock=stock,
            price=price,
            attribution=mpid,
        )
    )


def feed_frame(
    blocks: list[bytes] | tuple[bytes, ...],
    *,
    dst_port: int = 26477,
    src_port: int = 49653,
    vlan_tci: int | None = None,
    vlan_tags: tuple[tuple[int, int], ...] = (),
    options: bytes = b"",
    flags_fragment: int | None = None,
    session: str = "FEED000001",
    sequence: int = 1,
    end_of_session: bool = False,
    cut: int | None = None,
    trailing: bytes = b"",
    padding: int = 0,
    snap: int | None = None,
    src_mac: bytes = FEED_SRC_MAC,
    dst_mac: bytes = FEED_DST_MAC,
    src_ip: str = FEED_SRC_IP,
    dst_ip: str = FEED_DST_IP,
) -> bytes:
    """An Ethernet/IPv4/UDP frame carrying one MoldUDP64 packet of ``blocks``.

    ``cut`` truncates the MoldUDP64 payload to that many bytes (the UDP length follows,
    so the header's count then promises blocks that are not there); ``trailing`` appends
    stray bytes after the last block; ``padding`` appends Ethernet padding after the
    datagram; ``snap`` cuts the finished frame to that many bytes, as a capture snap
    length does (the IPv4 and UDP lengths then claim more than the frame holds).
    ``vlan_tci`` adds one 802.1Q tag; ``vlan_tags`` stacks ``(TPID, TCI)`` tags, outer
    first (QinQ, or three tags), as :func:`tickwire.net.frames.build_ethernet`.
    """
    payload = DownstreamPacket(
        session, sequence, () if end_of_session else tuple(blocks), end_of_session=end_of_session
    ).build()
    if cut is not None:
        payload = payload[:cut]
    payload += trailing
    frame = build_udp_frame(
        payload,
        src_ip=src_ip,
        dst_ip=dst_ip,
        src_port=src_port,
        dst_port=dst_port,
        dst_mac=dst_mac,
        src_mac=src_mac,
        vlan_tci=vlan_tci,
        vlan_tags=vlan_tags,
        options=options,
        flags_fragment=flags_fragment,
    )
    frame += bytes(padding)
    if snap is not None:
        frame = frame[:snap]
    return frame


def tag_frames(blocks: list[bytes] | tuple[bytes, ...], outer: int) -> list[bytes]:
    """The frames of ``blocks`` that docs/threshold.md section 2 rule 1 speaks of, for
    every backend's QinQ test: two tags (outer TPID ``outer``, then 0x8100), which the
    contract reads and the order carries back; one 0x88A8 tag, and 0x8100 then 0x88A8
    (a tag type at either depth); three tags (not IPv4: ignored); and the QinQ frame cut
    inside its second tag (ignored)."""
    two = ((outer, 0xE00D), (0x8100, 0x0123))
    return [
        feed_frame(blocks, vlan_tags=two),
        feed_frame(blocks, vlan_tags=((0x88A8, 7),)),
        feed_frame(blocks, vlan_tags=((0x8100, 7), (0x88A8, 8))),
        feed_frame(blocks, vlan_tags=(*two, (0x8100, 9))),
        feed_frame(blocks, vlan_tags=two)[:21],
    ]
