"""The bare-metal backend's own binary layouts, written once with construct.

Three formats cross the host/guest boundary, all little-endian (both ends are x86 and
these are tickwire's private formats, not wire protocols of the exchange):

* :data:`CONFIG` - the threshold configuration as the kernel reads it from QEMU fw_cfg
  (``opt/tickwire/config``) at boot, or from a ``CONFIG`` control packet at run time.
  It is a 1:1 image of :class:`tickwire.threshold.config.ThresholdConfig` plus the shared
  secret and the transport's ack flag. The C side (``kernel/strategy.c``) reads the
  same offsets with bounded helpers and re-validates every range.
* :data:`CONTROL` - a control packet's payload after the Ethernet header (EtherType
  0x88B5, IEEE local experimental): magic ``TWCT``, the secret, a sequence number, a
  command, its body's length and the body. The length is explicit because the NIC pads
  frames shorter than 60 bytes with zeros; the kernel answers ``BAD_LENGTH`` to a body
  that is not exactly its command's length (``kernel/control.h``) and changes nothing.
* :data:`ACK` - the kernel's replies: per-frame acknowledgements (when ack mode is on)
  and "command done" answers.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass

import construct as c
from tickwire.threshold.config import ThresholdConfig

__all__ = [
    "ACK",
    "ACK_KIND_DONE",
    "ACK_KIND_FRAME",
    "BODY_SIZE",
    "CONFIG",
    "CONTROL",
    "ETHERTYPE_CONTROL",
    "INSTRUMENT",
    "LIMITS",
    "SECRET_LEN",
    "Ack",
    "Command",
    "CommandResult",
    "build_ack",
    "build_control",
    "config_blob",
    "new_secret",
    "parse_ack",
]

ETHERTYPE_CONTROL = 0x88B5
SECRET_LEN = 16
CONFIG_VERSION = 1
FLAG_ARMED = 0x0001
FLAG_ACK = 0x0002
ACK_KIND_FRAME = 1
ACK_KIND_DONE = 2

INSTRUMENT = c.Struct(
    "locate" / c.Int16ul,
    "symbol" / c.Bytes(8),
    "limit_price" / c.Int32ul,
    "base_qty" / c.Int32ul,
    "step_qty" / c.Int32ul,
    "tick" / c.Int32ul,
    "max_order_qty" / c.Int32ul,
    "max_position" / c.Int64ul,
    "max_notional" / c.Int64ul,
)
"""One watched instrument, 46 bytes; the symbol space-padded ASCII, as the order carries it."""

CONFIG = c.Struct(
    "magic" / c.Const(b"TWCF"),
    "version" / c.Const(CONFIG_VERSION, c.Int16ul),
    "flags" / c.Int16ul,
    "max_orders" / c.Int32ul,
    "first_user_ref_num" / c.Int32ul,
    "feed_port" / c.Int16ul,
    "order_port" / c.Int16ul,
    "order_session" / c.Bytes(10),
    "secret" / c.Bytes(SECRET_LEN),
    "count" / c.Int16ul,
    "instruments" / c.Array(c.this.count, INSTRUMENT),
)
"""The config blob: a 48-byte header, then ``count`` instruments."""


class Command(enum.IntEnum):
    """Control commands understood by the kernel (``kernel/kmain.c``)."""

    SYNC = 1  # barrier: answered once every earlier frame is processed
    STATS = 2  # print statistics and the latency histogram on the serial port
    CONFIG = 3  # body: a CONFIG blob; resets statistics, positions and the histogram
    ARM = 4  # body: u8 0/1, the kill switch
    MAX_ORDERS = 5  # body: u32
    LIMITS = 6  # body: LIMITS
    EXIT = 7  # body: u8 exit code; statistics are printed first
    FRAME = 8  # body: u16 length + frame: a frame delivered with its true length
    ACK = 9  # body: u8 0/1, per-frame acknowledgements
    HIST_RESET = 10


class CommandResult(enum.IntEnum):
    """The kernel's answer to a command (``ACK`` kind 2, field ``a`` = seq, ``b`` = result)."""

    OK = 0
    BAD_LENGTH = 1
    BAD_VALUE = 2
    UNKNOWN = 3


CONTROL = c.Struct(
    "magic" / c.Const(b"TWCT"),
    "secret" / c.Bytes(SECRET_LEN),
    "seq" / c.Int32ul,
    "command" / c.Int8ul,
    "body" / c.Prefixed(c.Int16ul, c.GreedyBytes),
)
"""A control packet's payload (after the 14-byte Ethernet header): 27 bytes of header
(the last two the body's length), then the body; what follows it is padding."""

