"""A deterministic, realistic ITCH 5.0 trading day in miniature.

``generate_day(messages, symbols, seed)`` yields exactly ``messages`` ITCH messages that
look like a NASDAQ TotalView day compressed in size:

* the preamble: System Event ``O`` (start of messages) and ``S`` (start of system
  hours), one Stock Directory ``R`` per symbol (realistic tickers, stock locate 1..K in
  alphabetical order, as NASDAQ assigns them), one Stock Trading Action ``H`` (trading)
  per symbol, then System Event ``Q`` (start of market hours) at 09:30:00;
* the order flow, with the message mix of a real day: adds ~44% (``A``, some ``F``),
  deletes ~43% (``D``), replaces ~9% (``U``), executions ~2% (``E``, some ``C``),
  partial cancels ~1.2% (``X``) and non-displayed trades ~0.8% (``P``);
* the close: System Events ``M`` (end of market hours), ``E`` (end of system hours)
  and ``C`` (end of messages).

Why it is shaped this way:

* Every order reference is consistent: an order is added before it is executed,
  cancelled, deleted or replaced, never referenced after it is gone, and its shares
  never go below one while it lives (executions and cancels that would take the rest
  are emitted as full executions / deletes instead). Downstream book builders can
  therefore be differentially tested on it without special cases.
* Prices are Price(4) integers in whole cents (multiples of 100), a few ticks around
  a per-symbol reference price that follows a random walk kept inside the spread; buys
  rest below the reference, sells above it, and a new or replaced order never locks or
  crosses the other side of the book (the generator tracks each symbol's best bid and
  ask), as in continuous trading on a real exchange.
* Order lifetimes are skewed like real ones: most orders are removed soon after they
  are added (the removal picker prefers the youngest live orders), some rest for a
  long time (a share of removals picks uniformly among all live orders).
* Symbol activity is skewed (Zipf-like), so a few names carry most of the flow.
* Memory is constant in the number of messages: only live orders are kept, and their
  number is capped (``_live_cap``) independent of ``messages``; at the cap an add
  turns into a delete, which keeps the mix well inside its tolerance.
* Determinism: all randomness comes from one ``random.Random(seed)``; global state is
  never touched, so the same arguments always give the same stream.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator
from typing import Final

from tickwire.itch.messages import (
    AddOrder,
    AddOrderMPID,
    EventCode,
    Message,
    OrderCancel,
    OrderDelete,
    OrderExecuted,
    OrderExecutedWithPrice,
    OrderReplace,
    Side,
    StockDirectory,
    StockTradingAction,
    SystemEvent,
    Trade,
    TradingState,
    YesNo,
    decode,
    encode,
)

__all__ = ["MAX_MESSAGES", "MAX_SEED", "MAX_SYMBOLS", "MIX", "generate_day", "preamble_length"]

#: The most messages a generated day holds: a billion, about 31 GB of BinaryFILE (30.6
#: bytes a message with its length) and most of an hour at the generator's 360,000
#: messages a second (measured), already more than a test or a benchmark needs. Why a
#: bound: ``itch generate --messages 10**30`` was accepted and would have run for ever,
#: filling the disk (hostile-input audit). Test: ``test_generate_numbers_are_bounded``
#: (``packages/itch/tests/test_itch_cli.py``).
MAX_MESSAGES: Final = 1_000_000_000
#: The most symbols: stock locates 1..65535, the 2-byte Stock Locate field (0 is the
#: system's). Why: ``--symbols 70000`` failed mid-day, "cannot encode StockDirectory".
MAX_SYMBOLS: Final = 0xFFFF
#: The largest seed, 64 bits; a seed is at least 0. Why: ``random.Random`` seeds with an
#: integer's absolute value, so ``--seed -1`` wrote the day of ``--seed 1``.
MAX_SEED: Final = 2**64 - 1

NS_PER_SECOND: Final = 1_000_000_000
#: Target order-flow mix (fraction of order-flow messages). Sums to 1.
MIX: Final[dict[str, float]] = {
    "add": 0.44,  # A and F
    "delete": 0.43,  # D
    "replace": 0.09,  # U
    "execute": 0.02,  # E and C
    "cancel": 0.012,  # X
    "trade": 0.008,  # P
}
_F_SHARE: Final = 0.08  # share of adds that carry an MPID attribution (F)
_C_SHARE: Final = 0.15  # share of executions that print at a different price (C)
_YOUNG_SHARE: Final = 0.85  # share of removals that pick among the youngest orders
_YOUNG_WINDOW: Final = 256  # how far back "young" reaches, in live-order positions
_TICK: Final = 100  # one cent in Price(4) units

# A few real tickers so output reads naturally; the rest are synthesised.
_REAL_TICKERS: Final = [
    "AAPL",
    "MSFT",
    "AMZN",
    "GOOGL",
    "GOOG",
    "META",
    "NVDA",
    "TSLA",
    "INTC",
    "CSCO",
    "ADBE",
    "NFLX",
    "PEP",
    "COST",
    "AVGO",
    "TXN",
    "QCOM",
    "AMD",
    "SBUX",
    "AMGN",
    "GILD",
    "MDLZ",
    "INTU",
    "ISRG",
    "BKNG",
    "ADP",
    "VRTX",
    "REGN",
    "MU",
    "LRCX",
    "ATVI",
    "CSX",
    "MAR",
    "ADI",
    "KDP",
    "PYPL",
    "CMCSA",
    "CHTR",
    "MNST",
    "ORLY",
    "ASML",
    "KLAC",
    "SNPS",
    "CDNS",
    "PAYX",
    "CTAS",
    "FAST",
    "ODFL",
    "EBAY",
    "EA",
    "BIDU",
    "JD",
    "SPY",
    "QQQ",
    "IWM",
    "DIA",
    "XLF",
    "XLE",
    "GLD",
    "SLV",
    "TLT",
    "IBM",
    "GE",
    "F",
    "T",
    "KO",
    "BAC",
    "JPM",
    "WFC",
    "C",
    "XOM",
    "CVX",
    "PFE",
    "MRK",
]
_MPIDS: Final = ("GSCO", "MSCO", "UBSS", "CDRG", "NITE", "VIRT", "JPMS", "SUSQ")
_MARKET_CATEGORIES: Final = "QQQQGGSSNNNAPZ"
_LETTERS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _live_cap(symbols: int) -> int:
    """How many orders may rest at once: independent of the message count."""
    return max(2_000, 40 * symbols)


def preamble_length(symbols: int) -> int:
    """Messages before the order flow starts: O, S, R and H per symbol, Q."""
    return 2 * symbols + 3


_CLOSING = 3  # M, E, C


def _tickers(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct realistic tickers (1-5 capital letters), sorted."""
    chosen: list[str] = list(_REAL_TICKERS[: min(count, len(_REAL_TICKERS))])
    seen = set(chosen)
    while len(chosen) < count:
        length = rng.choice((2, 3, 3, 4, 4, 4, 4, 5))
        name = "".join(rng.choice(_LETTERS) for _ in range(length))
        if name not in seen:
            seen.add(name)
            chosen.append(name)
    chosen.sort()
    return chosen


