"""OUCH order entry over SoupBinTCP with asyncio: a client and a host server.

:class:`OuchClient` sends orders as Unsequenced Data and tracks them from the
Sequenced Data the host returns (:class:`~tickwire.ouch.orders.OrderBook50`
or :class:`~tickwire.ouch.orders.OrderBook42`). After a dropped connection it
logs in at its next expected sequence number and resends what was not yet
acknowledged; the host ignores repeats, so nothing is lost or doubled.

:func:`serve_ouch` runs an :class:`~tickwire.ouch.orders.OuchHost50` (or 4.2)
behind a :class:`~tickwire.soupbintcp.aio.SoupServerRunner`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from tickwire.cli import log_first
from tickwire.cli.output import LOGGED_FIRST
from tickwire.soupbintcp.aio import SoupClient, SoupServerRunner
from tickwire.soupbintcp.packets import SoupVersion
from tickwire.soupbintcp.session import ClientSession, ServerConnection, SoupServer, StreamDiverged
from tickwire.soupbintcp.session import Message as SoupMessage

from . import v42, v50
from ._errors import OuchError
from ._wire import Message
from ._wire import encode as encode_message
from .deadlines import DeadlineTimer
from .orders import OrderBook42, OrderBook50, OuchHost42, OuchHost50

__all__ = ["OuchClient", "OuchServer", "ns_since_midnight", "serve_ouch"]

log = logging.getLogger("tickwire.ouch")
Version = Literal["4.2", "5.0"]


def ns_since_midnight() -> int:
    """The wall clock as ITCH and OUCH stamp their messages: nanoseconds since local midnight.

    The project's one wall clock (the live engine, the simulated exchange and the OUCH
    server all read this one). A wall clock, not a monotonic one: an OUCH timestamp is a
    time of day that the peer compares with its own and with market data, so it must agree
    with the wall; local midnight because the venue stamps its own (exchange-local) day, and
    a host runs in its venue's time zone. Measuring intervals (timeouts, rate windows) uses
    a monotonic clock instead.
    """
    now = time.time_ns()
    lt = time.localtime(now // 1_000_000_000)
    seconds = lt.tm_hour * 3600 + lt.tm_min * 60 + lt.tm_sec
    return seconds * 1_000_000_000 + now % 1_000_000_000


#: How many undecodable inbound messages an :class:`OuchServer` logs (all are counted).
LOGGED_UNDECODABLE = LOGGED_FIRST  # (tickwire.cli.log_first's rule)


class OuchClient:
    """An OUCH 4.2 or 5.0 order-entry client.

    Every message from the host is applied to :attr:`book` as it arrives; :attr:`updates`
    (read with :meth:`next_update`) keeps the last ``keep_updates`` (10,000) of them for
    the application, oldest first, and counts the older ones it dropped in
    :attr:`updates_dropped`. Why: a client that reads the book and never the updates held
    every answer of the day in an unbounded queue. Test:
    ``test_ouch_aio.py::test_updates_nobody_reads_are_bounded``. A message no decoder can
    read is counted in :attr:`undecodable` and the first :data:`LOGGED_UNDECODABLE` are
    logged (each was an error line, at the host's rate; test:
    ``test_ouch_aio.py::test_undecodable_outbound_is_counted_and_logged_a_few_times``).

    **The link's fate.** The :class:`~tickwire.soupbintcp.aio.SoupClient` under it
    (:attr:`soup`) reconnects by itself (``reconnect_delay``, ``max_reconnect_attempts``,
    ``max_backoff``: its class docs, "Reconnecting"); its callbacks are this client's,
    called with this client instead of the SoupClient:

    * ``on_reconnect(client)``: a re-login was accepted, after :attr:`book`'s pending
      requests were resent (:attr:`resent`) and before anything newer is sent;
    * ``on_session_end(client)``: the host's End of Session arrived; nothing more can
      be sent on the session and no reconnect follows;
    * ``on_stream_diverged(client, event)``: the host's stream is not the one applied to
      :attr:`book` (a :class:`~tickwire.soupbintcp.session.StreamDiverged`: it was
      reset); what the book was told may no longer be what the host holds;
    * ``on_reconnect_failed(client, reason)``: the reconnect loop stopped without a login
      (tries used up, or the re-login rejected); the link is lost for good and the
      pending requests will not be resent.

    Why: an OuchClient user could not learn that the link was lost for good (nor that
    the session ended or the host's stream was reset) without reaching into
    :attr:`soup`. Test:
    ``test_ouch_aio.py::test_a_reconnect_that_fails_is_told_to_the_ouch_client``.

    >>> # async with OuchClient("127.0.0.1", port, "USER01", "secret") as c:
    >>> #     msg = c.book.enter("B", 100, "AAPL", 1_500_000); c.send(msg)
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        version: Version = "5.0",
        session: str = "",
        next_sequence: int = 1,
        soup_version: SoupVersion = SoupVersion.V4_1,
        heartbeat_interval: float = 1.0,
        timeout: float = 15.0,
        reconnect: bool = True,
        tap: Callable[[str, bytes], None] | None = None,
        keep_updates: int = 10_000,
        reconnect_delay: float = 0.05,
        max_reconnect_attempts: int = 50,
        max_backoff: float = 1.0,
        on_reconnect: Callable[[OuchClient], None] | None = None,
        on_session_end: Callable[[OuchClient], None] | None = None,
        on_stream_diverged: Callable[[OuchClient, StreamDiverged], None] | None = None,
        on_reconnect_failed: Callable[[OuchClient, str], None] | None = None,
    ) -> None:
        if keep_updates < 1:
            raise ValueError(f"keep_updates must be >= 1, got {keep_updates}")
        self.version = version
        self.book: OrderBook50 | OrderBook42 = OrderBook50() if version == "5.0" else OrderBook42()
        self._decode = v50.decode_outbound if version == "5.0" else v42.decode_outbound
        core = ClientSession(
            username,
            password,
            session=session,
            next_sequence=next_sequence,
            version=soup_version,
            heartbeat_interval=heartbeat_interval,
            timeout=timeout,
        )
        self.on_reconnect = on_reconnect
        self.on_session_end = on_session_end
        self.on_stream_diverged = on_stream_diverged
        self.on_reconnect_failed = on_reconnect_failed
        self.soup = SoupClient(
            core,
            host,
            port,
            reconnect=reconnect,
            reconnect_delay=reconnect_delay,
            max_reconnect_attempts=max_reconnect_attempts,
            max_backoff=max_backoff,
            on_reconnect=self._resend,
            tap=tap,
            on_message=self._on_message,
            on_session_end=self._session_ended,
            on_stream_diverged=self._stream_diverged,
            on_reconnect_failed=self._reconnect_failed,
        )
        self.updates: asyncio.Queue[Message] = asyncio.Queue(keep_updates)
        #: updates dropped, oldest first, from the full :attr:`updates` (class docs)
        self.updates_dropped = 0
        #: messages from the host no decoder could read (class docs)
        self.undecodable = 0
        self.resent = 0

    @property
    def book50(self) -> OrderBook50:
        """:attr:`book`, typed, for an OUCH 5.0 client."""
        if not isinstance(self.book, OrderBook50):
            raise OuchError("this is an OUCH 4.2 client")
        return self.book

    @property
    def book42(self) -> OrderBook42:
        """:attr:`book`, typed, for an OUCH 4.2 client."""
        if not isinstance(self.book, OrderBook42):
            raise OuchError("this is an OUCH 5.0 client")
        return self.book

    async def __aenter__(self) -> OuchClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        await self.soup.connect()

    def send(self, msg: Message) -> bool:
        """Send an inbound message built by :attr:`book`.

        While disconnected nothing is sent and False is returned: the book keeps
        the request pending and it goes out with the resend after the re-login.
        """
        if not self.soup.logged_in:
            return False
        self.soup.send(encode_message(msg))
        return True

    async def next_update(self, timeout: float | None = 5.0) -> Message:
        """The next outbound message from the host (already applied to :attr:`book`)."""
        return await asyncio.wait_for(self.updates.get(), timeout)

    async def close(self) -> None:
        await self.soup.close()

    def _resend(self, soup: SoupClient) -> None:
        for msg in self.book.pending():
            soup.send(encode_message(msg))
            self.resent += 1
        if self.on_reconnect is not None:  # after the resend (class docs)
            self.on_reconnect(self)

    def _session_ended(self, soup: SoupClient) -> None:
        if self.on_session_end is not None:
            self.on_session_end(self)

    def _stream_diverged(self, soup: SoupClient, event: StreamDiverged) -> None:
        if self.on_stream_diverged is not None:
            self.on_stream_diverged(self, event)

    def _reconnect_failed(self, soup: SoupClient, reason: str) -> None:
        if self.on_reconnect_failed is not None:
            self.on_reconnect_failed(self, reason)

    def _on_message(self, ev: SoupMessage) -> None:
        """Sequenced (and 4.0+ unsequenced) data from the host, straight from the protocol."""
        try:
            msg = self._decode(ev.data)
        except OuchError as exc:
            self.undecodable += 1
            log_first(
                log,
                logging.ERROR,
                self.undecodable,
                "undecodable OUCH message at sequence %s: %s",
                ev.sequence_number,
                exc,
            )
            return
        if isinstance(self.book, OrderBook50):
            assert isinstance(msg, v50.OutboundMessage)
            self.book.on_message(msg)
        else:
            assert isinstance(msg, v42.OutboundMessage)
            self.book.on_message(msg)
        if self.updates.full():  # nobody reads them: keep the newest (class docs)
            self.updates.get_nowait()
            self.updates_dropped += 1
        self.updates.put_nowait(msg)


