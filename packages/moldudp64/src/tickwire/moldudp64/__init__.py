"""tickwire.moldudp64: MoldUDP64 codec, sans-I/O gap recovery, publisher and re-request server.

The core (codec, receiver, publisher, capture) depends on construct and tickwire-net; the asyncio
adapters add uvloop when it is installed, the scapy layers need the ``pcap`` extra and the
command-line tools the ``itch`` extra.
"""

from __future__ import annotations

from .codec import DownstreamPacket, RequestPacket, parse_downstream, parse_request
from .errors import (
    BadFrame,
    BadPcap,
    BadSession,
    CountMismatch,
    IncompleteCapture,
    IncompleteReplay,
    MessageTooLarge,
    MoldError,
    SequenceOverflow,
    SessionChoiceError,
    TrailingBytes,
    TruncatedPacket,
)
from .events import (
    BadPacket,
    Conflict,
    EndOfSession,
    Event,
    FeedResumed,
    GapDetected,
    Messages,
    SendRequest,
    SessionChanged,
    StaleFeed,
)
from .publisher import (
    MessageStore,
    Publisher,
    PublisherConfig,
    RequestServer,
    ServerConfig,
    pack_messages,
)
from .receiver import Receiver, ReceiverConfig, ReceiverStats
from .sequenced import SequencedCapture, SequenceStats

__all__ = [
    "BadFrame",
    "BadPacket",
    "BadPcap",
    "BadSession",
    "Conflict",
    "CountMismatch",
    "DownstreamPacket",
    "EndOfSession",
    "Event",
    "FeedResumed",
    "GapDetected",
    "IncompleteCapture",
    "IncompleteReplay",
    "MessageStore",
    "MessageTooLarge",
    "Messages",
    "MoldError",
    "Publisher",
    "PublisherConfig",
    "Receiver",
    "ReceiverConfig",
    "ReceiverStats",
    "RequestPacket",
    "RequestServer",
    "SendRequest",
    "SequenceOverflow",
    "SequenceStats",
    "SequencedCapture",
    "ServerConfig",
    "SessionChanged",
    "SessionChoiceError",
    "StaleFeed",
    "TrailingBytes",
    "TruncatedPacket",
    "pack_messages",
    "parse_downstream",
    "parse_request",
]

__version__ = "0.3.0"
