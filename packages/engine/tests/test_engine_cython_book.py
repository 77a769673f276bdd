"""The compiled L3 book (``tickwire.engine.cbook``) against the reference book.

Differential, with hypothesis: random valid order lifecycles (with unknown references,
duplicates, out-of-order deliveries, clamps and rejections) and random garbage messages;
after every message the two books must agree on the BBO, the top 10 levels, order and
level counts, the queue of a sampled order, the statistics and the tape. Then the same
through the bytes path (``feed_binaryfile``), random garbage bytes included, the real
NASDAQ test file and a generated day.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.engine import cbook, series
from tickwire.engine.book import BBO, BookManager, TapePrint, filed_locate
from tickwire.engine.sources import iter_binaryfile
from tickwire.itch import (
    AddOrder,
    AddOrderMPID,
    DecodeError,
    Message,
    OrderCancel,
    OrderDelete,
    OrderExecuted,
    OrderExecutedWithPrice,
    OrderReplace,
    Trade,
    encode,
)
from tickwire.itch import strategies as its
from tickwire.itch.fastpath import decode_binaryfile
from tickwire.itch.generator import generate_day

pytestmark = pytest.mark.skipif(not cbook.AVAILABLE, reason=f"{cbook.UNAVAILABLE_REASON}")

# The real test data ship in the repository: data/ (data/PROVENANCE.md).
DATA = Path(__file__).resolve().parents[3] / "data"
TEST_FILE = DATA / "itch" / "ex20101224.TEST_ITCH_50"

_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Small pools so that levels share prices, references collide and orders come back.
_refs = st.integers(0, 9)
_locates = st.integers(1, 3)
_prices = st.sampled_from([0, 9_900, 10_000, 10_100, 10_200, 2**32 - 1])
_shares = st.sampled_from([0, 1, 50, 100, 300, 2**32 - 1])
_ts = st.integers(0, 86_400 * 10**9 - 1)
_sides = st.sampled_from(["B", "S", "X"])


def _adds() -> st.SearchStrategy[Message]:
    return st.builds(
        AddOrder,
        stock_locate=_locates,
        tracking_number=st.just(0),
        timestamp=_ts,
        order_reference_number=_refs,
        buy_sell_indicator=st.sampled_from(["B", "S"]),
        shares=st.integers(1, 500),
        stock=st.just("AAPL"),
        price=st.integers(9_990, 10_010),
    )


def _lifecycle_message() -> st.SearchStrategy[Message]:
    return st.one_of(
        st.builds(
            AddOrder,
            stock_locate=_locates,
            tracking_number=st.just(0),
            timestamp=_ts,
            order_reference_number=_refs,
            buy_sell_indicator=_sides,
            shares=_shares,
            stock=st.sampled_from(["AAPL", "MSFT", "A B"]),
            price=_prices,
        ),
        st.builds(
            AddOrderMPID,
            stock_locate=_locates,
            tracking_number=st.just(0),
            timestamp=_ts,
            order_reference_number=_refs,
            buy_sell_indicator=_sides,
            shares=_shares,
            stock=st.just("QQQ"),
            price=_prices,
            attribution=st.just("NSDQ"),
        ),
        st.builds(
            OrderExecuted,
            stock_locate=_locates,
            tracking_number=st.just(0),
            timestamp=_ts,
            order_reference_number=_refs,
            executed_shares=_shares,
            match_number=st.integers(0, 2**64 - 1),
        ),
        st.builds(
            OrderExecutedWithPrice,
            stock_locate=_locates,
            tracking_number=st.just(0),
            timestamp=_ts,
            order_reference_number=_refs,
            executed_shares=_shares,
            match_number=st.integers(0, 100),
            printable=st.sampled_from(["Y", "N"]),
            execution_price=_prices,
        ),
        st.builds(
            OrderCancel,
            stock_locate=_locates,
            tracking_number=st.just(0),
            timestamp=_ts,
            order_reference_number=_refs,
            cancelled_shares=_shares,
        ),
        st.builds(
            OrderDelete,
            stock_locate=_locates,
            tracking_number=st.just(0),
            timestamp=_ts,
            order_reference_number=_refs,
        ),
        st.builds(
            OrderReplace,
            stock_locate=_locates,
            tracking_number=st.just(0),
            timestamp=_ts,
            original_order_reference_number=_refs,
            new_order_reference_number=_refs,
            shares=_shares,
            price=_prices,
        ),
        its.trades(stock_locate=_locates),
        its.stock_directories(stock_locate=_locates),
        its.stock_trading_actions(stock_locate=_locates),
        its.system_events(),
    )


# Mostly lifecycles, some arbitrary messages of every type (garbage codes included).
_message = st.one_of(_adds(), _adds(), _lifecycle_message(), its.messages(valid_codes=False))
_sequences = st.lists(_message, min_size=20, max_size=100)
_windows = st.sampled_from([0, 3, 64])


def _state(m: Any, locates: Sequence[int], sample: int | None) -> dict[str, object]:
    """Everything the two books must agree on (OrderInfo and Order compared by fields)."""
    books = {}
    for loc in locates:
        b = m.books.get(loc)
        if b is None:
            books[loc] = None
            continue
        books[loc] = (
            b.symbol,
            b.bbo(),
            b.depth(10),
            b.top_levels(2),
            b.top_levels(1_000),
            b.order_count,
            b.level_count,
        )
    queue = None
    if sample is not None and sample in m.orders:
        o = m.orders[sample]
        queue = (
            m.queue_ahead(sample),
            o.side,
            o.price,
            o.shares,
            [(x.ref, x.shares) for x in m.book(_locate_of(m, sample)).orders_at(o.side, o.price)],
        )
    s = m.stats
    return {
        "books": books,
        "sorted_locates": sorted(m.books),
        "queue": queue,
        "live": len(m.orders),
        "stats": (s.messages, s.reordered, s.duplicate_references, s.clamped, s.rejected),
        "by_type": dict(sorted(s.by_type.items())),
        "unknown": m.unknown_references,
        "pending": m.pending,
        "system_event": m.system_event,
        "symbol_locates": m.locates,  # book.name_locate's rule, on both
    }


def _locate_of(m: Any, ref: int) -> int:
    o = m.orders[ref]
    if isinstance(o, cbook.OrderInfo):
        return o.locate
    locate: int = o.book.locate
    return locate


def _binaryfile(messages: Sequence[Message]) -> bytes:
    return b"".join(struct.pack(">H", len(r)) + r for r in map(encode, messages))


@_SETTINGS
@given(msgs=_sequences, window=_windows, data=st.data())
def test_book_equals_reference_after_every_message(
    msgs: list[Message], window: int, data: st.DataObject
) -> None:
    ref_prints: list[TapePrint] = []
    c_prints: list[TapePrint] = []
    ref = BookManager(ref_prints.append, reorder_window=window)
    fast = cbook.CythonBookManager(c_prints.append, reorder_window=window)
    fast.record_trades(True)
    locates = sorted({1, 2, 3} | {m.stock_locate for m in msgs})
    for msg in msgs:
        ref.apply(msg)
        fast.apply(msg)
        live = sorted(ref.orders)
        sample = data.draw(st.sampled_from(live)) if live else None
        assert _state(fast, locates, sample) == _state(ref, locates, sample), msg
        assert c_prints == ref_prints
    assert fast.invariant_violations(crossed=False) == []
    assert fast.summary() == ref.summary()
    assert _recorded_prints(fast) == ref_prints  # the object path records too
    # The bytes path rebuilds the same books from the same messages, and prints the same
    # tape (P, Q and B read in C, no decode), to on_print and to the trades recorder.
    # The BBO recorder's rows are the reference's (the series' rule: each to the stock
    # whose book the message changed, where the messages here often name orders of
    # another locate than their own).
    raw_prints: list[TapePrint] = []
    raw = cbook.CythonBookManager(raw_prints.append, reorder_window=window)
    raw.record_trades(True)
    raw.record_bbo(True)
    raw.feed_binaryfile(_binaryfile(msgs))
    assert _state(raw, locates, None) == _state(ref, locates, None)
    assert raw_prints == ref_prints
    assert _recorded_prints(raw) == ref_prints
    ref_bbo = _reference_bbo(msgs, window)
    assert _recorded_bbo(raw) == ref_bbo
    # tickwire.itch's framer feeding the book through its C sink: the same again.
    sunk = cbook.CythonBookManager(reorder_window=window)
    sunk.record_trades(True)
    sunk.record_bbo(True)
    builder = _column_builder()
    builder.attach(sunk)
    assert builder.feed(_binaryfile(msgs)) == (len(_binaryfile(msgs)), False)
    assert _state(sunk, locates, None) == _state(ref, locates, None)
    assert _recorded_prints(sunk) == ref_prints
    assert _recorded_bbo(sunk) == ref_bbo


@pytest.mark.parametrize("side", ["\x00", "B", "S", "X"])
def test_a_trades_side_byte_prints_alike_on_every_path(side: str) -> None:
    """A Trade (P) prints its side byte as a letter, except NUL, which prints as no side
    (``""``): the compiled book's prints and its trades recorder store the side as one
    byte with 0 for none (Q, B), so a NUL side cannot print otherwise there. Hypothesis
    found the reference printing ``"\x00"`` there while the compiled book printed ``""``."""
    msg = Trade(7, 0, 5, 11, side, 100, "AAPL", 1_000_000, 99)
    ref_prints: list[TapePrint] = []
    BookManager(ref_prints.append).apply(msg)
    for feed in ("apply", "feed_binaryfile"):
        prints: list[TapePrint] = []
        fast = cbook.CythonBookManager(prints.append)
        fast.record_trades(True)
        if feed == "apply":
            fast.apply(msg)
        else:
            fast.feed_binaryfile(_binaryfile([msg]))
        assert prints == ref_prints == _recorded_prints(fast), feed
    assert ref_prints[0].side == ("" if side == "\x00" else side)


def _column_builder() -> Any:
    from tickwire.itch import fastpath

    if fastpath._ext is None:
        pytest.skip(f"tickwire.itch's extension is not built: {fastpath.UNAVAILABLE_REASON}")
    return fastpath._ext.ColumnBuilder()


_TRADE_FORMATS = {
    "timestamp": "Q",
    "stock_locate": "H",
    "kind": "B",
    "match_number": "Q",
    "price": "I",
    "shares": "Q",
    "side": "B",
    "order_reference_number": "Q",
}


def _recorded_prints(m: Any) -> list[TapePrint]:
    """The trades recorder's rows (``take_trades``) as the prints they record."""
    rows, cols = m.take_trades()
    c = {name: memoryview(cols[name]).cast(fmt).tolist() for name, fmt in _TRADE_FORMATS.items()}
    assert all(len(v) == rows for v in c.values())
    return [
        TapePrint(
            chr(c["kind"][i]),
            c["stock_locate"][i],
            c["timestamp"][i],
            c["match_number"][i],
            c["price"][i],
            c["shares"][i],
            chr(c["side"][i]) if c["side"][i] else "",
            c["order_reference_number"][i],
        )
        for i in range(rows)
    ]


