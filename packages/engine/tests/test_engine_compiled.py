"""The order path compiled from its own source (:mod:`tickwire.engine.compiled`): a stale
compiled module never runs, the build's modules do run compiled, and the source, run as
Python, gives the same reports and passes the same tests."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from tickwire.engine import cbook, compiled

#: The files that test the order path's modules (``compiled.ORDER_PATH``) directly.
ORDER_PATH_TESTS = (
    "test_engine_risk.py",
    "test_engine_risk_property.py",
    "test_engine_strategy_orders.py",
    "test_engine_strategy_context.py",
    "test_engine_backtest_spill.py",
)
HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parents[2] / "data" / "itch" / "ex20101224.TEST_ITCH_50"
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def _twin(tmp_path: Path, record: str | None) -> Path:
    """A module ``twin`` in ``tmp_path``: its source and a stand-in for an extension
    compiled from it (never loaded: not a shared object), with ``record`` as the digest
    beside it (none when None)."""
    source = tmp_path / "twin.py"
    source.write_text("WHO = 'source'\n")
    extension = tmp_path / f"twin{SUFFIX}"
    extension.write_bytes(b"not a shared object")
    if record is not None:
        Path(f"{extension}.sha256").write_text(record + "\n")
    importlib.invalidate_caches()
    return source


def _find(tmp_path: Path, name: str = "tickwire.engine.twin") -> importlib.machinery.ModuleSpec:
    spec = compiled.SourceFirst().find_spec(name, [str(tmp_path)])
    assert spec is not None
    return spec


def test_a_current_extension_is_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKWIRE_PURE", raising=False)
    source = _twin(tmp_path, None)
    Path(f"{tmp_path / f'twin{SUFFIX}'}.sha256").write_text(
        hashlib.sha256(source.read_bytes()).hexdigest() + "\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = _find(tmp_path)
    assert isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)


@pytest.mark.parametrize(
    ("record", "why"),
    [
        ("0" * 64, "twin.py changed since it was compiled"),
        (None, "no record of the source it was compiled from"),
    ],
)
def test_a_stale_or_unrecorded_extension_gives_way_to_its_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record: str | None, why: str
) -> None:
    monkeypatch.delenv("TICKWIRE_PURE", raising=False)
    _twin(tmp_path, record)
    with pytest.warns(RuntimeWarning, match=f"tickwire.engine.twin: {why}.*; running the source"):
        spec = _find(tmp_path)
    assert isinstance(spec.loader, importlib.machinery.SourceFileLoader)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.WHO == "source"


def test_tickwire_pure_runs_the_source_without_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _twin(tmp_path, None)
    Path(f"{tmp_path / f'twin{SUFFIX}'}.sha256").write_text(
        hashlib.sha256(source.read_bytes()).hexdigest() + "\n"
    )
    monkeypatch.setenv("TICKWIRE_PURE", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = _find(tmp_path)
    assert isinstance(spec.loader, importlib.machinery.SourceFileLoader)


def test_only_tickwire_engine_twins_are_looked_at(tmp_path: Path) -> None:
    _twin(tmp_path, None)
    assert compiled.SourceFirst().find_spec("other.twin", [str(tmp_path)]) is None
    (tmp_path / "twin.py").unlink()  # an extension with no source (as _cbook): untouched
    importlib.invalidate_caches()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = _find(tmp_path)
    assert isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)


@pytest.mark.skipif(
    not cbook.AVAILABLE, reason=f"no compiled extensions here: {cbook.UNAVAILABLE_REASON}"
)
def test_the_order_path_runs_compiled_where_the_extensions_are_built() -> None:
    """Where the build compiled ``_cbook`` it compiled the order path too (the same build
    and compiler), and the guard found every one current."""
    assert compiled.status() == dict.fromkeys(compiled.ORDER_PATH, True)


def test_a_pyx_extension_older_than_its_pyx_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``.pyx`` extension with its ``.pyx`` beside it (a checkout) runs only if the
    build recorded that ``.pyx`` as it is now: changed since, or never recorded, it is
    refused, with the reason; with no ``.pyx`` beside it (a wheel) nothing is asked. The
    compiled book's loader says so in its one line and how to rebuild."""
    monkeypatch.delenv("TICKWIRE_PURE", raising=False)
    extension = tmp_path / f"_book{SUFFIX}"
    extension.write_bytes(b"not a shared object")
    assert compiled.pyx_stale_reason(extension) is None  # a wheel: no .pyx
    pyx = tmp_path / "_book.pyx"
    pyx.write_text("# the source\n")
    assert compiled.pyx_stale_reason(extension) == (
        f"no record of the source it was compiled from ({extension.name}.sha256)"
    )
    record = Path(f"{extension}.sha256")
    record.write_text(hashlib.sha256(pyx.read_bytes()).hexdigest() + "\n")
    assert compiled.pyx_stale_reason(extension) is None
    pyx.write_text("# the source, edited\n")
    assert compiled.pyx_stale_reason(extension) == "_book.pyx changed since it was compiled"
    monkeypatch.setattr(compiled, "pyx_stale_reason", lambda ext: "_cbook.pyx changed")
    ext, why = cbook._load()
    assert ext is None and why == (
        "extension tickwire.engine._cbook is stale: _cbook.pyx changed "
        "(rebuild it: uv sync --reinstall-package tickwire-engine)"
    )


