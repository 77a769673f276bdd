"""The threshold configuration file: the documented example, round trips, every error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.threshold import (
    ConfigError,
    InstrumentConfig,
    ThresholdConfig,
    load_config,
    parse_config,
)

DOC = Path(__file__).resolve().parents[3] / "docs" / "threshold.md"

EXAMPLE = """\
armed = true
max_orders = 1000
first_user_ref_num = 1
feed_port = 26477          # UDP port of the market data
order_port = 26400         # UDP port the order frames go to
order_session = "TWORDERS01"

[[instrument]]
locate = 13
symbol = "AAPL"
limit_price = 1500000      # $150.0000
base_qty = 100
step_qty = 100             # extra shares per tick of improvement
tick = 100                 # $0.0100
max_order_qty = 1000
max_position = 5000
max_notional = 500000000000
"""


def test_design_example_parses() -> None:
    cfg = parse_config(EXAMPLE)
    assert cfg == ThresholdConfig(
        armed=True,
        max_orders=1000,
        first_user_ref_num=1,
        feed_port=26477,
        order_port=26400,
        order_session="TWORDERS01",
        instruments=(
            InstrumentConfig(
                locate=13,
                symbol="AAPL",
                limit_price=1_500_000,
                base_qty=100,
                step_qty=100,
                tick=100,
                max_order_qty=1000,
                max_position=5000,
                max_notional=500_000_000_000,
            ),
        ),
    )
    assert cfg.instrument(13) is cfg.instruments[0] and cfg.instrument(14) is None


def test_the_spec_document_example_parses() -> None:
    block = re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None
    assert parse_config(block.group(1)).instruments[0].symbol == "AAPL"


def test_load_config_and_no_instruments(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(EXAMPLE.split("[[instrument]]")[0])
    assert load_config(path).instruments == ()


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("armed = ", "", "not valid TOML"),
        (EXAMPLE.replace("armed = true\n", ""), "armed", "missing"),
        (EXAMPLE.replace("armed = true", "armed = 1"), "armed", "boolean"),
        (EXAMPLE + "max_positon = 3\n", "instrument[0].max_positon", "unknown key"),
        (
            EXAMPLE.replace("max_orders = 1000", "max_orders = 1000\nkill = 1"),
            "kill",
            "unknown key",
        ),
        (EXAMPLE.replace("max_orders = 1000", "max_orders = true"), "max_orders", "integer"),
        (EXAMPLE.replace("max_orders = 1000", "max_orders = 1.0"), "max_orders", "integer"),
        (EXAMPLE.replace("max_orders = 1000", "max_orders = -1"), "max_orders", "between"),
        (EXAMPLE.replace("feed_port = 26477", "feed_port = 0"), "feed_port", "between"),
        (EXAMPLE.replace("order_port = 26400", "order_port = 65536"), "order_port", "between"),
        (EXAMPLE.replace('"TWORDERS01"', '"TWORDERS011"'), "order_session", "1 to 10"),
        (EXAMPLE.replace('"TWORDERS01"', '""'), "order_session", "1 to 10"),
        (EXAMPLE.replace('"TWORDERS01"', '"TWÖ"'), "order_session", "not allowed"),
        (EXAMPLE.replace('"TWORDERS01"', "5"), "order_session", "string"),
        (
            EXAMPLE.replace("first_user_ref_num = 1", "first_user_ref_num = 4294967295"),
            "first_user_ref_num",
            "4 bytes",
        ),
        (EXAMPLE.replace("tick = 100 ", "tick = 0 "), "instrument[0].tick", "between"),
        (EXAMPLE.replace("locate = 13", "locate = 0"), "instrument[0].locate", "between"),
        (
            EXAMPLE.replace('symbol = "AAPL"', 'symbol = "AA PL"'),
            "instrument[0].symbol",
            "not allowed",
        ),
        (
            EXAMPLE.replace('symbol = "AAPL"', 'symbol = "ABCDEFGHI"'),
            "instrument[0].symbol",
            "1 to 8",
        ),
        (
            EXAMPLE.replace("limit_price = 1500000 ", "limit_price = 4294967296 "),
            "instrument[0].limit_price",
            "between",
        ),
        (
            EXAMPLE.replace("max_order_qty = 1000", "max_order_qty = 1000000"),
            "instrument[0].max_order_qty",
            "between",
        ),
        (
            EXAMPLE.replace("max_order_qty = 1000", "max_order_qty = 0"),
            "instrument[0].max_order_qty",
            "between",
        ),
        (
            EXAMPLE.replace("base_qty = 100", "base_qty = 1000000"),
            "instrument[0].base_qty",
            "between",
        ),
        (
            EXAMPLE.replace("max_notional = 500000000000", "max_notional = 4611686018427387905"),
            "instrument[0].max_notional",
            "between",
        ),
        (EXAMPLE.replace("max_position = 5000\n", ""), "instrument[0].max_position", "missing"),
        (EXAMPLE + EXAMPLE[EXAMPLE.index("[[instrument]]") :], "instrument[1].locate", "repeats"),
        (EXAMPLE.split("[[instrument]]")[0] + "instrument = 5\n", "instrument", "array of tables"),
    ],
)
def test_errors_name_the_key(text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert info.value.key == key
    assert reason in str(info.value)
    if key:
        assert str(info.value).startswith(f"{key}: ")


def test_at_most_64_instruments() -> None:
    one = EXAMPLE[EXAMPLE.index("[[instrument]]") :]
    many = EXAMPLE.split("[[instrument]]")[0] + "".join(
        one.replace("locate = 13", f"locate = {i}") for i in range(1, 66)
    )
    with pytest.raises(ConfigError, match="at most 64"):
        parse_config(many)
    ok = EXAMPLE.split("[[instrument]]")[0] + "".join(
        one.replace("locate = 13", f"locate = {i}") for i in range(1, 65)
    )
    assert len(parse_config(ok).instruments) == 64


def test_too_many_instruments_is_reported_before_any_instrument_s_value() -> None:
    """The number of ``[[instrument]]`` tables is the value of the top-level key
    ``instrument``, checked before each table's values (docs/threshold.md section 1: the
    top-level keys before each ``[[instrument]]`` in turn). Before, a file of 65 whose
    first had a bad locate (0) named that locate, and only once it was fixed, the count."""
    one = EXAMPLE[EXAMPLE.index("[[instrument]]") :]
    many = EXAMPLE.split("[[instrument]]")[0] + "".join(
        one.replace("locate = 13", f"locate = {i}") for i in range(65)
    )
    with pytest.raises(ConfigError, match=r"^instrument: at most 64 instruments, got 65$"):
        parse_config(many)


instruments = st.builds(
    InstrumentConfig,
    locate=st.integers(1, 65535),
    symbol=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=8),
    limit_price=st.integers(1, 2**32 - 1),
    base_qty=st.integers(0, 999_999),
    step_qty=st.integers(0, 999_999),
    tick=st.integers(1, 2**32 - 1),
    max_order_qty=st.integers(1, 999_999),
    max_position=st.integers(0, 2**62),
    max_notional=st.integers(0, 2**62),
)


@settings(max_examples=100, deadline=None)
@given(
    armed=st.booleans(),
    max_orders=st.integers(0, 1000),
    session=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=10),
    insts=st.lists(instruments, max_size=5, unique_by=lambda i: i.locate),
)
def test_to_toml_round_trips(
    armed: bool, max_orders: int, session: str, insts: list[InstrumentConfig]
) -> None:
    cfg = ThresholdConfig(
        armed=armed,
        max_orders=max_orders,
        first_user_ref_num=7,
        feed_port=1,
        order_port=65535,
        order_session=session,
        instruments=tuple(insts),
    )
    assert parse_config(cfg.to_toml()) == cfg


def test_the_quantity_cap_is_ouchs() -> None:
    """The contract's order-size cap is OUCH 5.0's (``tickwire.ouch.v50.MAX_QUANTITY``, the
    one table risk and the venues read): written here as a literal, not imported, so that
    loading a config does not import the OUCH codec (about 0.1 s), and held equal here."""
    from tickwire.ouch import v50
    from tickwire.threshold import config

    assert config._QTY_MAX == v50.MAX_QUANTITY
