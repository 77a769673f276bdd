"""asyncio adapters for the sans-I/O SoupBinTCP cores (uvloop when installed).

The adapters own sockets and timers and nothing else: every protocol decision
is made by :class:`~tickwire.soupbintcp.session.ClientSession` and
:class:`~tickwire.soupbintcp.session.ServerConnection`. Timers are armed with
``loop.call_at`` at the core's ``next_deadline()``.

The adapters are the only place a clock is read: they pass ``loop.time()``, the
event loop's monotonic clock, as ``now``. Monotonic because ``now`` only measures
intervals (heartbeats, timeouts, the packet rate and failed-login buckets): a
wall-clock step (NTP, a leap second) would fire every timeout at once or starve
the heartbeats, and ``call_at`` expects the loop's own clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from .session import (
    Accepted,
    ClientSession,
    ClientState,
    Closed,
    Event,
    Message,
    Rejected,
    ServerConnection,
    SessionEnded,
    SoupServer,
    StreamDiverged,
    count_reason,
)

__all__ = ["LoginRejectedError", "SoupClient", "SoupServerRunner", "new_event_loop", "run"]

log = logging.getLogger("tickwire.soupbintcp")
T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop event loop when uvloop is installed, else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is installed."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


def _nodelay(transport: asyncio.BaseTransport) -> None:
    """Small packets must not wait for Nagle (uvloop sets this itself)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class LoginRejectedError(ConnectionError):
    """The server rejected the login ("A" not authorised, "S" session not available)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"login rejected ({reason})")
        self.reason = reason


# ------------------------------------------------------------------ client
class _ClientProtocol(asyncio.Protocol):
    def __init__(self, owner: SoupClient) -> None:
        self.owner = owner
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, hence the cast
        self.transport = cast(asyncio.Transport, transport)
        _nodelay(transport)
        self.owner._connected(self)

    def data_received(self, data: bytes) -> None:
        self.owner._received(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost(self)


class SoupClient:
    """A SoupBinTCP client connection that reconnects and resumes by itself.

    ``await client.connect()`` logs in (raising :class:`LoginRejectedError` on
    a rejection); ``client.send(msg)`` sends Unsequenced Data;
    ``await client.receive()`` returns the next :class:`Message` (sequenced
    ones carry their sequence number). When the connection drops and
    ``reconnect`` is on, the client reconnects (bounded attempts) and logs in
    at its next expected sequence number, so nothing is lost or seen twice.
    ``on_message(message)``, if given, receives messages directly (from the
    protocol callback, without a queue hop) instead of :meth:`receive`.
    ``tap(direction, data)``, if given, sees every chunk written ("out") and
    read ("in"), e.g. to write a capture. ``on_reconnect`` is called on every
    re-login, as soon as it is accepted and before anything else is sent (e.g.
    to resend unacknowledged orders). ``on_session_end``, if given, is called once the
    server's End of Session arrives (no reconnect follows: the session is over), so an
    application that sends on the session learns it can no longer.
    ``on_stream_diverged(client, event)``, if given, is called when the server's stream
    differs from the one delivered (a :class:`StreamDiverged`: the server was reset, e.g.
    a gateway restarted with an empty stream under the same session name), before the
    message that showed it is delivered; the server's messages from
    ``event.sequence`` on are delivered as new (:class:`ClientSession`, "Replays are
    checked"), and :attr:`streams_diverged` counts the events. Why: an application
    that matched answers to requests must learn that what it was told before may no
    longer be what the server holds (the live engine trips its kill switch). Test:
    ``test_soupbintcp_aio.py::test_a_server_that_restarts_its_stream_is_told_once_and_heard``.

    **Reconnecting.** A lost connection is replaced by a reconnect loop: at most
    ``max_reconnect_attempts`` (50) tries, the first after ``reconnect_delay``, each next
    one after twice the wait before, at most ``max_backoff`` (so 50 tries span about 47 s
    with the defaults). When the loop stops without a login (the tries are used up, or
    the re-login is rejected), it logs an error and calls ``on_reconnect_failed(client,
    reason)``, if given. Why: the tries came every ``reconnect_delay`` (50 ms), so a
    server down for 2.5 s (a restart) lost the session for good, and the application
    was not told: the live engine stayed armed and queued its orders for a resend that
    would never come. Test:
    ``test_soupbintcp_hostile_server.py::test_a_reconnect_that_fails_backs_off_and_is_told``.

    **Events.** :attr:`events` keeps the last ``keep_events`` (100) non-data events
    (:class:`Accepted`, :class:`Closed`, :class:`DebugText`...) for inspection, oldest
    first; older ones are dropped and counted in :attr:`events_dropped`, so a server
    that floods Debug packets cannot grow it. :attr:`skipped_messages` is the
    core's count of sequenced messages a server did not replay on a re-login
    (:attr:`ClientSession.skipped_messages`).

    **Login rejections.** "A" (Not Authorized) is final: no retry, no reconnect.
    "S" (Session not available) is retried, by :meth:`connect` and by the
    reconnect loop alike: a server allows one logged-in connection per session,
    and a network drop can leave it holding the old connection, half-open, until
    it notices the loss or its heartbeat timeout expires (15 s by default; the
    timeout this client asked for in its Login Request under SoupBinTCP 4.1).
    The algorithm:

    1. log in; accepted: done; "A": raise :class:`LoginRejectedError`;
    2. "S": close this connection, count it in :attr:`busy_retries`, wait
       ``delay`` (``reconnect_delay`` at first, doubled after each "S", at most
       ``max_backoff``), and go to 1;
    3. unless the next try would start more than ``busy_retry_for`` seconds
       after the first: then raise :class:`LoginRejectedError` ("S").

    **Messages nobody reads.** Without ``on_message``, :attr:`messages` holds what
    :meth:`receive` has not taken. Once it holds ``max_queued`` (10,000), the client
    stops reading the socket (:attr:`pauses` counts it) and reads again when
    :meth:`receive` has taken it down to half; the server's flow control keeps the rest,
    nothing is lost or reordered, and the server's heartbeat timeout does not run while
    the application, not the server, holds the reading
    (:meth:`ClientSession.hold_timeout`). Why: the queue was unbounded, so a client
    that never called :meth:`receive` held every message of the day. Test:
    ``test_soupbintcp_aio.py::test_messages_nobody_receives_pause_the_reading``. A
    connection made while the queue is still full reads until its login is answered,
    then pauses. Why: paused from ``connection_made``, it never read the Login Accepted
    (asyncio's loop: every reconnect timed out), or, on uvloop, which does not honour a
    pause there, never paused (the rest of the stream read into the queue). Test:
    ``test_soupbintcp_hostile_server.py::
    test_a_reconnect_while_the_application_holds_the_reading_logs_in_and_pauses``.
    """

    def __init__(
        self,
        core: ClientSession,
        host: str,
        port: int,
        *,
        reconnect: bool = True,
        reconnect_delay: float = 0.05,
        max_reconnect_attempts: int = 50,
        on_reconnect: Callable[[SoupClient], None] | None = None,
        tap: Callable[[str, bytes], None] | None = None,
        on_message: Callable[[Message], None] | None = None,
        busy_retry_for: float = 30.0,
        max_backoff: float = 1.0,
        keep_events: int = 100,
        max_queued: int = 10_000,
        on_session_end: Callable[[SoupClient], None] | None = None,
        on_stream_diverged: Callable[[SoupClient, StreamDiverged], None] | None = None,
        on_reconnect_failed: Callable[[SoupClient, str], None] | None = None,
    ) -> None:
        if busy_retry_for < 0 or max_backoff <= 0 or reconnect_delay <= 0:
            raise ValueError(
                "busy_retry_for must be >= 0, max_backoff and reconnect_delay > 0; got "
                f"{busy_retry_for}, {max_backoff}, {reconnect_delay}"
            )
        if keep_events < 1:
            raise ValueError(f"keep_events must be >= 1, got {keep_events}")
        if max_queued < 1:
            raise ValueError(f"max_queued must be >= 1, got {max_queued}")
        self.max_queued = max_queued
        #: Times the reading paused because :attr:`messages` was full (class docs).
        self.pauses = 0
        self._paused = False
        self.core = core
        self.tap = tap
        self.on_message = on_message
        self.host = host
        self.port = port
        self.reconnect = reconnect
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_attempts = max_reconnect_attempts
        self.on_reconnect = on_reconnect
        self.on_session_end = on_session_end
        self.on_stream_diverged = on_stream_diverged
        self.on_reconnect_failed = on_reconnect_failed
        self.busy_retry_for = busy_retry_for
        self.max_backoff = max_backoff
        #: Logins answered "S" (Session not available) and retried (see the class docs).
        self.busy_retries = 0
        self._rejected = False  # this connection's login was rejected
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        #: The last ``keep_events`` non-data events, for inspection (see the class docs).
        self.events: deque[Event] = deque(maxlen=keep_events)
        #: Events dropped from the full :attr:`events` (oldest first).
        self.events_dropped = 0
        #: Why the core closed the current or last connection (None: it did not).
        self.last_close_reason: str | None = None
        self.connections = 0
        self._proto: _ClientProtocol | None = None
        self._login: asyncio.Future[Accepted] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0
        self._closing = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._disconnected = asyncio.Event()
        self._accepted = asyncio.Event()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def connect(self, timeout: float = 5.0) -> Accepted:
        """Open a TCP connection and log in, retrying "S" (see the class docs);
        ``timeout`` bounds each attempt: a login unanswered by then raises
        ``TimeoutError`` with the connection closed (the core's login timeout,
        :meth:`ClientSession.timer`, sooner). Test: ``test_soupbintcp_hostile_server.py::
        test_soup_client_closes_a_connection_whose_login_went_unanswered``."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.busy_retry_for
        delay = self.reconnect_delay
        while True:
            try:
                return await self._login_once(timeout)
            except LoginRejectedError as exc:
                if exc.reason != "S" or self._closing or loop.time() + delay > give_up:
                    raise
            self.busy_retries += 1
            log.warning(
                "login rejected: session not available (a previous connection may still "
                "hold it); retry %d in %.2f s",
                self.busy_retries,
                delay,
            )
            if self._proto is not None and self._proto.transport is not None:
                self._proto.transport.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)
            if self._closing:
                raise LoginRejectedError("S")

    async def _login_once(self, timeout: float) -> Accepted:
        loop = asyncio.get_running_loop()
        self._login = loop.create_future()
        self._disconnected.clear()
        await loop.create_connection(lambda: _ClientProtocol(self), self.host, self.port)
        try:
            return await asyncio.wait_for(self._login, timeout)
        except TimeoutError:
            # unanswered in ``timeout``: this connection is given up, as the core gives it
            # up at its own login timeout (ClientSession.timer); left open, the core still
            # awaited the answer and the next connect could not log in
            proto = self._proto
            if proto is not None and proto.transport is not None:
                proto.transport.abort()
                self._lost(proto)
            # named, not bare: `engine live` printed "TimeoutError" and nothing else
            raise TimeoutError(
                f"{self.host}:{self.port}: no answer to the Login Request in {timeout:g} s"
            ) from None

    def send(self, message: bytes) -> None:
        """Send an Unsequenced Data packet (raises SessionError when not logged in)."""
        self.core.send_message(message, self.loop.time())
        self._flush()

    async def receive(self, timeout: float | None = None) -> Message:
        message = await asyncio.wait_for(self.messages.get(), timeout)
        if self._paused and self.messages.qsize() <= self.max_queued // 2:
            self._paused = False
            self.core.hold_timeout(self.loop.time())  # the pause was ours, not the server's
            if self._proto and self._proto.transport and not self._proto.transport.is_closing():
                self._proto.transport.resume_reading()
        return message

    def _pause_reading(self) -> None:
        self._paused = True
        self.pauses += 1
        if self._proto and self._proto.transport and not self._proto.transport.is_closing():
            self._proto.transport.pause_reading()

    @property
    def logged_in(self) -> bool:
        return self.core.state is ClientState.LOGGED_IN

    @property
    def skipped_messages(self) -> int:
        """Sequenced messages servers did not replay on a login (lost to this client)."""
        return self.core.skipped_messages

    @property
    def streams_diverged(self) -> int:
        """Times a server's stream differed from the one delivered (:class:`StreamDiverged`;
        the core's :attr:`ClientSession.streams_diverged`)."""
        return self.core.streams_diverged

    @property
    def unchecked_replays(self) -> int:
        """Replays dropped without a digest to check them against (older than the
        window, or before this client's first message: the core's
        :attr:`ClientSession.unchecked_replays`). Not an error: a reset stream numbered
        wholly below the window cannot be told from a replay, so an application can
        report how many it took on trust."""
        return self.core.unchecked_replays

    def drop(self) -> None:
        """Abort the TCP connection without logging out (tests a dropped link)."""
        if self._proto and self._proto.transport:
            self._proto.transport.abort()

    async def wait_disconnected(self) -> None:
        await self._disconnected.wait()

    async def wait_logged_in(self, timeout: float = 5.0) -> None:
        """Wait until logged in (again, after a reconnect)."""
        await asyncio.wait_for(self._accepted.wait(), timeout)

    async def close(self, *, logout: bool = True) -> None:
        """Log out and close; no reconnect (a reconnect loop under way is cancelled).

        ``logout=False`` aborts the connection without a Logout Request, as a killed
        process leaves it: the server keeps the session for the next login to resume.
        Why: setting ``reconnect = False`` and :meth:`drop` stop no reconnect loop
        already running, which logs in again and holds the session (a test's "crashed"
        client did, under faults). Test:
        ``test_soupbintcp_aio.py::test_close_without_logout_stops_a_reconnect_under_way``.
        """
        self._closing = True
        if self._reconnect_task:
            self._reconnect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect_task
        if self._proto and self._proto.transport and not self._proto.transport.is_closing():
            if not logout:
                self._proto.transport.abort()
            else:
                self._dispatch(self.core.logout(self.loop.time()))
                self._flush()
                self._proto.transport.close()
        if self._timer:
            self._timer.cancel()

    # -- protocol callbacks -------------------------------------------------
    def _connected(self, proto: _ClientProtocol) -> None:
        self._proto = proto
        self._rejected = False
        self.last_close_reason = None
        self.connections += 1
        # still full (self._paused): the reading pauses once the login is answered
        # (_dispatch, Accepted), not here: the answer must be read
        self.core.connect(self.loop.time())
        self._flush()
        self._arm()

    def _received(self, proto: _ClientProtocol, data: bytes) -> None:
        if proto is not self._proto:
            return
        if self.tap is not None:
            self.tap("in", data)
        self._dispatch(self.core.receive_data(data, self.loop.time()))
        self._flush()
        self._arm()

    def _lost(self, proto: _ClientProtocol) -> None:
        if proto is not self._proto:
            return
        self.core.connection_lost()
        self._proto = None
        self._accepted.clear()
        self._disconnected.set()
        if self._timer:
            self._timer.cancel()
            self._timer = None
        if self._login and not self._login.done():
            why = f" ({self.last_close_reason})" if self.last_close_reason else ""
            self._login.set_exception(ConnectionError(f"connection lost before login{why}"))
        if self._wants_reconnect() and self._reconnect_task is None:
            self._reconnect_task = self.loop.create_task(self._reconnect_loop())

    def _wants_reconnect(self) -> bool:
        """Whether a lost connection is to be replaced (by the reconnect loop)."""
        return (
            self.reconnect
            and not self._closing
            and not self._rejected  # connect() decides whether to try again
            and not self.core.ended
        )

    async def _reconnect_loop(self) -> None:
        """Reconnect, at most ``max_reconnect_attempts`` tries, until a login holds.

        A login whose connection is already lost when :meth:`connect` returns (accepted,
        then lost before this coroutine resumed: ``on_reconnect``'s resend failing, a
        server that closes after Login Accepted) counts as a failed attempt and the loop
        goes on. Why: :meth:`_lost` starts no second loop while this one's task is set,
        so the loop returning then left the client disconnected for good with
        ``reconnect=True``. Test (``test_soupbintcp_aio.py``):
        ``test_a_relogin_lost_before_the_reconnect_loop_resumes_is_reconnected``.
        """
        try:
            delay = self.reconnect_delay
            for _ in range(self.max_reconnect_attempts):
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)  # the next try, if any, waits more
                if self._closing:
                    return
                try:
                    await self.connect()
                except LoginRejectedError as exc:  # "A", or "S" for busy_retry_for
                    self._gave_up(f"re-login rejected ({exc.reason!r})")
                    return
                except (TimeoutError, OSError):
                    continue
                if self._proto is None and self._wants_reconnect():
                    log.warning("re-login lost at once; reconnecting")
                    continue  # _lost saw this task and started none
                return
            self._gave_up(f"could not reconnect after {self.max_reconnect_attempts} attempts")
        finally:
            self._reconnect_task = None

    def _gave_up(self, reason: str) -> None:
        """The reconnect loop stops without a login: log it and tell ``on_reconnect_failed``
        (the class docs, "Reconnecting")."""
        log.error("%s; giving up", reason)
        if self.on_reconnect_failed is not None:
            self.on_reconnect_failed(self, reason)

    def _dispatch(self, events: list[Event]) -> None:
        for ev in events:
            if isinstance(ev, Message):
                if self.on_message is not None:
                    self.on_message(ev)
                else:
                    self.messages.put_nowait(ev)
                    if not self._paused and self.messages.qsize() >= self.max_queued:
                        self._pause_reading()
                continue
            kept = self.events
            if len(kept) == kept.maxlen:
                self.events_dropped += 1
            kept.append(ev)
            if isinstance(ev, Accepted):
                self._accepted.set()
                transport = self._proto.transport if self._proto else None
                if self._paused and transport is not None and not transport.is_closing():
                    transport.pause_reading()  # still full: the login read, nothing more
                if self.connections > 1 and self.on_reconnect is not None:
                    # synchronously, before anything else can be sent on the new link:
                    # a resend must precede newer orders (UserRefNums only increase)
                    self.on_reconnect(self)
                if self._login and not self._login.done():
                    self._login.set_result(ev)
            elif isinstance(ev, Rejected):
                self._rejected = True
                if ev.reason != "S":
                    self._closing = True  # final; "S" is retried by connect()
                if self._login and not self._login.done():
                    self._login.set_exception(LoginRejectedError(ev.reason))
            elif isinstance(ev, SessionEnded):
                if self.on_session_end is not None:
                    self.on_session_end(self)
            elif isinstance(ev, StreamDiverged):
                if self.on_stream_diverged is not None:
                    self.on_stream_diverged(self, ev)
            elif isinstance(ev, Closed):
                self.last_close_reason = ev.reason
                log.info("client closing: %s", ev.reason)
                self._flush()
                if self._proto and self._proto.transport:
                    self._proto.transport.close()

    def _flush(self) -> None:
        data = self.core.data_to_send()
        if (
            data
            and self._proto
            and self._proto.transport
            and not self._proto.transport.is_closing()
        ):
            if self.tap is not None:
                self.tap("out", data)
            self._proto.transport.write(data)

    def _arm(self) -> None:
        deadline = self.core.next_deadline()
        if self._timer is not None:
            if deadline is not None and self._timer_when <= deadline:
                return  # fires earlier, finds nothing due yet, and re-arms then
            self._timer.cancel()
            self._timer = None
        if deadline is not None:
            self._timer_when = deadline
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._paused:  # the application holds the reading: no server timeout
            self.core.hold_timeout(self.loop.time())
        self._dispatch(self.core.timer(self.loop.time()))
        self._flush()
        self._arm()