def test_the_compiled_book_in_this_checkout_is_built_from_its_pyx() -> None:
    """The build recorded ``_cbook.pyx`` beside the extension it built (the guard's
    digest, ``scripts/cython_build.py``), and it is the ``.pyx`` as it is now."""
    spec = importlib.util.find_spec("tickwire.engine._cbook")
    assert spec is not None and spec.origin is not None
    extension = Path(spec.origin)
    assert extension.with_name("_cbook.pyx").is_file()  # a checkout: the guard asks
    assert compiled.pyx_stale_reason(extension) is None
    assert cbook.AVAILABLE


_REPORT = """
import hashlib, json, sys
from tickwire.engine import compiled
from tickwire.engine.backtest import BacktestConfig, run_backtest
from tickwire.engine.backtest.report import build_report
from tickwire.engine.cli_backtest import DEFAULT_RISK
from tickwire.engine.risk import parse_risk_limits
from tickwire.engine.sources import iter_binaryfile
from tickwire.engine.strategy.market_maker import MarketMaker
from tickwire.itch.generator import generate_day
for messages in (iter_binaryfile(sys.argv[1]), generate_day(30_000, 6, 3)):
    res = run_backtest(
        MarketMaker({"max_symbols": 4, "requote_ns": 0}),
        messages,
        limits=parse_risk_limits(DEFAULT_RISK),
        config=BacktestConfig(order_latency="lognormal:30000,0.8"),
    )
    report = build_report(res)
    del report["runtime"]
    tables = (res.fills, res.orders, res.pnl_series, res.mark_series,
              res.tick_to_venue_ns, res.order_to_ack_ns, res.log)
    everything = (report, *map(list, tables))
    print(json.dumps({"status": compiled.status(), "orders": len(res.orders),
                      "fills": len(res.fills), "refusals": sum(res.refusals.values()),
                      "digest": hashlib.sha256(repr(everything).encode()).hexdigest()}))
"""


@pytest.mark.slow
def test_the_source_and_the_compiled_order_path_give_the_same_report() -> None:
    """Reference backtests (the real sample, then a generated day: replaces, fills, risk
    refusals, random latencies) in a process on the compiled order path and in one with
    ``TICKWIRE_PURE=1``: the same report, rows and samples (as in
    ``test_engine_backtest_core.py``'s ``_outcome``)."""
    runs = {}
    for pure in ("0", "1"):
        out = subprocess.run(
            [sys.executable, "-c", _REPORT, str(SAMPLE)],
            env={**os.environ, "TICKWIRE_PURE": pure},
            capture_output=True,
            text=True,
            check=True,
        )
        runs[pure] = [json.loads(line) for line in out.stdout.splitlines()]
    for day in runs["1"]:
        assert day.pop("status") == dict.fromkeys(compiled.ORDER_PATH, False)
    for day in runs["0"]:
        assert day.pop("status") == compiled.status()
    sample, generated = runs["0"]
    assert sample["orders"] > 0 and generated["orders"] > 1000 and generated["fills"] > 100
    assert runs["0"] == runs["1"]


@pytest.mark.slow
@pytest.mark.skipif(not all(compiled.status().values()), reason="order path not compiled here")
def test_the_order_path_tests_pass_on_its_source() -> None:
    """The rest of the suite runs the order path compiled; its own tests run here again on
    the source, so neither can drift from the other unseen."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"]
        + [str(HERE / name) for name in ORDER_PATH_TESTS],
        env={**os.environ, "TICKWIRE_PURE": "1"},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and " failed" not in out.stdout