_BBO_FORMATS = {
    "timestamp": "Q",
    "stock_locate": "H",
    "bid_price": "I",
    "bid_size": "q",
    "ask_price": "I",
    "ask_size": "q",
}


def _recorded_bbo(m: Any) -> list[tuple[int, int, BBO]]:
    """The BBO recorder's rows (``take_bbo``): (timestamp, locate, BBO)."""
    rows, cols = m.take_bbo()
    c = {name: memoryview(cols[name]).cast(fmt).tolist() for name, fmt in _BBO_FORMATS.items()}
    assert all(len(v) == rows for v in c.values())

    def valid(side: str, i: int) -> bool:
        return bool(cols[f"{side}_valid"][i >> 3] >> (i & 7) & 1)

    return [
        (
            c["timestamp"][i],
            c["stock_locate"][i],
            BBO(
                c["bid_price"][i] if valid("bid", i) else None,
                c["bid_size"][i],
                c["ask_price"][i] if valid("ask", i) else None,
                c["ask_size"][i],
            ),
        )
        for i in range(rows)
    ]


def _reference_bbo(msgs: Sequence[Message], window: int) -> list[tuple[int, int, BBO]]:
    """The BBO rows of ``msgs`` from the reference book, by the series' rule
    (:func:`tickwire.engine.series.iter_series`): after each book message, the BBO of the
    stock whose book it changed (:func:`~tickwire.engine.book.filed_locate`, asked
    before), when it differs from the last row of that stock."""
    ref = BookManager(reorder_window=window)
    last: dict[int, BBO] = {}
    rows = []
    for msg in msgs:
        book_message = msg.message_type in series.BOOK_TYPES
        loc = filed_locate(ref, msg) if book_message else msg.stock_locate
        ref.apply(msg)
        if book_message and ref.bbo(loc) != last.get(loc):
            last[loc] = ref.bbo(loc)
            rows.append((msg.timestamp, loc, last[loc]))
    return rows


