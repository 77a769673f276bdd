"""Prices and sizes the exchange cannot publish are rejected before anything changes.

OUCH 5.0 carries prices in 8 bytes, but the ITCH Add Order and Order Replace the exchange
publishes carry Price(4): a price above 0xFFFFFFFF cannot reach the feed. Such an order
used to rest on the book unpublished (ref 0, no Accepted) and leave the account's batch
open, so a later fill of it was booked but its Executed never reached the client.
Sans-I/O: a real MatchingEngine, real accounts, the published messages encoded and
replayed into a real BookManager.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tickwire.exchange.accounts import Account42, Account50
from tickwire.exchange.matching import MatchingError, valid_price, valid_shares
from tickwire.ouch import v42, v50

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
from _exchange_venue import Venue as _Venue  # noqa: E402
from _exchange_venue import enter50 as _enter50  # noqa: E402

MAX_PRICE = 2**32 - 1  # ITCH Price(4)
MAX_OUCH_PRICE = 1_999_999_900  # OUCH: $199,999.9900
HOSTILE = [MAX_OUCH_PRICE + 1, MAX_PRICE, 2**32, 2**63, 2**64 - 1, 0, -1]


@pytest.mark.parametrize("price", HOSTILE)
def test_ouch50_enter_at_an_unpublishable_price_is_rejected_before_anything_changes(
    price: int,
) -> None:
    v = _Venue(Account50)
    before = v.state()
    out = v.acct.handle(_enter50(1, price))
    assert len(out) == 1 and isinstance(out[0], v50.Rejected)
    assert out[0].reason == v50.RejectReason.INVALID_PRICE
    assert v.state() == before and v.acct._batch is None
    assert v.acct.records[1].state == "rejected" and v.acct.records[1].ref == 0
    # The account still works: a later order rests, trades, and its Executed arrives.
    out = v.acct.handle(_enter50(2, 1_000_000))
    assert isinstance(out[0], v50.OrderAccepted) and out[0].order_reference_number > 0
    v.engine.submit("AAPL", "S", 50, 100)
    assert [type(m) for m in v.sent] == [v50.OrderExecuted]
    assert v.acct.ledger.positions == {"AAPL": 50}
    v.equal()


@pytest.mark.parametrize("price", HOSTILE)
def test_ouch50_replace_to_an_unpublishable_price_cancels_the_order_and_publishes_no_price(
    price: int,
) -> None:
    """OUCH 5.0 2.2 case 2: a Replace whose price is invalid cancels the original (reason
    Z); the feed shows the delete and never the price, and the books stay equal."""
    v = _Venue(Account50)
    v.acct.handle(_enter50(1, 1_000_000))
    published = len(v.published)
    msg = v50.ReplaceOrder(1, 2, 100, price, "0", "Y", "N", "X")
    assert v.acct.handle(msg) == [v50.OrderCanceled(1, 1, 100, "Z")]
    assert v.acct._batch is None and v.acct.records[1].state == "done"
    assert len(v.published) == published + 1 and list(v.engine.resting_orders()) == []
    assert 2 not in v.acct.records
    v.engine.submit("AAPL", "S", 100, 100)  # nothing of ours is left to trade
    assert v.sent == [] and v.acct.ledger.positions == {}
    v.equal()


def test_a_replace_with_a_bad_quantity_cancels_the_order() -> None:
    v = _Venue(Account50)
    v.acct.handle(_enter50(1, 1_000_000))
    out = v.acct.handle(v50.ReplaceOrder(1, 2, 0, 1_000_000, "0", "Y", "N", "X"))
    assert out == [v50.OrderCanceled(1, 1, 100, "Z")]


def _enter42(token: str, price: int) -> v42.EnterOrder:
    return v42.EnterOrder(token, "B", 100, "AAPL", price, 99999, "TW", "Y", "P", "N", 0, "N", " ")


@pytest.mark.parametrize("price", HOSTILE)
def test_ouch42_enter_and_replace_at_an_unpublishable_price_are_rejected(price: int) -> None:
    v = _Venue(Account42)
    before = v.state()
    out = v.acct.handle(_enter42("BAD", price))
    assert out == [v42.Rejected(1, "BAD", "X")]  # 4.2: X, Invalid Price
    assert v.state() == before and v.acct._batch is None
    v.acct.handle(_enter42("OK", 1_000_000))
    rep = v42.ReplaceOrder("OK", "OK2", 100, price, 99999, "Y", "N", 0)
    # case 2 (4.2 as 5.0): the original is canceled, reason Z; the price never published
    assert v.acct.handle(rep) == [v42.OrderCanceled(1, "OK", 100, "Z")]
    assert list(v.engine.resting_orders()) == [] and v.acct._batch is None
    assert v.acct.records["OK"].state == "done" and "OK2" not in v.acct.records
    v.equal()


def test_the_largest_ouch_price_is_accepted_and_reaches_the_feed() -> None:
    """OUCH's largest price, $199,999.9900, rests and is published; above it (up to the
    feed's Price(4) maximum, which the accounts accepted) is Rejected: see HOSTILE."""
    v = _Venue(Account50)
    out = v.acct.handle(_enter50(1, MAX_OUCH_PRICE, side="S"))
    assert isinstance(out[0], v50.OrderAccepted) and out[0].price == MAX_OUCH_PRICE
    v.equal()


@pytest.mark.parametrize("price", [2**32, 0])
def test_the_engine_refuses_an_unpublishable_price_unchanged(price: int) -> None:
    v = _Venue(Account50)
    ref, _, _ = v.engine.submit("AAPL", "B", 100, 1_000_000)
    before = v.state()
    with pytest.raises(MatchingError):
        v.engine.submit("AAPL", "B", 100, price)
    with pytest.raises(MatchingError):
        v.engine.replace(ref, 100, price)
    assert v.state() == before
    v.equal()


