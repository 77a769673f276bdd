"""OUCH 5.0 and 4.2 order-entry accounts in front of the matching engine (sans-I/O).

An account is one OUCH port: it turns inbound messages into matching engine requests and
answers the way NASDAQ does: Order Accepted (with the order reference number the ITCH
feed shows), Order Executed for every fill (liquidity flag ``A`` added or ``R`` removed,
the match number of the ITCH Order Executed), Order Canceled (reason ``U`` user request,
``I`` the unexecuted rest of an IOC order, ``T`` timeout: a Day order at the End of
Market Hours, :meth:`_AccountBase.at_close`, any order left at the End of System Hours,
:meth:`_AccountBase.at_system_close`, or a 4.2 order whose Time In Force in
seconds is up or a 5.0 GTT order whose ExpireTime is, :meth:`_AccountBase.expire`),
Order Replaced, Order Modified (a Modify:
:meth:`_AccountBase._modify`, OUCH 5.0 section 2.4) and Rejected.

Inbound messages are benignly repeatable, as the spec requires: an Enter or Replace with
a UserRefNum at or below the last one processed (5.0), or an Order Token already used
(4.2), is ignored. That is what lets a client resend everything not yet acknowledged after
a dropped connection without an order being doubled. Every accepted order is recorded in
:attr:`entered` (in arrival order), and fills go to a
:class:`~tickwire.engine.risk.Ledger`, so a test can check both sides agree.

``send(outbound)`` delivers the answers (the server publishes them as sequenced data).

Every Enter and Replace is validated before anything changes (book, ledger, records,
batch): its side, quantity and price by the one rule of
:func:`tickwire.ouch.v50.order_fields_reason` (a side not B, S, T, E:
``RejectReason.INVALID_SIDE``, 0x09, 4.2: ``Z``; a quantity not in
``1..v50.MAX_QUANTITY``, 999,999: ``INVALID_QUANTITY``, 0x13, 4.2: ``Z``; a price not in
``1..v50.MAX_PRICE``, 1,999,999,900, $199,999.9900: ``INVALID_PRICE``, 0x1D, 4.2: ``X``),
the backtest venue's and pre-trade risk's table. Both limits are within what the feed can
publish (ITCH Shares(4) and Price(4), the matching engine's own guards ``valid_shares``
and ``valid_price``), so no size or price the accounts take is refused mid-order. A
Replace whose details are
invalid (those checks, or the symbol halted or the market not open) is not Rejected: as
OUCH 5.0 section 2.2 case 2 says (4.2: the same), the original is canceled (Order
Canceled, reason ``Z``) and the replacement's UserRefNum (4.2: Order Token) is not
consumed, as the backtest venue answers. A 5.0 Time In Force byte not in the table, or
GTT without an ExpireTime appendage of 1 to 86,399 seconds, is Rejected 0x0F Other (a
Replace: invalid details),
checked after the others (:func:`_time_in_force_reason`), then a Display not ``Y``,
``N``, ``A`` (0x03 Invalid Display) or an appendage the exchange does not run, each
with its own reason (a Minimum Quantity other than 0, 0x0D Invalid Min Quantity; a
MaxFloor below the quantity, 0x04; a peg, 0x05; ...; all 4.2 ``Z``; a Replace: invalid
details): :func:`_terms_reason`. The exchange runs the
continuous market only (no opening, closing, halt or other cross), so an Enter whose
Cross Type is not ``N`` is Rejected 0x14 Invalid Cross Order (4.2: ``Z``), its
UserRefNum (Order Token) consumed, checked after all of those
(:func:`tickwire.ouch.v50.cross_type_reason`); a Replace carries no Cross Type, so
nothing changes there. A 5.0 Replace whose total is at or below the
shares the chain executed replaces the order dead (Order Replaced, 0 shares, state
``D``), as the backtest venue answers (:meth:`Account50._replace_dead`); a 4.2
Replace's Shares is the chain's total too (:meth:`Account42._replace`). And :meth:`handle` never leaves the batch open: should anything
raise inside, the batch is closed and what it collected (executions already booked) is
sent, then the exception goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tickwire.engine.risk import Ledger
from tickwire.exchange.matching import REMOVED, Fill, MatchingEngine, MatchingError
from tickwire.ouch import v42, v50
from tickwire.ouch.deadlines import Deadlines
from tickwire.ouch.orders import modify_refusal

__all__ = ["TIMEOUT", "Account42", "Account50", "OrderRecord", "v42_lifetime", "v50_lifetime"]

#: Order Canceled reason ``T``, timeout (OUCH 5.0 and 4.2 alike): a Day order at the End of
#: Market Hours, a 4.2 order at the end of its Time In Force in seconds, a 5.0 GTT order at
#: the end of its ExpireTime. The one name the backtest venues use too.
TIMEOUT = v50.CANCELED_TIMEOUT
#: Reject reasons: OUCH 5.0's table (Appendix D), also for a 4.2 port, whose Rejected
#: says each as its letter (``tickwire.ouch.v42.reject_letter``).
Reject = v50.RejectReason


@dataclass(slots=True)
class OrderRecord:
    """The exchange's view of one account order (one UserRefNum or token)."""

    key: int | str
    symbol: str
    side: str
    price: int
    quantity: int
    ref: int = 0  # order reference number (0: none given, a rejected order)
    executed: int = 0
    open: int = 0
    state: str = "live"  # live, done, rejected
    day: bool = False  # ends with market hours (5.0 Time In Force 0; 4.2 99998)
    expires: int | None = None  # deadline clock (ns) it is canceled at (4.2 TIF in s, GTT)
    #: The Enter's fields no Replace carries (5.0: Capacity, Cross Type; 4.2: Firm too),
    #: which every Order Replaced of the chain repeats: a replacement is the original
    #: order with a new size, price, Time In Force, Display and ISE, and the spec's
    #: Replace Order has no field to change these. The exchange said Capacity ``P``
    #: (4.2: ``A``, Firm empty) and Cross Type ``N`` whatever the Enter said, where
    #: ``OuchHost50``/``OuchHost42`` and the backtest venue repeat the original's. Tests:
    #: ``tests/test_exchange_venue_replace_parity.py::test_a_replace_keeps_the_originals_capacity_and_cross_type_on_both``,
    #: ``test_exchange_hostile.py::test_ouch42_a_replace_keeps_the_originals_firm_capacity_and_cross_type``.
    capacity: str = ""
    cross_type: str = ""
    firm: str = ""  # 4.2: Firm; 5.0: the Firm appendage (the feed's attribution)