def _reference_from_bytes(data: bytes) -> tuple[BookManager, type[Exception] | None]:
    ref = BookManager()
    try:
        ref.feed(decode_binaryfile(data))
    except DecodeError as exc:
        return ref, type(exc)
    return ref, None


@_SETTINGS
@given(
    parts=st.lists(
        st.one_of(
            _lifecycle_message().map(lambda m: _binaryfile([m])),
            st.binary(max_size=12),
        ),
        max_size=40,
    )
)
def test_garbage_bytes_same_books_and_same_errors(parts: list[bytes]) -> None:
    data = b"".join(parts)
    ref, ref_error = _reference_from_bytes(data)
    fast = cbook.CythonBookManager()
    error: type[Exception] | None = None
    try:
        fast.feed_binaryfile(data)
    except DecodeError as exc:
        error = type(exc)
    assert error == ref_error
    locates = sorted(ref.books)
    assert _state(fast, locates, None) == _state(ref, locates, None)


def test_chunked_feed_equals_whole_feed() -> None:
    msgs = list(generate_day(3_000, 20, 5))
    data = _binaryfile(msgs)
    whole = cbook.CythonBookManager()
    whole.feed_binaryfile(data)
    chunked = cbook.CythonBookManager()
    rest = b""
    for i in range(0, len(data), 777):
        buf = rest + data[i : i + 777]
        rest = buf[chunked.feed_binaryfile(buf, False) :]
    chunked.feed_binaryfile(rest, True)
    assert chunked.summary() == whole.summary()
    assert chunked.stats == whole.stats


