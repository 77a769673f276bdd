"""A backtest's records on disk (tickwire.engine.backtest.spill): the tables and samples
read back as written, exact percentiles from sorted runs, the same report whatever the
batch size, the files unnamed and closed at the end and on error, and memory that does
not grow with the day."""

from __future__ import annotations

import gc
import os
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tickwire.engine.backtest import BacktestConfig, run_backtest, spill
from tickwire.engine.backtest.report import build_report
from tickwire.engine.backtest.spill import Spill, SpillClosed, percentiles_of
from tickwire.engine.cli_backtest import DEFAULT_RISK
from tickwire.engine.risk import RiskLimits, parse_risk_limits
from tickwire.engine.strategy import MarketMaker, Strategy
from tickwire.engine.strategy.api import BookUpdate
from tickwire.itch.generator import generate_day
from tickwire.net.stats import percentiles


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory the spills go to."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _spill_files() -> list[str]:
    """This process's open files that are a spill's: unnamed files of the scratch
    directory (``/proc`` shows them as ``DIR/#INODE (deleted)`` or ``... (deleted)``)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(tempfile.tempdir)) and target.endswith("(deleted)"):
            found.append(target)
    return found


def test_a_table_reads_back_its_rows_in_order_with_nulls(scratch: Path) -> None:
    s = Spill(batch=3)
    t = s.table("t", "isu?s?", lambda a, b, c, d: (a, b, c, d))
    rows = [(i, f"s{i % 4}", None if i % 3 else i, None if i % 2 else "x") for i in range(10)]
    for r in rows:
        t.append(r)
    assert len(t) == 10
    assert list(t) == rows and t == rows
    assert t[0] == rows[0] and t[-1] == rows[-1] and t[4:7] == rows[4:7]
    with pytest.raises(ValueError, match="not nullable"):
        t.append((None, "x", 1, "y"))
    assert len(_spill_files()) == 1
    s.close()
    assert not _spill_files()
    with pytest.raises(SpillClosed):
        list(t)


def test_an_int_table_packs_its_rows_as_they_are_and_names_a_bad_one(scratch: Path) -> None:
    """A table of ints, none nullable (the PnL series), packs a row without copying it:
    its rows read back the same, and a bad row is the same one-line error."""
    s = Spill(batch=2)
    t = s.table("pnl", "iiu", lambda a, b, c: (a, b, c))
    rows = [(i, -i * 7, i * 3) for i in range(5)]
    for r in rows:
        t.append(r)
    assert list(t) == rows
    with pytest.raises(ValueError, match="not nullable"):
        t.append((1, None, 2))
    with pytest.raises(ValueError, match="3 columns, got 2"):
        t.append((1, 2))
    assert list(t) == rows
    s.close()


def test_put_rows_read_back_by_index(scratch: Path) -> None:
    s = Spill(batch=2)
    t = s.table("orders", "is", lambda a, b: (a, b))
    for i in (5, 1, 0, 3, 2, 4):
        t.put(i, (i * 10, "x"))
    t.put(7, (70, "y"))  # 6 never put: absent, skipped
    assert list(t) == [(0, "x"), (10, "x"), (20, "x"), (30, "x"), (40, "x"), (50, "x"), (70, "y")]
    s.close()


@given(
    st.lists(st.integers(0, 60), unique=True, max_size=60),
    st.integers(1, 9),
)
def test_put_rows_in_any_order_read_back_by_index(indices: list[int], batch: int) -> None:
    """A batch of put rows is written a run of consecutive indices at a time: whatever the
    order, the gaps and the batch, every row reads back at its index (a gap: absent),
    from the file and from memory, the rows of an index put twice the last one's."""
    s = Spill(batch=batch)
    t = s.table("orders", "is?", lambda a, b: (a, b))
    want: dict[int, tuple[int, str | None]] = {}
    for n, i in enumerate(indices + indices[: len(indices) // 3]):  # some put again
        row = (i * 10 + n, None if i % 4 == 0 else f"s{i % 3}")
        t.put(i, row)
        want[i] = row
    assert len(t) == (max(want) + 1 if want else 0)
    assert list(t) == [want[i] for i in sorted(want)]
    for i in range(len(t)):
        if i in want:
            assert t[i] == want[i]
        else:
            with pytest.raises(IndexError):
                t[i]
    s.close()


@given(
    st.lists(st.integers(-(2**62), 2**62), max_size=300)
    | st.lists(st.integers(0, 5), max_size=300),
    st.integers(1, 40),
)
def test_spilled_percentiles_are_the_exact_nearest_rank(values: list[int], batch: int) -> None:
    s = Spill(batch=batch)
    try:
        ints = s.ints("x")
        for v in values:
            ints.append(v)
        assert list(ints) == values
        assert percentiles_of(ints) == percentiles(values)
        if values:
            assert ints[-1] == values[-1] and ints[0] == values[0]
    finally:
        s.close()


def _mm(n: int, limits: RiskLimits | None = None, **kw: Any) -> Any:
    return run_backtest(
        MarketMaker(),
        generate_day(n, 20, 1),
        limits=parse_risk_limits(DEFAULT_RISK) if limits is None else limits,
        config=BacktestConfig(**kw),
        measure=False,
    )


def _deterministic(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "runtime"}


def test_the_report_is_the_same_whatever_the_batch(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 7 records (everything written and read back many times, percentiles
    from sorted runs) against batches larger than the run (everything in one buffer)."""
    with _mm(20_000) as big:
        whole = build_report(big)
        fills, orders, pnl = list(big.fills), list(big.orders), list(big.pnl_series)
        samples = list(big.tick_to_venue_ns), list(big.order_to_ack_ns)
        marks = dict(big.mark_series.items())
    monkeypatch.setattr(spill, "BATCH", 7)
    with _mm(20_000) as small:
        assert _deterministic(build_report(small)) == _deterministic(whole)
        assert list(small.fills) == fills and list(small.orders) == orders
        assert list(small.pnl_series) == pnl and dict(small.mark_series.items()) == marks
        assert (list(small.tick_to_venue_ns), list(small.order_to_ack_ns)) == samples
        # every UserRefNum once, in order (rows are written as orders close, in any order)
        refs = [o["user_ref_num"] for o in orders]
        assert refs == list(range(1, len(refs) + 1))
        assert len(_spill_files()) >= 8  # the tables, the samples and a sorted run file
    assert whole["orders"]["sent"] > 500 and whole["fills"]["count"] > 50
    assert not _spill_files()  # both closed
    assert not list(scratch.iterdir())  # never a name on disk


class _Fails(Strategy):
    """Trades a little, then raises mid-run."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    async def on_book(self, update: BookUpdate) -> None:
        self.seen += 1
        if self.seen == 200:
            raise RuntimeError("strategy bug")


def test_the_files_are_closed_when_a_run_fails(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spill, "BATCH", 2)  # files opened (the PnL samples fill batches)
    with pytest.raises(RuntimeError, match="strategy bug") as failure:
        run_backtest(_Fails(), generate_day(5_000, 5, 1))
    assert failure.value.__traceback__ is not None  # the run's frames are still held
    assert not _spill_files()


def test_the_files_are_closed_when_the_result_goes(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(_spill_files()) == 0
    with _mm(3_000) as small:  # every record fits a batch: no file at all
        assert not _spill_files() and len(small.orders) > 100
    monkeypatch.setattr(spill, "BATCH", 2)
    result = _mm(3_000)
    assert len(_spill_files()) == 6  # fills, orders, pnl, marks, two sample series
    del result
    gc.collect()  # the run's objects hold each other (the strategy context and its runner)
    assert not _spill_files()


def _peak(n: int) -> int:
    tracemalloc.start()
    try:
        # no risk limits: no rate window either (risk kept a time and a key per order
        # of the day when none was set)
        with _mm(n, RiskLimits()) as result:
            build_report(result)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_day(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Peak traced memory of a run and its report on N and on 4N messages of a trading
    day (MarketMaker: ~110 orders per 1,000 messages), with batches of 256 records.

    Before the records were spilled the peak grew by about 1.4 KiB per order: +9.2 MiB
    from 20,000 to 80,000 messages (3.6 to 12.8 MiB); with the records spilled but risk's
    rate history kept with no window set, +1.07 MiB from 15,000 to 60,000. Now about
    +60 KiB (0.42 to 0.48 MiB): the books and the batches, bounded."""
    monkeypatch.setattr(spill, "BATCH", 256)
    n = 15_000
    small, large = _peak(n), _peak(4 * n)
    assert large - small < 1 << 18, (small, large)


@given(
    st.lists(st.text(max_size=40), max_size=200),
    st.integers(1, 30),
)
def test_spilled_lines_read_back_as_written(lines: list[str], batch: int) -> None:
    s = Spill(batch=batch)
    try:
        log = s.lines("log")
        for line in lines:
            log.append(line)
        assert len(log) == len(lines)
        assert list(log) == lines and log == lines
        assert log[:7] == lines[:7] and log[3:] == lines[3:]
        if lines:
            assert log[0] == lines[0] and log[-1] == lines[-1]
            assert log[len(lines) // 2] == lines[len(lines) // 2]
    finally:
        s.close()


class _Chatty(Strategy):
    """Logs a line at every book update: a log as long as the day."""

    async def on_book(self, update: BookUpdate) -> None:
        assert self.ctx is not None
        self.ctx.log(f"{update.symbol} bid {update.bbo.bid_price} ask {update.bbo.ask_price}")


def test_the_strategy_log_is_spilled_and_written_whole(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ctx.log lines go to disk with the records (the log grew in memory with the day
    before), report.json keeps the first LOG_IN_REPORT and log.txt has every line."""
    from tickwire.engine.backtest.report import LOG_IN_REPORT, write_outputs

    monkeypatch.setattr(spill, "BATCH", 64)
    with run_backtest(_Chatty(), generate_day(3_000, 5, 1), measure=False) as result:
        n = len(result.log)
        assert n > LOG_IN_REPORT
        assert any("log" in f for f in _spill_files())  # on disk, not in a list
        assert not isinstance(result.log, list)
        report = write_outputs(result, scratch / "out", plot=False)
        written = (scratch / "out" / "log.txt").read_text().splitlines()
        assert written == list(result.log) and len(written) == n
        assert report["log"] == written[:LOG_IN_REPORT] and report["log_lines"] == n
        assert written[0].split(" ", 1)[0].isdigit()  # "<time> <text>"
