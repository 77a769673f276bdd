"""Shared hypothesis strategies for the tickwire-ouch tests."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st
from tickwire.ouch._wire import Message, WireType
from tickwire.ouch.v50 import OPTION_TYPES, TagValue

# printable ASCII; alpha fields never end in a space (the padding is stripped on decode)
_PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))


def value_strategy(wt: WireType) -> st.SearchStrategy[Any]:
    if wt.kind == "uint":
        return st.integers(0, 2 ** (8 * wt.size) - 1)
    if wt.kind == "int":
        return st.integers(-(2 ** (8 * wt.size - 1)), 2 ** (8 * wt.size - 1) - 1)
    if wt.kind == "char":
        return st.sampled_from(_PRINTABLE)
    return st.text(_PRINTABLE, max_size=wt.size).map(lambda s: s.rstrip(" "))


def tag_values() -> st.SearchStrategy[TagValue]:
    known = st.sampled_from(sorted(OPTION_TYPES)).flatmap(
        lambda tag: value_strategy(OPTION_TYPES[tag]).map(lambda v: TagValue(tag, v))
    )
    unknown = st.builds(
        TagValue,
        st.integers(0, 255).filter(lambda t: t not in OPTION_TYPES),
        st.binary(max_size=20),
    )
    return st.one_of(known, unknown)


def message_strategy(cls: type[Message]) -> st.SearchStrategy[Message]:
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name == "appendages":
            kwargs[f.name] = st.lists(tag_values(), max_size=5).map(tuple)
        else:
            kwargs[f.name] = value_strategy(f.metadata["wire"])
    return st.builds(cls, **kwargs)
