"""Order deadlines (OUCH 4.2 Time In Force in seconds, 5.0 GTT ExpireTime) are intervals:
the accounts measure them on their deadline clock, which only runs forward, not on the
engine's clock of the day, which stamps the messages and goes back to 0 at local
midnight or steps an hour at a daylight-saving change.

Each test drives the two clocks apart through a real ``MatchingEngine`` and a real
account (``_exchange_venue.Venue``, the feed replayed into real books). Before, an order
accepted just before midnight never expired and a step of the wall clock moved every
deadline by an hour.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tickwire.exchange.accounts import Account42, Account50
from tickwire.itch import OrderDelete, decode
from tickwire.ouch import v42, v50

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
from _exchange_venue import Venue as _Venue  # noqa: E402

S = 1_000_000_000
#: The monotonic clock's reading at the first order: anything, unrelated to the wall's.
M0 = 5_000 * S


class _Clocks:
    """A wall clock of the day and a monotonic clock, each set by the test."""

    def __init__(self, wall: int) -> None:
        self.wall = wall
        self.mono = M0

    def pass_(self, ns: int, wall: int) -> None:
        """``ns`` pass (the monotonic clock), the wall clock now reading ``wall``."""
        self.mono += ns
        self.wall = wall


def _venue(version: int, clocks: _Clocks) -> _Venue:
    account = Account50 if version == 50 else Account42
    return _Venue(account, clock=lambda: clocks.wall, deadline_clock=lambda: clocks.mono)


def _enter(v: _Venue, version: int, key: int | str, seconds: int) -> object:
    """Enter a resting buy of 100 living ``seconds``: 4.2 Time In Force, 5.0 GTT."""
    if version == 50:
        exp = (v50.TagValue(v50.OptionTag.EXPIRE_TIME, seconds),)
        e50 = v50.EnterOrder(int(key), "B", 100, "AAPL", 1_400_000, "6", "Y", "P", "N", "N", "X", exp)  # fmt: skip
        [acc] = v.acct.handle(e50)
        assert isinstance(acc, v50.OrderAccepted)
        return acc
    e42 = v42.EnterOrder(str(key), "B", 100, "AAPL", 1_400_000, seconds, "TW", "Y", "P", "N", 0, "N", " ")  # fmt: skip
    [acc] = v.acct.handle(e42)
    assert isinstance(acc, v42.OrderAccepted)
    return acc


def _canceled(version: int, wall: int, key: int | str) -> object:
    if version == 50:
        return v50.OrderCanceled(wall, int(key), 100, "T")
    return v42.OrderCanceled(wall, str(key), 100, "T")


@pytest.mark.parametrize("version", [42, 50])
def test_orders_expire_on_time_across_local_midnight(version: int) -> None:
    """An order of 10 s accepted at 23:59:59.9 local is canceled ``T`` 10 s later by the
    monotonic clock, the wall clock then reading 00:00:09.9 (its Order Canceled and the
    feed's Order Delete stamped so), and one accepted after midnight too; what is due
    expires before a request naming it is answered (the Cancel finds it gone). Before:
    the deadline was 86,409.9 s on the wall clock, which restarted at 0 and never got
    there: the order rested for ever and the Cancel was answered reason ``U``."""
    key = 1 if version == 50 else "A"
    later = 2 if version == 50 else "B"
    clocks = _Clocks(wall=86_399 * S + 9 * S // 10)
    v = _venue(version, clocks)
    _enter(v, version, key, 10)
    assert v.acct.next_expiry() == M0 + 10 * S

    clocks.pass_(6 * S // 10, wall=S // 2)  # midnight passed
    _enter(v, version, later, 10)  # its deadline: M0 + 10.6 s
    clocks.pass_(94 * S // 10 - 1, wall=9 * S + 9 * S // 10 - 1)
    assert v.acct.expire() == 0 and v.sent == []  # not yet

    clocks.pass_(1, wall=9 * S + 9 * S // 10)  # 10 s after the first acceptance
    ref = v.acct.records[key].ref
    published = len(v.published)
    cancel = v50.CancelOrder(int(key), 0) if version == 50 else v42.CancelOrder(str(key), 0)
    assert v.acct.handle(cancel) == []  # type: ignore[arg-type]
    assert v.sent == [_canceled(version, clocks.wall, key)]
    assert [decode(m) for m in v.published[published:]] == [OrderDelete(1, 0, clocks.wall, ref)]
    v.sent.clear()

    clocks.pass_(30 * S, wall=clocks.wall + 30 * S)  # the server's timer, nothing else
    assert v.acct.expire() == 1
    assert v.sent == [_canceled(version, clocks.wall, later)]
    assert v.acct.next_expiry() is None
    assert list(v.engine.resting_orders()) == []
    v.equal()


@pytest.mark.parametrize("step", [-3_600, 3_600], ids=["autumn-back", "spring-forward"])
@pytest.mark.parametrize("version", [42, 50])
def test_orders_expire_on_time_when_the_wall_clock_steps_an_hour(version: int, step: int) -> None:
    """An order of 10 s accepted at 01:59:55 local, the wall clock then stepping an
    hour (a daylight-saving change), is canceled ``T`` 10 s after its acceptance by the
    monotonic clock: not a moment before, and not an hour late. Before: back an hour,
    it was canceled 3,610 s after its acceptance; forward an hour, at once."""
    key = 1 if version == 50 else "A"
    t0 = 7_195 * S
    clocks = _Clocks(wall=t0)
    v = _venue(version, clocks)
    _enter(v, version, key, 10)

    clocks.pass_(6 * S, wall=t0 + 6 * S + step * S)  # the change: 02:00:01 -> 01:00:01 / 03:00:01
    assert v.acct.expire() == 0 and v.sent == []
    clocks.pass_(4 * S - 1, wall=clocks.wall + 4 * S - 1)
    assert v.acct.expire() == 0 and v.sent == []  # 10 s not yet up
    clocks.pass_(1, wall=clocks.wall + 1)
    assert v.acct.expire() == 1
    assert v.sent == [_canceled(version, clocks.wall, key)]
    assert v.acct.records[key].state == "done"
    assert list(v.engine.resting_orders()) == []
    v.equal()
