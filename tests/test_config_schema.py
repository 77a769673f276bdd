"""Every TOML configuration goes through one schema mechanism, with one error format.

* table-driven bad configs for each schema, generated from the schema itself: for every
  key a value of the wrong type, one out of range (each bound), an unknown key beside it
  and, when required, the key left out; each must fail with one line
  ``KEY.PATH: REASON`` naming that key, and a wrong value's reason ends with what was
  found;
* the configs share the mechanism, not a copy of it: every integer of every config is
  checked by the one :class:`tickwire.threshold.schema.Int` (spied on), every field is
  a declared setting, every error is a :class:`tickwire.threshold.schema.ConfigError`;
* the docs' reference tables are what the schemas render (``scripts/config_reference.py``).
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from tickwire.engine.backtest import BacktestConfig
from tickwire.engine.backtest.fees import FeeSchedule
from tickwire.engine.backtest.sweep import GridFile
from tickwire.engine.cli_backtest import DEFAULT_RISK, ConfigFile, UsageError, prepare_backtest
from tickwire.engine.live import FeedConfig
from tickwire.engine.risk import RiskConfigError, RiskLimits, parse_risk_limits
from tickwire.engine.strategy.api import strategy_params, strategy_table
from tickwire.engine.strategy.market_maker import MarketMakerParams
from tickwire.engine.strategy.taker import TakerInstrument, TakerParams
from tickwire.threshold import schema
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig, config_from_mapping
from tickwire.threshold.schema import (
    Bool,
    Choice,
    ConfigError,
    Int,
    ListOf,
    MapOf,
    Str,
    Tables,
    Text,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import config_reference  # noqa: E402  (scripts/ is not a package)

INSTRUMENT = {
    "locate": 13,
    "symbol": "AAPL",
    "limit_price": 1_500_000,
    "base_qty": 100,
    "step_qty": 100,
    "tick": 100,
    "max_order_qty": 1000,
    "max_position": 5000,
    "max_notional": 500_000_000_000,
}
THRESHOLD = {
    "armed": True,
    "max_orders": 1000,
    "first_user_ref_num": 1,
    "feed_port": 26477,
    "order_port": 26400,
    "order_session": "TWORDERS01",
    "instrument": [INSTRUMENT],
}

#: (settings class, key path prefix, the public loader of its table, a valid table)
CONFIGS: list[tuple[type, str, Callable[[Mapping[str, Any]], Any], dict[str, Any]]] = [
    (ThresholdConfig, "", config_from_mapping, THRESHOLD),
    (RiskLimits, "risk", parse_risk_limits, dict(DEFAULT_RISK)),
    (BacktestConfig, "backtest", BacktestConfig.from_mapping, {}),
    (FeeSchedule, "fees", FeeSchedule.from_mapping, {}),
    (
        FeedConfig,
        "feed",
        lambda t: schema.from_table(FeedConfig, t, "feed"),
        {"session": "TWFEED01"},
    ),
    (ConfigFile, "", lambda t: schema.from_table(ConfigFile, t), {"risk": {}, "feed": {}}),
    (GridFile, "", lambda t: schema.from_table(GridFile, t), {"grid": {}}),
    (MarketMakerParams, "strategy", lambda t: strategy_table(MarketMakerParams, t), {}),
    (TakerParams, "strategy", lambda t: strategy_table(TakerParams, t), {}),
]
#: A valid table of each settings class found in an array of tables.
NESTED: dict[type, dict[str, Any]] = {
    InstrumentConfig: INSTRUMENT,
    TakerInstrument: {"symbol": "AAPL", "limit_price": 1_500_000},
}

#: The reasons: what was expected and what was found, or the key's place in the file.
FORMAT = re.compile(
    r"^(must be .+|character .+ is not allowed|at most \d+ \w+, got \d+|unknown key|missing"
    r"|\w+ .+ repeats)$"
)


def _wrong_type(kind: Any) -> object:
    """A value of the wrong type for ``kind``."""
    if isinstance(kind, Int):
        return "100"
    if isinstance(kind, Bool):
        return 1
    if isinstance(kind, Text | Str | Choice):
        return 5
    if isinstance(kind, ListOf):
        return "AAPL"
    if isinstance(kind, MapOf | Tables):
        return 5
    raise AssertionError(f"no wrong value for {kind!r}")


def _out_of_range(kind: Any) -> list[object]:
    """Values of the right type outside ``kind``'s range (none when it has no range)."""
    if isinstance(kind, Int):
        return [
            v
            for v in (
                (kind.lo - 1) if kind.lo is not None else None,
                (kind.hi + 1) if kind.hi is not None else None,
            )
            if v is not None
        ]
    if isinstance(kind, Text):
        return ["", "A" * (kind.max_len + 1), "A\x7f"]
    if isinstance(kind, Choice):
        return ["nope"]
    if isinstance(kind, Str) and kind.validate is not None:
        return ["bogus:1,x,y"]
    if isinstance(kind, ListOf):
        return [[bad] for bad in _out_of_range(kind.item)]
    if isinstance(kind, MapOf):
        return [{"AAPL": bad} for bad in _out_of_range(kind.value)] + [
            {bad: 1} for bad in _out_of_range(kind.key) if isinstance(bad, str)
        ]
    if isinstance(kind, Tables):
        one = NESTED[kind.cls]
        many = [] if kind.max_len is None else [[one] * (kind.max_len + 1)]
        return many + ([[one, one]] if kind.unique else [])
    return []


