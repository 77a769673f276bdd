"""Deprecated: the simulated exchange is now tickwire-exchange, :mod:`tickwire.exchange`.

``tickwire.engine.exchange`` and its modules (``accounts``, ``matching``, ``seed``,
``server``) still work in tickwire-engine 0.3 and go away in 0.4: importing them warns
(``DeprecationWarning``) and gives the very same objects as the new path (each old module
*is* the new one, so ``isinstance`` checks and monkeypatching see no difference). The
engine does not depend on tickwire-exchange (that distribution depends on the engine), so
this shim imports it only when a user imports the old path, and says what to install when
it is missing. Change ``tickwire.engine.exchange`` to ``tickwire.exchange`` in imports.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tickwire.exchange import (
        Account42,
        Account50,
        Exchange,
        ExchangeConfig,
        Faults,
        FaultyPublisher,
        Fill,
        FlowReplayer,
        MatchingEngine,
        MatchingError,
        OrderRecord,
        Resting,
    )

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

_OLD = "tickwire.engine.exchange"
_NEW = "tickwire.exchange"

warnings.warn(
    f"{_OLD} moved to {_NEW} (the tickwire-exchange distribution); "
    f"the old path goes away in tickwire-engine 0.4",
    DeprecationWarning,
    stacklevel=2,
)


def _new(old_name: str) -> ModuleType:
    """The module of tickwire.exchange that ``old_name`` (a tickwire.engine.exchange path)
    became; a one-line ``ModuleNotFoundError`` saying what to install when it is missing."""
    name = _NEW + old_name[len(_OLD) :]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name not in (_NEW, name):
            raise
        raise ModuleNotFoundError(
            f"{old_name} moved to {name}, in the tickwire-exchange distribution: "
            "pip install tickwire-exchange",
            name=name,
        ) from None


def _alias(old_name: str) -> None:
    """Make the old module ``old_name`` the new one (``sys.modules``), from its shim."""
    sys.modules[old_name] = _new(old_name)


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(_new(_OLD), name)
