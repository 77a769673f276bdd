"""Typed errors of tickwire.moldudp64.

Every error the package raises on bad input is a :class:`MoldError` (a ``ValueError``), so a
caller can catch one type at the edge and still tell the cases apart by subclass.
"""

from __future__ import annotations

__all__ = [
    "BadFrame",
    "BadPcap",
    "BadSession",
    "CountMismatch",
    "MessageTooLarge",
    "MoldError",
    "TrailingBytes",
    "TruncatedPacket",
]


class MoldError(ValueError):
    """Base of every error raised by tickwire.moldudp64 for bad input.

    ``offset`` is the byte offset in the packet (or file) where the problem was found, when
    that is meaningful, else ``None``.
    """

    def __init__(self, reason: str, *, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason if offset is None else f"{reason} (at byte {offset})")


class TruncatedPacket(MoldError):
    """The packet ends inside its header or inside a message block."""


class CountMismatch(MoldError):
    """The header's message count disagrees with the message blocks that follow."""


class TrailingBytes(MoldError):
    """Bytes follow the last message block (or a heartbeat / end-of-session / request header)."""


class BadSession(MoldError):
    """A session name that is not 10 bytes of printable ASCII."""


class MessageTooLarge(MoldError):
    """A message that cannot fit in one packet of the configured payload size."""


class BadFrame(MoldError):
    """A link-layer frame that is not Ethernet (+ one optional 802.1Q tag) / IPv4 / UDP."""


class BadPcap(MoldError):
    """A capture file that is not a readable pcap or pcapng file."""