def _cases() -> list[Any]:
    """(loader, table, expected key path, found text or None) for every key of every
    schema, nested tables included."""
    cases = []
    for cls, prefix, load, valid in CONFIGS:
        places: list[tuple[type, str, Callable[[dict[str, Any]], dict[str, Any]]]] = [
            (cls, prefix, lambda t: t)
        ]
        for _, key, s, _ in schema.settings(cls):
            if isinstance(s.kind, Tables):
                places.append(
                    (
                        s.kind.cls,
                        f"{schema.join(prefix, key)}[0]",
                        lambda t, key=key, valid=valid: {**valid, key: [t]},
                    )
                )
        for where_cls, path, wrap in places:
            base = NESTED[where_cls] if where_cls is not cls else valid
            for name, key, s, f in schema.settings(where_cls):
                kpath = schema.join(path, key)
                tag = f"{where_cls.__name__}.{name}"
                bad = _wrong_type(s.kind)
                cases.append(
                    pytest.param(
                        load,
                        wrap({**base, key: bad}),
                        kpath,
                        f"{type(bad).__name__} {bad!r}",
                        id=f"{tag}-type",
                    )
                )
                for i, value in enumerate(_out_of_range(s.kind)):
                    cases.append(
                        pytest.param(
                            load, wrap({**base, key: value}), kpath, None, id=f"{tag}-range{i}"
                        )
                    )
                cases.append(
                    pytest.param(
                        load,
                        wrap({**base, key + "_typo": 1}),
                        kpath + "_typo",
                        None,
                        id=f"{tag}-unknown",
                    )
                )
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    table = {k: v for k, v in base.items() if k != key}
                    cases.append(pytest.param(load, wrap(table), kpath, None, id=f"{tag}-missing"))
    return cases


@pytest.mark.parametrize(("load", "table", "key", "found"), _cases())
def test_config_schema_every_key_fails_in_the_one_format(
    load: Callable[[Mapping[str, Any]], Any], table: dict[str, Any], key: str, found: str | None
) -> None:
    with pytest.raises(ConfigError) as info:
        load(table)
    message, got, reason = str(info.value), info.value.key, info.value.reason
    assert message == f"{got}: {reason}" and "\n" not in message, message
    # the key itself, or the item inside it (risk.restricted[0], risk.position_limits.AAPL)
    assert got == key or got.startswith((key + ".", key + "[")), message
    assert FORMAT.match(reason), message
    if found is not None:  # a wrong type: what was expected, then what was found
        assert reason.startswith("must be "), message
        if "boolean" not in reason and "array of tables" not in reason:
            assert reason.endswith(f"got {found}"), message


def test_config_schema_valid_tables_load() -> None:
    """The bases of the table above are valid (so each case fails for its one change)."""
    for _, _, load, valid in CONFIGS:
        load(valid)


