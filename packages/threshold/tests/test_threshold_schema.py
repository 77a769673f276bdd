"""The schema mechanism keeps the threshold contract's messages, byte for byte.

Every message below is what the hand-written validator (before
``tickwire.threshold.schema``) printed for that configuration: the threshold contract
(``docs/threshold.md`` section 1) names the key path first, and backends, scripts and the
harness read these texts. One bad key or value per configuration; with several, the
first in the schema's order is reported (see the schema module).
"""

from __future__ import annotations

import pytest
from tickwire.threshold import ConfigError, InstrumentConfig, ThresholdConfig, parse_config, schema

EXAMPLE = """\
armed = true
max_orders = 1000
first_user_ref_num = 1
feed_port = 26477
order_port = 26400
order_session = "TWORDERS01"

[[instrument]]
locate = 13
symbol = "AAPL"
limit_price = 1500000
base_qty = 100
step_qty = 100
tick = 100
max_order_qty = 1000
max_position = 5000
max_notional = 500000000000
"""
TOP, INSTRUMENT = EXAMPLE.split("\n\n")
INSTRUMENT = "\n" + INSTRUMENT

# (line of EXAMPLE, what replaces it, the message)
CASES = [
    ("armed = true", "armed = 1", "armed: must be a boolean, got int"),
    ("armed = true", 'armed = "yes"', "armed: must be a boolean, got str"),
    ("armed = true", "armed = 1.0", "armed: must be a boolean, got float"),
    ("armed = true", "", "armed: missing"),
    ("armed = true", "bogus_armed = 1\narmed = true", "bogus_armed: unknown key"),
    ("max_orders = 1000", "max_orders = true", "max_orders: must be an integer, got bool True"),
    ("max_orders = 1000", "max_orders = 1.0", "max_orders: must be an integer, got float 1.0"),
    (
        "max_orders = 1000",
        "max_orders = -1",
        "max_orders: must be between 0 and 4294967295, got -1",
    ),
    (
        "max_orders = 1000",
        "max_orders = 4294967296",
        "max_orders: must be between 0 and 4294967295, got 4294967296",
    ),
    ("max_orders = 1000", 'max_orders = "5"', "max_orders: must be an integer, got str '5'"),
    ("max_orders = 1000", "", "max_orders: missing"),
    (
        "max_orders = 1000",
        "bogus_max_orders = 1\nmax_orders = 1000",
        "bogus_max_orders: unknown key",
    ),
    (
        "first_user_ref_num = 1",
        "first_user_ref_num = -1",
        "first_user_ref_num: must be between 0 and 4294967295, got -1",
    ),
    (
        "first_user_ref_num = 1",
        "first_user_ref_num = 4294967295",
        "first_user_ref_num: first_user_ref_num + max_orders - 1 must fit in 4 bytes (<= 4294967295)",
    ),
    (
        "first_user_ref_num = 1",
        "first_user_ref_num = false",
        "first_user_ref_num: must be an integer, got bool False",
    ),
    ("first_user_ref_num = 1", "", "first_user_ref_num: missing"),
    (
        "first_user_ref_num = 1",
        "bogus_first_user_ref_num = 1\nfirst_user_ref_num = 1",
        "bogus_first_user_ref_num: unknown key",
    ),
    ("feed_port = 26477", "feed_port = 0", "feed_port: must be between 1 and 65535, got 0"),
    ("feed_port = 26477", "feed_port = 65536", "feed_port: must be between 1 and 65535, got 65536"),
    ("feed_port = 26477", "feed_port = [1]", "feed_port: must be an integer, got list [1]"),
    ("feed_port = 26477", "", "feed_port: missing"),
    ("feed_port = 26477", "bogus_feed_port = 1\nfeed_port = 26477", "bogus_feed_port: unknown key"),
    ("order_port = 26400", "order_port = 0", "order_port: must be between 1 and 65535, got 0"),
    (
        "order_port = 26400",
        "order_port = 65536",
        "order_port: must be between 1 and 65535, got 65536",
    ),
    (
        "order_port = 26400",
        "order_port = {a = 1}",
        "order_port: must be an integer, got dict {'a': 1}",
    ),
    ("order_port = 26400", "", "order_port: missing"),
    (
        "order_port = 26400",
        "bogus_order_port = 1\norder_port = 26400",
        "bogus_order_port: unknown key",
    ),
    (
        'order_session = "TWORDERS01"',
        'order_session = ""',
        "order_session: must be 1 to 10 characters, got 0",
    ),
    (
        'order_session = "TWORDERS01"',
        'order_session = "TWORDERS011"',
        "order_session: must be 1 to 10 characters, got 11",
    ),
    (
        'order_session = "TWORDERS01"',
        'order_session = "TWÖ"',
        "order_session: character 'Ö' is not allowed",
    ),
    (
        'order_session = "TWORDERS01"',
        'order_session = "a\\tb"',
        "order_session: character '\\t' is not allowed",
    ),
    (
        'order_session = "TWORDERS01"',
        "order_session = 5",
        "order_session: must be a string, got int 5",
    ),
    ('order_session = "TWORDERS01"', "", "order_session: missing"),
    (
        'order_session = "TWORDERS01"',
        'bogus_order_session = 1\norder_session = "TWORDERS01"',
        "bogus_order_session: unknown key",
    ),
    ("locate = 13", "locate = 0", "instrument[0].locate: must be between 1 and 65535, got 0"),
    (
        "locate = 13",
        "locate = 65536",
        "instrument[0].locate: must be between 1 and 65535, got 65536",
    ),
    ("locate = 13", "locate = true", "instrument[0].locate: must be an integer, got bool True"),
    ("locate = 13", "", "instrument[0].locate: missing"),
    ("locate = 13", "bogus_locate = 1\nlocate = 13", "instrument[0].bogus_locate: unknown key"),
    ('symbol = "AAPL"', 'symbol = ""', "instrument[0].symbol: must be 1 to 8 characters, got 0"),
    ('symbol = "AAPL"', 'symbol = "AA PL"', "instrument[0].symbol: character ' ' is not allowed"),
    (
        'symbol = "AAPL"',
        'symbol = "ABCDEFGHI"',
        "instrument[0].symbol: must be 1 to 8 characters, got 9",
    ),
    ('symbol = "AAPL"', "symbol = 1", "instrument[0].symbol: must be a string, got int 1"),
    ('symbol = "AAPL"', "", "instrument[0].symbol: missing"),
    (
        'symbol = "AAPL"',
        'bogus_symbol = 1\nsymbol = "AAPL"',
        "instrument[0].bogus_symbol: unknown key",
    ),
    (
        "limit_price = 1500000",
        "limit_price = 0",
        "instrument[0].limit_price: must be between 1 and 4294967295, got 0",
    ),
    (
        "limit_price = 1500000",
        "limit_price = 4294967296",
        "instrument[0].limit_price: must be between 1 and 4294967295, got 4294967296",
    ),
    (
        "limit_price = 1500000",
        "limit_price = 1.5",
        "instrument[0].limit_price: must be an integer, got float 1.5",
    ),
    ("limit_price = 1500000", "", "instrument[0].limit_price: missing"),
    (
        "limit_price = 1500000",
        "bogus_limit_price = 1\nlimit_price = 1500000",
        "instrument[0].bogus_limit_price: unknown key",
    ),
    (
        "base_qty = 100",
        "base_qty = -1",
        "instrument[0].base_qty: must be between 0 and 999999, got -1",
    ),
    (
        "base_qty = 100",
        "base_qty = 1000000",
        "instrument[0].base_qty: must be between 0 and 999999, got 1000000",
    ),
    ("base_qty = 100", "", "instrument[0].base_qty: missing"),
    (
        "base_qty = 100",
        "bogus_base_qty = 1\nbase_qty = 100",
        "instrument[0].bogus_base_qty: unknown key",
    ),
    (
        "step_qty = 100",
        "step_qty = -1",
        "instrument[0].step_qty: must be between 0 and 999999, got -1",
    ),
    (
        "step_qty = 100",
        "step_qty = 1000000",
        "instrument[0].step_qty: must be between 0 and 999999, got 1000000",
    ),
    ("step_qty = 100", "", "instrument[0].step_qty: missing"),
    (
        "step_qty = 100",
        "bogus_step_qty = 1\nstep_qty = 100",
        "instrument[0].bogus_step_qty: unknown key",
    ),
    ("tick = 100", "tick = 0", "instrument[0].tick: must be between 1 and 4294967295, got 0"),
    (
        "tick = 100",
        "tick = 4294967296",
        "instrument[0].tick: must be between 1 and 4294967295, got 4294967296",
    ),
    ("tick = 100", "", "instrument[0].tick: missing"),
    ("tick = 100", "bogus_tick = 1\ntick = 100", "instrument[0].bogus_tick: unknown key"),
    (
        "max_order_qty = 1000",
        "max_order_qty = 0",
        "instrument[0].max_order_qty: must be between 1 and 999999, got 0",
    ),
    (
        "max_order_qty = 1000",
        "max_order_qty = 1000000",
        "instrument[0].max_order_qty: must be between 1 and 999999, got 1000000",
    ),
    ("max_order_qty = 1000", "", "instrument[0].max_order_qty: missing"),
    (
        "max_order_qty = 1000",
        "bogus_max_order_qty = 1\nmax_order_qty = 1000",
        "instrument[0].bogus_max_order_qty: unknown key",
    ),
    (
        "max_position = 5000",
        "max_position = -1",
        "instrument[0].max_position: must be between 0 and 4611686018427387904, got -1",
    ),
    (
        "max_position = 5000",
        "max_position = 4611686018427387905",
        "instrument[0].max_position: must be between 0 and 4611686018427387904, got 4611686018427387905",
    ),
    ("max_position = 5000", "", "instrument[0].max_position: missing"),
    (
        "max_position = 5000",
        "bogus_max_position = 1\nmax_position = 5000",
        "instrument[0].bogus_max_position: unknown key",
    ),
    (
        "max_notional = 500000000000",
        "max_notional = -1",
        "instrument[0].max_notional: must be between 0 and 4611686018427387904, got -1",
    ),
    (
        "max_notional = 500000000000",
        "max_notional = 4611686018427387905",
        "instrument[0].max_notional: must be between 0 and 4611686018427387904, got 4611686018427387905",
    ),
    (
        "max_notional = 500000000000",
        'max_notional = "x"',
        "instrument[0].max_notional: must be an integer, got str 'x'",
    ),
    ("max_notional = 500000000000", "", "instrument[0].max_notional: missing"),
    (
        "max_notional = 500000000000",
        "bogus_max_notional = 1\nmax_notional = 500000000000",
        "instrument[0].bogus_max_notional: unknown key",
    ),
]


