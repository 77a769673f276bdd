"""The sans-I/O exchange the account tests drive: a real MatchingEngine and a real
account, every message the engine publishes encoded and replayed into a real BookManager
(``equal`` checks the two books agree), the account's answers kept in ``sent``; the
engine's clock is ``clock`` (always 1 unless a test drives it), and so is the account's
deadline clock unless a test gives its own ``deadline_clock``."""

from __future__ import annotations

import os
from collections.abc import Callable

from hypothesis import HealthCheck, settings
from tickwire.engine.book import BookManager
from tickwire.exchange import MatchingEngine
from tickwire.exchange.accounts import Account42, Account50
from tickwire.itch import decode, encode
from tickwire.ouch import v50


def property_settings(examples: int) -> settings:
    """A property test's hypothesis settings: ``examples`` in CI (a few seconds; the
    environment variable ``TW_PROPERTY_EXAMPLES`` runs more locally), no deadline and no
    too-slow check (a loaded machine draws slowly, which proves nothing)."""
    return settings(
        max_examples=int(os.environ.get("TW_PROPERTY_EXAMPLES", str(examples))),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


class Venue:
    """An engine whose every published message is encoded and replayed into books."""

    def __init__(
        self,
        account: type[Account50] | type[Account42],
        clock: Callable[[], int] = lambda: 1,
        deadline_clock: Callable[[], int] | None = None,
    ) -> None:
        self.books = BookManager()
        self.published: list[bytes] = []
        self.sent: list[object] = []
        self.engine = MatchingEngine(self._publish, lambda f: self.acct.on_fill(f), clock)
        self.acct = account(
            "TW", self.engine, self.sent.append, deadline_clock=deadline_clock or clock
        )
        self.engine.system("Q")
        self.engine.add_instrument("AAPL")

    def _publish(self, msg: object) -> None:
        raw = encode(msg)  # type: ignore[arg-type]
        self.published.append(raw)
        self.books.apply(decode(raw))

    def equal(self) -> None:
        for locate, book in self.books.books.items():
            assert book.l2() == self.engine.by_locate[locate].l2(), book.symbol

    def state(self) -> tuple[object, ...]:
        return (
            list(self.engine.resting_orders()),
            len(self.published),
            dict(self.acct.ledger.positions),
            self.engine.next_ref,
        )


def enter50(ref: int, price: int, qty: int = 100, side: str = "B") -> v50.EnterOrder:
    return v50.EnterOrder(ref, side, qty, "AAPL", price, "0", "Y", "P", "N", "N", "X")