def test_config_schema_one_mechanism_checks_every_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every integer key of every config goes through the one ``Int`` kind: spy on it and
    load each config (and the backtest command's tables through ``prepare_backtest``)."""
    seen: list[str] = []
    original = Int.check

    def spy(self: Int, value: object, path: str, error: type[ConfigError]) -> None:
        seen.append(path)
        original(self, value, path, error)

    monkeypatch.setattr(Int, "check", spy)
    for _, _, load, valid in CONFIGS:
        load(valid)
    for path in ("max_orders", "instrument[0].tick", "instrument[0].max_notional"):
        assert path in seen
    strategy_table(TakerParams, {"instruments": [NESTED[TakerInstrument]]})
    strategy_params("Mine", {"depth": 3}, {"depth": 1})
    assert {"strategy.instruments[0].limit_price", "strategy.depth"} <= set(seen)
    assert {f"risk.{k}" for k in DEFAULT_RISK} <= set(seen)
    seen.clear()
    prepare_backtest(
        {"backtest": {"seed": 3}, "fees": {"remove_per_share": 30}, "risk": {"max_position": 9}},
        source="cfg.toml",
    )
    assert {"backtest.seed", "fees.remove_per_share", "risk.max_position"} <= set(seen)


def test_config_schema_every_field_is_declared() -> None:
    """No config keeps a hand-checked field beside the declared ones."""
    classes = [cls for cls, *_ in CONFIGS] + [
        s.kind.cls
        for cls, *_ in CONFIGS
        for *_, s, _ in schema.settings(cls)
        if isinstance(s.kind, Tables)
    ]
    for cls in classes:
        assert [n for n, *_ in schema.settings(cls)] == [f.name for f in dataclasses.fields(cls)]


def test_config_schema_one_error_class() -> None:
    assert issubclass(RiskConfigError, ConfigError)
    with pytest.raises(ConfigError):
        RiskLimits(max_order_qty=-1)
    with pytest.raises(ConfigError):
        BacktestConfig(seed="1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        FeeSchedule(add_per_share=10**6)


def test_config_schema_cli_line_names_the_file() -> None:
    with pytest.raises(UsageError) as info:
        prepare_backtest({"fees": {"add_per_share": 0.5}}, source="cfg.toml")
    assert str(info.value) == "cfg.toml: fees.add_per_share: must be an integer, got float 0.5"


def test_config_schema_docs_agree_with_the_schemas() -> None:
    """Every reference table in the docs is what its schema renders, and every config
    above has one."""
    documented = set()
    for path in config_reference.documents():
        text = path.read_text(encoding="utf-8")
        assert config_reference.rewrite(text) == text, (
            f"{path.relative_to(ROOT)}: a config reference is stale: "
            "run python scripts/config_reference.py"
        )
        documented |= {target for target, _ in config_reference.references(text)}
    for cls, *_ in CONFIGS:
        if cls is GridFile:  # one table of dotted keys, described in docs/backtest.md "Sweeps"
            continue
        assert any(t.endswith(":" + cls.__name__) for t in documented), cls


def test_config_schema_stale_docs_fail(tmp_path: Path) -> None:
    """The check can fail: a bound written differently in a doc is caught."""
    text = "<!-- schema: tickwire.engine.backtest.fees:FeeSchedule fees -->\n<!-- /schema -->\n"
    fresh = config_reference.rewrite(text)
    assert "-10000 ..= 10000" in fresh
    stale = fresh.replace("-10000 ..= 10000", "-100 ..= 100", 1)
    assert config_reference.rewrite(stale) != stale


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"depth": 0}, "strategy.depth: must be at least 1, got 0"),
        ({"dpeth": 3}, "strategy.dpeth: unknown key"),
        ({"depth": True}, "strategy.depth: must be an integer, got bool True"),
        ({"on": 1}, "strategy.on: must be a boolean, got int"),
        ({"name": 5}, "strategy.name: must be a string, got int 5"),
        ({"names": "a"}, "strategy.names: must be a list, got str 'a'"),
        # a float default had no rule: anything was taken (hostile-input round 4)
        ({"ratio": "abc"}, "strategy.ratio: must be a number, got str 'abc'"),
        ({"ratio": True}, "strategy.ratio: must be a number, got bool True"),
        ({"ratio": float("nan")}, "strategy.ratio: must be a finite number, got nan"),
        ({"ratio": float("inf")}, "strategy.ratio: must be a finite number, got inf"),
        ({"ratio": 10**400}, f"strategy.ratio: must be a finite number, got {10**400}"),
    ],
)
def test_config_schema_strategy_params_of_a_users_strategy(
    config: dict[str, Any], message: str
) -> None:
    """``strategy_params`` (a strategy's defaults as its schema) is the same mechanism."""
    defaults = {"depth": 1, "on": True, "name": "x", "names": [], "ratio": 0.5}
    with pytest.raises(ConfigError) as info:
        strategy_params("Mine", config, defaults, {"depth": 1})
    assert str(info.value) == message
    params = strategy_params("Mine", {"ratio": 2}, defaults, {"depth": 1})
    assert params == {**defaults, "ratio": 2} and isinstance(params["ratio"], float)
    assert params["names"] is not defaults["names"]