#: The exact body length of each command, or None when the body says it (CONFIG: 48 +
#: 46 * count; FRAME: 2 + length). The kernel refuses any other length (BAD_LENGTH).
BODY_SIZE: dict[Command, int | None] = {
    Command.SYNC: 0,
    Command.STATS: 0,
    Command.CONFIG: None,
    Command.ARM: 1,
    Command.MAX_ORDERS: 4,
    Command.LIMITS: 22,
    Command.EXIT: 1,
    Command.FRAME: None,
    Command.ACK: 1,
    Command.HIST_RESET: 0,
}

LIMITS = c.Struct(
    "locate" / c.Int16ul,
    "max_order_qty" / c.Int32ul,
    "max_position" / c.Int64ul,
    "max_notional" / c.Int64ul,
)
"""Body of ``Command.LIMITS``: new risk limits for one configured instrument."""

FRAME_BODY = c.Struct("length" / c.Int16ul, "frame" / c.Bytes(c.this.length))
"""Body of ``Command.FRAME``."""

ACK = c.Struct(
    "magic" / c.Const(b"TWAK"),
    "kind" / c.Int8ul,
    "reserved" / c.Int8ul,
    "a" / c.Int32ul,
    "b" / c.Int32ul,
    "c" / c.Int64ul,
)
"""A reply (after the Ethernet header). Kind 1 (frame): a = frames seen (low 32 bits),
b = orders sent (low 32 bits), c = 1 when that frame sent an order. Kind 2 (done):
a = the command's seq, b = :class:`CommandResult`, c = frames seen."""


@dataclass(frozen=True, slots=True)
class Ack:
    """A decoded kernel reply."""

    kind: int
    a: int
    b: int
    c: int


def new_secret() -> bytes:
    """A fresh random shared secret for one boot."""
    return secrets.token_bytes(SECRET_LEN)


def config_blob(config: ThresholdConfig, secret: bytes, *, ack_frames: bool = False) -> bytes:
    """The kernel's binary image of a validated config (``CONFIG``)."""
    if len(secret) != SECRET_LEN:
        raise ValueError(f"secret must be {SECRET_LEN} bytes, got {len(secret)}")
    flags = (FLAG_ARMED if config.armed else 0) | (FLAG_ACK if ack_frames else 0)
    return bytes(
        CONFIG.build(
            {
                "flags": flags,
                "max_orders": config.max_orders,
                "first_user_ref_num": config.first_user_ref_num,
                "feed_port": config.feed_port,
                "order_port": config.order_port,
                "order_session": config.order_session.encode("ascii").ljust(10, b" "),
                "secret": secret,
                "count": len(config.instruments),
                "instruments": [
                    {
                        "locate": i.locate,
                        "symbol": i.symbol.encode("ascii").ljust(8, b" "),
                        "limit_price": i.limit_price,
                        "base_qty": i.base_qty,
                        "step_qty": i.step_qty,
                        "tick": i.tick,
                        "max_order_qty": i.max_order_qty,
                        "max_position": i.max_position,
                        "max_notional": i.max_notional,
                    }
                    for i in config.instruments
                ],
            }
        )
    )


_BROADCAST = b"\xff" * 6
# A locally administered unicast address for the host end of the link.
HOST_MAC = b"\x02\x74\x77\x00\x00\x01"


def build_control(secret: bytes, seq: int, command: Command, body: bytes = b"") -> bytes:
    """A complete control frame (Ethernet header included)."""
    header = _BROADCAST + HOST_MAC + ETHERTYPE_CONTROL.to_bytes(2, "big")
    payload = CONTROL.build({"secret": secret, "seq": seq, "command": int(command), "body": body})
    return header + bytes(payload)


def build_ack(
    kind: int, a: int, b: int, c_: int, src_mac: bytes = b"\x52\x54\x00\x12\x34\x56"
) -> bytes:
    """An ACK frame as the kernel sends it (60 bytes; used by tests of :func:`parse_ack`)."""
    frame = (
        _BROADCAST
        + src_mac
        + ETHERTYPE_CONTROL.to_bytes(2, "big")
        + bytes(ACK.build({"kind": kind, "reserved": 0, "a": a, "b": b, "c": c_}))
    )
    return frame.ljust(60, b"\x00")


def parse_ack(frame: bytes) -> Ack | None:
    """The reply carried by ``frame``, or None when it is not a kernel reply."""
    if len(frame) < 14 + ACK.sizeof() or frame[12:14] != ETHERTYPE_CONTROL.to_bytes(2, "big"):
        return None
    if frame[14:18] != b"TWAK":
        return None
    parsed = ACK.parse(frame[14 : 14 + ACK.sizeof()])
    return Ack(kind=parsed.kind, a=parsed.a, b=parsed.b, c=parsed.c)