def test_truncated_and_unframeable_input_raise_decode_error(tmp_path: Path) -> None:
    data = _binaryfile(list(generate_day(50, 3, 1)))
    with pytest.raises(DecodeError, match="truncated"):
        cbook.CythonBookManager().feed_binaryfile(data[:-3])
    # From a file, in chunks, the offset is the stream offset of the cut frame.
    cut = tmp_path / "cut.itch"
    cut.write_bytes(data[:-3])
    with pytest.raises(DecodeError) as info:
        cbook.CythonBookManager().feed_file(cut, chunk_size=64)
    last = len(data) - 2 - len(encode(list(generate_day(50, 3, 1))[-1]))
    assert info.value.offset == last
    with pytest.raises(DecodeError, match="zero length prefix"):
        cbook.CythonBookManager().feed_binaryfile(b"\x00\x00z" + bytes(10))
    # An unknown type with a length prefix is skipped by that length.
    m = cbook.CythonBookManager()
    m.feed_binaryfile(b"\x00\x03zab" + data)
    assert m.skipped == 1


def test_real_file_rebuilds_to_the_reference_books(tmp_path: Path) -> None:
    ref = BookManager()
    ref.feed(iter_binaryfile(TEST_FILE))
    fast = cbook.CythonBookManager()
    fast.feed_file(TEST_FILE)
    assert fast.summary() == ref.summary()
    assert fast.stats == ref.stats
    assert fast.stats.reordered == 117  # the file's early deletes and executions
    for loc, b in ref.books.items():
        assert fast.books[loc].l2() == b.l2()
    assert {r: (o.price, o.shares, o.side) for r, o in fast.orders.items()} == {
        r: (o.price, o.shares, o.side) for r, o in ref.orders.items()
    }
    fast.check_invariants(crossed=False)
    # gzip is read transparently.
    import gzip

    gz = tmp_path / "day.gz"
    gz.write_bytes(gzip.compress(TEST_FILE.read_bytes()))
    again = cbook.CythonBookManager()
    again.feed_file(gz, chunk_size=4096)
    assert again.summary() == ref.summary()


def test_generated_day_rebuilds_to_the_reference_books() -> None:
    msgs = list(generate_day(60_000, 200, 11))
    ref = BookManager()
    ref.feed(msgs)
    fast = cbook.CythonBookManager()
    fast.feed_binaryfile(_binaryfile(msgs))
    assert fast.summary() == ref.summary()
    assert fast.stats == ref.stats
    for loc, b in ref.books.items():
        assert fast.books[loc].l2() == b.l2()
    for r in list(ref.orders)[::97]:
        assert fast.queue_ahead(r) == ref.queue_ahead(r)
    fast.check_invariants()