def _reference_price(rng: random.Random) -> int:
    """A log-uniform price between $2 and $600, in Price(4) whole cents."""
    dollars: float = 2.0 * float(300.0 ** rng.random())
    return max(100, round(dollars * 100)) * _TICK


def _directory(locate: int, ticker: str, ts: int, rng: random.Random) -> StockDirectory:
    category = rng.choice(_MARKET_CATEGORIES)
    nasdaq = category in "QGS"
    etp = ticker in {"SPY", "QQQ", "IWM", "DIA", "XLF", "XLE", "GLD", "SLV", "TLT"}
    return StockDirectory(
        stock_locate=locate,
        tracking_number=0,
        timestamp=ts,
        stock=ticker,
        market_category=category,
        financial_status_indicator="N" if nasdaq else " ",
        round_lot_size=100,
        round_lots_only="N",
        issue_classification="Q" if etp else "C",
        issue_sub_type="E" if etp else "Z",
        authenticity="P",
        short_sale_threshold_indicator="N" if nasdaq else " ",
        ipo_flag="N" if nasdaq else " ",
        luld_reference_price_tier="1" if (etp or category == "Q") else "2",
        etp_flag="Y" if etp else "N",
        etp_leverage_factor=1 if etp else 0,
        inverse_indicator="N",
    )


