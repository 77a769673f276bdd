"""The threshold strategy's configuration: one TOML file for every backend.

The schema and every validation rule are specified in ``docs/threshold.md`` (section 1).
Validation is strict on purpose: an unknown key is an error (a typo such as
``max_positon`` must not silently remove a risk limit), booleans are not integers, and
every bound is chosen so that the strategy's arithmetic fits in a signed 64-bit integer
in the C backends. The keys, their kinds and bounds are declared once, on the dataclass
fields, with :mod:`tickwire.threshold.schema` (the mechanism every tickwire
configuration shares); it checks a parsed file and a configuration built in code alike,
and renders the reference table of ``docs/threshold.md``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tickwire.cli import toml_loads
from tickwire.threshold.schema import (
    Bool,
    ConfigError,
    Int,
    Tables,
    Text,
    check_fields,
    from_table,
    setting,
)

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
_QTY_MAX = 999_999  # = tickwire.ouch.v50.MAX_QUANTITY (test_the_quantity_cap_is_ouchs)
_LIMIT_62 = 2**62


_PORT = Int(1, 65535)
_U32_INT = Int(0, _U32)
_QTY = Int(0, _QTY_MAX)
_LIMIT = Int(0, _LIMIT_62)


@dataclass(frozen=True, slots=True)
class InstrumentConfig:
    """One watched instrument, keyed by its ITCH stock locate (``[[instrument]]``)."""

    locate: int = setting(Int(1, 65535), doc="unique among instruments")
    symbol: str = setting(Text(8, 0x21), doc="space-padded to 8 bytes in the order")
    limit_price: int = setting(Int(1, _U32), doc="Price(4)")
    base_qty: int = setting(_QTY)
    step_qty: int = setting(_QTY, doc="extra shares per tick of improvement")
    tick: int = setting(Int(1, _U32), doc="Price(4); never zero, so no division by zero")
    max_order_qty: int = setting(Int(1, _QTY_MAX), doc="OUCH 5.0: quantity must be below 1,000,000")
    max_position: int = setting(_LIMIT, doc="shares")
    max_notional: int = setting(_LIMIT, doc="Price(4) x shares")

    def __post_init__(self) -> None:
        check_fields(self, "instrument")


@dataclass(frozen=True, slots=True)
class ThresholdConfig:
    """The whole strategy configuration (validated on construction)."""

    armed: bool = setting(Bool(), doc="the kill switch; `false` refuses every trigger as `killed`")
    max_orders: int = setting(_U32_INT, doc="orders sent over the whole run, all instruments")
    first_user_ref_num: int = setting(
        _U32_INT,
        doc="and `first_user_ref_num + max_orders - 1 <= 2^32 - 1` (UserRefNum is 4 bytes)",
    )
    feed_port: int = setting(_PORT, doc="UDP destination port of the feed")
    order_port: int = setting(_PORT, doc="UDP destination port of the order frames")
    order_session: str = setting(Text(10, 0x20), doc="space-padded on the right to 10 bytes")
    instruments: tuple[InstrumentConfig, ...] = setting(
        Tables(InstrumentConfig, "instrument", MAX_INSTRUMENTS, "locate", "instruments"),
        (),
        key="instrument",
        doc="the watched instruments, `[[instrument]]` tables",
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.first_user_ref_num + self.max_orders - 1 > _U32:
            raise ConfigError(
                "first_user_ref_num",
                f"first_user_ref_num + max_orders - 1 must fit in 4 bytes (<= {_U32})",
            )

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


def config_from_mapping(data: Mapping[str, Any]) -> ThresholdConfig:
    """Validate a parsed TOML document (a mapping) and build the config."""
    return from_table(ThresholdConfig, data)


def parse_config(text: str) -> ThresholdConfig:
    """Parse and validate the TOML text of a threshold configuration."""
    try:
        data = toml_loads(text)
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
