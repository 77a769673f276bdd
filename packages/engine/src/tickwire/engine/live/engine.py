"""The live engine: MoldUDP64 feed in, books, strategy, risk, OUCH 5.0 out.

:class:`LiveEngine` wires the existing parts together on one (uvloop) event loop:

* a :class:`~tickwire.moldudp64.aio.MoldReceiver` with gap recovery against the feed's
  re-request server; its in-order messages are decoded with ``tickwire.itch.decode``;
* a :class:`~tickwire.engine.strategy.live.LiveRunner` (books, strategy, pre-trade risk,
  the OUCH 5.0 order manager), unchanged from what the backtest drives;
* a SoupBinTCP client session (``tickwire.soupbintcp.aio.SoupClient``) carrying OUCH 5.0;
* optionally (``LiveConfig.xdp_mirror``) the ring buffer of a tickwire XDP program attached
  to the feed's interface: frames it turned into orders never reach the feed socket, and
  its copies of them (``tickwire.xdp.MirrorFeed``) go into the same receiver, so they are
  not gaps. The mirror is a plugin: the engine never imports tickwire-xdp, it loads the
  ``xdp-mirror`` entry point of the group ``tickwire.engine.feeds`` (:data:`FEED_PLUGINS`),
  which tickwire-xdp registers; without it installed, asking for the mirror says so.

A dropped OUCH connection loses nothing and doubles nothing: the client reconnects and
logs in at its next expected sequence number, so every answer the exchange sequenced
meanwhile is replayed; and every request not yet acknowledged (sent into the dead link, or
made while it was down) is resent, in UserRefNum order, as soon as the login is accepted.
OUCH makes a repeat harmless: the exchange ignores an Enter or Replace whose UserRefNum is
not above the last one it processed, and a cancel of an order that is gone.

The kill switch is the risk engine's: :meth:`LiveEngine.kill` refuses every new order
from the next market data message on (in fact from the next call: nothing queued passes)
and cancels what is open. Another process trips and resets it through the control socket
(:func:`send_command`). :meth:`LiveEngine.stop` (SIGINT, SIGTERM, the feed's end of
session) kills, cancels open orders and waits for the answers, logs out and writes the
session report.

The feed's session changing trips the kill switch too. Unpinned (no ``feed_session``),
the receiver adopts the first session two packets confirm and moves to another after the
first one's end or silence (:mod:`tickwire.moldudp64.receiver`): two stray packets sent
before the feed starts are a session, adopted, and their orders stay in the books when the
real feed takes over. The books then hold two sessions' orders and no rule can tell them
apart, so the engine stops trading on them: it trips the kill switch, cancels what is open,
logs a warning naming both sessions and counts the change (``feed.session_changes`` in
the report). ``arm`` resumes, on the operator's word; pinning the session
(``--feed-session``, ``[feed] session``) keeps such packets out altogether. Test:
``test_engine_live.py::test_a_session_change_trips_the_kill_switch`` (the books differed
from the exchange's and the engine traded on, with no word, on the old code).

So does a copy of feed messages that differs from the copy applied
(:class:`~tickwire.moldudp64.events.Conflict`, the receiver's "Copies that differ"). A
forged packet of the real session, with the right sequence numbers, that arrives before
the real one is applied, and the real one is dropped as an A/B duplicate: the books may
hold made-up orders, and only the real copy, arriving later and differing, shows it. The
engine trips the kill switch (when armed: a flood of forged packets trips it once, not
once a packet), cancels what is open, logs a warning naming the sequence number and the
sender, and counts the messages (``feed.conflicts`` in the report, on the dashboard).
A forged copy after the real one trips it too (nothing tells which copy is real): one
packet can stop the trading, never make it trade on a forged book.
Test: ``test_engine_live_multicast.py::test_live_multicast_forged_packet_first`` (a
forged packet before lines A and B; on the old code the engine traded on).

So does an OUCH re-login the exchange resumes past the sequence asked for (the answers
between, ``ouch.skipped``, are lost): :meth:`LiveEngine._relogged_in`; and an OUCH stream
the exchange reset (a gateway restarted with an empty stream under the same session
name: its answers differ from those delivered, ``ouch.stream_diverged``), whose answers
are processed as new: :meth:`LiveEngine._ouch_stream_diverged`.

A start on an OUCH session that already holds a previous run's answers (a restart
mid-day) inherits them before it trades: the orders still open are cancelled, the
position is booked, and UserRefNums go on above the exchange's last
(:meth:`LiveEngine._inherit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import stat
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol

from tickwire.cli import atomic_open, log_first, one_line
from tickwire.cli.output import LOGGED_FIRST
from tickwire.engine.backtest.fees import FeeSchedule
from tickwire.engine.book import fault_counts
from tickwire.engine.risk import RiskLimits
from tickwire.engine.strategy.api import Strategy
from tickwire.engine.strategy.live import LiveRunner
from tickwire.itch import DecodeError, Message
from tickwire.itch import decode as itch_decode
from tickwire.moldudp64.aio import Line, MoldReceiver
from tickwire.moldudp64.codec import encode_session
from tickwire.moldudp64.errors import BadSession
from tickwire.moldudp64.events import (
    Conflict,
    EndOfSession,
    Event,
    GapDetected,
    Messages,
    SessionChanged,
)
from tickwire.moldudp64.receiver import ReceiverConfig, ReceiverStats
from tickwire.net.stats import percentiles
from tickwire.ouch import OuchError, v50
from tickwire.ouch.orders import acknowledges_cancel
from tickwire.soupbintcp.aio import SoupClient
from tickwire.soupbintcp.session import ClientSession, StreamDiverged
from tickwire.soupbintcp.session import Message as SoupMessage
from tickwire.threshold.schema import Str, check_fields, setting

__all__ = [
    "FeedConfig",
    "LiveConfig",
    "LiveEngine",
    "MirrorError",
    "OrdersLeftOpen",
    "percentiles",
    "send_command",
]

log = logging.getLogger("tickwire.engine.live")


def _feed_session(name: str) -> None:
    try:
        encode_session(name)
    except BadSession:
        raise ValueError() from None  # the schema's "must be ..., got ..." says it all


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """The ``[feed]`` table of ``live --config`` (declared with
    :mod:`tickwire.threshold.schema`, checked like every config table)."""

    session: str | None = setting(
        Str(_feed_session, "at most 10 ASCII characters", "at most 10 ASCII characters"),
        None,
        optional=True,
        doc="pin the feed's MoldUDP64 session: packets of any other are refused "
        "(`--feed-session` wins); off: the first session two packets confirm",
    )

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(slots=True)
class LiveConfig:
    """Where the engine listens and connects, and its limits."""

    feed: tuple[str, int]  # local address the feed arrives on (port 0: any)
    ouch: tuple[str, int]  # the OUCH 5.0 port of the exchange
    rerequest: tuple[str, int] | None = None  # the feed's re-request server
    group: str | None = None  # multicast group of the feed (None: unicast)
    username: str = "TW"
    password: str = "SECRET"
    ouch_session: str = ""
    limits: RiskLimits = field(default_factory=RiskLimits)
    first_user_ref_num: int = 1
    control: str | None = None  # unix socket path for kill/arm/status/stop commands
    #: Where the session report (JSON) is written at shutdown, whole or not at all (a
    #: temporary file beside it, renamed over it: ``tickwire.cli.atomic_open``).
    report: str | None = None
    stop_at_end_of_session: bool = True
    shutdown_timeout: float = 2.0
    #: Interface with a tickwire XDP program attached (``python -m tickwire.xdp attach``)
    #: whose mirror of the feed also goes into the receiver (needs tickwire-xdp and root).
    xdp_mirror: str | None = None
    #: The feed's MoldUDP64 session, pinned: packets of any other session are refused and
    #: counted (None: the first session two packets confirm; see docs/robustness.md).
    feed_session: str | None = None
    #: Fees and rebates by liquidity flag (the ``[fees]`` table), charged on every
    #: execution as a backtest charges its fills; the report's ``pnl`` is net of them.
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    #: Feed messages waiting for the strategy, at most (``LiveRunner.max_waiting``); then
    #: the receiver holds at most :data:`FEED_DATAGRAMS_WAITING` datagrams' messages, and
    #: drops the datagrams beyond before reading them, so they are gaps, requested again
    #: (``feed.datagrams_dropped``). Why: both queues were unbounded, so a strategy slower
    #: than the feed (or a flood of forged in-session packets) grew the process without
    #: limit, with orders open. Test:
    #: ``test_engine_live.py::test_a_strategy_behind_the_feed_holds_bounded_memory_and_loses_nothing``.
    feed_queue: int = 65_536


#: Datagrams of the feed whose messages may wait in the receiver while the strategy is
#: :attr:`LiveConfig.feed_queue` messages behind (``MoldReceiver``'s ``queue_size``).
FEED_DATAGRAMS_WAITING = 1_024


class MirrorError(RuntimeError):
    """``LiveConfig.xdp_mirror`` cannot be used (see the message): tickwire-xdp is not
    installed, nothing is attached to the interface, not root, or another feed port."""


#: The strategy's last log lines in a snapshot (the dashboard, the session report).
LOG_SHOWN = 10

#: Entry-point group of extra feed sources. ``xdp-mirror`` (registered by tickwire-xdp:
#: ``tickwire.xdp.mirror:MirrorFeed.open``) is called as ``opener(iface, address=...)``
#: and returns a :class:`_Mirror`, or raises ``OSError``/``RuntimeError`` saying why not.
FEED_PLUGINS = "tickwire.engine.feeds"
XDP_MIRROR_PLUGIN = "xdp-mirror"


class _Mirror(Protocol):
    """What the engine uses of ``tickwire.xdp.MirrorFeed`` (typed without importing it)."""

    port: int

    def start(self, receiver: MoldReceiver) -> None: ...

    def snapshot(self) -> dict[str, int]: ...

    def close(self) -> None: ...


class _Runner(LiveRunner):
    """LiveRunner plus the bookkeeping a live session needs: receive times for the
    tick-to-order latency, and the requests not yet acknowledged by the exchange."""

    def __init__(self, engine: LiveEngine, strategy: Strategy, config: LiveConfig) -> None:
        self._engine = engine
        super().__init__(
            strategy,
            engine._send_bytes,
            limits=config.limits,
            first_user_ref_num=config.first_user_ref_num,
            fees=config.fees,
            max_waiting=config.feed_queue,
        )
        self.rx_times: deque[int] = deque()  # receive time of each queued ITCH message
        self.current_rx = 0
        self.latencies: deque[int] = deque(maxlen=200_000)
        #: Enters and Replaces not yet answered, by kind and UserRefNum (a Replace's:
        #: its replacement's)
        self.unacked: dict[tuple[str, int], v50.InboundMessage] = {}
        #: Cancels not yet answered, by the UserRefNum of their order, oldest first: an
        #: order may have several in flight (a reduce, then the rest), each answered by
        #: its own Order Canceled (:meth:`acknowledge`)
        self.cancels: dict[int, deque[v50.CancelOrder]] = {}
        #: Enters and Replaces an Order Accepted or Order Replaced answered, by UserRefNum,
        #: until the order manager has applied that answer (:meth:`_venue_message`): back
        #: to :attr:`unacked` if it distrusted it
        self.answering: dict[int, list[tuple[tuple[str, int], v50.InboundMessage]]] = {}
        self.messages_seen = 0
        self.orders_after_kill = 0

    def _send(self, msg: v50.InboundMessage) -> None:
        if isinstance(msg, v50.EnterOrder):
            if self.current_rx:
                self.latencies.append(time.perf_counter_ns() - self.current_rx)
            if not self.risk.armed:
                self.orders_after_kill += 1  # cannot happen: risk refuses first (tested)
        if isinstance(msg, v50.EnterOrder | v50.ReplaceOrder):
            self.unacked[(msg.message_type, msg.user_ref_num)] = msg
        elif isinstance(msg, v50.CancelOrder):
            self.cancels.setdefault(msg.user_ref_num, deque()).append(msg)
        super()._send(msg)

    async def _dispatch(self, kind: str, payload: Any) -> None:
        if kind == "account":  # this run's Account Query Response: after every replayed answer
            self._engine._inherit(payload)
            await self._drain_updates()
            return
        await super()._dispatch(kind, payload)

    def _distrusts(self) -> int:
        """The answers the order manager found no order of its own explains (and so
        tripped the kill switch on) so far."""
        m = self.manager
        return m.distrusted_answers + m.unexpected_replacements

    def _venue_message(self, msg: v50.OutboundMessage) -> None:
        """Apply ``msg`` (the order manager), then settle the request an Order Accepted or
        Order Replaced answered (:meth:`acknowledge` held it in :attr:`answering`).

        Rule: a request is answered only by an answer the order manager takes; one it
        distrusts (another Capacity or Cross Type, a wider Time In Force, more shares or a
        worse price than sent, an Accepted live with 0 shares, a replacement sent for
        another order, a replacement never sent: its ``distrusted_answers``,
        ``unexpected_replacements``) leaves the
        Enter or Replace unanswered as entered: back in :attr:`unacked`, counted in the
        report's ``ouch.unacked`` and in :attr:`LiveEngine.left_open` at the stop, resent
        after a reconnect (a repeat the exchange ignores, OUCH 5.0 section 1.2). The kill
        switch trips as ever. Why: the request was forgotten on any Accepted or Replaced,
        so after a distrusted one the report said every request was answered when the
        exchange had answered none as it was sent. Test:
        ``test_engine_live.py::test_a_request_answered_by_a_distrusted_answer_stays_unanswered``.
        """
        held = None
        if isinstance(msg, v50.OrderAccepted | v50.OrderReplaced):
            held = self.answering.pop(msg.user_ref_num, None)
        before = self._distrusts()
        self.manager.on_message(msg)
        if held and self._distrusts() != before:
            for key, request in held:
                self.unacked.setdefault(key, request)

    async def _market(self, msg: Message) -> None:
        self.current_rx = self.rx_times.popleft() if self.rx_times else 0
        self.messages_seen += 1
        await super()._market(msg)
        self.current_rx = 0

    def acknowledge(self, msg: v50.OutboundMessage) -> None:
        """Forget the requests ``msg`` answers.

        Rule: an Order Canceled of reason ``U`` answers the oldest cancel of its order
        still in flight, only that one (another reason answers none:
        :func:`tickwire.ouch.orders.acknowledges_cancel`, test
        ``test_engine_live.py::test_only_a_user_requested_cancel_answers_a_cancel_in_flight``);
        a later one (the rest of an order reduced) waits for its own
        answer and is resent after a reconnect until it comes (or the order ends:
        :meth:`forget_ignored`). Why: one entry per order held only the last cancel
        sent, and the reduce's answer forgot it: a cancel lost with the link was never
        resent, and the order stayed on the exchange's book after the engine logged out
        (its shutdown does not cancel again an order whose cancel is in flight). Test:
        ``test_engine_live.py::test_a_cancel_sent_after_a_reduce_is_resent_when_the_link_loses_it``.
        """
        if isinstance(msg, v50.OrderAccepted | v50.OrderReplaced):
            # answered once the order manager takes the answer (:meth:`_venue_message`)
            kinds = ("O", "U") if isinstance(msg, v50.OrderAccepted) else ("U",)
            held = [
                (key, self.unacked.pop(key))
                for key in ((kind, msg.user_ref_num) for kind in kinds)
                if key in self.unacked
            ]
            if held:
                self.answering.setdefault(msg.user_ref_num, []).extend(held)
        elif isinstance(msg, v50.Rejected):
            self.unacked.pop(("O", msg.user_ref_num), None)
            self.unacked.pop(("U", msg.user_ref_num), None)
        elif isinstance(msg, v50.OrderCanceled) and acknowledges_cancel(msg.reason):
            waiting = self.cancels.get(msg.user_ref_num)
            if waiting:
                waiting.popleft()
                if not waiting:
                    del self.cancels[msg.user_ref_num]

    def forget_ignored(self) -> None:
        """Forget the requests the exchange ignores without an answer: a cancel of an
        order finished, and a Replace whose replacement the order manager ended (its
        original executed or cancelled first).

        Rule: OUCH 5.0 section 2.2 case 1 ignores a Replace of an order no longer live,
        silently, and a cancel of a finished order is ignored alike: no answer will ever
        acknowledge them, so they are not waiting for one (``ouch.unacked``) and are not
        resent after a reconnect. Called before every resend (:meth:`to_resend`) and
        every snapshot. Why: a Replace overtaken by the fill of its original stayed
        unacknowledged all session, was resent after every reconnect (counted in
        ``ouch.resent``) and left the report saying a request was still unanswered. Test:
        ``test_engine_live.py::test_a_replace_the_venue_ignores_is_not_resent_or_left_unanswered``.
        """
        orders = self.manager.orders
        for kind, ref in list(self.unacked):
            if kind == "U":  # a Replace's key: its replacement's UserRefNum
                o = orders.get(ref)
                if o is None or not o.is_open:
                    del self.unacked[(kind, ref)]
        for ref in list(self.cancels):
            o = orders.get(ref)
            if o is None or not o.is_open:
                del self.cancels[ref]

    def unacked_count(self) -> int:
        """Requests still waiting for an answer (:meth:`forget_ignored` first)."""
        self.forget_ignored()
        return len(self.unacked) + sum(len(c) for c in self.cancels.values())

    def to_resend(self) -> list[v50.InboundMessage]:
        """Unacknowledged requests in UserRefNum order (an order's Enter or Replace
        before its cancels, its cancels oldest first), less those the exchange ignores
        without an answer (:meth:`forget_ignored`)."""
        self.forget_ignored()
        waiting: list[tuple[int, int, v50.InboundMessage]] = [
            (ref, 0, msg) for (_kind, ref), msg in self.unacked.items()
        ]
        waiting += [(ref, 1, c) for ref, cs in self.cancels.items() for c in cs]
        waiting.sort(key=lambda w: (w[0], w[1]))  # stable: each kind in the order sent
        return [msg for _ref, _cancel, msg in waiting]


class LiveEngine:
    """One live trading session (see the module docs)."""

    def __init__(self, strategy: Strategy, config: LiveConfig) -> None:
        self.strategy = strategy
        self.config = config
        self.runner = _Runner(self, strategy, config)
        self.receiver: MoldReceiver | None = None
        self.mirror: _Mirror | None = None
        self.client: SoupClient | None = None
        self.gaps = 0
        self.end_of_session = False
        self.resent = 0
        self._kills = 0  # the engine's own trips (:attr:`kill_trips`)
        self._skipped_seen = 0  # the OUCH client's skipped_messages already acted on
        #: The exchange ended the OUCH session (SoupBinTCP End of Session) before the
        #: engine stopped: :meth:`_ouch_session_ended`
        self.ouch_session_ended = False
        #: Why the OUCH client stopped reconnecting (None: it did not):
        #: :meth:`_ouch_reconnect_failed`
        self.ouch_reconnect_failed: str | None = None
        #: Times the exchange's OUCH stream differed from the answers delivered (it was
        #: reset), and the sequence number of the last: :meth:`_ouch_stream_diverged`
        self.ouch_stream_diverged = 0
        self.ouch_stream_diverged_at: int | None = None
        #: "OLD -> NEW" for each change of the feed's session (each tripped the kill switch)
        self.session_changes: list[str] = []
        #: feed messages whose copies differed from the copy applied (module docs)
        self.conflicts = 0
        #: Sequenced OUCH messages on the session before this run's first login (previous
        #: runs' answers): :meth:`_probe_history`
        self.ouch_history = 0
        #: What this run inherited from them (None: nothing, or not yet): :meth:`_inherit`
        self.inherited: dict[str, Any] | None = None
        self._awaiting_account = False  # our Account Query Response not received yet
        #: when (time.monotonic) the Account Query was first sent, while unanswered
        self._awaiting_since: float | None = None
        #: seconds without an Account Query Response before the one warning
        #: (:meth:`_watch_account`)
        self.account_alert_after = ACCOUNT_ALERT_AFTER
        self._account_watch: asyncio.Task[None] | None = None
        #: feed (ITCH) and OUCH messages no decoder could read (:meth:`_undecodable`)
        self.undecodable_itch = 0
        self.undecodable_ouch = 0
        self.started = time.time()  # the wall clock at the start (a time stamp)
        #: ``time.monotonic`` at the start: ``uptime_s`` is an interval, so it is measured
        #: on a clock that only runs forward (a wall clock set back made it negative).
        #: Test: ``test_engine_live_dashboard.py::test_uptime_is_measured_on_a_monotonic_clock``.
        self._started_monotonic = time.monotonic()
        self._stop = asyncio.Event()
        self._control: asyncio.AbstractServer | None = None
        #: control connections that have not sent their line yet, oldest first (the ones
        #: a new connection at the cap may evict: :meth:`_on_control`)
        self._control_waiting: dict[asyncio.StreamWriter, None] = {}
        #: control connections whose answer is not all handed to the kernel yet, oldest
        #: first (the client not reading it: evicted at the cap after the silent ones)
        self._control_answering: dict[asyncio.StreamWriter, None] = {}
        #: seconds a control client has to send its line (:meth:`_on_control`)
        self.control_timeout = CONTROL_TIMEOUT
        self._task: asyncio.Task[None] | None = None
        self._report: dict[str, Any] | None = None
        # Set at the stop when orders were left open or requests unanswered (_warn_left_open)
        self.left_open: OrdersLeftOpen | None = None

    # -- set up ---------------------------------------------------------------------
    async def start(self) -> None:
        """Open the XDP mirror (if configured), bind the feed, log in to the OUCH port and
        open the control socket. Raises :class:`MirrorError` before anything else when the
        mirror cannot be used, and :class:`ControlError` when ``control`` names something
        the engine must not take (:func:`check_control_path`)."""
        c = self.config
        if c.control:
            check_control_path(c.control)
        # First, so a mirror that cannot be used fails before any socket is opened.
        mirror = self._open_mirror(c.xdp_mirror) if c.xdp_mirror is not None else None
        rcfg = ReceiverConfig(session=c.feed_session, request_server=c.rerequest, start_sequence=1)
        line = (
            Line(port=c.feed[1], group=c.group, interface=c.feed[0])
            if c.group
            else Line(port=c.feed[1], host=c.feed[0])
        )
        try:
            self.receiver = await MoldReceiver.create(
                line,
                config=rcfg,
                on_event=self._on_feed_event,
                request_bind=(c.feed[0], 0),
                queue_size=FEED_DATAGRAMS_WAITING,
            )
        except BaseException as exc:
            if mirror is not None:
                mirror.close()
            if isinstance(exc, OSError) and exc.filename is None:  # name what failed
                where = f"group {c.group} on " if c.group else ""
                raise type(exc)(
                    exc.errno, exc.strerror, f"feed {where}{c.feed[0]}:{c.feed[1]}"
                ) from None
            raise
        if mirror is not None:
            mirror.start(self.receiver)
            self.mirror = mirror
        core = ClientSession(c.username, c.password, session=c.ouch_session)
        self.client = SoupClient(
            core,
            c.ouch[0],
            c.ouch[1],
            reconnect=True,
            on_reconnect=self._relogged_in,
            on_message=self._on_ouch,
            on_session_end=self._ouch_session_ended,
            on_stream_diverged=self._ouch_stream_diverged,
            on_reconnect_failed=self._ouch_reconnect_failed,
        )
        try:
            self.ouch_history = await self._probe_history()
            if self.ouch_history:  # a previous run's answers are coming: inherit them
                self._awaiting_account = True
                self.runner.manager.inheriting = True
                self.runner.risk.hold(
                    "awaiting the exchange's Account Query Response: inheriting the "
                    f"{self.ouch_history} messages already on the OUCH session"
                )
            await self.client.connect()
        except OSError as exc:  # "Connection refused" named nothing
            if exc.filename is not None or exc.errno is None:
                raise
            raise type(exc)(exc.errno, exc.strerror, f"OUCH {c.ouch[0]}:{c.ouch[1]}") from None
        if self._awaiting_account:
            self.client.send(v50.encode(v50.AccountQueryRequest()))
            self._awaiting_since = time.monotonic()
        # Skipped at the first login: answers from before this engine, none about its
        # orders (counted in ``ouch.skipped``); only a re-login's trip the kill switch.
        self._skipped_seen = self.client.skipped_messages
        if c.control:
            check_control_path(c.control, remove_stale=True)
            self._control = await asyncio.start_unix_server(
                self._on_control, sock=_bind_owner_only(c.control), limit=CONTROL_LINE_LIMIT
            )
        if self._awaiting_account:
            self._account_watch = asyncio.create_task(self._watch_account())

    async def _watch_account(self) -> None:
        """Warn once when the Account Query Response has not come in
        :attr:`account_alert_after` seconds; the orders stay held.

        Rule: the orders are held until the response, however long it takes (releasing
        them unanswered would trade on a UserRefNum and a position the engine does not
        know: :meth:`_inherit`); past :attr:`account_alert_after` seconds one WARNING
        says so, and ``status`` (``ouch.awaiting_account_s``) and the dashboard show how
        long it has waited. Why: an exchange that never answered kept every order held
        with no word but a flag in ``status`` and a dashboard row: a session that traded
        nothing, all day, unnoticed in the logs. Test:
        ``test_engine_live.py::test_an_unanswered_account_query_is_warned_of_once_and_orders_stay_held``.
        """
        await asyncio.sleep(self.account_alert_after)
        if self._awaiting_account:
            log.warning(
                "the exchange has not answered the Account Query Request in %g s: every "
                "order is still held (refused awaiting_account) until it does; check the "
                "OUCH session (status: ouch.awaiting_account_s)",
                self.account_alert_after,
            )

    async def _probe_history(self) -> int:
        """How many sequenced messages the OUCH session already holds: a login at sequence
        number 0 (SoupBinTCP: from the next new message) is accepted at that count plus
        one; then a logout. Only the count is used (:meth:`_inherit`)."""
        c = self.config
        core = ClientSession(c.username, c.password, session=c.ouch_session, next_sequence=0)
        probe = SoupClient(core, c.ouch[0], c.ouch[1], reconnect=False)
        try:
            accepted = await probe.connect()
        finally:
            await probe.close()
        return max(0, accepted.sequence_number - 1)

    def _inherit(self, response: v50.AccountQueryResponse) -> None:
        """This run's Account Query Response was dispatched: every answer before it was a
        previous run's, and the order manager has inherited them (its ``inherit``).

        Rule: on a first login to an OUCH session that already holds sequenced messages
        (:meth:`_probe_history`), the engine sends an Account Query Request before any
        order and risk holds every Enter and Replace (refused ``awaiting_account``) until
        the response. The answers replayed before it are the previous runs': the order
        manager adopts their orders (open shares, executions booked in risk's ledger, open
        orders counted as exposure). At the response the next UserRefNum becomes the
        greatest of ``first_user_ref_num``, the response's NextUserRefNum and one above
        every UserRefNum inherited; every inherited order still open is cancelled (this
        strategy did not place it); orders are released; one warning says what was
        inherited, and the report's ``inherited`` keeps it. The response ending the
        replay is the first one sequenced after the probe's count: a previous run's own
        query left its response in the replay too. A query unanswered when the link drops
        is asked again on the re-login (:meth:`_relogged_in`). A fresh session (nothing
        sequenced) sends no query and holds nothing. Reason: a restart on a session with history
        took the replayed answers for unknown ones (its first execution tripped the kill
        switch), numbered its orders from 1 again (at or below the venue's last, so
        silently ignored, OUCH 5.0 section 1.2), and knew neither the position nor the
        orders still resting. Tests:
        ``test_engine_live.py::test_a_restart_on_a_session_with_history_inherits_it``,
        ``test_engine_live.py::test_a_fresh_session_inherits_nothing_and_sends_no_query``,
        ``test_engine_live.py::test_a_query_lost_with_the_link_is_asked_again``.
        """
        r = self.runner
        m = r.manager
        m.inherit(response.next_user_ref_num)
        still_open = m.inherited_open()
        cancels = sum(m.cancel(o) for o in still_open)
        r.risk.release()
        ledger = r.risk.ledger
        self.inherited = {
            "messages": self.ouch_history,
            "answers": m.inherited_answers,
            "orders": sum(1 for o in m.orders.values() if o.inherited),
            "open": len(still_open),
            "cancelled": cancels,
            "positions": {s: p for s, p in sorted(ledger.positions.items()) if p},
            "realised": {s: p for s, p in sorted(ledger.realised.items()) if p},
            "next_user_ref_num": response.next_user_ref_num,
        }
        log.warning(
            "inherited from the OUCH session: %d answers of a previous run (%d orders), "
            "positions %s; %d orders still open, %d cancels sent; orders released, next "
            "UserRefNum %d",
            m.inherited_answers,
            self.inherited["orders"],
            self.inherited["positions"] or "flat",
            len(still_open),
            cancels,
            m.next_user_ref_num,
        )

    def _open_mirror(self, iface: str) -> _Mirror:
        c = self.config
        missing = f"the XDP mirror of {iface} needs tickwire-xdp: pip install tickwire-xdp"
        plugins = entry_points(group=FEED_PLUGINS, name=XDP_MIRROR_PLUGIN)
        if not plugins:
            raise MirrorError(missing)
        try:
            opener: Callable[..., _Mirror] = next(iter(plugins)).load()
        except ImportError as exc:  # registered, but its distribution cannot be imported
            raise MirrorError(missing) from exc
        # Only the feed's own destination: other lines may share the port.
        address = c.group or (c.feed[0] if c.feed[0] not in ("", "0.0.0.0") else None)
        try:
            mirror = opener(iface, address=address)
        except (RuntimeError, OSError) as exc:  # XdpError is a RuntimeError
            raise MirrorError(str(exc)) from exc
        if c.feed[1] not in (0, mirror.port):
            mirror.close()
            raise MirrorError(
                f"the XDP program on {iface} watches feed port {mirror.port}, "
                f"the engine listens on {c.feed[1]}"
            )
        return mirror

    @property
    def feed_address(self) -> tuple[str, int]:
        """Where the feed socket listens (the port is known after :meth:`start`)."""
        assert self.receiver is not None
        return self.receiver.local_addresses[0]

    # -- feed -----------------------------------------------------------------------
    def _on_feed_event(self, ev: Event) -> None:
        if isinstance(ev, Messages):
            t = time.perf_counter_ns()
            self.runner.rx_times.extend([t] * len(ev.messages))
        elif isinstance(ev, GapDetected):
            self.gaps += 1
        elif isinstance(ev, EndOfSession):
            self.end_of_session = True
            if self.config.stop_at_end_of_session:
                self.stop()
        elif isinstance(ev, SessionChanged) and ev.old is not None:
            # the books hold the old session's orders: no trading on them (module docs)
            self.session_changes.append(f"{ev.old} -> {ev.new}")
            cancels = self.kill()
            log.warning(
                "kill switch tripped: the feed's MoldUDP64 session changed from %r to %r "
                "(%d messages of the old one abandoned); the books hold both sessions' "
                "orders. %d cancels sent; pin the session with --feed-session",
                ev.old,
                ev.new,
                ev.abandoned,
                cancels,
            )
        elif isinstance(ev, Conflict):
            # the books may hold a forged packet's orders: no trading on them (module docs)
            self.conflicts += ev.count
            if self.runner.risk.armed:
                cancels = self.kill()
                log.warning(
                    "kill switch tripped: %d feed messages from %s (session %r, sequence "
                    "%d first) differ from the copies applied: one copy is forged and the "
                    "books may hold it. %d cancels sent",
                    ev.count,
                    ev.source,
                    ev.session,
                    ev.sequence,
                    cancels,
                )

    async def _feed(self) -> AsyncIterator[Message]:
        assert self.receiver is not None
        async for _session, seq, data in self.receiver.messages():
            try:
                yield itch_decode(data)
            except DecodeError as exc:
                self.undecodable_itch += 1
                self._undecodable("ITCH", self.undecodable_itch, seq, exc)
                if self.runner.rx_times:
                    self.runner.rx_times.popleft()

    @staticmethod
    def _undecodable(what: str, n: int, seq: int | None, exc: Exception) -> None:
        """Log the ``n``-th undecodable ``what`` message when ``n`` is at most
        :data:`LOGGED_UNDECODABLE`; every one is counted (``feed.undecodable``,
        ``ouch.undecodable`` in the report and ``status``). Why: each was a log line and
        no count, so a feed carrying a message type the decoder does not know (or a peer
        injecting packets of the session) wrote a line per message, at the feed's rate,
        for the whole day, and the report did not say. Test:
        ``test_engine_live.py::test_undecodable_feed_messages_are_counted_and_logged_a_few_times``.
        """
        level = logging.ERROR if what == "OUCH" else logging.WARNING  # the levels they had
        log_first(
            log,
            level,
            n,
            "undecodable %s message %s: %s",
            what,
            seq,
            exc,
        )

    # -- orders ---------------------------------------------------------------------
    def _send_bytes(self, data: bytes) -> None:
        client = self.client
        if client is not None and client.logged_in:
            client.send(data)
        # else: it stays unacknowledged and goes out with the resend after the re-login

    def _relogged_in(self, soup: SoupClient) -> None:
        """A re-login was accepted: resend what is unacknowledged, then trip the kill
        switch if the exchange resumed past the sequence asked for.

        Rule: a re-login that skipped messages (``ouch.skipped`` grew: the client's
        ``skipped_messages``) trips the kill switch when armed, cancels every open order
        and logs a warning naming how many were lost; re-arming is the operator's word.
        The resend goes first, so the cancels follow the Enters they cancel (a cancel of
        an order the exchange never received is ignored, the Enter then would rest).
        Reason: the answers skipped (executions, cancels, rejects) will never come, so
        the engine's orders, position and exposure are no longer what the exchange
        holds; the old engine only counted them and traded on. Test:
        ``test_engine_live.py::test_a_resume_past_the_sequence_asked_trips_the_kill_switch``.
        """
        self._resend(soup)
        if self._awaiting_account:  # the query may have died with the link: ask again
            soup.send(v50.encode(v50.AccountQueryRequest()))
        lost = soup.skipped_messages - self._skipped_seen
        self._skipped_seen = soup.skipped_messages
        if lost > 0 and self.runner.risk.armed:
            cancels = self.kill()
            log.warning(
                "kill switch tripped: the OUCH session resumed %d messages past the "
                "sequence asked for; their answers are lost, so the orders and position "
                "are not what the exchange holds (reconcile with it). %d cancels sent",
                lost,
                cancels,
            )

    def _ouch_session_ended(self, soup: SoupClient) -> None:
        """The exchange ended the OUCH session: trip the kill switch and say what is left.

        Rule: a SoupBinTCP End of Session on the OUCH port before the engine stops trips
        the kill switch (every order the strategy makes from then on is refused
        ``kill_switch``, counted and heard) and logs a warning naming the orders open
        and the requests unanswered, which the exchange holds as it alone knows (no
        answer can come: there is no session to log in to again); the report and
        ``status`` have ``ouch.session_ended``. The engine runs on (the feed may still
        be read) until it is stopped. Nothing open and nothing unanswered (the end of
        the day): the same, said at INFO. Why: the client does not reconnect to an ended
        session, and the engine took no notice: the strategy's orders after it went into
        the unsent queue with no word, counted as exposure, and the session ended with
        them listed as pending (exit 0). Test:
        ``test_engine_live.py::test_the_ouch_session_ended_by_the_exchange_trips_the_kill_switch``.
        """
        if self.stopping:
            return  # our own end: the shutdown says what is left
        self.ouch_session_ended = True
        self._ouch_untrusted(
            "the exchange ended the OUCH session: no order can be sent or answered any more",
            cancel=False,
        )

    def _ouch_reconnect_failed(self, soup: SoupClient, reason: str) -> None:
        """The OUCH client stopped reconnecting: trip the kill switch and say what is left.

        Rule: when the client's reconnect loop stops without a login (its tries, about
        47 s of them, used up, or the re-login rejected) the kill switch trips, one
        warning names the reason and the orders open and requests unanswered, and the
        report and ``status`` have ``ouch.reconnect_failed`` (the reason), a dashboard
        row. The engine runs on until it is stopped. Why: the client gave up with one
        error line of its own and the engine stayed armed: the strategy's orders went
        into the queue of requests to resend after a re-login that would never come,
        counted as exposure, exit 0. Test:
        ``test_engine_live.py::test_an_ouch_link_that_cannot_be_restored_trips_the_kill_switch``.
        """
        if self.stopping:
            return  # our own end: the shutdown says what is left
        self.ouch_reconnect_failed = reason
        self._ouch_untrusted(
            f"the OUCH connection could not be restored ({reason}): no order can be sent "
            "or answered until the engine is restarted",
            cancel=False,
        )

    def _ouch_stream_diverged(self, soup: SoupClient, event: StreamDiverged) -> None:
        """The exchange's OUCH stream was reset: trip the kill switch and say what is left.

        Rule: an answer numbered below the next expected one that differs from the answer
        delivered under that number (the client's :class:`StreamDiverged`: a gateway
        restarted with an empty stream under the same session name numbers its new
        answers from 1 again) trips the kill switch when armed and cancels every open
        order (the link is up), logs one warning naming the sequence number and the
        orders open and requests unanswered, which must be reconciled with the exchange
        (what it answered before may not be what it holds now), and counts it
        (``ouch.stream_diverged``, ``ouch.stream_diverged_at`` in the report and
        ``status``, a dashboard row). The new stream's answers are processed as any
        (the client delivers them). Re-arming is the operator's word. A second reset is
        the same. Why: the client dropped the new stream's first answers as replays of
        those delivered, silently, and the engine waited for answers it had thrown away
        (its requests resent after every reconnect, answered, dropped again), exit 0.
        Test: ``test_engine_live.py::test_an_ouch_stream_the_exchange_reset_trips_the_kill_switch_and_is_heard``.
        """
        self.ouch_stream_diverged += 1
        self.ouch_stream_diverged_at = event.sequence
        self._ouch_untrusted(
            f"the exchange's OUCH stream was reset at sequence {event.sequence}: its "
            "answers from there on differ from those delivered (processed as new), and "
            "what it answered before may not be what it holds",
            cancel=True,
        )

    def _ouch_untrusted(self, what: str, *, cancel: bool) -> None:
        """The OUCH session can no longer be trusted: trip the kill switch (when armed;
        with ``cancel``, cancelling every open order too: only when a cancel can still
        go out) and log ``what`` with the orders open and the requests unanswered, left
        as the exchange holds them: a warning, or INFO when ``cancel`` is off and nothing
        is left (the end of the day). Shared by :meth:`_ouch_session_ended`,
        :meth:`_ouch_reconnect_failed` and :meth:`_ouch_stream_diverged`."""
        r = self.runner
        open_orders = len(r.manager.open_orders())
        unanswered = r.unacked_count()
        cancels = ""
        if r.risk.armed:
            if cancel:
                cancels = f", {self.kill()} cancels sent"
            else:
                r.risk.kill()  # no cancel can go out any more: only the refusals
                self._kills += 1
        left = open_orders or unanswered
        log.log(
            logging.WARNING if left or cancel else logging.INFO,
            "%s; kill switch tripped%s. %d orders open and %d requests unanswered are "
            "left as the exchange holds them%s",
            what,
            cancels,
            open_orders,
            unanswered,
            " (reconcile with it)" if left or cancel else "",
        )

    def _resend(self, soup: SoupClient) -> None:
        for msg in self.runner.to_resend():
            soup.send(v50.encode(msg))
            self.resent += 1

    def _on_ouch(self, ev: SoupMessage) -> None:
        try:
            msg = v50.decode_outbound(ev.data)
        except OuchError as exc:
            self.undecodable_ouch += 1
            self._undecodable("OUCH", self.undecodable_ouch, ev.sequence_number, exc)
            return
        if (
            self._awaiting_account
            and isinstance(msg, v50.AccountQueryResponse)
            and self._account_response_is_ours(ev.sequence_number or 0)
        ):  # ours (a previous run's is in the replay): it ends the inheriting (_inherit)
            self._awaiting_account = False
            self._awaiting_since = None
            self.runner.queue.put_nowait(("account", msg))
            return
        self.runner.acknowledge(msg)
        self.runner.on_ouch(ev.data)

    def _account_response_is_ours(self, sequence: int) -> bool:
        """Whether an Account Query Response sequenced at ``sequence`` answers this run's
        query (it ends the inheriting: :meth:`_inherit`), not a previous run's replayed.

        Rule: one sequenced after the session's count at this run's start
        (``ouch.history``: earlier runs' own queries left theirs in the replay), or, once
        the exchange's stream was reset (:meth:`_ouch_stream_diverged`), any at or after
        the sequence where the new stream parted from the answers delivered: the new
        stream began after this run logged in, so whatever it holds answers this run.
        Why: a reset numbers the answers from 1 again, so the response to the query
        asked again on the new stream came at or below the old count and was taken for a
        previous run's: the engine held every order ``awaiting_account`` for the rest of
        the session, re-armed or not. Test:
        ``test_engine_live.py::test_an_ouch_stream_reset_while_inheriting_still_ends_the_inheriting``.
        """
        if sequence > self.ouch_history:
            return True
        reset_at = self.ouch_stream_diverged_at
        return reset_at is not None and sequence >= reset_at

    # -- kill switch and control ----------------------------------------------------
    def kill(self) -> int:
        """Trip the kill switch and cancel every open order; returns the cancels sent."""
        self.runner.risk.kill()
        self._kills += 1
        return self.runner.manager.cancel_all()

    @property
    def kill_trips(self) -> int:
        """Times the kill switch was tripped: by the engine (:meth:`kill`, the control
        socket's ``kill``, the feed's and the OUCH session's faults, the stop) and by the
        order manager on an answer of the exchange no order explains (its ``trips``).

        Rule: the status and the report's ``kill_trips`` count every trip, whoever made
        it. Why: only the engine's own were counted, so a session whose kill switch the
        order manager tripped (an execution of an order never sent, beyond its order,
        repeated) reported ``kill_trips`` 0 beside ``armed`` false. Test:
        ``test_engine_live.py::test_an_execution_sent_twice_is_booked_once_and_trips_the_kill_switch``."""
        return self._kills + self.runner.manager.trips

    def arm(self) -> None:
        """Reset the kill switch."""
        self.runner.risk.arm()

    async def _on_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one command line with one JSON line, then close.

        Rule: at most :data:`CONTROL_MAX_CLIENTS` connections at once. At the cap a new
        connection evicts the oldest one that has not sent its line yet, or, when every
        place has sent its line, the oldest whose answer is stuck: its command carried out
        and its answer written, but not all of it taken by the kernel (the answer is
        handed over whole before the connection closes: no write buffer is left behind,
        so the kernel's socket buffer is full and the client is not reading). An evicted
        connection is aborted: closed at once, without a word or with the rest of its
        answer dropped, its descriptor freed. So a new connection always gets a place.
        Each has :attr:`control_timeout` seconds to send one line of at most
        :data:`CONTROL_LINE_LIMIT` bytes; a longer line is answered ``"ok": false``, a
        client that sends nothing or hangs up is closed without a word, and a client gone
        before the answer, or not reading it within :attr:`control_timeout`, is not an
        error. Why: the kill switch is the last line of defence and must not wait behind
        idle clients: when the 17th connection was simply closed, 16 connections that said
        nothing (a stuck monitoring script, a loop of ``nc -U``) made every ``kill`` fail
        for up to :attr:`control_timeout`, and for good if they were renewed; then 16
        clients that sent ``status`` and did not read a large answer did the same, since a
        place being answered was never evicted and its answer's write waited on the full
        buffer for :attr:`control_timeout`. Now a client that sends its command at once is
        served (a flood of more than :data:`CONTROL_MAX_CLIENTS` new connections within
        the milliseconds its line takes to arrive, or while its answer is still being
        handed over, can still evict it). The cap and the timeouts stay: a client that
        connected and never sent held a task and a descriptor for the whole session (a
        loop of them takes the descriptors the OUCH reconnect needs), and one that hung
        up, or sent a line over the reader's limit, printed a traceback on the engine's
        stderr per connection. Tests: ``test_engine_live.py::test_control_*`` (the
        eviction: ``test_control_a_kill_is_served_past_silent_clients_at_the_cap``,
        ``test_control_a_kill_is_served_past_clients_not_reading_their_answer``).
        """
        waiting, answering = self._control_waiting, self._control_answering
        if len(waiting) + len(answering) >= CONTROL_MAX_CLIENTS:
            places = waiting or answering  # the silent ones first, then the stuck answers
            oldest = next(iter(places))
            del places[oldest]
            # Its readline sees the end (its task ends without a word), or its drain
            # returns with the connection lost; abort, not close: close would wait for a
            # stuck answer to be read, holding the descriptor.
            oldest.transport.abort()
        waiting[writer] = None
        try:
            try:
                raw = await asyncio.wait_for(reader.readline(), self.control_timeout)
            except TimeoutError:
                return
            except ValueError:  # the line is over the limit (asyncio.LimitOverrunError)
                raw = None
            if writer not in waiting:  # evicted while silent: closed without a word
                return
            del waiting[writer]
            if raw is None:
                answer: dict[str, Any] = {
                    "ok": False,
                    "error": f"command longer than {CONTROL_LINE_LIMIT} bytes",
                }
            elif not raw:  # hung up without a word
                return
            else:
                answer = self._command(raw.decode("ascii", "replace").strip().lower())
            answer["armed"] = self.runner.risk.armed
            answering[writer] = None
            # drain() returns once every byte is in the kernel (no buffer left to close
            # with); until then the place is evictable (the client is not reading).
            writer.transport.set_write_buffer_limits(high=0)
            writer.write((json.dumps(answer) + "\n").encode())
            await asyncio.wait_for(writer.drain(), self.control_timeout)
        except (ConnectionError, TimeoutError):  # gone, or not reading its answer
            pass
        finally:
            waiting.pop(writer, None)
            answering.pop(writer, None)
            if writer.transport.get_write_buffer_size():  # an answer not read in time:
                writer.transport.abort()  # close() would hold it until read, for good
            else:
                writer.close()

    def _command(self, line: str) -> dict[str, Any]:
        if line == "kill":
            return {"ok": True, "cancels": self.kill()}
        if line == "arm":
            self.arm()
            return {"ok": True}
        if line == "stop":
            self.stop()
            return {"ok": True}
        if line == "status":
            return {"ok": True, **self.snapshot()}
        return {"ok": False, "error": f"unknown command {line!r}"}

    # -- running --------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the session to end (signal-safe: just sets a flag the loop acts on)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was asked for."""
        return self._stop.is_set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)

    async def run(self) -> dict[str, Any]:
        """Trade until :meth:`stop`; then shut down cleanly and return the report."""
        if self.receiver is None:
            await self.start()
        self._task = asyncio.create_task(self.runner.run(self._feed(), settle=0.1))
        stopper = asyncio.create_task(self._stop.wait())
        await asyncio.wait({self._task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        return await self.shutdown()

    @property
    def report(self) -> dict[str, Any] | None:
        """The session report, once :meth:`shutdown` made it (None before)."""
        return self._report

    async def shutdown(self) -> dict[str, Any]:
        """Kill, cancel open orders and wait for their answers, log out, report.

        Rule: a strategy that failed (its task raised) does not cut the shutdown short:
        the engine still waits for the cancels, logs out, removes its control socket and
        writes the report, with ``strategy_error`` (the error, one line); then the error
        is raised again. Why: the error went straight out of the shutdown, after the kill
        switch but before the logout and the report, so the session's record (positions,
        fills, what stayed open) was lost with it. Test:
        ``test_engine_live.py::test_a_strategy_that_fails_still_gets_its_report_and_logout``.
        """
        if self._report is not None:
            return self._report
        if self._account_watch is not None:
            self._account_watch.cancel()
        self.kill()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.shutdown_timeout
        while self.runner.manager.open_orders() and loop.time() < deadline:
            await asyncio.sleep(0.01)
        if self.mirror is not None:
            self.mirror.close()
        if self.receiver is not None:
            await self.receiver.close()
        failure: Exception | None = None
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, self.config.shutdown_timeout + 1)
            except TimeoutError:
                log.error("strategy did not stop in time")
            except Exception as exc:  # the strategy failed: the shutdown goes on
                failure = exc
                log.error("the strategy failed: %s: %s", type(exc).__name__, one_line(exc))
        self._warn_left_open()
        if self.client is not None:
            await self.client.close()  # logs out
        if self._control is not None:
            self._control.close()
            if self.config.control:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.config.control)
        self._report = self.snapshot()
        if failure is not None:
            self._report["strategy_error"] = f"{type(failure).__name__}: {one_line(failure)}"
        if self.config.report:
            with atomic_open(self.config.report) as f:  # whole or not at all
                f.write(json.dumps(self._report, indent=2) + "\n")
        if failure is not None:
            raise failure
        return self._report

    def _warn_left_open(self) -> None:
        """At the stop, after the wait for the cancels' answers: warn when orders are still
        open or requests unanswered, and keep the error in :attr:`left_open`.

        Rule: the shutdown cancels every open order and waits
        :attr:`LiveConfig.shutdown_timeout` seconds for the answers; what is still open or
        unanswered then (the OUCH link down at the stop, the exchange not answering) may
        rest at the exchange after the engine is gone: one WARNING names the counts, the
        report has them (``orders.open``, ``ouch.unacked``) and the ``live`` command
        raises :attr:`left_open`, exit 1: decided here once. Why: the engine logged out
        and exited 0 with quotes still resting at the exchange, said only inside the
        report's JSON. Test:
        ``test_engine_live.py::test_orders_left_open_at_the_stop_are_warned_of``,
        ``test_engine_live_cli.py::test_live_exits_1_when_orders_are_left_open_at_the_stop``.
        """
        left = len(self.runner.manager.open_orders())
        unanswered = self.runner.unacked_count()
        if left or unanswered:
            self.left_open = OrdersLeftOpen(
                f"stopped with {left} orders still open and {unanswered} requests "
                f"unanswered (no answer in {self.config.shutdown_timeout:g} s): the exchange "
                "may still hold them; reconcile with it (the report's orders.open, "
                "ouch.unacked)"
            )
            log.warning("%s", self.left_open)

    # -- state ----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything the dashboard and the session report show."""
        r = self.runner
        ledger = r.risk.ledger
        orders = r.manager.orders.values()
        states = Counter(str(o.state) for o in orders if not o.inherited)
        rx = self.receiver.receiver.stats if self.receiver is not None else None
        return {
            "armed": r.risk.armed,
            "kill_trips": self.kill_trips,
            "positions": {s: p for s, p in sorted(ledger.positions.items())},
            "cash": dict(sorted(ledger.cash.items())),
            "realised": dict(sorted(ledger.realised.items())),
            "pnl": ledger.total_pnl() - r.fees.total,  # net of fees, as a backtest's
            "pnl_gross": ledger.total_pnl(),
            # what the [fees] schedule charged the executions (the backtest's table)
            "fees": r.fees.as_dict(),
            "orders": {
                "sent": r.manager.sent,
                "refused": r.manager.refused,
                "states": dict(states),
                # by reason, from risk's counters: they also count the orders refused
                # for want of a UserRefNum, which ``orders`` does not keep
                "refusals": dict(sorted(r.risk.refusals.items())),
                # venue answers naming a UserRefNum this engine never sent
                "unknown_answers": r.manager.unknown_answers,
                # executions among them: each trips the kill switch
                "unknown_executions": r.manager.unknown_executions,
                # orders live at the exchange never sent (Accepted, Replaced): each trips
                # the kill switch and is cancelled
                "unknown_orders": r.manager.unknown_orders,
                # executions beyond an order's open shares, replacements never sent:
                # each tripped the kill switch (tickwire.engine.strategy.orders)
                "excess_executions": r.manager.excess_executions,
                "unexpected_replacements": r.manager.unexpected_replacements,
                "distrusted_answers": r.manager.distrusted_answers,
                # Broken Trades of its orders: each tripped the kill switch
                "broken_trades": r.manager.broken_trades,
                "open": [
                    {
                        "user_ref_num": o.user_ref_num,
                        "symbol": o.symbol,
                        "side": o.side,
                        "price": o.price,
                        "open": o.open_qty,
                        "inherited": o.inherited,
                    }
                    for o in r.manager.open_orders()
                ],
            },
            "feed": {
                "messages": r.messages_seen,
                "gaps": self.gaps,
                "requests": rx.requests_sent if rx else 0,
                "messages_requested": rx.messages_requested if rx else 0,
                "duplicates": rx.duplicate_messages if rx else 0,
                "end_of_session": self.end_of_session,
                "session": self.receiver.receiver.session if self.receiver else None,
                # each change tripped the kill switch (module docs)
                "session_changes": list(self.session_changes),
                # copies that differed from the copy applied: each tripped the kill switch
                # when armed (module docs)
                "conflicts": self.conflicts,
                # messages no ITCH decoder could read: skipped (the first few logged)
                "undecodable": self.undecodable_itch,
                # datagrams dropped while the strategy was LiveConfig.feed_queue messages
                # behind: gaps, requested again
                "datagrams_dropped": self.receiver.datagrams_dropped if self.receiver else 0,
                # what the receiver refused or held back (docs/robustness.md section 2)
                "refused": _refused(rx),
                # what the book made of the messages (tickwire.engine.book's fault rules)
                "book_faults": fault_counts(r.books.unknown_references, r.books.stats),
                # frames XDP's ring buffer delivered (None: no mirror configured)
                "mirror": self.mirror.snapshot() if self.mirror is not None else None,
            },
            "ouch": {
                "connections": self.client.connections if self.client else 0,
                # logins answered "S" (session still held by a dropped connection), retried
                "busy_retries": self.client.busy_retries if self.client else 0,
                "resent": self.resent,
                # sequenced answers a re-login was not replayed (the exchange resumed
                # after the sequence asked for): lost fills or cancels, reconcile them
                "skipped": self.client.skipped_messages if self.client else 0,
                # requests waiting for an answer (none for what the exchange ignores)
                "unacked": r.unacked_count(),
                # the exchange ended the OUCH session before the engine stopped: the
                # kill switch tripped, no order could go out after (_ouch_session_ended)
                "session_ended": self.ouch_session_ended,
                # why the client stopped reconnecting (None: it did not): the kill switch
                # tripped, no order could go out after (_ouch_reconnect_failed)
                "reconnect_failed": self.ouch_reconnect_failed,
                # times the exchange's OUCH stream was reset (its answers differed from
                # those delivered) and the sequence number of the last: the kill switch
                # tripped, reconcile (_ouch_stream_diverged)
                "stream_diverged": self.ouch_stream_diverged,
                "stream_diverged_at": self.ouch_stream_diverged_at,
                # replays dropped with no digest to check them against (older than the
                # client's replay window or than its first answer): taken on trust
                "unchecked_replays": self.client.unchecked_replays if self.client else 0,
                # sequenced messages on the session before this run's login, and whether
                # orders are still held for the Account Query Response (LiveEngine._inherit)
                "history": self.ouch_history,
                "awaiting_account": self._awaiting_account or r.manager.inheriting,
                # seconds the Account Query has gone unanswered (None: not waiting); past
                # LiveEngine.account_alert_after a warning was logged (_watch_account)
                "awaiting_account_s": (
                    round(time.monotonic() - self._awaiting_since, 3)
                    if self._awaiting_since is not None
                    else None
                ),
                # answers no OUCH decoder could read: skipped (the first few logged)
                "undecodable": self.undecodable_ouch,
            },
            # what a previous run left on the OUCH session (None: nothing; _inherit)
            "inherited": self.inherited,
            "latency_ns": percentiles(list(r.latencies)),
            # the strategy's ctx.log: every line went to the tickwire.engine.strategy logger
            "log": {"lines": r.log.lines, "last": list(r.log.recent)[-LOG_SHOWN:]},
            "uptime_s": round(time.monotonic() - self._started_monotonic, 3),
        }


def _refused(rx: ReceiverStats | None) -> dict[str, int]:
    """The receiver's counters of what it refused, dropped or held back."""
    names = (
        "bad_packets",
        "other_session_packets",
        "candidate_packets",
        "suspect_packets",
        "jumps_confirmed",
        "stale_end_of_session",
        "after_end_of_session",
        "after_end_messages",
        "requests_deferred",
        "buffer_dropped",
        "held_dropped",
    )
    return {n: getattr(rx, n) if rx is not None else 0 for n in names}


#: how many undecodable feed (and OUCH) messages are logged; all are counted
LOGGED_UNDECODABLE = LOGGED_FIRST  # (tickwire.cli.log_first's rule)
#: the bytes a control command line may take (the longest command is 6)
CONTROL_LINE_LIMIT = 1024
#: seconds a control client has to send its command line
CONTROL_TIMEOUT = 5.0
#: seconds without an Account Query Response before the one warning (orders stay held)
ACCOUNT_ALERT_AFTER = 10.0
#: control connections served at once; at the cap a new one evicts the oldest silent one
#: (:meth:`LiveEngine._on_control`)
CONTROL_MAX_CLIENTS = 16


def _bind_owner_only(path: str) -> socket.socket:
    """A unix stream socket bound at ``path`` that only its owner (and root) can connect
    to: mode 0600 whatever the umask, set before ``listen`` so no connection comes
    first. Why: the socket took the umask's mode (0775 under the common umask 002), and
    connecting needs only write permission, so anyone in the group could trip the kill
    switch or stop the session. Test:
    ``test_engine_live.py::test_the_control_socket_is_the_owners_only``."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o600)
    except BaseException:
        sock.close()
        raise
    return sock


class OrdersLeftOpen(RuntimeError):
    """The ``live`` command's session stopped with orders still open or requests
    unanswered (:meth:`LiveEngine._warn_left_open`): the run failed to leave the
    account as it should, exit 1 (its report printed first)."""


class ControlError(OSError):
    """The control socket cannot be reached or gave no answer, or its path cannot be
    taken; the message names it."""


class ControlUnanswered(ControlError):
    """An engine's control socket was reached but gave no answer: the connection let go
    for newer ones (more than :data:`CONTROL_MAX_CLIENTS` at once), the engine stopping
    or gone mid-answer, no answer in the timeout, or not an engine's answer. Not bad
    input (the path names a live socket), so ``live --command`` exits 1 (the run failed;
    try again), not 2 (usage), which stays for a path where nothing listens. Test:
    ``test_engine_live.py::test_live_command_to_an_engine_that_does_not_answer_exits_1``."""


def check_control_path(path: str, *, remove_stale: bool = False) -> None:
    """Check that the engine may take ``path`` for its control socket: nothing there, or a
    stale socket (``remove_stale`` removes it, to bind in its place). Anything else raises
    :class:`ControlError`: a path that is not a socket (a typo naming a data file, which
    was deleted), and a socket another engine answers on (its kill switch would have been
    taken from it: its socket file unlinked, its ``kill`` and ``stop`` no longer reachable).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ControlError(f"control socket {path}: exists and is not a socket; name a new path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except OSError:  # nobody listens: a socket left by an engine that ended
        if remove_stale:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        return
    finally:
        probe.close()
    raise ControlError(
        f"control socket {path}: another engine is listening on it; stop it or name a new path"
    )


async def send_command(path: str, command: str, timeout: float = 5.0) -> dict[str, Any]:
    """Send ``kill``, ``arm``, ``status`` or ``stop`` to a running engine's control socket.

    Raises :class:`ControlError` naming ``path`` when nothing listens there (no such
    file, a stale socket, not a socket), and its :class:`ControlUnanswered` when the
    engine was reached but gave no answer (busy, stopping, none in ``timeout``, not JSON):
    ``live --command`` exits 2 for the first, 1 for the second.
    The answer is read to the end of the connection (the engine closes it), whatever its
    length: a ``status`` of many open orders, or of long strategy log lines, was over the
    reader's 64 KiB line limit and raised a bare ``ValueError`` (a traceback from ``live
    --command status``). Test:
    ``test_engine_live.py::test_control_a_status_over_64_kib_is_read_whole``.
    A connection the engine closes without an answer (let go for newer connections at
    the cap, or the engine stopping) says so, where it said ``not an engine's answer:
    b''`` or ``Connection lost``; the caller may try again. Test:
    ``test_engine_live.py::test_control_a_kill_is_served_past_clients_not_reading_their_answer``
    (it tries again).
    """
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), timeout)
    except TimeoutError:  # a socket there, its backlog full: the engine is busy
        raise ControlUnanswered(f"control socket {path}: no answer in {timeout:g} s") from None
    except OSError as exc:
        raise ControlError(
            f"control socket {path}: {exc.strerror or exc} (is an engine running with it?)"
        ) from None
    unanswered = (
        f"control socket {path}: closed without an answer (let go for a newer one of "
        f"more than {CONTROL_MAX_CLIENTS} clients at once, or the engine stopping); try again"
    )
    try:
        writer.write(command.encode("ascii") + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.read(), timeout)  # to EOF: no line limit
    except ConnectionError:
        raise ControlUnanswered(unanswered) from None
    except TimeoutError:  # its message is empty: the line named no cause
        raise ControlUnanswered(f"control socket {path}: no answer in {timeout:g} s") from None
    except OSError as exc:
        raise ControlUnanswered(f"control socket {path}: {exc.strerror or exc}") from None
    finally:
        writer.close()
    if not line:
        raise ControlUnanswered(unanswered)
    try:
        answer: dict[str, Any] = json.loads(line)
    except ValueError:
        raise ControlUnanswered(
            f"control socket {path}: not an engine's answer: {line[:80]!r}"
        ) from None
    return answer
