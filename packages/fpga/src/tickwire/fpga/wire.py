"""Where the core finds each field, from the one wire table.

The core reads Ethernet, up to two VLAN tags, IPv4, UDP and MoldUDP64 fields by byte offset and builds
the order frame byte by byte; every offset, length and constant it uses is derived here
from the tables the XDP and bare-metal backends get theirs from (their C header is
generated from the same ones): :data:`tickwire.threshold.cheader.WIRE` (the layouts of
``tickwire.net.frames``, ``tickwire.moldudp64.codec``, ``tickwire.itch.layouts`` and
``tickwire.ouch.v50``), :data:`~tickwire.threshold.cheader.ORDER_LENGTHS` (the order
frame's lengths) and the constants of :mod:`tickwire.net.frames`.

The design also assumes a shape of those tables (a 16-bit count closing the MoldUDP64
header, the IPv4 addresses at the end of its fixed part, the fields of the Enter Order
in the order :func:`tickwire.fpga.core.order_frame_bytes` writes them ...):
:func:`check` says which assumption a table breaks, and is run at import, so a design
that no longer matches its tables cannot be built. ``test_fpga_wire.py`` checks every
offset against frames built by the codecs, and the order frame against
``tickwire.threshold.order.build_order_frame``.
"""

from __future__ import annotations

from tickwire.threshold.cheader import ORDER_LENGTHS, WIRE
from tickwire.threshold.scan import MAX_TAGS

__all__ = [
    "BLOCK_PREFIX",
    "COUNT_LO",
    "ENTER_ORDER_FIELDS",
    "ETHERTYPE",
    "FIRST_BLOCK",
    "INNER_ETHERTYPE",
    "IP_DST",
    "IP_FRAG",
    "IP_MIN_IHL",
    "IP_PROTO",
    "IP_SRC",
    "IP_TTL",
    "IP_VERSION",
    "IP_VIHL",
    "L3_QINQ",
    "L3_TAGGED",
    "L3_UNTAGGED",
    "MAX_TAGS",
    "ORDER_BLOCK_LEN",
    "ORDER_FRAME_BEATS",
    "ORDER_FRAME_LENS",
    "ORDER_IP_LEN",
    "ORDER_LAST_BE",
    "ORDER_UDP_LEN",
    "TAGS_LEN",
    "TCI",
    "THIRD_ETHERTYPE",
    "UDP_DPORT",
    "UDP_HEADER",
    "UDP_LENGTH",
    "check",
]

_ETH, _VLAN, _IP, _UDP, _MOLD = (WIRE[k] for k in ("ETH", "VLAN", "IPV4", "UDP", "MOLD"))

# ---- the input frame, as offsets from the frame's start (L3) or from L3/L4/P
ETHERTYPE = _ETH.field("ethertype").offset
"""The EtherType (or the 802.1Q TPID), from the frame's start."""
L3_UNTAGGED = _ETH.size
"""Where IPv4 starts without a tag."""
L3_TAGGED = _ETH.size + _VLAN.size
"""... and with one VLAN tag."""
L3_QINQ = _ETH.size + MAX_TAGS * _VLAN.size
"""... and with two (QinQ, ``docs/threshold.md`` section 2 rule 1: at most two are read)."""
TCI = _ETH.size + _VLAN.field("tci").offset
"""The (outer) tag's TCI, from the frame's start."""
INNER_ETHERTYPE = _ETH.size + _VLAN.field("ethertype").offset
"""The EtherType after the first tag (the inner tag's TPID in QinQ), from the frame's start."""
THIRD_ETHERTYPE = _ETH.size + _VLAN.size + _VLAN.field("ethertype").offset
"""The EtherType after a second tag, from the frame's start."""
TAGS_LEN = MAX_TAGS * _VLAN.size
"""Bytes of the tags an order carries back at most: ``TAGS_LEN`` bytes from
:data:`ETHERTYPE` hold both tags' TPIDs and TCIs as they came."""
IP_VIHL = _IP.field("version_ihl").offset
IP_FRAG = _IP.field("flags_fragment").offset
IP_PROTO = _IP.field("protocol").offset
IP_SRC = _IP.field("src").offset
IP_DST = _IP.field("dst").offset
IP_VERSION = 4
IP_MIN_IHL = _IP.size // 4
"""The IHL of a header without options (in 32-bit words)."""
UDP_DPORT = _UDP.field("dst_port").offset
UDP_LENGTH = _UDP.field("length").offset
UDP_HEADER = _UDP.size
"""P = L4 + UDP_HEADER: where the MoldUDP64 packet starts."""
COUNT_LO = _MOLD.field("count").offset + 1
"""The low byte of the message count, from P."""
FIRST_BLOCK = _MOLD.size
"""The first message block's length field, from P."""

