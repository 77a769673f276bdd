"""Every latency report uses tickwire.net.stats.percentiles (issue #15): the backtest
report, the live engine, MoldUDP64 replay, the bare-metal histogram and JSON, so their
P50/P99/P99.9 mean the same thing and carry the same keys."""

from __future__ import annotations

import random
import socket

from tickwire.baremetal.stats import CycleHistogram, bucket_index
from tickwire.engine.backtest import report
from tickwire.engine.live import engine as live_engine
from tickwire.moldudp64.replay import replay
from tickwire.net.stats import QUANTILES, percentiles


def test_the_engine_reports_use_the_one_function() -> None:
    assert report.percentiles is percentiles
    assert live_engine.percentiles is percentiles


def test_replay_reports_the_same_keys() -> None:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.connect(sink.getsockname())
    try:
        rep = replay(lambda: [(i * 1000, b"x") for i in range(5)], out, speed=1.0)
    finally:
        out.close()
        sink.close()
    assert set(rep.timing_error_us) == {"p50", "p99", "p99_9", "max"}


def test_the_bare_metal_histogram_ranks_as_percentiles_does() -> None:
    # Values below 16 have buckets one cycle wide, so the histogram is exact there.
    values = [random.Random(7).randint(0, 15) for _ in range(997)]
    h = CycleHistogram(
        count=len(values), total=sum(values), minimum=min(values), maximum=max(values)
    )
    for v in values:
        h.buckets[bucket_index(v)] = h.buckets.get(bucket_index(v), 0) + 1
    want = percentiles(values)
    for key, q in QUANTILES.items():
        assert h.percentile(q * 100) == want[key], key  # type: ignore[literal-required]
