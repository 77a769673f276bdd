"""``replay``'s send-time error percentiles: exact on a small run, constant memory on a
long one (:class:`tickwire.moldudp64.replay.Lateness`)."""

from __future__ import annotations

import random
import socket
import tracemalloc
from collections.abc import Iterator

import pytest
from tickwire.moldudp64 import DownstreamPacket
from tickwire.moldudp64 import replay as replay_mod
from tickwire.net.stats import percentiles


def test_small_run_percentiles_are_exact() -> None:
    lat = replay_mod.Lateness()
    for v in range(1000, 0, -1):
        lat.add(float(v))
    assert lat.percentiles() == {"p50": 500.0, "p99": 990.0, "p99_9": 999.0, "max": 1000.0}
    assert replay_mod.Lateness().percentiles() == {}


def test_beyond_exact_percentiles_are_within_a_bucket() -> None:
    """Past ``exact`` values the list is dropped: the histogram stays bounded and each
    percentile is at most one bucket width (6.25 %) above the nearest-rank value."""
    rng = random.Random(7)
    values = [rng.expovariate(1 / 40.0) for _ in range(20_000)]
    lat = replay_mod.Lateness(exact=500)
    for v in values:
        lat.add(v)
    assert lat.values is None and len(lat.buckets) <= 16 * 64
    want = percentiles(values)
    got = lat.percentiles()
    assert got["max"] == pytest.approx(want["max"], abs=1e-3)
    for k in ("p50", "p99", "p99_9"):
        exact = want[k]
        assert exact is not None
        assert exact - 1e-3 <= got[k] <= exact * 1.0625 + 1e-3, k


def test_replay_timing_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """``replay`` of 10,000 packets keeps no float per packet: it kept a list of every
    send-time error, so a day's capture or ``--loop`` grew without limit (the old code
    peaks at some 400 KB here)."""
    monkeypatch.setattr(replay_mod, "EXACT_TIMING", 100, raising=False)
    payload = DownstreamPacket("S", 1, (b"m",)).build()
    n = 10_000

    def packets() -> Iterator[tuple[int, bytes]]:
        for i in range(n):
            yield i * 1000, payload

    t = [0.0]

    def clock() -> float:
        t[0] += 3e-7
        return t[0]

    def sleep(d: float) -> None:
        t[0] += d

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sock = replay_mod.open_sender(sink.getsockname())
    try:
        tracemalloc.start()
        rep = replay_mod.replay(packets, sock, speed=1.0, preload=0, clock=clock, sleep=sleep)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        sock.close()
        sink.close()
    assert rep.packets + rep.send_errors == n
    assert set(rep.timing_error_us) == {"p50", "p99", "p99_9", "max"}
    assert peak < 150_000, peak
