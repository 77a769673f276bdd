"""Events the sans-I/O :class:`~tickwire.moldudp64.receiver.Receiver` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .codec import RequestPacket
from .errors import MoldError

__all__ = [
    "Address",
    "BadPacket",
    "Conflict",
    "EndOfSession",
    "Event",
    "FeedResumed",
    "GapDetected",
    "Messages",
    "SendRequest",
    "SessionChanged",
    "StaleFeed",
]

#: Where a datagram came from or goes to: ``(host, port)`` for UDP sockets; any hashable
#: value works for the sans-I/O core (the simulated network in the tests uses names).
Address = Any


@dataclass(frozen=True, slots=True)
class Messages:
    """Messages delivered in order: ``messages[i]`` has sequence number ``sequence + i``.

    Every sequence number of a session is delivered exactly once, in increasing order, across
    all the :class:`Messages` events of that session.
    """

    session: str
    sequence: int
    messages: list[bytes]

    @property
    def next_sequence(self) -> int:
        return self.sequence + len(self.messages)


@dataclass(frozen=True, slots=True)
class GapDetected:
    """Sequence numbers ``first`` .. ``first + count - 1`` are missing (some may be buffered)."""

    session: str
    first: int
    count: int


@dataclass(frozen=True, slots=True)
class SendRequest:
    """Send ``request`` (its bytes are :attr:`data`) to the re-request server ``to``."""

    request: RequestPacket
    to: Address

    @property
    def data(self) -> bytes:
        return self.request.build()


@dataclass(frozen=True, slots=True)
class SessionChanged:
    """The feed moved from session ``old`` (None: the first session adopted) to ``new``.

    A session is adopted on two independent packets, or on its first one when it is pinned
    (``ReceiverConfig.session``) with a ``start_sequence``; it changes after the old
    session's end, or mid-session only after the old one was silent for ``session_grace``
    while the new one sent ``session_change_after`` packets (see
    :mod:`tickwire.moldudp64.receiver`). ``abandoned`` is the number of messages of ``old``
    known to exist that were never delivered (0 on a clean change after the old session's
    end).
    """

    old: str | None
    new: str
    next_sequence: int
    abandoned: int = 0


@dataclass(frozen=True, slots=True)
class EndOfSession:
    """The session ended and every message before ``next_sequence`` was delivered."""

    session: str
    next_sequence: int


@dataclass(frozen=True, slots=True)
class StaleFeed:
    """No packet (not even a heartbeat) for ``silent_for`` seconds."""

    silent_for: float


@dataclass(frozen=True, slots=True)
class FeedResumed:
    """Packets arrive again after a :class:`StaleFeed`."""

    silent_for: float


@dataclass(frozen=True, slots=True)
class BadPacket:
    """A datagram that is not a valid MoldUDP64 packet; it was dropped."""

    source: Address
    error: MoldError


@dataclass(frozen=True, slots=True)
class Conflict:
    """A copy of delivered messages differs from what was delivered: one of them lies.

    ``count`` of the messages of the packet from ``source`` (the first of them has sequence
    number ``sequence``) differ from the copies the receiver delivered (or holds, beyond a
    hole) for the same sequence numbers. The two lines of an A/B feed and a retransmission
    carry the same bytes, so the feed cannot be trusted: a forged packet of the session
    came first, or this one is forged. The delivered copy stands (nothing is taken back);
    what to do is the application's decision (the live engine trips its kill switch). See
    :mod:`tickwire.moldudp64.receiver` ("Copies that differ").
    """

    session: str
    sequence: int
    count: int
    source: Address


Event = (
    Messages
    | GapDetected
    | SendRequest
    | SessionChanged
    | EndOfSession
    | StaleFeed
    | FeedResumed
    | BadPacket
    | Conflict
)
