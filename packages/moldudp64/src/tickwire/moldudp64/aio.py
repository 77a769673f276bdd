"""asyncio adapters: a UDP receiver and a publisher with its re-request server.

They wrap the sans-I/O cores (:class:`~tickwire.moldudp64.receiver.Receiver`,
:class:`~tickwire.moldudp64.publisher.Publisher`,
:class:`~tickwire.moldudp64.publisher.RequestServer`) with datagram endpoints and
``loop.call_at`` timers driven by the cores' ``next_deadline()``. Multicast (group join on
an interface, TTL, loopback) and unicast both work. :func:`run` and :func:`new_event_loop`
use uvloop when it is installed (the ``uvloop`` extra) and the standard loop otherwise.

Example (unicast on loopback)::

    async def main():
        rx = await MoldReceiver.create(Line(port=0, host="127.0.0.1"), config=ReceiverConfig())
        ...
        async for session, seq, msg in rx.messages():
            ...
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from .events import Address, EndOfSession, Event, Messages, SendRequest
from .publisher import Publisher, PublisherConfig, RequestServer, ServerConfig
from .receiver import Receiver, ReceiverConfig

__all__ = [
    "Line",
    "MoldPublisher",
    "MoldReceiver",
    "have_uvloop",
    "new_event_loop",
    "run",
]

log = logging.getLogger("tickwire.moldudp64.aio")
T = TypeVar("T")


def have_uvloop() -> bool:
    """True when uvloop is importable."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop event loop when uvloop is installed, else the standard one."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run(coro: Coroutine[Any, Any, T], *, use_uvloop: bool = True) -> T:
    """``asyncio.run`` on uvloop when it is installed (and ``use_uvloop``)."""
    factory = new_event_loop if use_uvloop else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def _is_multicast(host: str) -> bool:
    try:
        return 224 <= socket.inet_aton(host)[0] <= 239
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class Line:
    """One feed line to listen on: a UDP port, unicast ``host`` or a multicast ``group``."""

    port: int
    host: str = "0.0.0.0"
    #: Multicast group to join (None: unicast).
    group: str | None = None
    #: Local address of the interface to join the group on.
    interface: str = "0.0.0.0"

    def socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        if self.group is not None:
            sock.bind((self.group, self.port))
            mreq = struct.pack(
                "4s4s", socket.inet_aton(self.group), socket.inet_aton(self.interface)
            )
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        else:
            sock.bind((self.host, self.port))
        sock.setblocking(False)
        return sock


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[bytes, Address], None]) -> None:
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's selector transport does not subclass DatagramTransport; it is one.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("socket error: %s", exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _ignore(data: bytes, addr: Address) -> None:
    """The feed socket only sends; anything arriving on it is dropped."""


def _factory(proto: _Datagrams) -> Callable[[], _Datagrams]:
    return lambda: proto