@pytest.mark.parametrize(("line", "new", "message"), CASES)
def test_threshold_schema_messages_unchanged(line: str, new: str, message: str) -> None:
    assert line in EXAMPLE
    with pytest.raises(ConfigError) as info:
        parse_config(EXAMPLE.replace(line, new, 1))
    assert str(info.value) == message
    assert info.value.key == message.split(": ")[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("armed = ", "not valid TOML: Invalid value (at end of document)"),
        (EXAMPLE + INSTRUMENT, "instrument[1].locate: locate 13 repeats"),
        (TOP + "\ninstrument = 5\n", "instrument: must be an array of tables ([[instrument]])"),
        (TOP + "\ninstrument = [1]\n", "instrument[0]: must be a table"),
        (
            TOP + "\n[instrument]\nlocate = 1\n",
            "instrument: must be an array of tables ([[instrument]])",
        ),
        (
            TOP + "".join(INSTRUMENT.replace("locate = 13", f"locate = {i}") for i in range(1, 66)),
            "instrument: at most 64 instruments, got 65",
        ),
        ("[x]\n", "x: unknown key"),
        ("", "armed: missing"),
    ],
)
def test_threshold_schema_document_messages_unchanged(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert str(info.value) == message


AAPL = InstrumentConfig(13, "AAPL", 1, 1, 1, 1, 1, 1, 1)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: InstrumentConfig(13, "AAPL", 1, 1, 1, 0, 1, 1, 1),
            "instrument.tick: must be between 1 and 4294967295, got 0",
        ),
        (
            lambda: InstrumentConfig(13, "AA PL", 1, 1, 1, 1, 1, 1, 1),
            "instrument.symbol: character ' ' is not allowed",
        ),
        (
            lambda: InstrumentConfig(13, "AAPL", True, 1, 1, 1, 1, 1, 1),
            "instrument.limit_price: must be an integer, got bool True",
        ),
        (lambda: ThresholdConfig(1, 1, 1, 1, 1, "S"), "armed: must be a boolean, got int"),  # type: ignore[arg-type]
        (
            lambda: ThresholdConfig(True, 1, 1, 0, 1, "S"),
            "feed_port: must be between 1 and 65535, got 0",
        ),
        (
            lambda: ThresholdConfig(True, 2, 2**32 - 1, 1, 1, "S"),
            "first_user_ref_num: first_user_ref_num + max_orders - 1 must fit in 4 bytes (<= 4294967295)",
        ),
        (
            lambda: ThresholdConfig(True, 1, 1, 1, 1, "S", (1,)),  # type: ignore[arg-type]
            "instrument[0]: must be an InstrumentConfig",
        ),
        (
            lambda: ThresholdConfig(True, 1, 1, 1, 1, "S", (AAPL, AAPL)),
            "instrument[1].locate: locate 13 repeats",
        ),
        (
            lambda: ThresholdConfig(True, 1, 1, 1, 1, "S", (AAPL,) * 65),
            "instrument: at most 64 instruments, got 65",
        ),
        (
            lambda: ThresholdConfig(True, 1, 1, 1, 1, ""),
            "order_session: must be 1 to 10 characters, got 0",
        ),
    ],
)
def test_threshold_schema_construction_messages_unchanged(build: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build()  # type: ignore[operator]
    assert str(info.value) == message


def test_threshold_schema_declares_every_field() -> None:
    """Every field of both dataclasses is a declared setting (none is checked by hand)."""
    import dataclasses

    for cls in (ThresholdConfig, InstrumentConfig):
        declared = [name for name, _, _, _ in schema.settings(cls)]
        assert declared == [f.name for f in dataclasses.fields(cls)]


def test_threshold_schema_config_error_is_the_one_error() -> None:
    from tickwire.threshold import config

    assert config.ConfigError is schema.ConfigError


def test_threshold_schema_tables_paths_and_kinds() -> None:
    """The kinds name nested paths as the file writes them."""
    assert schema.join("", "a") == "a" and schema.join("risk", "a") == "risk.a"
    with pytest.raises(ConfigError, match=r"^x\[1\]: must be 1 to 8 characters, got 0$"):
        schema.ListOf(schema.Text(8, 0x21)).parse(["A", ""], "x", ConfigError)
    with pytest.raises(ConfigError, match=r"^m\.AAPL: must be at least 0, got -1$"):
        schema.MapOf(schema.Text(8, 0x21), schema.Int(0)).parse({"AAPL": -1}, "m", ConfigError)
    with pytest.raises(ConfigError, match=r"^m\.A B: character ' ' is not allowed$"):
        schema.MapOf(schema.Text(8, 0x21), schema.Int(0)).parse({"A B": 1}, "m", ConfigError)
    with pytest.raises(ConfigError, match=r"^c: must be one of a, b, got 'z'$"):
        schema.Choice(("a", "b")).parse("z", "c", ConfigError)
    with pytest.raises(ConfigError, match=r"^n: must be at most 5, got 6$"):
        schema.Int(None, 5).parse(6, "n", ConfigError)
    assert schema.ListOf(schema.Int(), frozenset).parse([1, 2, 1], "l", ConfigError) == {1, 2}