def test_sink_errors_propagate_and_the_capsule_keeps_the_book_alive() -> None:
    """An exception raised inside the book while tickwire.itch's framer feeds it (here
    by on_print) comes out of the framer's feed; the capsule alone keeps its book alive;
    the recorders and on_print see one print per execution."""
    msgs = list(generate_day(3_000, 20, 5))
    data = _binaryfile(msgs)

    def refuse(p: TapePrint) -> None:
        raise RuntimeError(f"no prints please: {p.kind}")

    builder = _column_builder()
    builder.attach(cbook.CythonBookManager(refuse))
    with pytest.raises(RuntimeError, match="no prints please"):
        builder.feed(data)

    class OnlyTheCapsule:
        def itch_sink(self) -> object:
            sink: object = cbook.CythonBookManager().itch_sink()  # nothing else holds it
            return sink

    import gc

    builder = _column_builder()
    builder.attach(OnlyTheCapsule())
    gc.collect()
    assert builder.feed(data) == (len(data), False)
    assert builder.messages == len(msgs)


def test_book_api_basics() -> None:
    m = cbook.CythonBookManager()
    for i, (side, px, qty) in enumerate([("B", 100, 10), ("B", 100, 20), ("S", 105, 5)]):
        m.apply(AddOrder(7, 0, 0, i + 1, side, qty, "ZZZ", px))
    b = m.book(7)
    assert b.symbol == "ZZZ"
    assert m.bbo(7) == (100, 30, 105, 5)
    assert m.bbo(8) == (None, 0, None, 0)
    assert m.queue_ahead(2) == (10, 1)
    assert [o.ref for o in b.orders_at("B", 100)] == [1, 2]
    assert b.orders_at("S", 1) == []
    assert not b.crossed()
    m.apply(AddOrder(7, 0, 0, 9, "B", 1, "ZZZ", 105))
    assert b.crossed()
    with pytest.raises(KeyError):
        m.queue_ahead(12345)
    assert 9 in m.orders and 12345 not in m.orders and len(m.orders) == 4
    assert -1 not in m.orders and 2**64 not in m.orders and "9" not in m.orders
    with pytest.raises(KeyError):
        m.orders[2**70]
    m.apply(Trade(7, 0, 0, 0, "B", 1, "ZZZ", 1, 1))
    assert m.stats.by_type == {"A": 4, "P": 1}
    with pytest.raises(ValueError):
        cbook.CythonBookManager(reorder_window=-1)
    assert isinstance(cbook.make_book_manager("cython"), cbook.CythonBookManager)
    assert isinstance(cbook.make_book_manager("reference"), BookManager)
    with pytest.raises(ValueError):
        cbook.make_book_manager("nope")


def test_hash_and_pools_grow_under_load() -> None:
    # Enough live orders and levels to grow the hash table, the order and level pools
    # and the per-side arrays several times, then remove them all again.
    m = cbook.CythonBookManager()
    ref = BookManager()
    n = 40_000
    msgs: list[Message] = [
        AddOrder(1 + i % 5, 0, 0, i * 7919, "B" if i % 2 else "S", 1 + i % 9, "S", 1 + i % 3000)
        for i in range(n)
    ]
    msgs += [OrderDelete(1, 0, 0, i * 7919) for i in range(0, n, 2)]
    for msg in msgs:
        ref.apply(msg)
    m.feed(msgs)
    assert m.summary() == ref.summary()
    m.check_invariants(crossed=False)
    m.feed([OrderDelete(1, 0, 0, i * 7919) for i in range(1, n, 2)])
    assert len(m.orders) == 0 and m.summary()["instruments"]["1"]["levels"] == 0  # type: ignore[index]


def test_bbo_is_the_reference_books_named_tuple() -> None:
    """The compiled book allocates and fills its BBO in C (``_cbook._bbo_new``, not the
    named tuple's Python ``__new__``): the same type, value, repr and hash as the
    reference book's, each side empty or not."""
    ref, fast = BookManager(), cbook.make_book_manager("cython")
    seen = set()
    for msg in generate_day(5_000, 4, 3):
        ref.apply(msg)
        fast.apply(msg)
        for locate, book in ref.books.items():
            want, got = book.bbo(), fast.books[locate].bbo()
            assert type(got) is BBO and got == want and got._asdict() == want._asdict()
            assert repr(got) == repr(want) and hash(got) == hash(want)
            seen.add((want.bid_price is None, want.ask_price is None))
    assert (False, False) in seen and (True, True) in seen


def test_orders_get_answers_as_the_mapping_does() -> None:
    """``manager.orders.get`` (its own, not Mapping's ``self[ref]`` and KeyError) gives
    what indexing gives: the live order, else the default (unknown, or no 8-byte ref)."""
    from collections.abc import Mapping

    fast = cbook.make_book_manager("cython")
    for msg in generate_day(2_000, 3, 2):
        fast.apply(msg)
    orders = fast.orders
    refs = list(orders)
    assert refs
    for ref in [*refs[:50], 0, 10**12, -1, 2**64]:
        assert orders.get(ref) == Mapping.get(orders, ref)
        assert orders.get(ref, "none") == Mapping.get(orders, ref, "none")
    assert orders.get(refs[0]) == orders[refs[0]]


