"""The kernel's generated layout header: current, shipped with the kernel sources, and
the only place the C takes its offsets and lengths from."""

from __future__ import annotations

import re

from tickwire.baremetal.build import KERNEL_SOURCES, kernel_source_dir
from tickwire.baremetal.layout import BODY_SIZE, CONFIG, INSTRUMENT, LIMITS, Command
from tickwire.threshold.cheader import backend_header

HEADER = kernel_source_dir() / "tickwire_layout.h"


def test_shipped_header_is_the_generated_one() -> None:
    # Regenerate: python -m tickwire.threshold.cheader --layouts tickwire.baremetal.layout FILE
    assert HEADER.read_text() == backend_header("tickwire.baremetal.layout")


def test_the_kernel_build_ships_it() -> None:
    assert "tickwire_layout.h" in KERNEL_SOURCES


def _code(name: str) -> str:
    text = (kernel_source_dir() / name).read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # comments
    return re.sub(r"_Static_assert\(.*?\);", "", text, flags=re.S)  # the checks themselves


def test_strategy_has_no_bare_wire_numbers() -> None:
    """The numbers strategy.c used to spell out (97, 77, 47, 36, 40, 19, 32, 46 ...)."""
    code = _code("strategy.c") + _code("strategy.h") + _code("control.h")
    for bare in (r"\b97\b", r"\b77\b", r"\b47\b", r"\b36u?\b", r"\b40u?\b", r"\+ 1[02489]\b",
                 r"\+ 2[0268]\b", r"\+ 3[08]\b", r"\b46\b", r"\b48\b", r"\b115\b"):  # fmt: skip
        assert not re.search(bare, code), bare


def test_python_sizes_are_the_tables() -> None:
    assert BODY_SIZE[Command.LIMITS] == LIMITS.sizeof()
    assert "TW_CFG_INSTRUMENT_LEN 46" in HEADER.read_text()
    assert INSTRUMENT.sizeof() == 46 and CONFIG.subcons[-1].name == "instruments"
