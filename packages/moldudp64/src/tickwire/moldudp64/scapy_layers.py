"""Scapy layers for MoldUDP64 and the ITCH 5.0 messages it carries (the ``pcap`` extra).

Importing this module registers the layers with scapy and binds MoldUDP64 to UDP port
26477 (both directions), the port of the NASDAQ captures; :func:`bind_port` adds others::

    from scapy.all import rdpcap
    import tickwire.moldudp64.scapy_layers as mold

    mold.bind_port(30000)
    rdpcap("feed.pcap")[0].show()

The ITCH layers (one per message type, ``ITCH_A``, ``ITCH_D``, ...) are generated from the
construct layouts of :mod:`tickwire.itch` when tickwire-itch is installed, so the field
names, widths and order are the codec's own; without it message blocks show as raw bytes.
"""

from __future__ import annotations

import struct
from typing import Any

from scapy.fields import (
    BitField,
    Field,
    PacketListField,
    ShortField,
    StrFixedLenField,
)
from scapy.layers.inet import UDP
from scapy.packet import Packet, Raw, bind_layers

__all__ = ["DEFAULT_PORT", "ITCH_LAYERS", "MoldMessageBlock", "MoldUDP64", "bind_port"]

DEFAULT_PORT = 26477


def _itch_layers() -> dict[bytes, type[Packet]]:
    """One scapy Packet class per ITCH message type, built from the construct layouts."""
    try:
        from tickwire.itch import MESSAGE_STRUCTS
    except ImportError:
        return {}
    import construct as c

    layers: dict[bytes, type[Packet]] = {}
    for letter, layout in MESSAGE_STRUCTS.items():
        fields: list[Any] = []
        for sub in layout.subcons:
            inner = sub.subcon if isinstance(sub, c.Renamed) else sub
            name = sub.name
            if isinstance(inner, c.Const):
                fields.append(StrFixedLenField(name, letter.encode(), 1))
            elif isinstance(inner, c.FormatField):
                fields.append(Field(name, 0, inner.fmtstr))
            elif isinstance(inner, c.BytesInteger):
                fields.append(BitField(name, 0, 8 * inner.sizeof()))
            else:
                size = inner.sizeof()
                fields.append(StrFixedLenField(name, b" " * size, size))
        cls_name = f"ITCH_{letter}"
        layers[letter.encode()] = type(
            cls_name,
            (Packet,),
            {
                "name": f"ITCH 5.0 '{letter}'",
                "fields_desc": fields,
                "extract_padding": lambda self, s: (b"", s),
            },
        )
    return layers


#: ITCH message type byte -> scapy layer class (empty without tickwire-itch).
ITCH_LAYERS: dict[bytes, type[Packet]] = _itch_layers()
globals().update({cls.__name__: cls for cls in ITCH_LAYERS.values()})


class MoldMessageBlock(Packet):
    """A message block: 2-byte length, then the message (an ITCH layer when known)."""

    name = "MoldUDP64 Message Block"
    fields_desc = [ShortField("length", None)]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        n = self.length or 0
        return s[:n], s[n:]

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.length is None:
            p = struct.pack(">H", len(pay)) + p[2:]
        return p + pay

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        return ITCH_LAYERS.get(payload[:1], Raw)


def _block_count(pkt: Any) -> int:
    count: int = pkt.count
    return 0 if count in (0, 0xFFFF) else count


class MoldUDP64(Packet):
    """MoldUDP64 downstream (or request) packet: header and message blocks."""

    name = "MoldUDP64"
    fields_desc = [
        StrFixedLenField("session", b" " * 10, 10),
        Field("sequence", 0, ">Q"),
        ShortField("count", None),
        PacketListField("messages", [], MoldMessageBlock, count_from=_block_count),
    ]

    def post_build(self, p: bytes, pay: bytes) -> bytes:
        if self.count is None:
            p = p[:18] + struct.pack(">H", len(self.messages)) + p[20:]
        return p + pay


def bind_port(port: int) -> None:
    """Decode UDP traffic to or from ``port`` as MoldUDP64."""
    bind_layers(UDP, MoldUDP64, dport=port)
    bind_layers(UDP, MoldUDP64, sport=port)


bind_port(DEFAULT_PORT)