#: How long (ns) a 4.2 order of a Time In Force lives, or None: no time limit (a number
#: of seconds but for 0 IOC, 99998 market hours, 99999 system hours). The one rule,
#: :func:`tickwire.ouch.v42.lifetime`, which ``OuchHost42`` shares.
v42_lifetime = v42.lifetime
#: How long (ns) a 5.0 order lives: a GTT its ExpireTime's seconds, else None. The one
#: rule, :func:`tickwire.ouch.v50.lifetime`, which ``OuchHost50`` shares.
v50_lifetime = v50.lifetime


class _AccountBase:
    def __init__(
        self,
        name: str,
        engine: MatchingEngine,
        send: Callable[[object], None] | None = None,
        *,
        deadline_clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.name = name
        self.engine = engine
        #: The clock (ns, only runs forward) order deadlines are measured on: see
        #: :meth:`_expire_after`. Not the engine's clock, which stamps the messages.
        self.deadline_clock = deadline_clock
        self.send: Callable[[object], None] = send if send is not None else (lambda m: None)
        self.ledger = Ledger()
        self.entered: list[int | str] = []
        self.records: dict[int | str, OrderRecord] = {}
        self.ignored = 0
        self._batch: list[object] | None = None
        # the deadlines (ns, on deadline_clock) of orders with a time limit: :meth:`expire`
        self._deadlines: Deadlines[int | str] = Deadlines()

    def _emit(self, msg: object) -> None:
        if self._batch is not None:
            self._batch.append(msg)
        else:
            self.send(msg)

    def _begin(self) -> None:
        self._batch = []

    def _end(self, first: list[object]) -> list[object]:
        batch, self._batch = self._batch or [], None
        return first + batch

    def _guarded(self, msg: object) -> list[object]:
        """:meth:`_handle`, with the batch closed whatever happens inside: on an
        exception what it collected (fills already booked) is sent, then it goes on.
        What is due expires first (:meth:`expire`, sent unsolicited), so a request naming
        an order whose time is up finds it gone."""
        self.expire()
        try:
            return self._handle(msg)
        finally:
            batch, self._batch = self._batch, None
            for m in batch or ():
                self.send(m)

    def _handle(self, msg: object) -> list[object]:
        raise NotImplementedError

    def on_fill(self, fill: Fill) -> None:
        """A fill of one of this account's orders (called by the exchange)."""
        if not isinstance(fill.tag, int | str):
            return
        rec = self.records.get(fill.tag)
        if rec is None:
            return
        rec.executed += fill.shares
        rec.open = max(0, rec.open - fill.shares)
        if rec.open == 0 and fill.liquidity != REMOVED:  # a maker (A, or J: hidden)
            rec.state = "done"
        self.ledger.fill(fill.symbol, fill.side, fill.shares, fill.price)
        self._emit(self._executed(fill))

    def _executed(self, fill: Fill) -> object:
        raise NotImplementedError

    def _canceled(self, key: int | str, shares: int, reason: str) -> object:
        raise NotImplementedError

    def at_close(self, tag: object) -> None:
        """End of market hours (the engine's System Event ``M``): a live Day order ends.

        Rule: a resting order entered or replaced as a Day order (OUCH 5.0 Time In Force
        ``0``; 4.2: 99998, market hours) is canceled, the feed showing its Order Delete,
        and the account answers Order Canceled, reason ``T`` (timeout), unsolicited.
        Other orders stay. As the backtest venue does at ``M``. Why: Day orders rested
        past the close. Tests: ``tests/test_exchange_venue_replace_parity.py::test_day_orders_are_canceled_at_the_end_of_market_hours_on_both``,
        ``test_exchange_hostile.py::test_day_orders_expire_at_the_close_and_the_feed_shows_it``.
        """
        if not isinstance(tag, int | str):
            return
        rec = self.records.get(tag)
        if rec is None or not rec.day or rec.state != "live":
            return
        dec = self._cancel(tag, 0)
        if dec:
            self._emit(self._canceled(tag, dec, TIMEOUT))

    def at_system_close(self, tag: object) -> None:
        """End of system hours (the engine's System Event ``E``): a live order ends.

        Rule: every order still resting, whatever its Time In Force (5.0 GTX ``5``, After
        Hours ``E``, GTT whose ExpireTime runs past it, a Day order left; 4.2 system
        hours 99999, a Time In Force in seconds), is canceled, the feed showing its Order
        Delete, and the account answers Order Canceled, reason ``T`` (timeout),
        unsolicited. As the backtest venue (``SimulatedVenue._expire_all_orders``, and the
        compiled ``CVenue``) does at ``E``. Why: they rested past the end of the system's
        day. Tests: ``tests/test_exchange_venue_replace_parity.py::test_every_order_left_is_canceled_at_the_end_of_system_hours_on_both``,
        ``test_exchange_hostile.py::test_every_order_left_expires_at_the_end_of_system_hours``.
        """
        if not isinstance(tag, int | str):
            return
        rec = self.records.get(tag)
        if rec is None or rec.state != "live":
            return
        dec = self._cancel(tag, 0)
        if dec:
            self._emit(self._canceled(tag, dec, TIMEOUT))

    def _expire_after(self, rec: OrderRecord, lifetime: int | None) -> None:
        """Give ``rec``, accepted (or replaced) now, its deadline, if any: the one place
        that says what a deadline is.

        Rule: a deadline is :attr:`deadline_clock` at acceptance plus the order's
        ``lifetime`` (:func:`v42_lifetime`, :func:`v50_lifetime`), and :meth:`expire`,
        :meth:`next_expiry` and the server's timer (``Exchange._arm_expiry``,
        ``Exchange._expire_due``) compare it with that clock only. The clock only runs
        forward (the server's is ``time.monotonic_ns``; a sans-I/O user gives its own);
        the engine's clock stays for the timestamps (ITCH and OUCH: nanoseconds since
        midnight). Why: a Time In Force in seconds and an ExpireTime are intervals, and
        they were measured on the wall clock of the day, so an order accepted just before
        local midnight never expired (the clock went back to 0 below its deadline) and a
        daylight-saving change made every deadline an hour late (or early). Tests:
        ``test_exchange_deadlines.py::test_orders_expire_on_time_across_local_midnight``,
        ``test_exchange_deadlines.py::test_orders_expire_on_time_when_the_wall_clock_steps_an_hour``.
        """
        if lifetime is None or rec.state != "live":
            return
        rec.expires = self.deadline_clock() + lifetime
        self._deadlines.set(rec.key, rec.expires)

    def _is_live(self, key: int | str) -> bool:
        rec = self.records.get(key)
        return rec is not None and rec.state == "live"

    def next_expiry(self) -> int | None:
        """The time (ns, on :attr:`deadline_clock`) :meth:`expire` next has an order to
        cancel at, or None."""
        return self._deadlines.next(self._is_live)

    def expire(self, now: int | None = None) -> int:
        """Cancel every live order whose time is up at ``now`` on :attr:`deadline_clock`
        (default: that clock's reading); returns how many.

        Rule: an OUCH 4.2 order whose Time In Force is N seconds (:func:`v42_lifetime`),
        and an OUCH 5.0 GTT order whose ExpireTime appendage is N seconds
        (:func:`v50_lifetime`), is canceled N seconds after it was accepted (its Order
        Accepted or Order Replaced: a replacement's own Time In Force and appendages count
        from its replace), earliest deadline first: the feed shows its
        Order Delete and the account answers Order Canceled, reason :data:`TIMEOUT`,
        unsolicited. Time is :attr:`deadline_clock` (:meth:`_expire_after`, never the
        engine's clock of the day), given to the account, so the exchange is driven sans-I/O:
        ``handle`` (both versions) expires what is due before it answers (a Cancel or
        Replace of an order whose time is up finds it gone), and the server calls this
        when :meth:`next_expiry` comes and before anything can trade
        (``Exchange._expire_due``). Why: every such order was good for ever (5.0 GTT
        until the End of System Hours took it). Tests:
        ``test_exchange_hostile.py::test_ouch42_an_order_with_a_time_in_force_in_seconds_expires_on_the_engine_clock``,
        ``test_exchange_hostile.py::test_ouch50_a_gtt_order_expires_after_its_expire_time_on_the_engine_clock``,
        and across midnight and a daylight-saving change, ``test_exchange_deadlines.py``.
        """
        if now is None:
            now = self.deadline_clock()
        n = 0
        for key in self._deadlines.due(now, self._is_live):
            dec = self._cancel(key, 0)
            if dec:
                self._emit(self._canceled(key, dec, TIMEOUT))
                n += 1
        return n

    def _validate(self, symbol: str, side: str, qty: int, price: int) -> Reject | None:
        """Why a new order is rejected, or None when it may enter the book.

        Rule: the symbol first (``INVALID_SYMBOL``), then the order's own side, quantity
        and price by :func:`tickwire.ouch.v50.order_fields_reason` (the one statement of
        OUCH's limits, 4.2's being the same), then the trading state
        (:meth:`_trading_reason`); a 5.0 Time In Force after all of these
        (:func:`_time_in_force_reason`), then the Display and Minimum Quantity
        (:func:`_terms_reason`), and an Enter's Cross Type last
        (:func:`tickwire.ouch.v50.cross_type_reason`: not ``N``, 0x14 Invalid Cross
        Order, 4.2 ``Z``; the exchange runs no crosses): the backtest venue's order. A
        Replace carries no Cross Type (its chain keeps the Enter's), so it is asked of
        Enters only, by the callers. Why: the accounts restated the limits (their own
        ``MAX_SHARES``, 1,000,000, and a price check of their own), and took an order of
        any Cross Type and traded it in the continuous book. Tests:
        ``tests/test_exchange_venue_replace_parity.py::test_an_enter_of_edge_fields_is_answered_alike_on_both``,
        ``tests/test_exchange_venue_replace_parity.py::test_the_largest_ouch_price_is_accepted_and_one_above_rejected_on_both``,
        ``test_exchange_cross_type.py``.
        """
        if symbol not in self.engine.books:
            return Reject.INVALID_SYMBOL
        reason = v50.order_fields_reason(side, qty, price)
        if reason is not None:
            return reason
        return self._trading_reason(symbol)

    def _trading_reason(self, symbol: str) -> Reject | None:
        """Why ``symbol`` takes no order now: the market not open, or the symbol halted.

        Rule: outside market hours (the last System Event not ``Q``) the answer is
        Appendix D's 0x02 Destination Closed (4.2: ``C``, exchange closed), a symbol not
        trading while the market is open 0x07 Halted (4.2: ``H``), the backtest venue's
        order of checks and codes. Why: the accounts answered 0x07 for both, where the
        backtest venue answered 0x02 after the close. Test:
        ``tests/test_exchange_venue_replace_parity.py::test_an_enter_outside_market_hours_or_while_halted_is_rejected_alike_on_both``.
        """
        if not self.engine.market_open():
            return Reject.DESTINATION_CLOSED
        if not self.engine.is_trading(symbol):
            return Reject.HALTED
        return None

    def _validate_replace(self, symbol: str, side: str, qty: int, price: int) -> Reject | None:
        """Why a replace's details are invalid, or None when it may replace the original.

        Rule: the checks of :meth:`_validate` that a replace can fail, in its order, the
        trading state included (halted, or the market not open). Invalid details are
        OUCH 5.0 section 2.2 case 2 (OUCH 4.2's Replace has the same three cases): the
        caller takes the original out of the book (:meth:`_cancel_for_replace`) and the
        replacement's UserRefNum (4.2: Order Token) is not consumed. Why: a Replace that
        crossed traded through the halt (and before the open), which no Enter could; and
        the backtest venue answers case 2 so. Tests:
        ``test_exchange_hostile.py::test_ouch50_a_replace_while_halted_cancels_the_original_and_does_not_trade``
        and ``tests/test_exchange_venue_replace_parity.py``.
        """
        reason = v50.order_fields_reason(side, qty, price)  # side: the original's
        if reason is not None:
            return reason
        return self._trading_reason(symbol)

    def _cancel_for_replace(self, old: OrderRecord) -> int:
        """Take ``old`` out of the book for a Replace whose details are invalid.

        Rule: OUCH 5.0 section 2.2 case 2 (4.2: the same): "a Cancel Order Message will
        take the existing order out of the book. The replacement Order UserRefNum will not
        be consumed, and may be reused in this case." The caller answers Order Canceled
        for the shares returned with reason ``Z`` (system cancel), as the backtest venue
        does (``tickwire.engine.backtest.venue``), and records nothing under the
        replacement's key. Cancels go through whatever the trading state, so nothing
        trades. Why: the account answered Rejected and kept the original (case 3's
        answer, for an order that cannot be canceled), and consumed the replacement's
        key. Test: ``tests/test_exchange_venue_replace_parity.py``.
        """
        return self._cancel(old.key, 0)

    def _rejected(self, key: int | str, symbol: str, side: str, qty: int, price: int) -> None:
        """A rejected order is still known (once): recorded, never on a book."""
        self.records[key] = OrderRecord(key, symbol, side, price, qty, state="rejected")
        self.entered.append(key)

    def _enter(self, key: int | str, symbol: str, side: str, qty: int, price: int, ioc: bool, day: bool = False, *, capacity: str = "", cross_type: str = "", firm: str = "", display: str = "Y") -> tuple[OrderRecord, int]:  # fmt: skip
        rec = OrderRecord(key, symbol, side, price, qty, open=qty, day=day, capacity=capacity, cross_type=cross_type, firm=firm)  # fmt: skip
        self.records[key] = rec
        self.entered.append(key)
        ref, done, resting = self.engine.submit(
            symbol, side, qty, price, ioc=ioc, owner=self, tag=key, hidden=hidden(display),
            attribution=attribution(display, firm),
        )  # fmt: skip
        rec.ref = ref
        rec.open = resting
        if resting == 0:
            rec.state = "done"
        return rec, qty - done - resting

    def _successor(
        self, old: OrderRecord, key: int | str, qty: int, price: int, day: bool = False
    ) -> OrderRecord:
        """Record the replacement of ``old`` *before* the engine replaces it.

        Rule: a replace that crosses the book trades at once, and the engine reports those
        fills with the replacement's key as their tag, so the replacement must be in
        :attr:`records` before ``engine.replace`` runs (as :meth:`_enter` records an order
        before submitting it). The Order Replaced says what an Order Accepted would: the
        replacement's open shares before those fills, state ``L``; its Order Executed
        follow it. Why: it was recorded after, :meth:`on_fill` found no record and dropped
        the fills: the feed showed the trade, the client got an Order Replaced for the
        rest (dead, ``D``, when nothing rested) and no Executed, and the ledger missed the
        position. Test:
        ``test_exchange_hostile.py::test_ouch50_a_replace_that_crosses_reports_its_executions``
        (and ``..._ouch42_...``).
        """
        rec = OrderRecord(key, old.symbol, old.side, price, qty, day=day)
        rec.executed = old.executed
        # what no Replace carries: the chain's first Enter's (OrderRecord.capacity)
        rec.capacity, rec.cross_type, rec.firm = old.capacity, old.cross_type, old.firm
        self.records[key] = rec
        self.entered.append(key)
        return rec

    def _dead_successor(self, old: OrderRecord, key: int | str, price: int) -> OrderRecord:
        """End ``old``'s chain with a replacement that is dead on arrival (a Replace whose
        total is at or below what the chain executed, 5.0 and 4.2 alike): the original
        leaves the book, the replacement's key is consumed, and it gets a fresh order
        reference number the feed never shows (:meth:`MatchingEngine.new_ref`)."""
        self._cancel(old.key, 0)
        old.state = "done"
        rec = self._successor(old, key, 0, price)
        rec.state = "done"
        rec.ref = self.engine.new_ref()
        return rec

    def _live(self, key: int | str) -> bool:
        """Whether order ``key`` is live; if not, the request naming it is ignored
        (counted in :attr:`ignored`)."""
        rec = self.records.get(key)
        if rec is None or rec.state != "live":
            self.ignored += 1
            return False
        return True

    def _modify(self, key: int | str, side: str, quantity: int) -> Reject | Literal[False] | None:
        """Apply a Modify of order ``key``: the reason when refused, False when ignored,
        else None (the caller answers Order Modified; nothing when :meth:`_live` did not
        find the order or it is ignored).

        Rule: OUCH 5.0 section 2.4 (4.2's Modify Order alike), the rule
        :func:`tickwire.ouch.orders.modify_refusal` that ``OuchHost50``/``OuchHost42``
        share: the side may change among the sell sides (S, T, E) or stay, else Rejected
        (``INVALID_SIDE``; 4.2: ``Z``), the order intact; more shares than open are
        ignored, as the spec says; 0 cancels the rest (the order done). A Modify of an
        order not live (unknown, done, rejected) is ignored, as a superfluous Cancel is. A granted reduction is a partial
        cancel: the feed shows an ITCH Order Cancel and the order keeps its priority; a
        side change among the sell sides is the same ITCH side (S), so the book does not
        change and the feed shows nothing. Cancels go through whatever the trading state,
        and so does a Modify. Why: the account ignored every Modify (counted in
        :attr:`ignored`), leaving the client's Modify in flight for ever. Tests:
        ``test_exchange_modify.py``.
        """
        rec = self.records[key]
        refused = modify_refusal(rec.side, side, rec.open, quantity)
        if refused is False:  # more shares: ignored (spec 2.4)
            self.ignored += 1
            return False
        if refused is not None:
            return refused
        rec.side = side
        if quantity < rec.open:
            self._cancel(key, quantity)  # 0: the rest cancelled, the order done
        return None

    def _cancel(self, key: int | str, remaining: int) -> int:
        rec = self.records.get(key)
        if rec is None or rec.state != "live" or remaining >= rec.open:
            self.ignored += 1
            return 0
        dec = self.engine.cancel(rec.ref, remaining)
        rec.open -= dec
        if rec.open == 0:
            rec.state = "done"
        return dec


def hidden(display: str) -> bool:
    """Whether an order of OUCH Display ``display`` is hidden (5.0 and 4.2: ``N``).

    Rule: a hidden order rests and trades but the ITCH feed never shows it (the matching
    engine's ``hidden``: no Add Order, its executions Trades ``P``), and at its price it
    trades after every displayed order (``matching._next_in_line``); every other Display
    is shown. An Enter's Display decides, a Replace's its replacement's. Why: the
    exchange ignored Display and published a hidden order's Add Order and executions
    like any other's. Test: ``test_exchange_display.py``.
    """
    return display == v50.Display.HIDDEN


#: The MPID an attributed order with no Firm of its own shows: ITCH 5.0 4.3.1's "NSDQ".
DEFAULT_ATTRIBUTION = "NSDQ"


def attribution(display: str, firm: str) -> str:
    """The MPID the feed attributes an order of Display ``display`` to, or ``""``.

    Rule: Display ``A`` (attributable, 5.0 and 4.2) is an ITCH Add Order with MPID
    Attribution (``F``) naming the order's Firm (4.2's Firm field, 5.0's Firm
    appendage; a Replace keeps its chain's), or ``NSDQ`` when it has none (ITCH 5.0
    4.3.1's MPID for an order without one); any other Display is unattributed. Why: the
    exchange published every displayed order as an unattributed Add Order. Test:
    ``test_exchange_display.py``.
    """
    if display != v50.Display.ATTRIBUTABLE:
        return ""
    return firm.strip() or DEFAULT_ATTRIBUTION


def _time_in_force_reason(msg: v50.EnterOrder | v50.ReplaceOrder) -> Reject | None:
    """Why an OUCH 5.0 Enter or Replace's Time In Force cannot be taken, or None.

    Rule: a byte not in OUCH 5.0's table, or GTT without an ExpireTime appendage of 1 to
    86,399 seconds (:func:`tickwire.ouch.v50.time_in_force_error`), is 0x0F Other (Appendix D has no
    Time In Force reason), asked after every other check of :meth:`_AccountBase._validate`:
    an Enter is Rejected, a Replace has invalid details (section 2.2 case 2: the original
    is canceled, reason ``Z``), as the backtest venue answers. Why: the account took any
    byte a client sent (it receives raw bytes) and rested the order as if it were not Day,
    never expired; GTT without ExpireTime rested for ever. Tests:
    ``tests/test_exchange_venue_replace_parity.py::test_a_bad_time_in_force_is_answered_alike_on_both``,
    ``test_exchange_hostile.py::test_ouch50_a_gtt_expire_time_of_0_or_a_day_or_more_is_refused``.
    """
    if v50.time_in_force_error(msg.time_in_force, msg.appendages) is not None:
        return Reject.OTHER
    return None


def _terms_reason(
    msg: v50.EnterOrder | v50.ReplaceOrder | v42.EnterOrder | v42.ReplaceOrder,
) -> Reject | None:
    """Why an Enter or Replace's Display or appendages cannot be taken, or None.

    Rule: :func:`tickwire.ouch.v50.order_terms_reason` (a Display not ``Y``, ``N``,
    ``A``: 0x03 Invalid Display; then an appendage the exchange does not run: a MinQty
    other than 0, 0x0D Invalid Min Quantity; a MaxFloor below the quantity, 0x04; a
    peg, 0x05; discretion, PostOnly, RandomReserves, 0x0F; a Route, 0x16; a HandleInst,
    0x14; 4.2: ``Z``), of 5.0's appendages or 4.2's Minimum Quantity field, asked after the Time In Force and before an Enter's Cross
    Type: an Enter is Rejected, a Replace has invalid details (section 2.2 case 2), as
    the backtest venue answers. Why: a Display ``Q`` or NUL was accepted and echoed,
    MinQty 100 filled 50 shares, and a reserve or post-only order traded as a plain
    one. Test: ``test_exchange_order_terms.py``.
    """
    if isinstance(msg, v42.EnterOrder | v42.ReplaceOrder):
        appendages = v50.min_qty_appendages(msg.minimum_quantity)
        return v50.order_terms_reason(msg.display, msg.shares, appendages)
    return v50.order_terms_reason(msg.display, msg.quantity, msg.appendages)


class Account50(_AccountBase):
    """An OUCH 5.0 port (see the module docs)."""

    def __init__(
        self,
        name: str,
        engine: MatchingEngine,
        send: Callable[[object], None] | None = None,
        *,
        deadline_clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        super().__init__(name, engine, send, deadline_clock=deadline_clock)
        self.last_user_ref_num = 0
        #: The ClOrdID of every order accepted, entered or replaced (a Replace Order
        #: Request carries the replacement's own), for the answers that carry one.
        self.cl_ord_ids: dict[int, str] = {}

    def _executed(self, fill: Fill) -> v50.OrderExecuted:
        return v50.OrderExecuted(
            self.engine.clock(),
            int(fill.tag),  # type: ignore[call-overload]
            fill.shares,
            fill.price,
            fill.liquidity,
            fill.match_number,
        )

    def _canceled(self, key: int | str, shares: int, reason: str) -> v50.OrderCanceled:
        return v50.OrderCanceled(self.engine.clock(), int(key), shares, reason)

    def handle(self, msg: v50.InboundMessage) -> list[v50.OutboundMessage]:
        """Answer one inbound message (executions of the order itself included)."""
        return self._guarded(msg)  # type: ignore[return-value]

    def _handle(self, msg: object) -> list[object]:
        ts = self.engine.clock()
        if isinstance(msg, v50.EnterOrder):
            if msg.user_ref_num <= self.last_user_ref_num:
                self.ignored += 1  # a repeat (resent after a reconnect): ignore it
                return []
            self.last_user_ref_num = msg.user_ref_num
            reason = self._validate(msg.symbol, msg.side, msg.quantity, msg.price)
            if reason is None:
                reason = _time_in_force_reason(msg)
            if reason is None:
                reason = _terms_reason(msg)
            if reason is None:  # the Enter's Cross Type, last (_validate's docs)
                reason = v50.cross_type_reason(msg.cross_type)
            if reason is not None:
                self._rejected(msg.user_ref_num, msg.symbol, msg.side, msg.quantity, msg.price)
                return [v50.Rejected(ts, msg.user_ref_num, reason, msg.cl_ord_id)]
            self.cl_ord_ids[msg.user_ref_num] = msg.cl_ord_id
            ioc = msg.time_in_force == v50.TimeInForce.IOC
            # The Accepted goes first; executions of the incoming order follow it.
            self._begin()
            try:
                day = msg.time_in_force == v50.TimeInForce.DAY
                rec, unfilled = self._enter(
                    msg.user_ref_num, msg.symbol, msg.side, msg.quantity, msg.price, ioc, day,
                    capacity=msg.capacity, cross_type=msg.cross_type, display=msg.display,
                    firm=v50.firm_appendage(msg.appendages),
                )  # fmt: skip
            except MatchingError:
                self._batch = None
                reason = Reject.PROCESSING_ERROR
                return [v50.Rejected(ts, msg.user_ref_num, reason, msg.cl_ord_id)]
            self._expire_after(rec, v50_lifetime(msg.time_in_force, msg.appendages))
            acc = v50.OrderAccepted(
                ts, msg.user_ref_num, msg.side, msg.quantity, msg.symbol, msg.price,
                msg.time_in_force, msg.display, rec.ref, msg.capacity,
                msg.intermarket_sweep_eligibility, msg.cross_type, "L", msg.cl_ord_id,
                msg.appendages,
            )  # fmt: skip
            out = self._end([acc])
            if ioc and unfilled:
                out.append(v50.OrderCanceled(ts, msg.user_ref_num, unfilled, "I"))
            return out
        if isinstance(msg, v50.CancelOrder):
            dec = self._cancel(msg.user_ref_num, msg.quantity)
            return [v50.OrderCanceled(ts, msg.user_ref_num, dec, "U")] if dec else []
        if isinstance(msg, v50.ReplaceOrder):
            return self._replace(msg, ts)
        if isinstance(msg, v50.ModifyOrder):
            if not self._live(msg.user_ref_num):
                return []
            refused = self._modify(msg.user_ref_num, msg.side, msg.quantity)
            if refused is False:
                return []
            if refused is not None:
                cl_ord_id = self.cl_ord_ids.get(msg.user_ref_num, "")
                return [v50.Rejected(ts, msg.user_ref_num, refused, cl_ord_id)]
            return [v50.OrderModified(ts, msg.user_ref_num, msg.side, msg.quantity)]
        if isinstance(msg, v50.AccountQueryRequest):
            return [v50.AccountQueryResponse(ts, v50.next_user_ref_num(self.last_user_ref_num))]
        self.ignored += 1
        return []

    def _replace(self, msg: v50.ReplaceOrder, ts: int) -> list[object]:
        old = self.records.get(msg.orig_user_ref_num)
        if msg.user_ref_num <= self.last_user_ref_num or old is None or old.state != "live":
            # a repeat (1.2), or the original is gone: silently ignored, the UserRefNum
            # not consumed (spec 2.2, case 1)
            self.ignored += 1
            return []
        if (
            self._validate_replace(old.symbol, old.side, msg.quantity, msg.price) is not None
            or _time_in_force_reason(msg) is not None
            or _terms_reason(msg) is not None
        ):
            # invalid details: the original is canceled, the UserRefNum not consumed (case 2)
            dec = self._cancel_for_replace(old)
            return [v50.OrderCanceled(ts, msg.orig_user_ref_num, dec, "Z")] if dec else []
        self.last_user_ref_num = msg.user_ref_num
        # The replacement's own ClOrdID (v50.ReplaceOrder carries one): a Rejected naming
        # the replacement (a Modify refused) carries it. Recorded for Enters only, it was
        # empty. Test: test_exchange_modify.py::test_ouch50_a_rejected_modify_of_a_replacement_carries_the_replacements_cl_ord_id
        self.cl_ord_ids[msg.user_ref_num] = msg.cl_ord_id
        new_open = msg.quantity - old.executed  # the wire carries the chain's total
        if new_open <= 0:
            return self._replace_dead(old, msg, ts)
        day = msg.time_in_force == v50.TimeInForce.DAY
        rec = self._successor(old, msg.user_ref_num, new_open, msg.price, day)
        self._begin()
        # An IOC replacement never rests: its unexecuted rest is canceled, reason I, after
        # its Order Replaced and Order Executed, as an IOC Enter's and the backtest
        # venue's (it rested as a Day order). Test:
        # tests/test_exchange_venue_replace_parity.py::test_a_replace_to_ioc_never_rests_on_both
        ioc = msg.time_in_force == v50.TimeInForce.IOC
        result = self.engine.replace(
            old.ref, new_open, msg.price, tag=msg.user_ref_num, ioc=ioc,
            hidden=hidden(msg.display), attribution=attribution(msg.display, old.firm),
        )  # fmt: skip
        old.state = "done"
        old.open = 0
        assert result is not None
        ref, done, resting = result
        rec.ref = ref
        rec.open = resting
        rec.state = "live" if resting else "done"
        self._expire_after(rec, v50_lifetime(msg.time_in_force, msg.appendages))
        rep = v50.OrderReplaced(
            ts, msg.orig_user_ref_num, msg.user_ref_num, old.side, new_open, old.symbol,
            msg.price, msg.time_in_force, msg.display, ref, rec.capacity,
            msg.intermarket_sweep_eligibility, rec.cross_type, "L", msg.cl_ord_id,
            msg.appendages,
        )  # fmt: skip
        out = self._end([rep])
        unfilled = new_open - done - resting
        if ioc and unfilled:
            out.append(v50.OrderCanceled(ts, msg.user_ref_num, unfilled, "I"))
        return out

    def _replace_dead(self, old: OrderRecord, msg: v50.ReplaceOrder, ts: int) -> list[object]:
        """A Replace whose chain total is at or below the shares the chain executed.

        Rule: the quantity (1..999,999) is valid, so this is a Replace that happens (OUCH
        5.0 section 2.2: neither case 1, the original is live, nor case 2, its details
        are valid), with nothing left to expose: the original leaves the book (the feed
        shows its delete), the UserRefNum is consumed and the answer is an Order Replaced
        of 0 shares, Order State ``D`` (dead), and a fresh order reference number
        (:meth:`MatchingEngine.new_ref`: the feed never shows it). The chain is done: it
        is liable for no more than it executed. As the backtest venue
        (``SimulatedVenue._replace``, ``exposed == 0``) answers. The reference number: the
        spec text in this repository says nothing of a dead replacement's, so the
        exchange follows the backtest venue, the oracle, which gives every replacement a
        fresh one (it answered 0). Why: the account answered Rejected INVALID_QUANTITY
        and kept the original open, a reject the spec gives no Replace, so the same
        strategy saw its chain end in a backtest and go on trading live. Test:
        ``tests/test_exchange_venue_replace_parity.py::test_a_replace_at_or_below_the_executed_shares_replaces_the_order_dead_on_both``.
        """
        rec = self._dead_successor(old, msg.user_ref_num, msg.price)
        rep = v50.OrderReplaced(
            ts, msg.orig_user_ref_num, msg.user_ref_num, old.side, 0, old.symbol, msg.price,
            msg.time_in_force, msg.display, rec.ref, rec.capacity,
            msg.intermarket_sweep_eligibility, rec.cross_type, "D", msg.cl_ord_id, msg.appendages,
        )  # fmt: skip
        return [rep]


class Account42(_AccountBase):
    """An OUCH 4.2 port: orders keyed by Order Token (see the module docs)."""

    def _executed(self, fill: Fill) -> v42.OrderExecuted:
        return v42.OrderExecuted(
            self.engine.clock(),
            str(fill.tag),
            fill.shares,
            fill.price,
            fill.liquidity,
            fill.match_number,
        )

    def _canceled(self, key: int | str, shares: int, reason: str) -> v42.OrderCanceled:
        return v42.OrderCanceled(self.engine.clock(), str(key), shares, reason)

    def handle(self, msg: v42.InboundMessage) -> list[v42.OutboundMessage]:
        """Answer one inbound message (executions of the order itself included)."""
        return self._guarded(msg)  # type: ignore[return-value]

    def _handle(self, msg: object) -> list[object]:
        ts = self.engine.clock()
        if isinstance(msg, v42.EnterOrder):
            if msg.order_token in self.records:
                self.ignored += 1
                return []
            reason = self._validate(msg.stock, msg.buy_sell_indicator, msg.shares, msg.price)
            if reason is None:
                reason = _terms_reason(msg)
            if reason is None:  # the Enter's Cross Type, last (_validate's docs)
                reason = v50.cross_type_reason(msg.cross_type)
            if reason is not None:
                self._rejected(
                    msg.order_token, msg.stock, msg.buy_sell_indicator, msg.shares, msg.price
                )
                return [v42.Rejected(ts, msg.order_token, v42.reject_letter(reason))]
            ioc = msg.time_in_force == v42.TIF_IOC
            self._begin()
            day = msg.time_in_force == v42.TIF_MARKET_HOURS
            rec, unfilled = self._enter(
                msg.order_token, msg.stock, msg.buy_sell_indicator, msg.shares, msg.price, ioc, day,
                capacity=msg.capacity, cross_type=msg.cross_type, firm=msg.firm,
                display=msg.display,
            )  # fmt: skip
            self._expire_after(rec, v42_lifetime(msg.time_in_force))
            acc = v42.OrderAccepted(
                ts, msg.order_token, msg.buy_sell_indicator, msg.shares, msg.stock, msg.price,
                msg.time_in_force, msg.firm, msg.display, rec.ref, msg.capacity,
                msg.intermarket_sweep_eligibility, msg.minimum_quantity, msg.cross_type, "L", " ",
            )  # fmt: skip
            out = self._end([acc])
            if ioc and unfilled:
                out.append(v42.OrderCanceled(ts, msg.order_token, unfilled, "I"))
            return out
        if isinstance(msg, v42.CancelOrder):
            dec = self._cancel(msg.order_token, msg.shares)
            return [v42.OrderCanceled(ts, msg.order_token, dec, "U")] if dec else []
        if isinstance(msg, v42.ReplaceOrder):
            return self._replace(msg, ts)
        if isinstance(msg, v42.ModifyOrder):
            if not self._live(msg.order_token):
                return []
            side = msg.buy_sell_indicator
            refused = self._modify(msg.order_token, side, msg.shares)
            if refused is False:
                return []
            if refused is not None:
                return [v42.Rejected(ts, msg.order_token, v42.reject_letter(refused))]
            return [v42.OrderModified(ts, msg.order_token, side, msg.shares)]
        self.ignored += 1
        return []

    def _replace(self, msg: v42.ReplaceOrder, ts: int) -> list[object]:
        """OUCH 4.2 Replace: ``shares`` is the chain's total (executed + open), as in 5.0.

        Rule: the replacement's open shares are ``shares`` less what the chain executed,
        as :meth:`Account50._replace` takes a 5.0 Quantity, and a total at or below the
        shares executed replaces the order dead (Order Replaced, 0 shares, state ``D``:
        :meth:`_replace_dead`). Why: the rule the client keeps for both versions
        (``tickwire.ouch.tracker``, "the chain rules of a Replace (the same in 4.2 and
        5.0)", ``OrderBook42.replace``); this port took ``shares`` as the new open size,
        so a Replace of a partly executed order opened more than the client sent, and the
        client distrusted the honest answer (the order manager's kill switch). Test:
        ``test_exchange_client_property.py::test_ouch42_a_replace_of_a_partly_executed_order_opens_the_total_less_executed``.
        """
        old = self.records.get(msg.existing_order_token)
        if msg.replacement_order_token in self.records or old is None or old.state != "live":
            self.ignored += 1  # a repeat, or the original is gone: ignored
            return []
        if (
            self._validate_replace(old.symbol, old.side, msg.shares, msg.price) is not None
            or _terms_reason(msg) is not None
        ):
            # invalid details: the original is canceled, the token not consumed (case 2)
            dec = self._cancel_for_replace(old)
            return [v42.OrderCanceled(ts, msg.existing_order_token, dec, "Z")] if dec else []
        token = msg.replacement_order_token
        new_open = msg.shares - old.executed  # the wire carries the chain's total
        if new_open <= 0:
            return self._replace_dead(old, msg, ts)
        day = msg.time_in_force == v42.TIF_MARKET_HOURS
        rec = self._successor(old, token, new_open, msg.price, day)
        self._begin()
        # An IOC replacement never rests, as 5.0's (Account50._replace). Test:
        # test_exchange_hostile.py::test_ouch42_a_replace_to_ioc_never_rests
        ioc = msg.time_in_force == v42.TIF_IOC
        result = self.engine.replace(
            old.ref, new_open, msg.price, tag=token, ioc=ioc,
            hidden=hidden(msg.display), attribution=attribution(msg.display, old.firm),
        )  # fmt: skip
        assert result is not None
        ref, done, resting = result
        old.state = "done"
        old.open = 0
        rec.ref = ref
        rec.open = resting
        rec.state = "live" if resting else "done"
        self._expire_after(rec, v42_lifetime(msg.time_in_force))
        rep = v42.OrderReplaced(
            ts, msg.replacement_order_token, old.side, new_open, old.symbol, msg.price,
            msg.time_in_force, rec.firm, msg.display, ref, rec.capacity,
            msg.intermarket_sweep_eligibility, msg.minimum_quantity, rec.cross_type, "L",
            msg.existing_order_token, " ",
        )  # fmt: skip
        out = self._end([rep])
        unfilled = new_open - done - resting
        if ioc and unfilled:
            out.append(v42.OrderCanceled(ts, token, unfilled, "I"))
        return out

    def _replace_dead(self, old: OrderRecord, msg: v42.ReplaceOrder, ts: int) -> list[object]:
        """A 4.2 Replace whose total is at or below the shares the chain executed: as
        :meth:`Account50._replace_dead` (the original leaves the book, the token is
        consumed, Order Replaced of 0 shares, state ``D``, a fresh reference number)."""
        rec = self._dead_successor(old, msg.replacement_order_token, msg.price)
        rep = v42.OrderReplaced(
            ts, msg.replacement_order_token, old.side, 0, old.symbol, msg.price,
            msg.time_in_force, rec.firm, msg.display, rec.ref, rec.capacity,
            msg.intermarket_sweep_eligibility, msg.minimum_quantity, rec.cross_type, "D",
            msg.existing_order_token, " ",
        )  # fmt: skip
        return [rep]