def generate_day(messages: int, symbols: int, seed: int) -> Iterator[Message]:
    """Yield exactly ``messages`` ITCH 5.0 messages of a realistic day, deterministically.

    ``symbols`` instruments get stock locates 1..``symbols`` (at most
    :data:`MAX_SYMBOLS`). ``messages`` must leave room for the preamble and close
    (``preamble_length(symbols) + 3``) and be at most :data:`MAX_MESSAGES`; ``seed`` is
    0..:data:`MAX_SEED`. Anything else is a ``ValueError`` naming the argument, raised
    at once (before the first message). The same arguments always produce the same
    stream; only live orders are held in memory.
    """
    if not 1 <= symbols <= MAX_SYMBOLS:
        raise ValueError(
            f"symbols must be in 1..{MAX_SYMBOLS} (a 2-byte stock locate each), got {symbols}"
        )
    if messages > MAX_MESSAGES:
        raise ValueError(f"messages must be at most {MAX_MESSAGES:,}, got {messages:,}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be in 0..2**64-1, got {seed}")
    fixed = preamble_length(symbols) + _CLOSING
    if messages < fixed:
        raise ValueError(
            f"{messages} messages cannot hold a day of {symbols} symbols: "
            f"the preamble and close alone take {fixed}"
        )
    rng = random.Random(seed)
    return _day(rng, messages - fixed, symbols)


def _day(rng: random.Random, flow: int, symbols: int) -> Iterator[Message]:
    tickers = _tickers(rng, symbols)
    locates = range(1, symbols + 1)

    # Preamble, timestamps from 03:05 to 09:30 like a real feed.
    yield SystemEvent(
        stock_locate=0,
        tracking_number=0,
        timestamp=3 * 3600 * NS_PER_SECOND + 5 * 60 * NS_PER_SECOND + 123_456,
        event_code=EventCode.START_OF_MESSAGES,
    )
    ts = 4 * 3600 * NS_PER_SECOND
    yield SystemEvent(
        stock_locate=0, tracking_number=0, timestamp=ts, event_code=EventCode.START_OF_SYSTEM_HOURS
    )
    for locate, ticker in zip(locates, tickers, strict=True):
        ts += 1_000 + rng.randrange(50_000)
        # Decoded from its own bytes so code fields are the enum members a reader
        # returns: generated and decoded messages are alike, not merely equal.
        yield decode(encode(_directory(locate, ticker, ts, rng)))
    for locate, ticker in zip(locates, tickers, strict=True):
        ts += 1_000 + rng.randrange(50_000)
        yield StockTradingAction(
            stock_locate=locate,
            tracking_number=0,
            timestamp=ts,
            stock=ticker,
            trading_state=TradingState.TRADING,
            reserved=" ",
            reason="",
        )
    open_ts = 34_200 * NS_PER_SECOND  # 09:30:00
    yield SystemEvent(
        stock_locate=0,
        tracking_number=0,
        timestamp=open_ts,
        event_code=EventCode.START_OF_MARKET_HOURS,
    )

    yield from _order_flow(rng, flow, tickers, open_ts)

    close_ts = 57_600 * NS_PER_SECOND  # 16:00:00
    yield SystemEvent(
        stock_locate=0,
        tracking_number=0,
        timestamp=close_ts,
        event_code=EventCode.END_OF_MARKET_HOURS,
    )
    yield SystemEvent(
        stock_locate=0,
        tracking_number=0,
        timestamp=close_ts + 4 * 3600 * NS_PER_SECOND,
        event_code=EventCode.END_OF_SYSTEM_HOURS,
    )
    yield SystemEvent(
        stock_locate=0,
        tracking_number=0,
        timestamp=close_ts + 4 * 3600 * NS_PER_SECOND + 5 * 60 * NS_PER_SECOND,
        event_code=EventCode.END_OF_MESSAGES,
    )


