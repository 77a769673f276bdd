"""The simulated exchange: price-time matching, OUCH 5.0/4.2 in, ITCH 5.0 over MoldUDP64 out.

``python -m tickwire.exchange`` (or ``python -m tickwire.engine exchange``) runs it; see
:mod:`tickwire.exchange.cli`. The parts, each usable on its own:
:class:`MatchingEngine` (price-time books publishing ITCH), :class:`FlowReplayer`
(seeding and background flow from ITCH messages), :class:`Account50` /
:class:`Account42` (sans-I/O OUCH ports), and :class:`Exchange` (all of it on one
asyncio loop, with :class:`Faults` injected on purpose).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tickwire.exchange.accounts import Account42, Account50, OrderRecord
    from tickwire.exchange.matching import Fill, MatchingEngine, MatchingError, Resting
    from tickwire.exchange.seed import FlowReplayer
    from tickwire.exchange.server import Exchange, ExchangeConfig, Faults, FaultyPublisher

__all__ = [
    "Account42",
    "Account50",
    "Exchange",
    "ExchangeConfig",
    "Faults",
    "FaultyPublisher",
    "Fill",
    "FlowReplayer",
    "MatchingEngine",
    "MatchingError",
    "OrderRecord",
    "Resting",
]

#: Where each name lives. The package imports a module on first use (PEP 562), so the
#: engine's command line, which loads :mod:`tickwire.exchange.cli` at every start to list
#: the ``exchange`` command, does not pay for the OUCH and SoupBinTCP codecs.
_HOME = {
    "Account42": "accounts",
    "Account50": "accounts",
    "OrderRecord": "accounts",
    "Fill": "matching",
    "MatchingEngine": "matching",
    "MatchingError": "matching",
    "Resting": "matching",
    "FlowReplayer": "seed",
    "Exchange": "server",
    "ExchangeConfig": "server",
    "Faults": "server",
    "FaultyPublisher": "server",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
