"""tickwire.soupbintcp: SoupBinTCP 3.0/4.0/4.1 packets, sans-I/O client and
server session cores, and asyncio adapters (uvloop when installed).

* :mod:`tickwire.soupbintcp.packets`: the packet table ``PACKET_TYPES``, packet
  dataclasses, ``build_packet``, ``parse_client_packet`` / ``parse_server_packet``,
  ``PacketFramer``.
* :mod:`tickwire.soupbintcp.state`: the transition table ``TRANSITIONS`` both
  cores follow, ``SessionState``.
* :mod:`tickwire.soupbintcp.session`: ``ClientSession``, ``SoupServer`` and
  ``ServerConnection`` (bytes and time in, events and bytes out).
* :mod:`tickwire.soupbintcp.fields`: ``PaddedText``, the space-padded ASCII field
  (OUCH's alpha fields use it too).
* :mod:`tickwire.soupbintcp.aio`: ``SoupClient`` and ``SoupServerRunner``.
"""

from .fields import PaddedText
from .packets import (
    PACKET_TYPES,
    ClientHeartbeat,
    Debug,
    EndOfSession,
    LoginAccepted,
    LoginRejected,
    LoginRequest,
    LogoutRequest,
    Packet,
    PacketError,
    PacketFramer,
    PacketType,
    Sender,
    SequencedData,
    ServerHeartbeat,
    SoupVersion,
    UnsequencedData,
    build_packet,
    parse_client_packet,
    parse_server_packet,
)
from .session import (
    MAX_SEQUENCE,
    Accepted,
    ClientSession,
    ClientState,
    Closed,
    DebugText,
    Event,
    LoggedIn,
    Message,
    Rejected,
    ServerConnection,
    SessionEnded,
    SessionError,
    SoupServer,
    SourceThrottle,
    StreamDiverged,
)
from .state import TRANSITIONS, Role, SessionState, TransitionError

__all__ = [
    "MAX_SEQUENCE",
    "PACKET_TYPES",
    "TRANSITIONS",
    "Accepted",
    "ClientHeartbeat",
    "ClientSession",
    "ClientState",
    "Closed",
    "Debug",
    "DebugText",
    "EndOfSession",
    "Event",
    "LoggedIn",
    "LoginAccepted",
    "LoginRejected",
    "LoginRequest",
    "LogoutRequest",
    "Message",
    "Packet",
    "PacketError",
    "PacketFramer",
    "PacketType",
    "PaddedText",
    "Rejected",
    "Role",
    "Sender",
    "SequencedData",
    "ServerConnection",
    "ServerHeartbeat",
    "SessionEnded",
    "SessionError",
    "SessionState",
    "SoupServer",
    "SoupVersion",
    "SourceThrottle",
    "StreamDiverged",
    "TransitionError",
    "UnsequencedData",
    "build_packet",
    "parse_client_packet",
    "parse_server_packet",
]
