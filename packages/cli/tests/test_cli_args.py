"""The ITCH symbol types of ``tickwire.cli.args`` (``--symbol``, ``--html-symbol``)."""

from __future__ import annotations

import argparse

import pytest
from tickwire.cli import stock_symbol, stock_symbols


@pytest.mark.parametrize(
    ("text", "symbol"),
    [("AAPL", "AAPL"), (" MSFT  ", "MSFT"), ("ABCDEFGH", "ABCDEFGH"), ("BRK.B", "BRK.B")],
)
def test_a_symbol_is_kept_without_its_blanks(text: str, symbol: str) -> None:
    assert stock_symbol(text) == symbol


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "symbol '' is empty"),
        (" \t ", r"symbol ' \\t ' is empty"),
        ("ABCDEFGHI", "symbol 'ABCDEFGHI' is longer than the 8 bytes of the ITCH stock field"),
        ("BRK B", "symbol 'BRK B' must be printable ASCII with no space inside"),
        ("A\x01", r"symbol 'A\\x01' must be printable ASCII"),
        ("ÄPPL", "symbol 'ÄPPL' must be printable ASCII"),
    ],
)
def test_a_symbol_no_feed_can_name_is_refused(text: str, reason: str) -> None:
    """An empty, blank or too long symbol matched nothing: the command ran, exit 0."""
    with pytest.raises(argparse.ArgumentTypeError, match=f"^{reason}"):
        stock_symbol(text)


def test_a_list_of_symbols_is_checked_symbol_by_symbol() -> None:
    assert stock_symbols("AAPL") == ["AAPL"]
    assert stock_symbols("AAPL, MSFT,NVDA ") == ["AAPL", "MSFT", "NVDA"]
    for text in ("", ",", "AAPL,", "AAPL,,MSFT"):
        with pytest.raises(argparse.ArgumentTypeError, match="symbol '' is empty"):
            stock_symbols(text)
    with pytest.raises(argparse.ArgumentTypeError, match=r"^'AAPL,TOOLONGSYM': symbol 'TOOL"):
        stock_symbols("AAPL,TOOLONGSYM")