def _not_binaryfiles() -> dict[str, bytes]:
    """A generated BinaryFILE as the formats a BinaryFILE reader refuses: compressed by
    another tool, gzipped twice, a pcap."""
    import bz2
    import gzip
    import lzma

    day = _binaryfile(list(generate_day(2_000, 3, 1)))
    return {
        "plain": day,
        "bzip2": bz2.compress(day),
        "xz": lzma.compress(day),
        "gzip twice": gzip.compress(gzip.compress(day)),
        "pcap": struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + day,
    }


@pytest.mark.parametrize("kind", list(_not_binaryfiles()))
def test_a_file_that_is_not_a_binaryfile_is_refused_before_a_frame(
    kind: str, tmp_path: Path
) -> None:
    """The compiled book (its bytes, its file) and the compiled backtest core refuse what
    the reference reader refuses, with its words at offset 0, before a byte is framed as
    ITCH; they framed a bzip2 day as messages and said ``truncated frame at end of
    stream ...`` (``_cbook.stream_start``). The plain bytes, the control, go through."""
    from tickwire.engine.backtest import run_backtest
    from tickwire.engine.strategy import Strategy

    data = _not_binaryfiles()[kind]
    path = tmp_path / "day.itch"
    path.write_bytes(data)
    ref = BookManager()
    try:
        ref.feed(decode_binaryfile(data))
        want = None
    except DecodeError as exc:
        want = (str(exc), exc.offset)
    assert (want is None) == (kind == "plain")
    fed = cbook.CythonBookManager()
    from_file = cbook.CythonBookManager()
    runs = {
        "bytes": lambda: fed.feed_binaryfile(data),
        "file": lambda: from_file.feed_file(path, chunk_size=4096),
        "core": lambda: run_backtest(Strategy(), data, backend="compiled", measure=False),
    }
    for name, run in runs.items():
        if want is None:
            run()
            continue
        with pytest.raises(DecodeError) as e:
            run()
        assert (str(e.value), e.value.offset) == want, name
    for books in (fed, from_file):
        assert books.stats.messages == (ref.stats.messages if want is None else 0)


@pytest.mark.parametrize("cut", [1 / 3, 3 / 4, -10, -4])
def test_a_cut_gzip_reads_alike_on_the_compiled_and_the_reference_book(
    cut: float, tmp_path: Path
) -> None:
    """A gzip day cut short (mid-stream, in its last bytes, in its trailer) gives the
    compiled book, from its file in chunks of any size, the books the reference book gets
    from the reference reader, and the same error (``corrupt gzip stream: ...`` at the
    offset where the readable bytes end, the file named): every frame decompressed before
    the cut is applied (``tickwire.itch.reader.read_chunks``). The compiled book raised a
    bare ``EOFError`` (``corrupt or truncated gzip data: ...``) and, as the reference
    reader, applied only the frames of the whole chunks read before the one that failed:
    which frames depended on the chunk size (4 MiB against 1 MiB by default)."""
    import gzip
    import zlib

    from tickwire.cli import input_of

    day = _binaryfile(list(generate_day(6_000, 5, 3)))
    whole = gzip.compress(day)
    path = tmp_path / "day.itch.gz"
    path.write_bytes(whole[: int(len(whole) * cut) if cut > 0 else len(whole) + int(cut)])
    readable = len(zlib.decompressobj(wbits=31).decompress(path.read_bytes()))
    ref = BookManager()
    with pytest.raises(DecodeError) as want:
        ref.feed(iter_binaryfile(path))
    assert want.value.offset == readable and input_of(want.value) == str(path)
    assert str(want.value).startswith("corrupt gzip stream: ")
    assert ref.stats.messages > 0 and (cut != -4 or ref.stats.messages == 6_000)
    locates = sorted(ref.books)
    for chunk_size in (4096, 1 << 16, cbook.CHUNK_SIZE):
        fast = cbook.CythonBookManager()
        with pytest.raises(DecodeError) as got:
            fast.feed_file(path, chunk_size=chunk_size)
        assert (str(got.value), got.value.offset) == (str(want.value), readable), chunk_size
        assert input_of(got.value) == str(path)
        assert _state(fast, locates, None) == _state(ref, locates, None), chunk_size