# ------------------------------------------------------------------ server
class _ServerProtocol(asyncio.Protocol):
    def __init__(self, runner: SoupServerRunner) -> None:
        self.runner = runner
        self.transport: asyncio.Transport | None = None
        self.conn: ServerConnection | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.timer_when = 0.0
        self.paused = False  # the transport's write buffer is above its high-water mark
        self.unread: bytes = b""  # received, not yet handed to the core (a slice at a time)
        self.reading_held = False  # reading paused until ``unread`` is handed over

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        _nodelay(transport)
        # The address without the port: failed logins are throttled per address.
        source = peer[0] if isinstance(peer, tuple) and peer else peer
        self.conn = self.runner.core.connection(self.runner.loop.time(), str(peer), source)
        self.conn.batch_bytes = self.runner.batch_bytes
        self.runner.connections.add(self)
        if self.conn.refused is not None:  # the address's cap (SoupServer): closed now
            self.runner._handle(self, [Closed(self.conn.refused)])
            return
        self.arm()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.conn is not None and self.conn.backlog:
            self.runner._handle(self, self.conn.pump(self.runner.loop.time()))

    def data_received(self, data: bytes) -> None:
        """Hand the core ``read_slice`` bytes now; more waits for the next turn of the
        loop, reading paused meanwhile (see :class:`SoupServerRunner`)."""
        if self.unread:  # delivered while paused: after what waits, in order
            self.unread += data
            return
        self.unread = data
        self.next_slice()

    def next_slice(self) -> None:
        conn, transport = self.conn, self.transport
        assert conn is not None and transport is not None
        size = self.runner.read_slice
        data, self.unread = self.unread[:size], self.unread[size:]
        self.runner._handle(self, conn.receive_data(data, self.runner.loop.time()))
        if not self.unread or conn.closed or transport.is_closing():
            if self.reading_held and not transport.is_closing():
                transport.resume_reading()
            self.reading_held = False
            self.unread = b""
            return
        if not self.reading_held:
            self.reading_held = True
            transport.pause_reading()
        self.runner.loop.call_soon(self.next_slice)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn:
            self.conn.connection_lost()
        if self.timer:
            self.timer.cancel()
        self.runner.connections.discard(self)

    def flush(self) -> None:
        assert self.conn is not None and self.transport is not None
        data = self.conn.data_to_send()
        if data and not self.transport.is_closing():
            self.transport.write(data)
        if self.conn.closed and not self.transport.is_closing():
            self.transport.close()

    def arm(self) -> None:
        assert self.conn is not None
        deadline = self.conn.next_deadline()
        if self.timer is not None:
            if deadline is not None and self.timer_when <= deadline:
                return  # fires earlier, finds nothing due yet, and re-arms then
            self.timer.cancel()
            self.timer = None
        if deadline is not None:
            self.timer_when = deadline
            self.timer = self.runner.loop.call_at(deadline, self.on_timer)

    def on_timer(self) -> None:
        self.timer = None
        assert self.conn is not None
        self.runner._handle(self, self.conn.timer(self.runner.loop.time()))