class _Timer:
    """One ``call_at`` timer driven by a sans-I/O core's next deadline."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fire: Callable[[], None]) -> None:
        self._loop = loop
        self._fire = fire
        self._handle: asyncio.TimerHandle | None = None
        self._at = float("inf")

    def arm(self, deadline: float | None) -> None:
        if deadline is None or deadline >= self._at:
            return
        if self._handle is not None:
            self._handle.cancel()
        self._at = deadline
        self._handle = self._loop.call_at(deadline, self._run)

    def _run(self) -> None:
        self._handle = None
        self._at = float("inf")
        self._fire()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._at = float("inf")


_END = object()


class MoldReceiver:
    """A MoldUDP64 receiver on one or more UDP lines (A/B), with gap recovery.

    Requests go out of a separate unicast socket (bound to ``request_bind``; a socket bound
    to a multicast group cannot send), and the server's unicast answers come back to it.
    Messages are available from :meth:`messages` / :meth:`events`; every event (messages
    included) is also passed to ``on_event`` when given.

    Every datagram on these sockets goes through the receiver's rules for stray and hostile
    packets (:mod:`tickwire.moldudp64.receiver`): anyone who can reach the port can send
    one, so pin the feed's session (``ReceiverConfig.session``) where it is known.

    Datagrams of the feed that reach the process by another path than these sockets (XDP's
    copy of a frame it turned into an order, for one) are handed over with
    :meth:`receive_datagram`; ``before_datagram`` lets such a source hand over its older
    packets before each socket datagram is processed.

    ``queue_size`` (0: no limit) bounds what waits for :meth:`events`: while that many
    events wait, a datagram is dropped before the receiver sees it
    (:attr:`datagrams_dropped`), so it is a gap, requested again once the application
    has caught up, never a message lost after delivery. Why: the queue raised
    ``QueueFull`` inside the datagram callback once full, after the receiver had
    delivered the packet's messages: they were lost, and :meth:`close` raised too. Test:
    ``test_moldudp64_aio.py::test_a_full_queue_drops_datagrams_before_the_receiver``.
    """

    def __init__(
        self,
        receiver: Receiver,
        on_event: Callable[[Event], None] | None = None,
        queue_size: int = 0,
    ) -> None:
        self.receiver = receiver
        self.on_event = on_event
        self._loop = asyncio.get_running_loop()
        self._protocols: list[_Datagrams] = []
        self._requests: _Datagrams | None = None
        if queue_size < 0:
            raise ValueError(f"queue_size must be >= 0, got {queue_size}")
        self.queue_size = queue_size
        #: datagrams dropped before the receiver while the queue was full (class docs)
        self.datagrams_dropped = 0
        # unbounded itself: one datagram may give several events (queue_size is checked
        # before the receiver, in _on_datagram)
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._timer = _Timer(self._loop, self._tick)
        self._closed = False
        #: Called with each datagram from the receiver's sockets before it is processed. A
        #: second source of the same feed hands over its copies of older packets here, so
        #: they are delivered first instead of the newer packet opening a gap that they
        #: would close a moment later.
        self.before_datagram: Callable[[bytes], object] | None = None

    @classmethod
    async def create(
        cls,
        *lines: Line,
        config: ReceiverConfig | None = None,
        on_event: Callable[[Event], None] | None = None,
        request_bind: tuple[str, int] = ("0.0.0.0", 0),
        queue_size: int = 0,
    ) -> MoldReceiver:
        if not lines:
            raise ValueError("at least one line to listen on")
        self = cls(Receiver(config), on_event, queue_size)
        requests = _Datagrams(self._on_socket_datagram)
        await self._loop.create_datagram_endpoint(_factory(requests), local_addr=request_bind)
        self._requests = requests
        for line in lines:
            proto = _Datagrams(self._on_socket_datagram)
            await self._loop.create_datagram_endpoint(_factory(proto), sock=line.socket())
            self._protocols.append(proto)
        return self

    @property
    def local_addresses(self) -> list[tuple[str, int]]:
        out = []
        for p in self._protocols:
            assert p.transport is not None
            out.append(p.transport.get_extra_info("sockname"))
        return out

    def receive_datagram(self, data: bytes, addr: Address) -> None:
        """Process a datagram of the feed that came from ``addr`` by another path than the
        receiver's sockets, exactly as if one of them had received it now.

        Messages already delivered or buffered are dropped by sequence number, so a packet
        that arrives both ways is delivered once. Ignored after :meth:`close`.
        """
        if not self._closed:
            self._on_datagram(data, addr)

    def _on_socket_datagram(self, data: bytes, addr: Address) -> None:
        if self.before_datagram is not None:
            self.before_datagram(data)
        self._on_datagram(data, addr)

    def _on_datagram(self, data: bytes, addr: Address) -> None:
        if self.queue_size and self._queue.qsize() >= self.queue_size:
            self.datagrams_dropped += 1  # a gap, recovered later (class docs)
            return
        self._handle(self.receiver.receive(data, addr, self._loop.time()))

    def _tick(self) -> None:
        if not self._closed:
            self._handle(self.receiver.tick(self._loop.time()))

    def _handle(self, events: list[Event]) -> None:
        for ev in events:
            if isinstance(ev, SendRequest):
                tr = self._requests.transport if self._requests is not None else None
                if tr is not None and not tr.is_closing():
                    tr.sendto(ev.data, ev.to)
            elif isinstance(ev, Messages | EndOfSession):
                self._queue.put_nowait(ev)
            if self.on_event is not None:
                self.on_event(ev)
        if not self._closed:
            self._timer.arm(self.receiver.next_deadline())

    async def messages(self) -> AsyncIterator[tuple[str, int, bytes]]:
        """``(session, sequence, message)`` in order, until :meth:`close` (or end of session
        when ``stop_at_end``)."""
        async for ev in self.events():
            if isinstance(ev, Messages):
                for i, m in enumerate(ev.messages):
                    yield ev.session, ev.sequence + i, m

    async def events(self) -> AsyncIterator[Messages | EndOfSession]:
        """Messages and end-of-session events in order, until :meth:`close`."""
        while True:
            ev = await self._queue.get()
            if ev is _END:
                return
            yield ev

    async def close(self) -> None:
        """Stop timers, close the sockets and end the iterators."""
        if self._closed:
            return
        self._closed = True
        self._timer.cancel()
        protocols = [*self._protocols, *([self._requests] if self._requests else [])]
        for p in protocols:
            if p.transport is not None:
                p.transport.close()
        for p in protocols:
            await p.closed
        self._queue.put_nowait(_END)

    async def __aenter__(self) -> MoldReceiver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class MoldPublisher:
    """A MoldUDP64 publisher sending to ``target`` (a multicast group or a unicast address),
    with its re-request server listening on ``request_bind``.

    ``target`` may be reassigned (e.g. once a receiver's port is known); requests are
    answered unicast to whoever sent them, from the request socket.
    """

    def __init__(
        self, publisher: Publisher, server: RequestServer, target: tuple[str, int]
    ) -> None:
        self.publisher = publisher
        self.server = server
        self.target = target
        self._loop = asyncio.get_running_loop()
        self._feed: _Datagrams | None = None
        self._requests: _Datagrams | None = None
        self._timer = _Timer(self._loop, self._tick)
        self._closed = False

    @classmethod
    async def create(
        cls,
        config: PublisherConfig,
        target: tuple[str, int],
        *,
        request_bind: tuple[str, int] | None = ("0.0.0.0", 0),
        server_config: ServerConfig | None = None,
        source: tuple[str, int] = ("0.0.0.0", 0),
        multicast_ttl: int = 1,
        multicast_interface: str | None = None,
        multicast_loop: bool = True,
    ) -> MoldPublisher:
        """Open the feed socket (and the request socket unless ``request_bind`` is None).

        Without ``server_config`` the re-request server answers in packets of the
        publisher's ``max_payload``: it built them at the default 1,400 bytes whatever the
        publisher's, so a publisher of larger packets could not re-send a message longer
        than 1,400 bytes (refused as ``too_large``) and the receiver's gap never filled.
        Test: ``test_moldudp64_server.py::test_the_server_answers_in_the_publishers_packet_size``.
        """
        pub = Publisher(config)
        if server_config is None:
            server_config = ServerConfig(max_payload=config.max_payload)
        self = cls(pub, RequestServer(config.session, pub.store, server_config), target)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        sock.bind(source)
        if _is_multicast(target[0]):
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, multicast_ttl)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, int(multicast_loop))
            if multicast_interface is not None:
                sock.setsockopt(
                    socket.IPPROTO_IP,
                    socket.IP_MULTICAST_IF,
                    socket.inet_aton(multicast_interface),
                )
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        sock.setblocking(False)
        feed = _Datagrams(_ignore)
        await self._loop.create_datagram_endpoint(lambda: feed, sock=sock)
        self._feed = feed
        if request_bind is not None:
            requests = _Datagrams(self._on_request)
            await self._loop.create_datagram_endpoint(lambda: requests, local_addr=request_bind)
            self._requests = requests
        self._timer.arm(self._loop.time())
        return self

    @property
    def request_address(self) -> tuple[str, int] | None:
        """Where the re-request server listens."""
        if self._requests is None or self._requests.transport is None:
            return None
        addr: tuple[str, int] = self._requests.transport.get_extra_info("sockname")
        return addr

    def _send(self, data: bytes, addr: Address) -> None:
        """Send one datagram (feed packets to the target, answers to a requester)."""
        proto = self._feed if addr == self.target else self._requests
        if proto is not None and proto.transport is not None and not proto.transport.is_closing():
            proto.transport.sendto(data, addr)

    def _send_all(self, packets: Sequence[bytes]) -> None:
        for p in packets:
            self._send(p, self.target)
        if not self._closed:
            self._timer.arm(self.publisher.next_deadline())

    def publish(self, message: bytes) -> None:
        """Queue a message; full packets go out now, the rest after the flush interval."""
        self._send_all(self.publisher.publish(message, self._loop.time()))

    def publish_many(self, messages: Sequence[bytes]) -> None:
        self._send_all(self.publisher.publish_many(messages, self._loop.time()))

    def flush(self) -> None:
        self._send_all(self.publisher.flush(self._loop.time()))

    def _tick(self) -> None:
        self._send_all(self.publisher.tick(self._loop.time()))

    def _on_request(self, data: bytes, addr: Address) -> None:
        for p in self.server.handle(data, addr, self._loop.time()):
            self._send(p, addr)

    async def end_session(self) -> None:
        """Flush and send end of session; keep serving requests (and repeating the end)."""
        self._send_all(self.publisher.close(self._loop.time()))

    async def close(self) -> None:
        """End the session if not done, then close the sockets."""
        if self._closed:
            return
        if not self.publisher.closed:
            await self.end_session()
        self._closed = True
        self._timer.cancel()
        for p in (self._feed, self._requests):
            if p is not None and p.transport is not None:
                p.transport.close()
                await p.closed

    async def __aenter__(self) -> MoldPublisher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