def _order_flow(
    rng: random.Random, flow: int, tickers: list[str], start_ts: int
) -> Iterator[Message]:
    """The continuous session: ``flow`` order-book messages between 09:30 and 16:00."""
    nsym = len(tickers)
    random_ = rng.random  # bound method: the hot loop calls it several times a message
    # Zipf-like activity: symbol i (in a shuffled order) has weight 1/(i+1)^0.9.
    order = list(range(nsym))
    rng.shuffle(order)
    weights = [0.0] * nsym
    for rank, idx in enumerate(order):
        weights[idx] = 1.0 / (rank + 1) ** 0.9
    cumulative: list[float] = []
    acc = 0.0
    for w in weights:
        acc += w
        cumulative.append(acc)
    total_weight = acc
    mids = [_reference_price(rng) for _ in range(nsym)]

    t_add = MIX["add"]
    t_delete = t_add + MIX["delete"]
    t_replace = t_delete + MIX["replace"]
    t_execute = t_replace + MIX["execute"]
    t_cancel = t_execute + MIX["cancel"]
    cap = _live_cap(nsym)

    # Live orders: ``live`` is a list of refs (roughly oldest first, newest last), and
    # ``book[ref] = [position in live, symbol index, side, shares, price]``. Removal is
    # a swap with the last element, O(1).
    live: list[int] = []
    book: dict[int, list[int]] = {}
    # Price levels per symbol and side (price -> live orders there) and the best bid and
    # ask (0: none). New and replaced orders are kept off the other side of the book, so
    # it is never crossed or locked, as in continuous trading on a real exchange.
    bids: list[dict[int, int]] = [{} for _ in range(nsym)]
    asks: list[dict[int, int]] = [{} for _ in range(nsym)]
    best_bid = [0] * nsym
    best_ask = [0] * nsym
    next_ref = 1_000 + rng.randrange(1_000)
    match = 1 + rng.randrange(10_000)

    span = 23_400 * NS_PER_SECOND - 1  # 09:30 to 16:00
    step2 = max(2, 2 * span // max(1, flow))  # twice the mean gap between messages
    ts = start_ts

    def pick() -> int:
        """Index into ``live`` of an order to act on: usually a young one."""
        n = len(live)
        if random_() < _YOUNG_SHARE:
            window = n if n < _YOUNG_WINDOW else _YOUNG_WINDOW
            return n - 1 - int(random_() * random_() * window)
        return int(random_() * n)

    def level_up(s: int, buy: int, price: int) -> None:
        if buy:
            lv = bids[s]
            lv[price] = lv.get(price, 0) + 1
            if price > best_bid[s]:
                best_bid[s] = price
        else:
            lv = asks[s]
            lv[price] = lv.get(price, 0) + 1
            if best_ask[s] == 0 or price < best_ask[s]:
                best_ask[s] = price

    def level_down(s: int, buy: int, price: int) -> None:
        lv = bids[s] if buy else asks[s]
        left = lv[price] - 1
        if left:
            lv[price] = left
            return
        del lv[price]
        if buy:
            if price == best_bid[s]:
                best_bid[s] = max(lv) if lv else 0
        elif price == best_ask[s]:
            best_ask[s] = min(lv) if lv else 0

    def keep_uncrossed(s: int, buy: int, price: int) -> int:
        """``price`` moved off the other side of the book if it would lock or cross it."""
        if buy:
            ask = best_ask[s]
            if ask and price >= ask:
                price = ask - _TICK
            return price if price >= _TICK else _TICK
        bid = best_bid[s]
        return bid + _TICK if bid and price <= bid else price

    def drop(pos: int, ref: int) -> list[int]:
        """Remove the live order at ``live[pos]`` (its ref is ``ref``); returns its entry."""
        entry = book.pop(ref)
        last = live.pop()
        if pos < len(live):
            live[pos] = last
            book[last][0] = pos
        level_down(entry[1], entry[2], entry[4])
        return entry

    for _ in range(flow):
        ts += 1 + int(random_() * step2)
        if ts >= 57_600 * NS_PER_SECOND:
            ts = 57_600 * NS_PER_SECOND - 1  # never past the close; still non-decreasing
        r = random_()
        if not live or (r < t_add and len(live) < cap):
            # Add Order (A), sometimes with MPID attribution (F).
            s = bisect.bisect_left(cumulative, random_() * total_weight)
            if s >= nsym:
                s = nsym - 1
            mid = mids[s]
            if random_() < 0.05:  # the reference price wanders a tick at a time
                mid += _TICK if random_() < 0.5 else -_TICK
                if mid < 100 * _TICK:
                    mid = 100 * _TICK
            # ... but stays inside the spread: the book, not the walk, sets the market.
            if best_bid[s] and mid < best_bid[s]:
                mid = best_bid[s]
            if best_ask[s] and mid > best_ask[s]:
                mid = best_ask[s]
            mids[s] = mid
            level = 1 + int(random_() * random_() * 10)
            buy = random_() < 0.5
            price = keep_uncrossed(s, buy, mid - level * _TICK if buy else mid + level * _TICK)
            u = random_()
            if u < 0.7:
                shares = 100 * (1 + int(random_() * random_() * 10))
            elif u < 0.9:
                shares = 1 + int(random_() * 99)
            else:
                shares = 100 * (10 + int(random_() * 40))
            ref = next_ref
            next_ref += 1 + (int(random_() * 4) == 0)
            book[ref] = [len(live), s, buy, shares, price]
            live.append(ref)
            level_up(s, buy, price)
            side = Side.BUY if buy else Side.SELL
            if random_() < _F_SHARE:
                yield AddOrderMPID(
                    stock_locate=s + 1,
                    tracking_number=0,
                    timestamp=ts,
                    order_reference_number=ref,
                    buy_sell_indicator=side,
                    shares=shares,
                    stock=tickers[s],
                    price=price,
                    attribution=_MPIDS[int(random_() * len(_MPIDS))],
                )
            else:
                yield AddOrder(
                    stock_locate=s + 1,
                    tracking_number=0,
                    timestamp=ts,
                    order_reference_number=ref,
                    buy_sell_indicator=side,
                    shares=shares,
                    stock=tickers[s],
                    price=price,
                )
        elif r < t_delete or r < t_add:
            # Order Delete (also what an add becomes when the book is at its cap).
            pos = pick()
            ref = live[pos]
            entry = drop(pos, ref)
            yield OrderDelete(
                stock_locate=entry[1] + 1,
                tracking_number=0,
                timestamp=ts,
                order_reference_number=ref,
            )
        elif r < t_replace:
            # Order Replace: the new order takes the old one's place in the book.
            pos = pick()
            ref = live[pos]
            entry = book.pop(ref)
            level_down(entry[1], entry[2], entry[4])
            new_ref = next_ref
            next_ref += 1 + (int(random_() * 4) == 0)
            move = int(random_() * 3) - 1  # a tick worse, same, or a tick better
            price = keep_uncrossed(
                entry[1], entry[2], entry[4] + (move * _TICK if entry[2] else -move * _TICK)
            )
            level_up(entry[1], entry[2], price)
            shares = entry[3] if random_() < 0.5 else 100 * (1 + int(random_() * 10))
            entry[3] = shares
            entry[4] = price
            book[new_ref] = entry
            live[pos] = new_ref
            yield OrderReplace(
                stock_locate=entry[1] + 1,
                tracking_number=0,
                timestamp=ts,
                original_order_reference_number=ref,
                new_order_reference_number=new_ref,
                shares=shares,
                price=price,
            )
        elif r < t_execute:
            # Order Executed (E), sometimes With Price (C); full fills remove the order.
            pos = pick()
            ref = live[pos]
            entry = book[ref]
            held = entry[3]
            executed = held if (held == 1 or random_() < 0.6) else 1 + int(random_() * (held - 1))
            if executed == held:
                drop(pos, ref)
            else:
                entry[3] = held - executed
            if random_() < _C_SHARE:
                yield OrderExecutedWithPrice(
                    stock_locate=entry[1] + 1,
                    tracking_number=0,
                    timestamp=ts,
                    order_reference_number=ref,
                    executed_shares=executed,
                    match_number=match,
                    printable=YesNo.YES if random_() < 0.9 else YesNo.NO,
                    # never worse than the resting order's limit: a buy fills at or below it
                    execution_price=max(_TICK, entry[4] - _TICK) if entry[2] else entry[4] + _TICK,
                )
            else:
                yield OrderExecuted(
                    stock_locate=entry[1] + 1,
                    tracking_number=0,
                    timestamp=ts,
                    order_reference_number=ref,
                    executed_shares=executed,
                    match_number=match,
                )
            match += 1
        elif r < t_cancel:
            # Order Cancel (partial); an order of one share is deleted instead.
            pos = pick()
            ref = live[pos]
            entry = book[ref]
            held = entry[3]
            if held == 1:
                drop(pos, ref)
                yield OrderDelete(
                    stock_locate=entry[1] + 1,
                    tracking_number=0,
                    timestamp=ts,
                    order_reference_number=ref,
                )
                continue
            cancelled = 1 + int(random_() * (held - 1))
            entry[3] = held - cancelled
            yield OrderCancel(
                stock_locate=entry[1] + 1,
                tracking_number=0,
                timestamp=ts,
                order_reference_number=ref,
                cancelled_shares=cancelled,
            )
        else:
            # Trade (non-displayed): order reference 0 and side B, as NASDAQ sends them.
            s = bisect.bisect_left(cumulative, random_() * total_weight)
            if s >= nsym:
                s = nsym - 1
            yield Trade(
                stock_locate=s + 1,
                tracking_number=0,
                timestamp=ts,
                order_reference_number=0,
                buy_sell_indicator=Side.BUY,
                shares=100 * (1 + int(random_() * 5)),
                stock=tickers[s],
                price=mids[s] + (int(random_() * 3) - 1) * _TICK,
                match_number=match,
            )
            match += 1
