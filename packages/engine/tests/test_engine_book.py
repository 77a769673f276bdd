"""Order books: unit behaviour, a hypothesis state machine against a naive model, the real
NASDAQ test file, and the BBO after every message against itch-book on a generated day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from tickwire.engine import BBO, BookInvariantError, BookManager, LevelView, TapePrint, rebuild
from tickwire.engine.sources import CaptureFeedStats, iter_capture
from tickwire.itch import (
    AddOrder,
    AddOrderMPID,
    BinaryFileWriter,
    BrokenTrade,
    CrossTrade,
    OrderCancel,
    OrderDelete,
    OrderExecuted,
    OrderExecutedWithPrice,
    OrderReplace,
    StockDirectory,
    StockTradingAction,
    SystemEvent,
    Trade,
)
from tickwire.itch.generator import generate_day

# The real test data ship in the repository: data/ (data/PROVENANCE.md).
DATA = Path(__file__).resolve().parents[3] / "data"
TEST_FILE = DATA / "itch" / "ex20101224.TEST_ITCH_50"
PCAPS = DATA / "pcap" / "nasdaq-itch50"


def add(ref: int, side: str, shares: int, price: int, locate: int = 1, ts: int = 0) -> AddOrder:
    return AddOrder(
        stock_locate=locate,
        tracking_number=0,
        timestamp=ts,
        order_reference_number=ref,
        buy_sell_indicator=side,
        shares=shares,
        stock="AAPL",
        price=price,
    )


def delete(ref: int, locate: int = 1) -> OrderDelete:
    return OrderDelete(
        stock_locate=locate, tracking_number=0, timestamp=0, order_reference_number=ref
    )


def execute(ref: int, shares: int, match: int = 1) -> OrderExecuted:
    return OrderExecuted(
        stock_locate=1,
        tracking_number=0,
        timestamp=0,
        order_reference_number=ref,
        executed_shares=shares,
        match_number=match,
    )


def cancel(ref: int, shares: int) -> OrderCancel:
    return OrderCancel(
        stock_locate=1,
        tracking_number=0,
        timestamp=0,
        order_reference_number=ref,
        cancelled_shares=shares,
    )


def replace(old: int, new: int, shares: int, price: int) -> OrderReplace:
    return OrderReplace(
        stock_locate=1,
        tracking_number=0,
        timestamp=0,
        original_order_reference_number=old,
        new_order_reference_number=new,
        shares=shares,
        price=price,
    )


# --------------------------------------------------------------------------- unit behaviour


def test_bbo_depth_l2_and_queue_ahead() -> None:
    m = BookManager()
    m.feed(
        [
            add(1, "B", 100, 1000),
            add(2, "B", 200, 1000),
            add(3, "B", 50, 990),
            add(4, "S", 300, 1010),
            add(5, "S", 10, 1020),
            add(6, "B", 70, 1000),
        ]
    )
    book = m.books[1]
    assert book.bbo() == BBO(1000, 370, 1010, 300)
    assert book.depth(1) == ([LevelView(1000, 370, 3)], [LevelView(1010, 300, 1)])
    assert book.depth(5) == (
        [LevelView(1000, 370, 3), LevelView(990, 50, 1)],
        [LevelView(1010, 300, 1), LevelView(1020, 10, 1)],
    )
    assert book.l2() == book.depth(10)
    assert book.depth(0) == ([], [])
    assert book.top_levels(1) == (((1000, 370),), ((1010, 300),))
    assert book.top_levels(5) == (((1000, 370), (990, 50)), ((1010, 300), (1020, 10)))
    assert book.top_levels(0) == ((), ())
    assert m.queue_ahead(1) == (0, 0)
    assert m.queue_ahead(2) == (100, 1)
    assert m.queue_ahead(6) == (300, 2)
    # A partial execution keeps time priority; a replace loses it.
    m.apply(execute(1, 40))
    assert m.queue_ahead(6) == (260, 2)
    m.apply(replace(1, 7, 60, 1000))
    assert m.queue_ahead(7) == (270, 2)
    assert [o.ref for o in book.orders_at("B", 1000)] == [2, 6, 7]
    assert book.order_count == 6 and book.level_count == 4
    m.check_invariants()
    with pytest.raises(KeyError):
        m.queue_ahead(99)


def test_execute_cancel_delete_replace_and_tape() -> None:
    prints: list[TapePrint] = []
    m = BookManager(on_print=prints.append)
    m.feed([add(1, "S", 100, 500), add(2, "S", 100, 510)])
    m.apply(execute(1, 30, match=9))
    m.apply(
        OrderExecutedWithPrice(
            stock_locate=1,
            tracking_number=0,
            timestamp=5,
            order_reference_number=1,
            executed_shares=20,
            match_number=10,
            printable="Y",
            execution_price=499,
        )
    )
    m.apply(
        OrderExecutedWithPrice(
            stock_locate=1,
            tracking_number=0,
            timestamp=6,
            order_reference_number=1,
            executed_shares=10,
            match_number=11,
            printable="N",
            execution_price=499,
        )
    )
    m.apply(cancel(1, 15))
    assert m.bbo(1) == BBO(None, 0, 500, 25)
    m.apply(replace(1, 3, 40, 505))
    assert m.bbo(1) == BBO(None, 0, 505, 40)
    m.apply(delete(3))
    m.apply(
        Trade(
            stock_locate=1,
            tracking_number=0,
            timestamp=7,
            order_reference_number=0,
            buy_sell_indicator="B",
            shares=5,
            stock="AAPL",
            price=600,
            match_number=12,
        )
    )
    m.apply(
        CrossTrade(
            stock_locate=1,
            tracking_number=0,
            timestamp=8,
            shares=1000,
            stock="AAPL",
            cross_price=610,
            match_number=13,
            cross_type="O",
        )
    )
    m.apply(BrokenTrade(stock_locate=1, tracking_number=0, timestamp=9, match_number=12))
    assert m.bbo(1) == BBO(None, 0, 510, 100)
    assert [(p.kind, p.price, p.shares, p.match_number) for p in prints] == [
        ("E", 500, 30, 9),
        ("C", 499, 20, 10),
        ("P", 600, 5, 12),
        ("Q", 610, 1000, 13),
        ("B", 0, 0, 12),
    ]
    assert m.unknown_references == 0
    m.check_invariants()


def test_faults_are_counted_never_raised() -> None:
    m = BookManager(reorder_window=0)
    m.apply(delete(42))
    m.apply(execute(43, 1))
    m.apply(replace(44, 45, 1, 1))
    assert m.unknown_references == 3
    m.apply(add(1, "B", 100, 1000))
    m.apply(add(1, "B", 50, 900))  # a live reference: the stale order is evicted first
    assert m.stats.duplicate_references == 1
    assert m.bbo(1) == BBO(900, 50, None, 0)
    m.apply(execute(1, 80))  # larger than the order: clamped, order gone
    assert m.stats.clamped == 1 and m.bbo(1) == BBO(None, 0, None, 0)
    m.apply(add(2, "S", 0, 1000))
    m.apply(add(3, "S", 10, 0))
    assert m.stats.rejected == 2 and not m.orders
    m.apply(add(4, "X", 10, 1000))  # a side that is neither B nor S: not booked as an ask
    assert m.stats.rejected == 3 and not m.orders
    assert m.bbo(1) == BBO(None, 0, None, 0)
    m.check_invariants()


def test_reorder_window_resolves_early_messages_and_expires_the_rest() -> None:
    m = BookManager(reorder_window=3)
    m.apply(delete(7))
    assert m.pending == 1 and m.unknown_references == 1  # held, not yet resolved
    m.apply(add(7, "B", 10, 100))
    assert m.pending == 0 and m.unknown_references == 0 and m.stats.reordered == 1
    assert m.bbo(1) == BBO(None, 0, None, 0)
    m.apply(execute(8, 5))
    for ref in range(100, 104):
        m.apply(add(ref, "S", 1, 200))
    assert m.pending == 0 and m.stats.unknown_references == 1  # expired after 3 messages
    m.apply(add(8, "B", 10, 100))  # too late: not applied to the new order
    assert m.bbo(1).bid_size == 10
    with pytest.raises(ValueError):
        BookManager(reorder_window=-1)


def test_invariants_detect_corruption_and_crossing() -> None:
    m = BookManager()
    m.feed(
        [
            SystemEvent(stock_locate=0, tracking_number=0, timestamp=0, event_code="Q"),
            add(1, "B", 100, 1000),
            add(2, "S", 100, 990),
        ]
    )
    assert m.in_continuous_trading(1)
    assert any("crossed" in p for p in m.invariant_violations())
    assert m.invariant_violations(crossed=False) == []
    m.apply(
        StockTradingAction(
            stock_locate=1,
            tracking_number=0,
            timestamp=0,
            stock="AAPL",
            trading_state="H",
            reserved=" ",
            reason="T1",
        )
    )
    assert m.invariant_violations() == []  # halted: a crossed book is allowed
    m.orders[1].level.shares += 1  # corrupt a level total
    with pytest.raises(BookInvariantError, match="total"):
        m.check_invariants()


def test_directory_names_instruments() -> None:
    m = BookManager()
    m.apply(
        StockDirectory(
            stock_locate=5,
            tracking_number=0,
            timestamp=0,
            stock="MSFT",
            market_category="Q",
            financial_status_indicator="N",
            round_lot_size=100,
            round_lots_only="N",
            issue_classification="C",
            issue_sub_type="Z",
            authenticity="P",
            short_sale_threshold_indicator="N",
            ipo_flag="N",
            luld_reference_price_tier="1",
            etp_flag="N",
            etp_leverage_factor=0,
            inverse_indicator="N",
        )
    )
    m.apply(
        AddOrderMPID(
            stock_locate=5,
            tracking_number=0,
            timestamp=0,
            order_reference_number=1,
            buy_sell_indicator="S",
            shares=10,
            stock="MSFT",
            price=3000000,
            attribution="GSCO",
        )
    )
    summary = m.summary()
    assert summary == {
        "unknown_references": 0,
        "duplicate_references": 0,
        "clamped": 0,
        "rejected": 0,
        "renamed_locates": 0,
        "unknown_types": 0,
        "instruments": {
            "5": {
                "symbol": "MSFT",
                "bid_price": None,
                "bid_size": 0,
                "ask_price": 3000000,
                "ask_size": 10,
                "orders": 1,
                "levels": 1,
            }
        },
    }


# ------------------------------------------------------------------ state machine vs model


class NaiveBook:
    """The obviously-correct model: a list of live orders in arrival order."""

    def __init__(self) -> None:
        self.orders: list[list[object]] = []  # [ref, side, price, shares]

    def find(self, ref: int) -> list[object]:
        return next(o for o in self.orders if o[0] == ref)

    def bbo(self) -> BBO:
        bids = [o for o in self.orders if o[1] == "B"]
        asks = [o for o in self.orders if o[1] == "S"]
        bp = max((int(o[2]) for o in bids), default=None)  # type: ignore[call-overload]
        ap = min((int(o[2]) for o in asks), default=None)  # type: ignore[call-overload]
        return BBO(
            bp,
            sum(int(o[3]) for o in bids if o[2] == bp),  # type: ignore[call-overload]
            ap,
            sum(int(o[3]) for o in asks if o[2] == ap),  # type: ignore[call-overload]
        )

    def levels(self, side: str) -> list[LevelView]:
        prices = sorted({int(o[2]) for o in self.orders if o[1] == side}, reverse=side == "B")  # type: ignore[call-overload]
        out = []
        for p in prices:
            at = [o for o in self.orders if o[1] == side and o[2] == p]
            out.append(LevelView(p, sum(int(o[3]) for o in at), len(at)))  # type: ignore[call-overload]
        return out

    def queue_ahead(self, ref: int) -> tuple[int, int]:
        me = self.find(ref)
        ahead = [o for o in self.orders if o[1] == me[1] and o[2] == me[2]]
        i = ahead.index(me)
        return sum(int(o[3]) for o in ahead[:i]), i  # type: ignore[call-overload]


class BookMachine(RuleBasedStateMachine):
    """Random valid order lifecycles (add, execute, cancel, delete, replace) on one
    instrument; after every step the book must equal the naive model."""

    def __init__(self) -> None:
        super().__init__()
        self.book = BookManager()
        self.model = NaiveBook()
        self.next_ref = 1

    prices = st.integers(min_value=995, max_value=1005)
    shares = st.integers(min_value=1, max_value=500)

    def _pick(self, data: st.DataObject) -> list[object]:
        return data.draw(st.sampled_from(self.model.orders))

    @rule(side=st.sampled_from("BS"), price=prices, qty=shares)
    def add_order(self, side: str, price: int, qty: int) -> None:
        ref = self.next_ref
        self.next_ref += 1
        self.book.apply(add(ref, side, qty, price))
        self.model.orders.append([ref, side, price, qty])

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data())
    def delete_order(self, data: st.DataObject) -> None:
        o = self._pick(data)
        self.book.apply(delete(int(o[0])))  # type: ignore[call-overload]
        self.model.orders.remove(o)

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data(), kind=st.sampled_from(["E", "C", "X"]))
    def reduce_order(self, data: st.DataObject, kind: str) -> None:
        o = self._pick(data)
        ref = int(o[0])  # type: ignore[call-overload]
        qty = data.draw(st.integers(1, int(o[3])))  # type: ignore[call-overload]
        if kind == "E":
            self.book.apply(execute(ref, qty))
        elif kind == "C":
            self.book.apply(
                OrderExecutedWithPrice(
                    stock_locate=1,
                    tracking_number=0,
                    timestamp=0,
                    order_reference_number=ref,
                    executed_shares=qty,
                    match_number=1,
                    printable="Y",
                    execution_price=1,
                )
            )
        else:
            self.book.apply(cancel(ref, qty))
        o[3] = int(o[3]) - qty  # type: ignore[call-overload]
        if o[3] == 0:
            self.model.orders.remove(o)

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data(), price=prices, qty=shares)
    def replace_order(self, data: st.DataObject, price: int, qty: int) -> None:
        o = self._pick(data)
        new = self.next_ref
        self.next_ref += 1
        self.book.apply(replace(int(o[0]), new, qty, price))  # type: ignore[call-overload]
        self.model.orders.remove(o)
        self.model.orders.append([new, o[1], price, qty])

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data())
    def check_queue_ahead(self, data: st.DataObject) -> None:
        ref = int(self._pick(data)[0])  # type: ignore[call-overload]
        assert self.book.queue_ahead(ref) == self.model.queue_ahead(ref)

    @invariant()
    def same_book(self) -> None:
        b = self.book.books.get(1)
        if b is None:
            assert not self.model.orders
            return
        assert b.bbo() == self.model.bbo()
        assert b.l2() == (self.model.levels("B"), self.model.levels("S"))
        assert b.depth(3) == (self.model.levels("B")[:3], self.model.levels("S")[:3])
        assert b.top_levels(3) == tuple(
            tuple((lv.price, lv.shares) for lv in self.model.levels(side)[:3]) for side in "BS"
        )
        assert b.order_count == len(self.model.orders)
        assert self.book.unknown_references == 0
        self.book.check_invariants(crossed=False)


BookMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
TestBookMachine = BookMachine.TestCase


# ------------------------------------------------------------------------- real and generated


def test_real_test_file_rebuilds_with_zero_unknown_references() -> None:
    m = rebuild(TEST_FILE)
    assert m.stats.messages == 12012
    assert m.unknown_references == 0
    # 117 deletes/executions arrive a few messages before their add in this file.
    assert m.stats.reordered == 117
    assert {b.symbol for b in m.books.values()} == {"ALC", "BOB", "CHAR"}
    assert sum(b.order_count for b in m.books.values()) == len(m.orders) > 0
    # NASDAQ's test file never matches its orders, so its books cross during market
    # hours; every structural invariant holds.
    m.check_invariants(crossed=False)


def test_real_captures_feed_books() -> None:
    stats = CaptureFeedStats()
    m = BookManager()
    m.feed(iter_capture(PCAPS / "Multiple.Packets.pcap", stats=stats))
    assert stats.packets == 2 and stats.skipped_messages == 0
    assert m.stats.messages == 39
    book = m.books[6514]
    assert book.symbol == "META"
    assert book.bbo() == BBO(805200, 1, 3573300, 100)
    m.check_invariants(crossed=False)


def _bbo_rows_of_itch_book(path: Path) -> list[tuple[int, ...]]:
    import itch_book

    rows: list[tuple[int, ...]] = []
    feed = itch_book.Feed(str(path), date=dt.date(2020, 1, 2), price_type="fixed")
    for batch in feed.batches(tables=("bbo",)):
        t = batch.bbo
        rows += zip(
            (s - 1 for s in t["seq"].tolist()),  # itch-book numbers messages from 1
            t["locate"].tolist(),
            t["bid_px"].tolist(),
            t["bid_sz"].tolist(),
            t["ask_px"].tolist(),
            t["ask_sz"].tolist(),
            strict=True,
        )
    assert feed.stats is not None and feed.stats["missing_ref"] == 0
    return rows


def test_bbo_after_every_message_equals_itch_book(tmp_path: Path) -> None:
    """On a generated day, the BBO of every instrument after every message equals
    itch-book's (which emits a row whenever a BBO price or size changes)."""
    messages = list(generate_day(50_000, 40, 2024))
    path = tmp_path / "day.itch"
    with BinaryFileWriter(path) as w:
        w.write_all(messages)
    expected = _bbo_rows_of_itch_book(path)

    m = BookManager()
    last: dict[int, tuple[int, int, int, int]] = {}
    ours: list[tuple[int, ...]] = []
    for i, msg in enumerate(messages):
        m.apply(msg)
        book = m.books.get(msg.stock_locate)
        if book is None:
            continue
        q = book.bbo()
        now = (q.bid_price or 0, q.bid_size, q.ask_price or 0, q.ask_size)
        if last.get(msg.stock_locate, (0, 0, 0, 0)) != now:
            last[msg.stock_locate] = now
            ours.append((i, msg.stock_locate, *now))
    assert len(ours) > 10_000
    assert ours == expected
    assert m.unknown_references == 0
    m.check_invariants(crossed=False)
    # And the BBO of every instrument at the end, read directly.
    for locate, q in last.items():
        b = m.bbo(locate)
        assert (b.bid_price or 0, b.bid_size, b.ask_price or 0, b.ask_size) == q


