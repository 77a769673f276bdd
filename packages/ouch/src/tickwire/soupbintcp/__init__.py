"""tickwire.soupbintcp: SoupBinTCP 3.0/4.0/4.1 packets, sans-I/O client and
server session cores, and asyncio adapters (uvloop when installed).

* :mod:`tickwire.soupbintcp.packets`: packet dataclasses, ``build_packet``,
  ``parse_client_packet`` / ``parse_server_packet``, ``PacketFramer``.
* :mod:`tickwire.soupbintcp.session`: ``ClientSession``, ``SoupServer`` and
  ``ServerConnection`` (bytes and time in, events and bytes out).
* :mod:`tickwire.soupbintcp.aio`: ``SoupClient`` and ``SoupServerRunner``.
"""

from .packets import (
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
    SequencedData,
    ServerHeartbeat,
    SoupVersion,
    UnsequencedData,
    build_packet,
    parse_client_packet,
    parse_server_packet,
)
from .session import (
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
)

__all__ = [
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
    "Rejected",
    "SequencedData",
    "ServerConnection",
    "ServerHeartbeat",
    "SessionEnded",
    "SessionError",
    "SoupServer",
    "SoupVersion",
    "SourceThrottle",
    "UnsequencedData",
    "build_packet",
    "parse_client_packet",
    "parse_server_packet",
]
