"""The threshold strategy's configuration: one TOML file for every backend.

The schema and every validation rule are specified in ``docs/threshold.md`` (section 1).
Validation is strict on purpose: an unknown key is an error (a typo such as
``max_positon`` must not silently remove a risk limit), booleans are not integers, and
every bound is chosen so that the strategy's arithmetic fits in a signed 64-bit integer
in the C backends.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_INSTRUMENTS",
    "ConfigError",
    "InstrumentConfig",
    "ThresholdConfig",
    "load_config",
    "parse_config",
]

MAX_INSTRUMENTS = 64
_U32 = 2**32 - 1
_QTY_MAX = 999_999  # OUCH 5.0: quantity must be greater than zero and less than 1,000,000
_LIMIT_62 = 2**62


class ConfigError(ValueError):
    """An invalid threshold configuration; the message starts with the key path."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}" if key else reason)


@dataclass(frozen=True, slots=True)
class InstrumentConfig:
    """One watched instrument, keyed by its ITCH stock locate."""

    locate: int
    symbol: str
    limit_price: int
    base_qty: int
    step_qty: int
    tick: int
    max_order_qty: int
    max_position: int
    max_notional: int

    def __post_init__(self) -> None:
        _check_instrument(self, "instrument")


@dataclass(frozen=True, slots=True)
class ThresholdConfig:
    """The whole strategy configuration (validated on construction)."""

    armed: bool
    max_orders: int
    first_user_ref_num: int
    feed_port: int
    order_port: int
    order_session: str
    instruments: tuple[InstrumentConfig, ...] = ()

    def __post_init__(self) -> None:
        _check_top(self)

    def instrument(self, locate: int) -> InstrumentConfig | None:
        """The instrument watched at ``locate``, or None."""
        for inst in self.instruments:
            if inst.locate == locate:
                return inst
        return None

    def to_toml(self) -> str:
        """Serialise back to the TOML format ``parse_config`` reads (round-trips exactly)."""
        lines = [
            f"armed = {'true' if self.armed else 'false'}",
            f"max_orders = {self.max_orders}",
            f"first_user_ref_num = {self.first_user_ref_num}",
            f"feed_port = {self.feed_port}",
            f"order_port = {self.order_port}",
            f"order_session = {_toml_str(self.order_session)}",
        ]
        for inst in self.instruments:
            lines += [
                "",
                "[[instrument]]",
                f"locate = {inst.locate}",
                f"symbol = {_toml_str(inst.symbol)}",
                f"limit_price = {inst.limit_price}",
                f"base_qty = {inst.base_qty}",
                f"step_qty = {inst.step_qty}",
                f"tick = {inst.tick}",
                f"max_order_qty = {inst.max_order_qty}",
                f"max_position = {inst.max_position}",
                f"max_notional = {inst.max_notional}",
            ]
        return "\n".join(lines) + "\n"


def _toml_str(s: str) -> str:
    # Only printable ASCII reaches here (validated); escape the two TOML specials.
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


_TOP_KEYS = (
    "armed",
    "max_orders",
    "first_user_ref_num",
    "feed_port",
    "order_port",
    "order_session",
)
_INSTRUMENT_KEYS = (
    "locate",
    "symbol",
    "limit_price",
    "base_qty",
    "step_qty",
    "tick",
    "max_order_qty",
    "max_position",
    "max_notional",
)
_INT_RANGES: dict[str, tuple[int, int]] = {
    "max_orders": (0, _U32),
    "first_user_ref_num": (0, _U32),
    "feed_port": (1, 65535),
    "order_port": (1, 65535),
    "locate": (1, 65535),
    "limit_price": (1, _U32),
    "base_qty": (0, _QTY_MAX),
    "step_qty": (0, _QTY_MAX),
    "tick": (1, _U32),
    "max_order_qty": (1, _QTY_MAX),
    "max_position": (0, _LIMIT_62),
    "max_notional": (0, _LIMIT_62),
}


def _check_int(key: str, path: str, value: object) -> None:
    # bool is a subclass of int in Python; TOML `true` must not pass as 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(path, f"must be an integer, got {type(value).__name__} {value!r}")
    lo, hi = _INT_RANGES[key]
    if not lo <= value <= hi:
        raise ConfigError(path, f"must be between {lo} and {hi}, got {value}")


