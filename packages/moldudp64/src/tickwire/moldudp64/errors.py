"""Typed errors of tickwire.moldudp64.

Every error the package raises on bad input is a :class:`MoldError` (a ``ValueError``), so a
caller can catch one type at the edge and still tell the cases apart by subclass.
"""

from __future__ import annotations

from tickwire.cli.boundary import UsageError as _UsageError
from tickwire.net.errors import BadFrame as _NetBadFrame
from tickwire.net.errors import BadPcap as _NetBadPcap

__all__ = [
    "BadFrame",
    "BadPcap",
    "BadSession",
    "CountMismatch",
    "IncompleteCapture",
    "IncompleteReplay",
    "MessageTooLarge",
    "MoldError",
    "SequenceOverflow",
    "SessionChoiceError",
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
        # ValueError's, not super()'s: BadFrame and BadPcap also derive from tickwire.net's
        # errors, whose __init__ would take the formatted message for the reason.
        ValueError.__init__(self, reason if offset is None else f"{reason} (at byte {offset})")


class TruncatedPacket(MoldError):
    """The packet ends inside its header or inside a message block."""


class CountMismatch(MoldError):
    """The header's message count disagrees with the message blocks that follow."""


class SequenceOverflow(MoldError):
    """A packet whose messages would run past sequence number 2^64 - 1: the Sequence
    Number field is 8 bytes, so no message can have a higher one."""


class TrailingBytes(MoldError):
    """Bytes follow the last message block (or a heartbeat / end-of-session / request header)."""


class BadSession(MoldError):
    """A session name that is not 10 bytes of printable ASCII."""


class MessageTooLarge(MoldError):
    """A message that cannot fit in one packet of the configured payload size."""


class BadFrame(MoldError, _NetBadFrame):
    """A link-layer frame that is not Ethernet (+ up to two VLAN tags) / IPv4 / UDP.

    Also a :class:`tickwire.net.errors.BadFrame`, which the frame parsers raise:
    ``except tickwire.net.errors.BadFrame`` catches both.
    """


class BadPcap(MoldError, _NetBadPcap):
    """A capture file that is not a readable pcap or pcapng file.

    Also a :class:`tickwire.net.errors.BadPcap`, which the capture reader raises:
    ``except tickwire.net.errors.BadPcap`` catches both.
    """


class SessionChoiceError(MoldError, _UsageError):
    """A capture's sessions do not fit the session asked for: a packet of a second
    session where one session was required (no ``--session``), or not one packet of
    the session named.

    Also a :class:`tickwire.cli.UsageError`: every command line ends it with exit 2 and
    one line naming the sessions and ``--session`` (the fix is an option, not the data).
    """


class IncompleteCapture(MoldError):
    """A capture's messages were read with some lost: MoldUDP64 packets that do not
    parse, frames the capture cut short, sequence numbers never found.

    The commands raise it after writing their outputs, so the exit status (1) and one
    ``error:`` line say the output is not whole (:func:`tickwire.moldudp64.capture.faults_text`).
    """


class IncompleteReplay(MoldError):
    """A replay that did not send every packet: sends the kernel refused, or frames of
    the capture with no whole MoldUDP64 packet (cut by the snap length, or not parsing).

    ``replay`` raises it after its report, so the exit status (1) and one ``error:``
    line say the receiver did not get the whole feed
    (:meth:`tickwire.moldudp64.replay.ReplayReport.faults`).
    """
