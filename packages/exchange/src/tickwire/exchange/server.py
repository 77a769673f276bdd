"""The simulated exchange on the network: OUCH over SoupBinTCP in, ITCH over MoldUDP64 out.

:class:`Exchange` puts the sans-I/O parts together on one asyncio loop:

* a :class:`~tickwire.exchange.matching.MatchingEngine` whose every book change
  goes out as ITCH 5.0 through a MoldUDP64 publisher (``tickwire.moldudp64.aio``) with its
  re-request server;
* an OUCH 5.0 port and, optionally, an OUCH 4.2 port, each a SoupBinTCP server
  (``tickwire.soupbintcp.aio.SoupServerRunner``) with login, in front of an
  :class:`~tickwire.exchange.accounts.Account50` /
  :class:`~tickwire.exchange.accounts.Account42`; answers are sequenced data, so a
  client that re-logs in at its next sequence number gets what it missed;
* seeding and background flow from ITCH messages (:class:`FlowReplayer`);
* fault injection (:class:`Faults`): feed packet loss, reordering and delay (applied to
  the feed line only; the re-request server answers faithfully, as NASDAQ's does), and
  dropping the OUCH connection after every N orders, *after* the order was processed but
  before its answers left (the harshest moment for a client).

OUCH 4.2 orders with a Time In Force in seconds, and OUCH 5.0 GTT orders with an
ExpireTime, expire on a monotonic clock (``time.monotonic_ns``, :attr:`Exchange.deadline_clock`:
the wall clock of the day, which stamps ITCH and OUCH, goes back to 0 at midnight and
steps at a daylight-saving change)
(:meth:`~tickwire.exchange.accounts.Account42.expire`, ``Account50.expire``): a timer fires at the next
deadline (:meth:`Exchange._arm_expiry`), and what is due expires before any OUCH
message is handled or any flow message applied (:meth:`Exchange._expire_due`), so an
order whose time is up never trades.

A message an OUCH port cannot decode (an unknown type, a length its type does not have)
gets no answer, as at NASDAQ, and is not lost without a word: it is counted
(:attr:`Exchange.undecodable`, ``ouch_undecodable`` in the command's stats) and the first
:data:`LOGGED_UNDECODABLE` are logged with the peer and the decoder's reason. Why: a
client whose Enter Order was a byte short waited for an answer that never came, and the
exchange showed nothing. Test: ``test_exchange_server.py::test_undecodable_ouch_is_counted_and_logged``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from tickwire.cli import log_first
from tickwire.cli.output import LOGGED_FIRST
from tickwire.engine.strategy.live import wall_clock_ns
from tickwire.exchange.accounts import Account42, Account50
from tickwire.exchange.matching import Fill, MatchingEngine
from tickwire.exchange.seed import FlowReplayer
from tickwire.itch import Message
from tickwire.itch import encode as itch_encode
from tickwire.moldudp64.aio import MoldPublisher
from tickwire.moldudp64.events import Address
from tickwire.moldudp64.publisher import PublisherConfig, ServerConfig
from tickwire.ouch import OuchError, v42, v50
from tickwire.ouch import encode as ouch_encode
from tickwire.ouch.deadlines import DeadlineTimer
from tickwire.soupbintcp.aio import SoupServerRunner
from tickwire.soupbintcp.session import ServerConnection, SoupServer

log = logging.getLogger("tickwire.exchange")

#: How many undecodable OUCH messages are logged (all are counted).
LOGGED_UNDECODABLE = LOGGED_FIRST  # (tickwire.cli.log_first's rule)

__all__ = ["Exchange", "ExchangeConfig", "Faults", "FaultyPublisher"]


@dataclass(frozen=True, slots=True)
class Faults:
    """Faults injected on purpose (all off by default)."""

    #: Probability that a feed packet is not sent at all.
    feed_loss: float = 0.0
    #: Probability that a feed packet is held back and sent after the next one.
    feed_reorder: float = 0.0
    #: Extra delay (seconds) before every feed packet leaves.
    feed_delay: float = 0.0
    #: Abort the OUCH connection right after every N-th Enter Order (0: never).
    drop_ouch_every: int = 0
    #: Seed of the fault generator (reproducible runs).
    seed: int = 7


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    """Where the exchange listens and sends, and who may log in."""

    feed_target: tuple[str, int]
    host: str = "127.0.0.1"
    ouch50_port: int = 0
    ouch42_port: int | None = None
    rerequest_port: int = 0
    users: Mapping[str, str] = field(default_factory=lambda: {"TW": "SECRET"})
    feed_session: str = "TWFEED0001"
    ouch_session: str = "TWOUCH0001"
    flush_interval: float = 0.0005
    faults: Faults = Faults()
    #: The limits of the feed's MoldUDP64 re-request server (most messages a request is
    #: answered with, requests per address, answer bytes for all requesters: the
    #: ``ServerConfig`` fields). None: ``MoldPublisher.create``'s, the moldudp64 defaults
    #: (2,000 messages a request, 50 + 200/s requests per address, 1 MB + 10 MB/s of
    #: answers) in packets of the feed's ``max_payload``. Rule: the exchange's server is
    #: the one its publisher was made with, of this config. Why: ``Exchange.start``
    #: replaced the publisher's server by one of the default config, so no limit could be
    #: set (and a feed packet size other than the default would have been answered in
    #: default-size packets). Test:
    #: ``test_exchange_server.py::test_the_rerequest_server_runs_the_configured_limits``.
    rerequest: ServerConfig | None = None


class FaultyPublisher(MoldPublisher):
    """A MoldUDP64 publisher whose feed line loses, reorders and delays packets."""

    faults: Faults = Faults()
    rng: random.Random = random.Random(0)
    held: bytes | None = None
    dropped = 0
    reordered = 0

    def _send(self, data: bytes, addr: Address) -> None:
        f = self.faults
        if addr != self.target or (not f.feed_loss and not f.feed_reorder and not f.feed_delay):
            super()._send(data, addr)
            return
        if self.rng.random() < f.feed_loss:
            self.dropped += 1
            return
        if self.held is None and self.rng.random() < f.feed_reorder:
            self.held = data
            self.reordered += 1
            return
        out = [data]
        if self.held is not None:
            out.append(self.held)
            self.held = None
        for d in out:
            if f.feed_delay:
                asyncio.get_running_loop().call_later(f.feed_delay, super()._send, d, addr)
            else:
                super()._send(d, addr)


class Exchange:
    """The simulated exchange (see the module docs). ``await Exchange.start(config)``.

    ``clock`` stamps the ITCH and OUCH messages (ns since midnight: the wall clock of the
    day); ``deadline_clock`` measures the orders' deadlines, the accounts' and the
    timer's alike (ns, only runs forward: ``_AccountBase._expire_after`` in
    ``tickwire.exchange.accounts`` says why).
    """

    def __init__(
        self,
        config: ExchangeConfig,
        *,
        clock: Callable[[], int] = wall_clock_ns,
        deadline_clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.config = config
        self.engine = MatchingEngine(self._publish_itch, self._on_fill, clock)
        self.flow = FlowReplayer(self.engine)
        #: What order deadlines are measured on (both accounts, :meth:`_arm_expiry`).
        self.deadline_clock = deadline_clock
        self.account50 = Account50("ouch50", self.engine, deadline_clock=deadline_clock)
        self.account42 = Account42("ouch42", self.engine, deadline_clock=deadline_clock)
        self.feed: FaultyPublisher | None = None
        self.ouch50: SoupServerRunner | None = None
        self.ouch42: SoupServerRunner | None = None
        self.ouch50_port = 0
        self.ouch42_port: int | None = None
        self.published = 0
        self.unpublished = 0
        self.ouch_drops = 0
        #: OUCH messages no decoder could read (unknown type, wrong length): unanswered.
        self.undecodable = 0
        #: OUCH messages read on a connection after the fault dropped it (lost with it)
        self.ouch_lost = 0
        #: connections :meth:`drop_ouch` aborted: what was read behind the drop is lost
        self._dropped: weakref.WeakSet[ServerConnection] = weakref.WeakSet()
        self._enters = 0
        # the timer of the next 4.2 Time In Force / 5.0 GTT deadline (_arm_expiry), its time
        # the timer of the accounts' next order deadline (_arm_expiry)
        self._expiry = DeadlineTimer(deadline_clock, self._on_expiry_timer)

    @classmethod
    async def start(cls, config: ExchangeConfig) -> Exchange:
        self = cls(config)
        f = config.faults
        pub_cfg = PublisherConfig(config.feed_session, flush_interval=config.flush_interval)
        # answers to re-requests are never faulted (FaultyPublisher faults the feed line
        # only); they are limited by config.rerequest (ExchangeConfig.rerequest)
        feed = await FaultyPublisher.create(
            pub_cfg,
            config.feed_target,
            request_bind=(config.host, config.rerequest_port),
            server_config=config.rerequest,
        )
        assert isinstance(feed, FaultyPublisher)
        feed.faults = f
        feed.rng = random.Random(f.seed)
        self.feed = feed
        self.ouch50 = SoupServerRunner(self._soup(), self._on_ouch50)
        self.ouch50_port = await self.ouch50.start(config.host, config.ouch50_port)
        self.account50.send = self._sender(self.ouch50)
        if config.ouch42_port is not None:
            self.ouch42 = SoupServerRunner(self._soup(), self._on_ouch42)
            self.ouch42_port = await self.ouch42.start(config.host, config.ouch42_port)
            self.account42.send = self._sender(self.ouch42)
        return self

    def _soup(self) -> SoupServer:
        return SoupServer(
            self.config.users,
            session=self.config.ouch_session,
            max_rate=1_000_000.0,
            burst=1_000_000,
        )

    @staticmethod
    def _sender(runner: SoupServerRunner) -> _Publish:
        return _Publish(runner)

    @property
    def ouch_unsent(self) -> int:
        """Account answers (maker fills) not sent: their port's session had ended."""
        return sum(
            a.send.unsent for a in (self.account50, self.account42) if isinstance(a.send, _Publish)
        )

    @property
    def rerequest_address(self) -> tuple[str, int]:
        assert self.feed is not None and self.feed.request_address is not None
        return self.feed.request_address

    # -- ITCH out -------------------------------------------------------------------
    def _publish_itch(self, msg: Message) -> None:
        if self.feed is None or self.feed.publisher.closed:
            # after the feed's end of session the OUCH ports still take cancels (a
            # trader shutting down); their book changes have no session to go out on
            self.unpublished += 1
            return
        self.published += 1
        self.feed.publish(itch_encode(msg))

    def _on_fill(self, fill: Fill) -> None:
        owner = fill.owner
        if isinstance(owner, Account50 | Account42):
            owner.on_fill(fill)

    # -- time in force -------------------------------------------------------------
    def _expire_due(self) -> None:
        """Expire every account order whose time is up now, then arm the timer for the
        next deadline.

        Rule: called before an OUCH message is handled and before a flow message is
        applied (nothing trades with an order past its time, whichever port or flow it
        comes from), and by the timer (:meth:`_expire_now`) when the next deadline comes (the client hears of
        the expiry then, unsolicited, even when nothing else happens). Why: OUCH 4.2
        orders with a Time In Force in seconds (and 5.0 GTT orders) were good for ever.
        Tests:
        ``test_exchange_server.py::test_ouch42_a_time_in_force_in_seconds_expires_unsolicited``
        and, sans-I/O, ``test_exchange_hostile.py::test_ouch42_an_order_with_a_time_in_force_in_seconds_expires_on_the_engine_clock``.

        Nothing is due before ``_expiry.at``, the earliest deadline when the timer
        was last armed (every OUCH answer re-arms it, and only OUCH answers add
        deadlines; an order gone since leaves it early, which only costs a full look), so
        the check per flow message is one comparison: asking both accounts every time
        made seeding the books 60% slower.

        Deadlines are on :attr:`deadline_clock`, the accounts' own (never the engine's
        wall clock of the day). Test:
        ``test_exchange_server.py::test_the_timer_and_expire_due_measure_deadlines_on_the_deadline_clock``.
        """
        at = self._expiry.at
        if at is not None and at <= self.deadline_clock():
            self._expire_now()

    def _expire_now(self) -> None:
        """Expire what is due in both accounts, then re-arm the timer (the timer's own
        call: it may fire a hair before its deadline by :attr:`deadline_clock`)."""
        for account in (self.account50, self.account42):
            account.expire()
        self._arm_expiry()

    def _arm_expiry(self) -> None:
        """(Re)start the timer for the earliest deadline of either account, if any (only
        on a running loop: driven sans-I/O, the caller calls ``expire`` itself)."""
        due = [a.next_expiry() for a in (self.account50, self.account42)]
        self._expiry.arm(min((d for d in due if d is not None), default=None))

    def _on_expiry_timer(self) -> None:
        self._expire_now()
        self.flush()

    # -- OUCH in --------------------------------------------------------------------
    def _lost_with_the_link(self, conn: ServerConnection) -> bool:
        """Whether ``conn`` was dropped by :meth:`drop_ouch`: then a message read behind
        the dropping one, in the same read, is lost with the link (counted in
        :attr:`ouch_lost`), as it would be from a socket that is gone.

        Rule: the fault drops the requests in flight as well as the answers. Why: the
        SoupBinTCP runner hands on every message of a read; after the abort the rest
        was processed (entered, executed, answered into the replay), and each Enter
        among them aborted the dead connection again, counted as another drop (122
        drops for 14 connections), so the fault lost no request. Test:
        ``test_exchange_server.py::test_a_dropped_ouch_connection_loses_the_requests_read_with_the_order``.
        """
        if conn in self._dropped:
            self.ouch_lost += 1
            return True
        return False

    def _on_ouch50(self, conn: ServerConnection, data: bytes) -> None:
        if self._lost_with_the_link(conn):
            return
        self._expire_due()
        try:
            msg = v50.decode_inbound(data)
        except OuchError as exc:
            self._undecodable(conn, "5.0", data, exc)
            return
        self._answer(self.ouch50, self.account50.handle(msg), isinstance(msg, v50.EnterOrder))

    def _on_ouch42(self, conn: ServerConnection, data: bytes) -> None:
        if self._lost_with_the_link(conn):
            return
        self._expire_due()
        try:
            msg = v42.decode_inbound(data)
        except OuchError as exc:
            self._undecodable(conn, "4.2", data, exc)
            return
        self._answer(self.ouch42, self.account42.handle(msg), isinstance(msg, v42.EnterOrder))

    def _undecodable(
        self, conn: ServerConnection, version: str, data: bytes, exc: Exception
    ) -> None:
        """Count (and log the first few of) the OUCH messages no decoder could read."""
        self.undecodable += 1
        log_first(
            log,
            logging.WARNING,
            self.undecodable,
            "OUCH %s from %s (%s): %d bytes not decoded, not answered: %s",
            version,
            conn.peer,
            conn.username,
            len(data),
            exc,
        )

    def _answer(
        self,
        runner: SoupServerRunner | None,
        replies: Iterable[v50.OutboundMessage | v42.OutboundMessage],
        enter: bool,
    ) -> None:
        assert runner is not None
        for reply in replies:
            runner.core.publish(ouch_encode(reply))
        runner.pump()
        self._arm_expiry()  # the order just entered or replaced may have a deadline
        self.flush()
        n = self.config.faults.drop_ouch_every
        if enter:
            self._enters += 1
            if n and self._enters % n == 0:
                self.drop_ouch(runner)

    def drop_ouch(self, runner: SoupServerRunner | None = None) -> None:
        """Abort every OUCH connection (of ``runner``) without a logout: the fault."""
        for r in [runner] if runner is not None else [self.ouch50, self.ouch42]:
            if r is None:
                continue
            for proto in list(r.connections):
                if proto.transport is not None and not proto.transport.is_closing():
                    proto.transport.abort()
                    self.ouch_drops += 1
                    if proto.conn is not None:  # the rest of its read is lost with it
                        self._dropped.add(proto.conn)

    # -- flow -----------------------------------------------------------------------
    def open_market(self) -> None:
        """Publish the start of the day up to market hours (O, S, Q)."""
        for code in "OSQ":
            self.engine.system(code)
        self.flush()

    def replay(self, messages: Iterable[Message]) -> None:
        """Replay seed messages at once (seeding the books)."""
        for msg in messages:
            self._expire_due()
            self.flow.apply(msg)
        self.flush()

    async def run_flow(
        self, messages: Iterable[Message], *, rate: float = 20_000.0, batch: int = 20
    ) -> int:
        """Replay background flow at about ``rate`` messages a second; returns the count."""
        n = 0
        pause = batch / rate if rate > 0 else 0.0
        for msg in messages:
            self._expire_due()
            self.flow.apply(msg)
            n += 1
            if n % batch == 0:
                self.flush()
                await asyncio.sleep(pause)
        self.flush()
        return n

    def flush(self) -> None:
        if self.feed is not None:
            self.feed.flush()

    async def close(self) -> None:
        """End the OUCH sessions (both before either port closes: no order is taken on one
        while the other has ended), close the ports, end the feed session."""
        self._expiry.cancel()
        runners = [r for r in (self.ouch50, self.ouch42) if r is not None]
        for r in runners:
            r.end_session()
        for r in runners:
            await r.close()
        if self.feed is not None:
            await self.feed.close()


class _Publish:
    """Send an account's unsolicited answer (a maker fill) as sequenced data.

    Rule: once the port's SoupBinTCP session has ended there is no stream to send on: the
    answer is counted in :attr:`unsent` (the fill itself is booked in the account's
    ledger) and the match that caused it goes on (:attr:`Exchange.ouch_unsent`). Why:
    :meth:`Exchange.close` ended one port's session, then awaited its closing before
    ending the other's (it now ends both first), and an order on the other port that
    traded with this account's resting order meanwhile raised ``SessionError`` out of the
    match: the trade was on the feed and in this account's ledger, and the other client
    got neither its Accepted nor its Executed. Test:
    ``test_exchange_hostile.py::test_a_fill_after_one_ports_session_ended_spoils_nothing_on_the_other``.
    """

    def __init__(self, runner: SoupServerRunner) -> None:
        self.runner = runner
        #: Answers not sent: the port's session had ended.
        self.unsent = 0

    def __call__(self, msg: object) -> None:
        if self.runner.core.ended:
            self.unsent += 1
            return
        self.runner.publish(ouch_encode(msg))  # type: ignore[arg-type]
