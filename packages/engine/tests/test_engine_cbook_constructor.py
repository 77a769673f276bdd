"""``tickwire.engine.cbook.positional_constructor``: the C constructor of frozen, slotted
dataclasses (``_cbook.SlotsConstructor``) builds what tickwire.net's Python one builds,
for every class the engine builds with it, and keeps Python's rules for arguments,
references and the cycle collector."""

from __future__ import annotations

import dataclasses
import gc
import sys
import weakref
from typing import Any

import pytest
from tickwire.engine import cbook
from tickwire.engine.strategy.api import BookUpdate, OrderUpdate, TradeEvent
from tickwire.net.frames import positional_constructor as python_constructor
from tickwire.ouch import v50

pytestmark = pytest.mark.skipif(not cbook.AVAILABLE, reason=str(cbook.UNAVAILABLE_REASON))

#: Every class the engine builds with it (context.py, orders.py, venue.py).
CLASSES = [
    BookUpdate,
    TradeEvent,
    OrderUpdate,
    v50.EnterOrder,
    v50.ReplaceOrder,
    v50.CancelOrder,
    v50.OrderAccepted,
    v50.OrderReplaced,
    v50.OrderCanceled,
    v50.OrderExecuted,
    v50.Rejected,
]


class Value:
    """A field value that is only itself (hashable, weak-referenceable)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


def _values(cls: type) -> list[Value]:
    return [Value(f"{cls.__name__}.{f.name}") for f in dataclasses.fields(cls)]


def _same(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    for f in dataclasses.fields(a):
        assert getattr(a, f.name) is getattr(b, f.name), f.name
    assert a == b and hash(a) == hash(b) and repr(a) == repr(b)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_engine_cbook_constructor_builds_what_the_python_one_builds(cls: type) -> None:
    fast, slow = cbook.positional_constructor(cls), python_constructor(cls)
    assert isinstance(fast, cbook._ext.SlotsConstructor)
    values = _values(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    made = fast(*values)
    _same(made, slow(*values))
    _same(made, fast(**dict(zip(names, values, strict=True))))
    _same(made, fast(*values[:2], **dict(zip(names[2:], values[2:], strict=True))))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.__setattr__(names[0], 1)
    # Fields with a plain default may be left out, as in the Python one.
    required = [f for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    if len(required) < len(names):
        _same(fast(*values[: len(required)]), slow(*values[: len(required)]))


def test_engine_cbook_constructor_refuses_what_python_refuses() -> None:
    for make in (cbook.positional_constructor(TradeEvent), python_constructor(TradeEvent)):
        values = _values(TradeEvent)
        with pytest.raises(TypeError):
            make(*values, 1)  # one too many
        with pytest.raises(TypeError):
            make(*values[:-1])  # match_number missing
        with pytest.raises(TypeError):
            make(*values, side=1)  # given twice
        with pytest.raises(TypeError):
            make(*values[:-1], match_numbr=1)  # no such field
    with pytest.raises(TypeError, match="not a __slots__ member"):
        cbook._ext.SlotsConstructor(dataclasses.make_dataclass("Plain", ["x"], frozen=True))
    with pytest.raises(TypeError):
        cbook._ext.SlotsConstructor(int)  # not a dataclass


def test_engine_cbook_constructor_keeps_references_and_cycles() -> None:
    make = cbook.positional_constructor(BookUpdate)
    values = _values(BookUpdate)
    before = [sys.getrefcount(v) for v in values]
    made = [make(*values) for _ in range(1000)]
    assert [sys.getrefcount(v) for v in values] == [n + 1000 for n in before]
    del made
    assert [sys.getrefcount(v) for v in values] == before
    # An instance is tracked by the cycle collector: a cycle through it is collected.
    holder = Value("holder")
    update = make(holder, *values[1:])
    holder.update = update  # type: ignore[attr-defined]
    assert gc.is_tracked(update)
    gone = weakref.ref(holder)
    del holder, update
    gc.collect()
    assert gone() is None