# ---- the order frame (docs/threshold.md section 5)
IP_TTL = 64
"""The TTL of an order frame (``tickwire.threshold.order.build_order_frame``)."""
ORDER_IP_LEN = ORDER_LENGTHS["TW_ORDER_IP_LEN"]
ORDER_UDP_LEN = ORDER_LENGTHS["TW_ORDER_UDP_LEN"]
BLOCK_PREFIX = ORDER_LENGTHS["TW_MOLD_BLOCK_PREFIX_LEN"]
"""The length field before each MoldUDP64 message block."""
ORDER_BLOCK_LEN = WIRE["OUCH_ENTER_ORDER"].size
"""The MoldUDP64 block length of the Enter Order (no appendage)."""
ORDER_FRAME_LENS = (
    ORDER_LENGTHS["TW_ORDER_FRAME_LEN"],
    ORDER_LENGTHS["TW_ORDER_FRAME_TAGGED_LEN"],
    ORDER_LENGTHS["TW_ORDER_FRAME_QINQ_LEN"],
)
"""Bytes of an order frame by its number of VLAN tags (none, one, two)."""
ORDER_FRAME_BEATS = tuple(-(-n // 8) for n in ORDER_FRAME_LENS)
"""Beats of an order frame by its number of tags."""
ORDER_LAST_BE = tuple((1 << (n % 8 or 8)) - 1 for n in ORDER_FRAME_LENS)
"""The byte enables of an order frame's last beat, by its number of tags."""

#: The Enter Order's fields as the core writes them: (name, bytes), in wire order.
ENTER_ORDER_FIELDS = (
    ("message_type", 1),
    ("user_ref_num", 4),
    ("side", 1),
    ("quantity", 4),
    ("symbol", 8),
    ("price", 8),
    ("time_in_force", 1),
    ("display", 1),
    ("capacity", 1),
    ("intermarket_sweep_eligibility", 1),
    ("cross_type", 1),
    ("cl_ord_id", 14),
    ("appendages_length", 2),
)


def check() -> list[str]:
    """What no longer holds between the design and the tables as they are now (each a
    short phrase; empty when all holds): the design's shape assumptions, read from
    :data:`WIRE` at the call (so a changed table is seen), and every constant above."""
    problems = []
    eth, vlan, ip, udp, mold = (WIRE[k] for k in ("ETH", "VLAN", "IPV4", "UDP", "MOLD"))

    def want(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    want(eth.size + MAX_TAGS * vlan.size <= 32, "L3 must fit the 5-bit L3 offset")
    want(MAX_TAGS == 2, "two tags are read (one-tag and QinQ muxes)")
    want(eth.field("ethertype").offset + 2 == eth.size, "Ethernet ends with the EtherType")
    want(vlan.field("ethertype").offset + 2 == vlan.size, "the tag ends with the EtherType")
    want(ip.field("src").length == 4 and ip.field("dst").length == 4, "IPv4 addresses: 4 bytes")
    want(ip.size == ip.field("dst").offset + 4, "the IPv4 header ends with its destination")
    want(ip.size % 4 == 0 and ip.field("version_ihl").offset == 0, "IPv4: version/IHL first")
    for lay, name in ((ip, "flags_fragment"), (udp, "dst_port"), (udp, "length")):
        want(lay.field(name).length == 2, f"{name}: 16 bits")
    want(mold.field("count").length == 2, "the MoldUDP64 count: 16 bits")
    want(mold.field("count").offset + 2 == mold.size, "the MoldUDP64 count closes its header")
    tail = (mold.field("session"), mold.field("sequence"))
    want([(f.offset, f.length) for f in tail] == [(0, 10), (10, 8)], "session(10), sequence(8)")
    want(BLOCK_PREFIX == 2, "a 16-bit block length")
    enter = WIRE["OUCH_ENTER_ORDER"]
    want(
        [(f.name, f.length) for f in enter.fields] == list(ENTER_ORDER_FIELDS),
        "the Enter Order's fields as order_frame_bytes writes them",
    )
    derived = {
        "ETHERTYPE": eth.field("ethertype").offset,
        "L3_UNTAGGED": eth.size,
        "L3_TAGGED": eth.size + vlan.size,
        "L3_QINQ": eth.size + 2 * vlan.size,
        "THIRD_ETHERTYPE": eth.size + vlan.size + vlan.field("ethertype").offset,
        "TAGS_LEN": 2 * vlan.size,
        "TCI": eth.size + vlan.field("tci").offset,
        "INNER_ETHERTYPE": eth.size + vlan.field("ethertype").offset,
        "IP_FRAG": ip.field("flags_fragment").offset,
        "IP_PROTO": ip.field("protocol").offset,
        "IP_SRC": ip.field("src").offset,
        "IP_DST": ip.field("dst").offset,
        "IP_MIN_IHL": ip.size // 4,
        "UDP_DPORT": udp.field("dst_port").offset,
        "UDP_LENGTH": udp.field("length").offset,
        "UDP_HEADER": udp.size,
        "COUNT_LO": mold.field("count").offset + 1,
        "FIRST_BLOCK": mold.size,
        "ORDER_BLOCK_LEN": enter.size,
    }
    for name, value in derived.items():
        want(globals()[name] == value, f"{name} is {globals()[name]}, the table says {value}")
    want(
        tuple(eth.size + k * vlan.size + ORDER_IP_LEN for k in range(3)) == ORDER_FRAME_LENS
        and ip.size + ORDER_UDP_LEN == ORDER_IP_LEN
        and udp.size + mold.size + BLOCK_PREFIX + enter.size == ORDER_UDP_LEN,
        "the order frame: Ethernet, IPv4 without options, UDP, one MoldUDP64 block",
    )
    return problems


_PROBLEMS = check()
if _PROBLEMS:  # pragma: no cover - the tables changed under the design
    raise ImportError(
        "tickwire.fpga: the design no longer matches its tables: " + "; ".join(_PROBLEMS)
    )