def _check_text(path: str, value: object, max_len: int, lo_char: int) -> None:
    if not isinstance(value, str):
        raise ConfigError(path, f"must be a string, got {type(value).__name__} {value!r}")
    if not 1 <= len(value) <= max_len:
        raise ConfigError(path, f"must be 1 to {max_len} characters, got {len(value)}")
    for ch in value:
        if not lo_char <= ord(ch) <= 0x7E:
            raise ConfigError(path, f"character {ch!r} is not allowed")


def _check_instrument(inst: InstrumentConfig, path: str) -> None:
    for key in _INSTRUMENT_KEYS:
        if key == "symbol":
            _check_text(f"{path}.symbol", inst.symbol, 8, 0x21)
        else:
            _check_int(key, f"{path}.{key}", getattr(inst, key))


def _check_top(cfg: ThresholdConfig) -> None:
    if not isinstance(cfg.armed, bool):
        raise ConfigError("armed", f"must be a boolean, got {type(cfg.armed).__name__}")
    for key in ("max_orders", "first_user_ref_num", "feed_port", "order_port"):
        _check_int(key, key, getattr(cfg, key))
    _check_text("order_session", cfg.order_session, 10, 0x20)
    if cfg.first_user_ref_num + cfg.max_orders - 1 > _U32:
        raise ConfigError(
            "first_user_ref_num",
            f"first_user_ref_num + max_orders - 1 must fit in 4 bytes (<= {_U32})",
        )
    if len(cfg.instruments) > MAX_INSTRUMENTS:
        raise ConfigError(
            "instrument", f"at most {MAX_INSTRUMENTS} instruments, got {len(cfg.instruments)}"
        )
    seen: set[int] = set()
    for i, inst in enumerate(cfg.instruments):
        if not isinstance(inst, InstrumentConfig):
            raise ConfigError(f"instrument[{i}]", "must be an InstrumentConfig")
        if inst.locate in seen:
            raise ConfigError(f"instrument[{i}].locate", f"locate {inst.locate} repeats")
        seen.add(inst.locate)


def _check_keys(table: Mapping[str, Any], path: str, allowed: tuple[str, ...]) -> None:
    prefix = f"{path}." if path else ""
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{prefix}{key}", "unknown key")
    for key in allowed:
        if key not in table:
            raise ConfigError(f"{prefix}{key}", "missing")


def config_from_mapping(data: Mapping[str, Any]) -> ThresholdConfig:
    """Validate a parsed TOML document (a mapping) and build the config."""
    top = {k: v for k, v in data.items() if k != "instrument"}
    _check_keys(top, "", _TOP_KEYS)
    raw_instruments = data.get("instrument", [])
    if not isinstance(raw_instruments, list):
        raise ConfigError("instrument", "must be an array of tables ([[instrument]])")
    instruments = []
    for i, raw in enumerate(raw_instruments):
        path = f"instrument[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(path, "must be a table")
        _check_keys(raw, path, _INSTRUMENT_KEYS)
        # Check with the indexed path before the dataclass re-checks generically.
        for key in _INSTRUMENT_KEYS:
            if key == "symbol":
                _check_text(f"{path}.symbol", raw[key], 8, 0x21)
            else:
                _check_int(key, f"{path}.{key}", raw[key])
        instruments.append(InstrumentConfig(**{k: raw[k] for k in _INSTRUMENT_KEYS}))
    return ThresholdConfig(
        armed=top["armed"],
        max_orders=top["max_orders"],
        first_user_ref_num=top["first_user_ref_num"],
        feed_port=top["feed_port"],
        order_port=top["order_port"],
        order_session=top["order_session"],
        instruments=tuple(instruments),
    )


def parse_config(text: str) -> ThresholdConfig:
    """Parse and validate the TOML text of a threshold configuration."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"not valid TOML: {exc}") from exc
    return config_from_mapping(data)


def load_config(path: str | Path) -> ThresholdConfig:
    """Read, parse and validate a threshold configuration file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("", f"{p}: not UTF-8: {exc}") from exc
    return parse_config(text)