def test_an_exception_out_of_handle_leaves_no_batch_open() -> None:
    """Whatever goes wrong inside (here the feed fails as the rest of the order would be
    shown), the batch is closed, the Executed it collected still reaches the client, and
    the book holds no order the feed never showed."""
    v = _Venue(Account50)
    v.engine.submit("AAPL", "S", 50, 1_000_000)
    publish = v.engine.publish

    def no_adds(msg: object) -> None:
        if type(msg).__name__ == "AddOrder":
            raise OSError("feed down")
        publish(msg)  # type: ignore[arg-type]

    v.engine.publish = no_adds
    with pytest.raises(OSError):
        v.acct.handle(_enter50(1, 1_000_000))  # trades 50, the other 50 would rest
    assert v.acct._batch is None
    assert [type(m) for m in v.sent] == [v50.OrderExecuted]
    assert v.acct.ledger.positions == {"AAPL": 50}
    assert list(v.engine.resting_orders()) == []
    v.equal()


# --- shares: ITCH's Shares(4) -----------------------------------------------------------
# The accounts cap an order at OUCH's v50.MAX_QUANTITY (999,999), but the engine is public (the seed
# flow and tests submit to it directly) and every size it books must reach the feed's
# Add Order / Order Replace, whose Shares field is 4 bytes.

MAX_FEED_SHARES = 2**32 - 1  # ITCH Shares(4)
BAD_SHARES = [2**32, 2**40, 0, -1]


def _book_state(v: _Venue) -> tuple[object, ...]:
    """The state, with each resting order's size (``Resting`` compares by identity)."""
    orders = [(o.ref, o.side, o.shares, o.price) for o in v.engine.resting_orders()]
    return (orders, *v.state()[1:])


@pytest.mark.parametrize("shares", BAD_SHARES)
def test_the_engine_refuses_unpublishable_shares_before_anything_changes(shares: int) -> None:
    """A submit that would trade first, a crossing replace (a delete, then a submit) and a
    resting replace: each is refused with nothing traded, deleted or published."""
    v = _Venue(Account50)
    v.engine.submit("AAPL", "S", 100, 1_000_000)  # contra liquidity the order would take
    ref, _, _ = v.engine.submit("AAPL", "B", 100, 900_000)
    before = _book_state(v)
    with pytest.raises(MatchingError):
        v.engine.submit("AAPL", "B", shares, 1_000_000)
    with pytest.raises(MatchingError):
        v.engine.replace(ref, shares, 1_000_000)  # crosses the offer
    with pytest.raises(MatchingError):
        v.engine.replace(ref, shares, 950_000)  # rests
    assert _book_state(v) == before
    v.equal()


def test_the_largest_publishable_size_is_booked_and_reaches_the_feed() -> None:
    v = _Venue(Account50)
    ref, _, resting = v.engine.submit("AAPL", "S", MAX_FEED_SHARES, 1_000_000)
    assert resting == MAX_FEED_SHARES
    assert v.engine.replace(ref, MAX_FEED_SHARES, 1_100_000) == (ref + 1, 0, MAX_FEED_SHARES)
    v.equal()


def test_ouchs_limits_are_within_what_the_feed_carries() -> None:
    """The accounts take sizes and prices by OUCH's table (``v50.order_fields_reason``),
    and the matching engine refuses what the feed cannot publish (``valid_shares``,
    ``valid_price``): every order the accounts take can be booked and published, so an
    order is never refused mid-way. (The accounts had a cap of their own, ``MAX_SHARES``,
    and asked the engine's guards too.)"""
    assert v50.MAX_QUANTITY < MAX_FEED_SHARES and v50.MAX_PRICE < MAX_PRICE
    assert valid_shares(v50.MAX_QUANTITY) and valid_price(v50.MAX_PRICE)


def test_both_ports_reject_unpublishable_shares() -> None:
    """An Enter or Replace of 2**32 shares is Rejected as an invalid quantity (4.2: Z) on
    both ports, before anything changes."""
    v = _Venue(Account50)
    v.acct.handle(_enter50(1, 1_000_000))
    before = _book_state(v)
    out = v.acct.handle(_enter50(2, 1_000_000, qty=2**32, side="S"))
    assert len(out) == 1 and isinstance(out[0], v50.Rejected)
    assert out[0].reason == v50.RejectReason.INVALID_QUANTITY
    assert v.acct.records[2].state == "rejected" and v.acct.records[2].ref == 0
    assert _book_state(v) == before and v.acct._batch is None
    # a Replace to it has invalid details: the original is canceled (case 2)
    out = v.acct.handle(v50.ReplaceOrder(1, 3, 2**32, 1_000_000, "0", "Y", "N", "X"))
    assert out == [v50.OrderCanceled(1, 1, 100, "Z")]
    assert list(v.engine.resting_orders()) == [] and v.acct.records[1].state == "done"
    v.equal()

    v = _Venue(Account42)
    v.acct.handle(_enter42("OK", 1_000_000))
    before = _book_state(v)
    big = v42.EnterOrder("BIG", "S", 2**32, "AAPL", 1_000_000, 99999, "TW", "Y", "P", "N", 0, "N", " ")  # fmt: skip
    assert v.acct.handle(big) == [v42.Rejected(1, "BIG", "Z")]
    assert _book_state(v) == before and v.acct._batch is None
    rep = v42.ReplaceOrder("OK", "OK2", 2**32, 1_000_000, 99999, "Y", "N", 0)
    assert v.acct.handle(rep) == [v42.OrderCanceled(1, "OK", 100, "Z")]
    assert list(v.engine.resting_orders()) == [] and v.acct.records["OK"].state == "done"
    v.equal()
