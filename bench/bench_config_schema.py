"""The config schema mechanism against msgspec and pydantic, on the threshold config.

    uv run --no-sync --with msgspec --with pydantic python bench/bench_config_schema.py

(without ``--with``, the libraries not installed are skipped; neither is a dependency of
tickwire). For each: the CPU time (``time.process_time``: the machine is shared) to
validate the parsed example of ``docs/threshold.md`` into typed objects, best of 5 rounds
of 2,000, and the error each gives for
``tick = 0`` in the first instrument, which is what the threshold contract fixes
(``instrument[0].tick: must be between 1 and 4294967295, got 0``). The msgspec and
pydantic models here are the same keys, types and bounds as
:class:`tickwire.threshold.config.ThresholdConfig` (strict: no ``true`` for ``1``); the
quantity bound is OUCH's one table, ``tickwire.ouch.v50.MAX_QUANTITY``, never a literal
(``test_engine_ouch_limits.py::test_no_source_restates_the_limits`` scans ``bench/``).
"""

import sys
import time
import tomllib
from collections.abc import Callable
from typing import Annotated, Any

from tickwire.ouch.v50 import MAX_QUANTITY
from tickwire.threshold.config import config_from_mapping

EXAMPLE = tomllib.loads(
    """
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
)
BAD = {**EXAMPLE, "instrument": [{**EXAMPLE["instrument"][0], "tick": 0}]}
ROUNDS, N = 5, 2_000


def cpu_us(fn: Callable[[], object]) -> float:
    """Best per-call CPU time of ``fn`` in microseconds."""
    best = float("inf")
    for _ in range(ROUNDS):
        t0 = time.process_time()
        for _ in range(N):
            fn()
        best = min(best, time.process_time() - t0)
    return best / N * 1e6


def error_of(fn: Callable[[], object]) -> str:
    try:
        fn()
    except Exception as exc:  # whatever each library raises, printed
        return " / ".join(str(exc).splitlines())
    return "(accepted)"


def rows() -> list[tuple[str, float, str]]:
    out = [
        (
            "tickwire.threshold.schema",
            cpu_us(lambda: config_from_mapping(EXAMPLE)),
            error_of(lambda: config_from_mapping(BAD)),
        )
    ]
    try:
        import msgspec  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        print("msgspec: not installed (uv run --with msgspec ...)", file=sys.stderr)
    else:
        out.append(_msgspec(msgspec))
    try:
        import pydantic  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        print("pydantic: not installed (uv run --with pydantic ...)", file=sys.stderr)
    else:
        out.append(_pydantic(pydantic))
    return out


def _msgspec(msgspec: Any) -> tuple[str, float, str]:
    from msgspec import Meta, Struct

    u32 = Annotated[int, Meta(ge=0, le=2**32 - 1)]
    port = Annotated[int, Meta(ge=1, le=65535)]
    qty = Annotated[int, Meta(ge=0, le=MAX_QUANTITY)]
    lim = Annotated[int, Meta(ge=0, le=2**62)]

    class Instrument(Struct, forbid_unknown_fields=True, frozen=True):  # type: ignore[call-arg, misc, unused-ignore]
        locate: port
        symbol: Annotated[str, Meta(min_length=1, max_length=8, pattern=r"^[!-~]+$")]
        limit_price: Annotated[int, Meta(ge=1, le=2**32 - 1)]
        base_qty: qty
        step_qty: qty
        tick: Annotated[int, Meta(ge=1, le=2**32 - 1)]
        max_order_qty: Annotated[int, Meta(ge=1, le=MAX_QUANTITY)]
        max_position: lim
        max_notional: lim

    class Config(Struct, forbid_unknown_fields=True, frozen=True):  # type: ignore[call-arg, misc, unused-ignore]
        armed: bool
        max_orders: u32
        first_user_ref_num: u32
        feed_port: port
        order_port: port
        order_session: Annotated[str, Meta(min_length=1, max_length=10, pattern=r"^[ -~]+$")]
        instrument: Annotated[list[Instrument], Meta(max_length=64)] = []

    def convert(data: Any) -> Any:
        return msgspec.convert(data, Config, strict=True)

    return (
        "msgspec " + msgspec.__version__,
        cpu_us(lambda: convert(EXAMPLE)),
        error_of(lambda: convert(BAD)),
    )


def _pydantic(pydantic: Any) -> tuple[str, float, str]:
    from pydantic import BaseModel, ConfigDict, Field

    strict = ConfigDict(strict=True, extra="forbid", frozen=True)

    class Instrument(BaseModel):  # type: ignore[misc, unused-ignore]
        model_config = strict
        locate: int = Field(ge=1, le=65535)
        symbol: str = Field(min_length=1, max_length=8, pattern=r"^[!-~]+$")
        limit_price: int = Field(ge=1, le=2**32 - 1)
        base_qty: int = Field(ge=0, le=MAX_QUANTITY)
        step_qty: int = Field(ge=0, le=MAX_QUANTITY)
        tick: int = Field(ge=1, le=2**32 - 1)
        max_order_qty: int = Field(ge=1, le=MAX_QUANTITY)
        max_position: int = Field(ge=0, le=2**62)
        max_notional: int = Field(ge=0, le=2**62)

    class Config(BaseModel):  # type: ignore[misc, unused-ignore]
        model_config = strict
        armed: bool
        max_orders: int = Field(ge=0, le=2**32 - 1)
        first_user_ref_num: int = Field(ge=0, le=2**32 - 1)
        feed_port: int = Field(ge=1, le=65535)
        order_port: int = Field(ge=1, le=65535)
        order_session: str = Field(min_length=1, max_length=10, pattern=r"^[ -~]+$")
        instrument: list[Instrument] = Field(default_factory=list, max_length=64)

    return (
        "pydantic " + pydantic.VERSION,
        cpu_us(lambda: Config.model_validate(EXAMPLE)),
        error_of(lambda: Config.model_validate(BAD)),
    )


def main() -> None:
    print("| mechanism | validate the example (CPU us) | error for tick = 0 |")
    print("|---|---|---|")
    for name, us, err in rows():
        print(f"| {name} | {us:.1f} | `{err}` |")


if __name__ == "__main__":
    main()
