"""Events the sans-I/O :class:`~tickwire.moldudp64.receiver.Receiver` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .codec import RequestPacket
from .errors import MoldError

__all__ = [
    "Address",
    "BadPacket",
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


Event = (
    Messages
    | GapDetected
    | SendRequest
    | SessionChanged
    | EndOfSession
    | StaleFeed
    | FeedResumed
    | BadPacket
)