@dataclass
class OuchServer:
    """A running OUCH host: the SoupBinTCP runner, the order host and the port.

    ``undecodable`` counts the inbound messages no decoder could read (not answered); the
    first :data:`LOGGED_UNDECODABLE` are logged. Why: each was a warning line, so a
    logged-in client sending garbage wrote one per message, as fast as the packet rate
    limit let it, and nothing counted them. Test:
    ``test_ouch_aio.py::test_undecodable_inbound_is_counted_and_logged_a_few_times``.
    """

    runner: SoupServerRunner
    host: OuchHost50 | OuchHost42
    port: int
    undecodable: int = 0
    #: the timer of the host's next order deadline (:func:`serve_ouch`)
    expiry: DeadlineTimer | None = None

    async def close(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        await self.runner.close()


async def serve_ouch(
    users: Mapping[str, str],
    *,
    version: Version = "5.0",
    host: str = "127.0.0.1",
    port: int = 0,
    session: str = "SESSION001",
    soup_version: SoupVersion = SoupVersion.V4_1,
    heartbeat_interval: float = 1.0,
    timeout: float = 15.0,
    max_packet_length: int = 1024,
    max_rate: float = 5000.0,
    burst: int = 1000,
    clock: Callable[[], int] = ns_since_midnight,
    deadline_clock: Callable[[], int] = time.monotonic_ns,
) -> OuchServer:
    """Start an OUCH host on ``host:port`` (``port=0`` picks a free one). The host's
    answers are stamped ``clock()`` (ns since midnight; the wall clock by default).

    Order deadlines (a 5.0 GTT's ExpireTime, a 4.2 Time In Force in seconds) are
    measured on ``deadline_clock`` (ns, only runs forward; ``time.monotonic_ns``), the
    host's own: a timer is armed for the host's ``next_expiry()`` after every message
    and when it fires, and then sends the host's ``expire`` answers (Order Canceled,
    reason ``T``) unsolicited, as the simulated exchange's server does
    (``Exchange._arm_expiry``). Why: the host never expired an order. Test:
    ``test_ouch_aio.py::test_serve_ouch_expires_a_gtt_order_unsolicited``.
    """
    core = SoupServer(
        users,
        session=session,
        version=soup_version,
        heartbeat_interval=heartbeat_interval,
        timeout=timeout,
        max_packet_length=max_packet_length,
        max_rate=max_rate,
        burst=burst,
    )
    ouch_host: OuchHost50 | OuchHost42 = (
        OuchHost50(deadline_clock=deadline_clock)
        if version == "5.0"
        else OuchHost42(deadline_clock=deadline_clock)
    )

    def publish(replies: list[Message]) -> None:
        for reply in replies:
            runner.core.publish(encode_message(reply))
        if replies:
            runner.pump()

    def arm_expiry() -> None:
        """(Re)start the timer for the host's next deadline, if any."""
        timer.arm(ouch_host.next_expiry())

    def on_expiry() -> None:
        publish(list(ouch_host.expire(clock())))
        arm_expiry()

    timer = DeadlineTimer(deadline_clock, on_expiry)

    def on_message(conn: ServerConnection, data: bytes) -> None:
        replies: list[Message]
        try:
            if isinstance(ouch_host, OuchHost50):
                replies = list(ouch_host.handle(v50.decode_inbound(data), clock()))
            else:
                replies = list(ouch_host.handle(v42.decode_inbound(data), clock()))
        except OuchError as exc:
            server.undecodable += 1
            log_first(
                log,
                logging.WARNING,
                server.undecodable,
                "undecodable inbound OUCH from %s: %s",
                conn.peer,
                exc,
            )
            return
        publish(replies)
        arm_expiry()

    runner = SoupServerRunner(core, on_message)
    server = OuchServer(runner, ouch_host, await runner.start(host, port), expiry=timer)
    return server