def test_live_moldudp64_receiver_events_feed_books() -> None:
    """Live path: packets through the sans-I/O MoldUDP64 receiver (two swapped on the
    way) give the same books as replaying the messages directly."""
    from tickwire.engine.sources import apply_receiver_events
    from tickwire.itch import encode
    from tickwire.moldudp64.codec import DownstreamPacket
    from tickwire.moldudp64.receiver import Receiver

    messages = list(generate_day(3_000, 5, 3))
    packets, seq = [], 1
    for i in range(0, len(messages), 25):
        chunk = tuple(encode(m) for m in messages[i : i + 25])
        packets.append(DownstreamPacket("LIVE000001", seq, chunk).build())
        seq += len(chunk)
    packets[3], packets[4] = packets[4], packets[3]  # reordered on the wire
    receiver, live = Receiver(), BookManager()
    for i, payload in enumerate(packets):
        events = receiver.receive(payload, ("198.18.0.1", 26477), i * 1e-6)
        assert apply_receiver_events(live, events) == 0
    direct = rebuild(messages)
    assert live.stats.messages == direct.stats.messages == len(messages)
    assert live.summary() == direct.summary()


def test_gzipped_binaryfile_rebuilds_the_same(tmp_path: Path) -> None:
    import gzip

    gz = tmp_path / "day.itch.gz"
    gz.write_bytes(gzip.compress(TEST_FILE.read_bytes()))
    assert rebuild(gz).summary() == rebuild(TEST_FILE).summary()