MessageHandler = Callable[[ServerConnection, bytes], None]


class SoupServerRunner:
    """Serves a :class:`SoupServer` on a TCP port.

    ``on_message(connection, data)`` is called for each Unsequenced Data packet
    a logged-in client sends; it answers with :meth:`publish` (sequenced, the
    way OUCH answers) or ``connection.send_unsequenced``.

    Sequenced data goes out with write flow control: a connection queues at most
    ``batch_bytes`` of it at a time, and the next batch only while its transport is
    below the write buffer's high-water mark (``pause_writing``/``resume_writing``).
    The core keeps the stream for re-logins anyway, so a peer that stops reading holds
    a batch and the socket buffers, not a copy of the day, and gets every message, in
    order, once it reads again (test: ``test_soupbintcp_slow_reader.py``).

    What a peer sends is handled ``read_slice`` bytes (16 KiB) per turn of the event loop:
    a read larger than that is handed to the core a slice at a time, the socket's reading
    paused until the last one, each next slice after the other callbacks ready then (other
    connections, other servers on the loop, timers). Why: a read is up to 256 KiB, about
    5,000 OUCH orders, all handled in one callback (about 100 ms), so one peer's burst
    held every other port of the simulated exchange for as long, read after read; now it
    holds them for one slice. Order and content are unchanged. Test:
    ``test_soupbintcp_fairness.py::test_a_burst_on_one_port_does_not_hold_another_ports_messages``.

    Why connections closed, in bounded memory however many a peer opens:
    ``closed_reasons`` holds the last ``keep_reasons`` reasons in full, and
    ``closed_counts`` counts every close by
    :func:`~tickwire.soupbintcp.session.reason_kind` (at most 64 kinds, the
    rest under ``"other"``).
    """

    def __init__(
        self,
        core: SoupServer,
        on_message: MessageHandler | None = None,
        *,
        keep_reasons: int = 100,
        batch_bytes: int = 64 * 1024,
        read_slice: int = 16 * 1024,
    ) -> None:
        if batch_bytes < 1 or read_slice < 1:
            raise ValueError(
                f"batch_bytes and read_slice must be positive, got {batch_bytes}, {read_slice}"
            )
        self.core = core
        self.batch_bytes = batch_bytes
        self.read_slice = read_slice
        self.on_message = on_message
        self.connections: set[_ServerProtocol] = set()
        self._server: asyncio.Server | None = None
        self.closed_reasons: deque[str] = deque(maxlen=keep_reasons)
        self.closed_counts: dict[str, int] = {}

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen; returns the port (pick a free one with ``port=0``)."""
        self._server = await self.loop.create_server(lambda: _ServerProtocol(self), host, port)
        sock = self._server.sockets[0]
        return int(sock.getsockname()[1])

    def publish(self, message: bytes) -> int:
        """Append to the sequenced stream and send it to every logged-in client."""
        seq = self.core.publish(message)
        self.pump()
        return seq

    def pump(self) -> None:
        now = self.loop.time()
        for proto in list(self.connections):
            if proto.conn is not None and not proto.paused:
                self._handle(proto, proto.conn.pump(now))

    def end_session(self) -> None:
        self.core.end_session()
        self.pump()

    def _handle(self, proto: _ServerProtocol, events: list[Event]) -> None:
        conn = proto.conn
        assert conn is not None
        while True:
            for ev in events:
                if isinstance(ev, Message) and self.on_message is not None:
                    try:
                        self.on_message(conn, ev.data)
                    except Exception:  # an application bug must not kill the server
                        log.exception("message handler failed")
                elif isinstance(ev, Closed):
                    self.closed_reasons.append(ev.reason)
                    count_reason(self.closed_counts, ev.reason)
            proto.flush()
            # The socket took the batch without filling the buffer: the next one now
            # (each pump moves the cursor on, so this ends with the stream).
            if proto.paused or conn.closed or not conn.backlog:
                break
            assert proto.transport is not None
            if proto.transport.is_closing():
                break
            events = conn.pump(self.loop.time())
        if not conn.closed:
            proto.arm()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for proto in list(self.connections):
            if proto.transport is not None:
                proto.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()