@pytest.mark.parametrize("backend", ["reference", "compiled"])
def test_a_directory_that_renames_a_locate_leaves_the_old_symbol_no_book(backend: str) -> None:
    """Locate 1 is AAA's, then a Stock Directory names it BBB: BBB is locate 1's book and
    AAA has none (``book.name_locate``), not even once an add at another locate carries
    its name, until a directory names one for it; the rename is counted among the faults
    (``renamed_locates``, ``engine book``'s text). A directory sent again unchanged is no
    rename. Before, AAA still named locate 1, BBB's book, and nothing was counted."""
    from tickwire.engine import cbook
    from tickwire.engine.book import faults_text

    if backend == "compiled" and not cbook.AVAILABLE:
        pytest.skip(cbook.UNAVAILABLE_REASON)
    m = BookManager() if backend == "reference" else cbook.CythonBookManager()

    def directory(locate: int, stock: str) -> StockDirectory:
        return StockDirectory(
            locate, 0, 0, stock, "Q", "N", 100, "N", "C", "Z", "P", "N", "N", "1", "N", 0, "N"
        )

    m.apply(directory(1, "AAA"))
    m.apply(directory(1, "AAA"))  # the same again: no rename
    m.apply(AddOrder(1, 0, 1, 1, "B", 100, "AAA", 1_000_000))
    assert (m.locate_of("AAA"), m.stats.renamed_locates) == (1, 0)
    m.apply(directory(1, "BBB"))
    m.apply(AddOrder(2, 0, 2, 2, "B", 100, "AAA", 2_000_000))  # a book the add names AAA
    assert (m.locate_of("AAA"), m.locate_of("BBB"), m.locate_of("ZZZ")) == (None, 1, None)
    assert (m.books[1].symbol, m.books[2].symbol) == ("BBB", "AAA")
    assert m.stats.renamed_locates == 1
    assert "1 stock directories that gave a named locate another symbol" in faults_text(
        m.stats, m.unknown_references
    )
    m.apply(directory(3, "AAA"))  # a directory names AAA a book again
    assert (m.locate_of("AAA"), m.stats.renamed_locates) == (3, 1)
