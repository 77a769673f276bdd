"""One schema mechanism for every TOML configuration: declared once, checked one way.

A configuration table is a frozen dataclass whose fields are declared with
:func:`setting`: the field's :class:`Kind` (what a value must be), its default (none:
required), its TOML key when it differs from the field name, and a line of documentation.
The same declaration then serves three purposes:

* :func:`from_table` builds the dataclass from a parsed TOML table (strict: unknown keys,
  missing required keys, wrong types, out-of-range values are errors);
* :func:`check_fields` checks a dataclass built in code (its ``__post_init__`` calls it),
  so a configuration is valid however it was made;
* :func:`reference_table` renders the configuration reference (key, type, default, valid
  values, notes) that the docs carry, and a test holds the docs to it.

**The one error format.** Every problem is a :class:`ConfigError` whose message is one
line, ``KEY.PATH: what was expected, got what was found``, the key path written as in the
file (``risk.position_limits.AAPL``, ``instrument[2].tick``)::

    instrument[2].tick: must be between 1 and 4294967295, got 0
    risk.max_order_qty: must be an integer, got str '100'
    backtest.book_backend: must be one of reference, cython, got 'rust'
    fees.remove_per_shar: unknown key
    instrument[0].max_position: missing

A command line prefixes the file it read (``tickwire.threshold: cfg.toml: armed: must be
a boolean, got int``). The message starts with the key path because the threshold
contract (``docs/threshold.md`` section 1) says so; its wordings are the contract's and
this module keeps them byte for byte (``packages/threshold/tests/test_threshold_schema.py``
holds every one of them to the text the hand-written validator printed).

**The algorithm** (:func:`from_table`): reject a value that is not a table; report the
first key not declared (in file order) as ``unknown key``; then the first declared key
absent without a default as ``missing``; then check each declared value in declaration
order with its kind (a kind checks the type first, then the range; a table of values or an
array of tables recurses with the longer path); then construct the dataclass, whose
``__post_init__`` runs the rules that relate several keys (``first_user_ref_num +
max_orders - 1`` fits in 4 bytes, throttle keys set together) and reports them with a
key relative to the table, which :func:`from_table` prefixes with the table's path. When
a file has several errors the first in that order is reported, one at a time.

**Why a small mechanism here, and not msgspec or pydantic.** Measured with
``bench/bench_config_schema.py`` (the same keys, types and bounds as
:class:`~tickwire.threshold.config.ThresholdConfig` declared in each; CPU time on the
shared 2-core machine, figures in ``bench/RESULTS.md``, "Config schema"):

* the messages are a contract, and neither library says them. For ``tick = 0`` msgspec
  raises ``Expected `int` >= 1 - at `$.instrument[0].tick` `` (one string: no value found,
  no upper bound, so it would be parsed back and the value re-checked), pydantic a
  four-line ``1 validation error for Config / instrument.0.tick / Input should be greater
  than or equal to 1 [type=greater_than_equal, ...]``: structured, but translating its
  error types into these messages (with both bounds, ``[[instrument]]`` arrays,
  ``locate`` uniqueness) is a table as long as this module, and its ``bool``-as-``int``
  and ``float``-as-``int`` coercions must be switched off (``strict``) everywhere;
* ``tickwire-threshold`` is what every backend installs (xdp, baremetal, fpga); pydantic
  would bring pydantic-core (a 2.2 MB compiled wheel) and typing-extensions to each,
  msgspec a compiled wheel, for tables of a dozen keys read once at start-up. There the
  speed does not matter: 24 us to validate the example here, 1.5 us with msgspec, 3.2 us
  with pydantic;
* the docs' reference tables need each key's range and default as data, which the kinds
  here are (:func:`reference_table`).

It lives in ``tickwire-threshold`` because that is the lowest distribution every
configuration's reader depends on: the backends (threshold only) and the engine (risk,
backtest, fees, the live ``[feed]``), per ``docs/CONTRIBUTING.md``'s dependency graph.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sized
from dataclasses import MISSING, dataclass
from typing import Any, Protocol, TypeVar

__all__ = [
    "REQUIRED",
    "Bool",
    "Choice",
    "ConfigError",
    "Float",
    "Int",
    "Kind",
    "ListOf",
    "MapOf",
    "Raw",
    "Str",
    "Tables",
    "Text",
    "check_fields",
    "from_table",
    "join",
    "reference_rows",
    "reference_table",
    "setting",
    "settings",
]

#: The default of a required key (the dataclass field has no default).
REQUIRED: Any = MISSING


class ConfigError(ValueError):
    """An invalid configuration: ``key`` is the key path, ``reason`` what is wrong.

    The message is ``"KEY: REASON"`` (just the reason for a file-level problem such as
    TOML syntax, where ``key`` is empty): one line, starting with the key path.
    """

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}" if key else reason)


def join(path: str, key: str) -> str:
    """The key path of ``key`` inside the table at ``path`` (``risk`` + ``armed``)."""
    return f"{path}.{key}" if path else key


def _found(value: object) -> str:
    """How a wrong value is quoted: its type and its repr (``str '100'``)."""
    return f"{type(value).__name__} {value!r}"


class Kind(Protocol):
    """What a value must be: checks and converts a parsed value, checks a built one.

    The kinds here subclass it for its :meth:`parse`: a value that needs no conversion
    is parsed by checking it and keeping it as it is, so only the kinds that build
    something (a list, a table, dataclasses) write their own."""

    __slots__ = ()

    @property
    def type_name(self) -> str:
        """The type column of the reference (``int``, ``bool``, ``str``, ...)."""
        ...

    def parse(self, value: object, path: str, error: type[ConfigError]) -> Any:
        """The value as the dataclass holds it, from a parsed TOML value (by default the
        value itself, once :meth:`check` accepts it)."""
        self.check(value, path, error)
        return value

    def check(self, value: object, path: str, error: type[ConfigError]) -> None:
        """Raise ``error(path, reason)`` unless ``value`` (as the dataclass holds it) is valid."""
        ...

    def describe(self) -> str:
        """The valid-values column of the reference."""
        ...


def _power(n: int) -> str:
    """``n`` as the docs write large bounds: ``2^62``, ``2^32 - 1``, else in digits."""
    for k in range(32, 64):
        if n == 2**k:
            return f"2^{k}"
        if n == 2**k - 1:
            return f"2^{k} - 1"
    return str(n)


#: TOML's integers are 64-bit: an :class:`Int` is never outside ``-_I64 ..= _I64 - 1``.
_I64 = 1 << 63


@dataclass(frozen=True, slots=True)
class Int(Kind):
    """An integer (never a boolean or a float) within ``lo ..= hi`` (None: no bound but
    the one every integer has: 64 bits, ``-2^63 ..= 2^63 - 1``).

    Why the 64 bits: TOML's integers are (the spec: "if an integer cannot be
    represented losslessly, an error must be thrown"), and every table a setting ends
    in stores them so; Python's ``tomllib`` reads larger ones. A sweep's grid of
    ``strategy.quote_size = [99999999999999999999]`` ran each backtest to "error:
    argument out of range", naming nothing, and then ended in a traceback writing its
    summary (hostile-input round 4). Test: ``tests/test_cli_bad_input.py``
    (``bt_strategy_int64.toml``)."""

    lo: int | None = None
    hi: int | None = None
    type_name: str = "int"

    def check(self, value: object, path: str, error: type[ConfigError]) -> None:
        # bool is a subclass of int in Python; TOML `true` must not pass as 1.
        if not isinstance(value, int) or isinstance(value, bool):
            raise error(path, f"must be an integer, got {_found(value)}")
        _check_bounds(value, self.lo, self.hi, path, error)
        if not -_I64 <= value < _I64:
            raise error(path, f"must be a 64-bit integer (-2^63 ..= 2^63 - 1), got {value}")

    def describe(self) -> str:
        if self.lo is None:
            return "any 64-bit integer" if self.hi is None else f"<= {_power(self.hi)}"
        if self.hi is None:
            return f">= {_power(self.lo)}"
        return f"{_power(self.lo)} ..= {_power(self.hi)}"


def _check_bounds(
    value: float, lo: float | None, hi: float | None, path: str, error: type[ConfigError]
) -> None:
    """Raise ``error`` when ``value`` is outside ``lo ..= hi`` (None: no bound)."""
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        if lo is None:
            raise error(path, f"must be at most {hi}, got {value}")
        if hi is None:
            raise error(path, f"must be at least {lo}, got {value}")
        raise error(path, f"must be between {lo} and {hi}, got {value}")


@dataclass(frozen=True, slots=True)
class Float(Kind):
    """A finite number within ``lo ..= hi`` (None: unbounded), held as a ``float``: a
    float, or an integer (TOML ``1`` for ``1.0``); never a boolean, a string, NaN or an
    infinity.

    Why: a strategy parameter whose default is a float (``strategy_params``) had no rule,
    so ``alpha = "abc"``, ``true``, ``nan`` or ``inf`` (TOML and a sweep's grid take
    both) reached the strategy unchecked, though the docs say each key takes its
    default's type (hostile-input round 4). Test: ``tests/test_config_schema.py``."""

    lo: float | None = None
    hi: float | None = None
    type_name: str = "float"

    def parse(self, value: object, path: str, error: type[ConfigError]) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:
                raise error(path, f"must be a finite number, got {value}") from None
        self.check(value, path, error)
        return value

    def check(self, value: object, path: str, error: type[ConfigError]) -> None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise error(path, f"must be a number, got {_found(value)}")
        if not math.isfinite(value):
            raise error(path, f"must be a finite number, got {value}")
        _check_bounds(value, self.lo, self.hi, path, error)

    def describe(self) -> str:
        if self.lo is None:
            return "any finite number" if self.hi is None else f"<= {self.hi}"
        if self.hi is None:
            return f">= {self.lo}"
        return f"{self.lo} ..= {self.hi}"


@dataclass(frozen=True, slots=True)
class Bool(Kind):
    """``true`` or ``false`` (never ``1``)."""

    type_name: str = "bool"

    def check(self, value: object, path: str, error: type[ConfigError]) -> None:
        if not isinstance(value, bool):
            raise error(path, f"must be a boolean, got {type(value).__name__}")

    def describe(self) -> str:
        return "`true` / `false`"


@dataclass(frozen=True, slots=True)
class Text(Kind):
    """A string of ``1 ..= max_len`` characters, each in ``lo_char ..= hi_char``."""

    max_len: int
    lo_char: int = 0x20
    hi_char: int = 0x7E
    type_name: str = "str"

    def check(self, value: object, path: str, error: type[ConfigError]) -> None:
        if not isinstance(value, str):
            raise error(path, f"must be a string, got {_found(value)}")
        if not 1 <= len(value) <= self.max_len:
            raise error(path, f"must be 1 to {self.max_len} characters, got {len(value)}")
        for ch in value:
            if not self.lo_char <= ord(ch) <= self.hi_char:
                raise error(path, f"character {ch!r} is not allowed")

    def describe(self) -> str:
        return f"1 to {self.max_len} characters in 0x{self.lo_char:02X}..0x{self.hi_char:02X}"


@dataclass(frozen=True, slots=True)
class Str(Kind):
    """A string that ``validate`` accepts (a ``ValueError`` refuses it): the reason is
    ``must be EXPECTED, got 'value'``, followed by the error's text in parentheses when it
    has one (a detail such as which number of a latency spec is not a number)."""

    validate: Callable[[str], object] | None = None
    expected: str = "a string"
    valid: str = "any string"
    type_name: str = "str"

    def check(self, value: object, path: str, error: type[ConfigError]) -> None:
        if not isinstance(value, str):
            raise error(path, f"must be a string, got {_found(value)}")
        if self.validate is not None:
            try:
                self.validate(value)
            except ValueError as exc:
                detail = f" ({exc})" if str(exc) else ""
                raise error(path, f"must be {self.expected}, got {value!r}{detail}") from None

    def describe(self) -> str:
        return self.valid


@dataclass(frozen=True, slots=True)
class Raw(Kind):
    """Any value, taken as is: a table whose keys another schema checks later (a
    strategy's ``[strategy]``, checked by its constructor), or a default's type that
    has no rule."""

    type_name: str = "any"
    valid: str = "any"

    def check(self, value: object, path: str, error: type[ConfigError]) -> None:
        return None

    def describe(self) -> str:
        return self.valid


@dataclass(frozen=True, slots=True)
class Choice(Kind):
    """One of a few strings."""

    values: tuple[str, ...]
    type_name: str = "str"

    def check(self, value: object, path: str, error: type[ConfigError]) -> None:
        if not isinstance(value, str):
            raise error(path, f"must be a string, got {_found(value)}")
        if value not in self.values:
            raise error(path, f"must be one of {', '.join(self.values)}, got {value!r}")

    def describe(self) -> str:
        return ", ".join(f"`{v}`" for v in self.values)


@dataclass(frozen=True, slots=True)
class ListOf(Kind):
    """A TOML array (a list) of ``item`` values, held as ``into`` (e.g. ``frozenset``); items are
    named ``KEY[i]`` in errors (sorted first when ``into`` does not keep an order)."""

    item: Kind
    into: Callable[[Iterable[Any]], Any] = tuple
    type_name: str = "list"

    def parse(self, value: object, path: str, error: type[ConfigError]) -> Any:
        if not isinstance(value, list):
            raise error(path, f"must be a list, got {_found(value)}")
        return self.into(self.item.parse(v, f"{path}[{i}]", error) for i, v in enumerate(value))

    def check(self, value: object, path: str, error: type[ConfigError]) -> None:
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise error(path, f"must be a list, got {_found(value)}")
        items = list(value)
        if isinstance(value, set | frozenset):
            items.sort(key=repr)
        for i, v in enumerate(items):
            self.item.check(v, f"{path}[{i}]", error)

    def describe(self) -> str:
        return f"items: {self.item.describe()}"


@dataclass(frozen=True, slots=True)
class MapOf(Kind):
    """A table of ``key = value`` whose keys are checked by ``key`` and values by
    ``value`` (``[risk.position_limits]`` ``AAPL = 500``); named ``PATH.KEY`` in errors."""

    key: Kind
    value: Kind
    type_name: str = "table"
    valid: str | None = None  # the reference's valid values (default: the kinds')

    def parse(self, value: object, path: str, error: type[ConfigError]) -> Any:
        if not isinstance(value, Mapping):
            raise error(path, f"must be a table, got {_found(value)}")
        out = {}
        for k, v in value.items():
            self.key.check(k, join(path, str(k)), error)
            out[k] = self.value.parse(v, join(path, str(k)), error)
        return out

    def check(self, value: object, path: str, error: type[ConfigError]) -> None:
        if not isinstance(value, Mapping):
            raise error(path, f"must be a table, got {_found(value)}")
        for k, v in value.items():
            self.key.check(k, join(path, str(k)), error)
            self.value.check(v, join(path, str(k)), error)

    def describe(self) -> str:
        if self.valid is not None:
            return self.valid
        return f"keys: {self.key.describe()}; values: {self.value.describe()}"


@dataclass(frozen=True, slots=True)
class Tables(Kind):
    """An array of tables (``[[instrument]]``), each described by ``cls``, at most
    ``max_len`` of them, ``unique`` naming a key no two may share; held as a tuple."""

    cls: type
    toml: str
    max_len: int | None = None
    unique: str | None = None
    noun: str = "entries"
    type_name: str = "array of tables"

    def parse(self, value: object, path: str, error: type[ConfigError]) -> Any:
        if not isinstance(value, list):
            raise error(path, f"must be an array of tables ([[{self.toml}]])")
        # How many tables there are is this key's value, so it is checked before any
        # table's own values (docs/threshold.md section 1: the top-level keys before each
        # [[instrument]] in turn); before, 65 tables with a bad first one named that one.
        # Test: test_threshold_config.py::test_too_many_instruments_is_reported_before_any_instrument_s_value.
        self._check_len(value, path, error)
        items: tuple[Any, ...] = tuple(
            from_table(self.cls, raw, f"{path}[{i}]", error=error) for i, raw in enumerate(value)
        )
        self._check_set(items, path, error)
        return items

    def check(self, value: object, path: str, error: type[ConfigError]) -> None:
        if not isinstance(value, tuple | list):
            raise error(path, f"must be an array of tables ([[{self.toml}]])")
        self._check_set(value, path, error)

    def _check_len(self, items: Sized, path: str, error: type[ConfigError]) -> None:
        if self.max_len is not None and len(items) > self.max_len:
            raise error(path, f"at most {self.max_len} {self.noun}, got {len(items)}")

    def _check_set(
        self, items: tuple[Any, ...] | list[Any], path: str, error: type[ConfigError]
    ) -> None:
        self._check_len(items, path, error)
        seen: set[Any] = set()
        for i, item in enumerate(items):
            if not isinstance(item, self.cls):
                raise error(f"{path}[{i}]", f"must be an {self.cls.__name__}")
            if self.unique is not None:
                key = getattr(item, self.unique)
                if key in seen:
                    raise error(f"{path}[{i}].{self.unique}", f"{self.unique} {key} repeats")
                seen.add(key)

    def describe(self) -> str:
        parts = [f"0 to {self.max_len} entries" if self.max_len is not None else "any number"]
        if self.unique is not None:
            parts.append(f"`{self.unique}` unique")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class _Setting:
    kind: Kind
    key: str | None
    doc: str
    optional: bool  # None allowed (the key left out disables something)


_META = "tickwire.schema"


def setting(
    kind: Kind,
    default: Any = REQUIRED,
    *,
    doc: str = "",
    key: str | None = None,
    factory: Callable[[], Any] | None = None,
    optional: bool = False,
) -> Any:
    """A dataclass field declared with its kind: ``default`` (``REQUIRED``: none),
    ``factory`` for a mutable default, ``key`` its TOML name when it is not the field's,
    ``optional`` when ``None`` is a valid value (the key left out), ``doc`` a line of notes
    for the reference."""
    meta = {_META: _Setting(kind, key, doc, optional)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def settings(cls: type) -> list[tuple[str, str, _Setting, dataclasses.Field[Any]]]:
    """``(field name, TOML key, setting, field)`` of each declared field of ``cls``."""
    out = []
    for f in dataclasses.fields(cls):
        s = f.metadata.get(_META)
        if s is not None:
            out.append((f.name, s.key or f.name, s, f))
    return out


def _required(f: dataclasses.Field[Any]) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


_T = TypeVar("_T")


def from_table(
    cls: type[_T],
    data: object,
    path: str = "",
    *,
    error: type[ConfigError] = ConfigError,
) -> _T:
    """Build the settings dataclass ``cls`` from the parsed TOML table ``data`` at key
    path ``path``, strictly (the algorithm is in the module docs); raises ``error``."""
    if not isinstance(data, Mapping):
        raise error(path, "must be a table")
    fields = settings(cls)
    by_key = {key: (name, s) for name, key, s, _ in fields}
    for key in data:
        if key not in by_key:
            raise error(join(path, str(key)), "unknown key")
    for _, key, _, f in fields:
        if key not in data and _required(f):
            raise error(join(path, key), "missing")
    kwargs = {}
    for name, key, s, _ in fields:
        if key in data:
            kwargs[name] = s.kind.parse(data[key], join(path, key), error)
    try:
        return cls(**kwargs)
    except ConfigError as exc:  # a rule across keys, named relative to the table
        if not path or exc.key == path or exc.key.startswith((path + ".", path + "[")):
            raise
        raise error(join(path, exc.key), exc.reason) from None


def check_fields(obj: object, path: str = "", *, error: type[ConfigError] = ConfigError) -> None:
    """Check every declared field of the dataclass instance ``obj`` (for
    ``__post_init__``: a configuration built in code is held to the same rules)."""
    for name, key, s, _ in settings(type(obj)):
        value = getattr(obj, name)
        if value is None and s.optional:
            continue
        s.kind.check(value, join(path, key), error)


def _default_text(s: _Setting, f: dataclasses.Field[Any]) -> str:
    if _required(f):
        return "required"
    factory: Any = f.default_factory
    value = factory() if f.default is MISSING else f.default
    if value is None:
        return "off"
    if isinstance(value, bool):
        return f"`{'true' if value else 'false'}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, Mapping | tuple | list | set | frozenset) and not value:
        return "empty"
    return f"`{value}`"


def reference_rows(cls: type, prefix: str = "") -> list[tuple[str, str, str, str, str]]:
    """``(key, type, default, valid values, notes)`` for each key of ``cls`` (an array
    of tables is followed by its own keys as ``KEY[].name``)."""
    rows = []
    for _, key, s, f in settings(cls):
        path = join(prefix, key)
        kind = s.kind
        type_name = kind.type_name
        if isinstance(kind, ListOf):
            type_name = f"list of {kind.item.type_name}"
        rows.append((f"`{path}`", type_name, _default_text(s, f), kind.describe(), s.doc))
        if isinstance(kind, Tables):
            rows += reference_rows(kind.cls, f"{path}[]")
    return rows


def reference_table(cls: type, prefix: str = "") -> str:
    """The reference of ``cls`` as a Markdown table (what the docs carry between
    ``<!-- schema: ... -->`` markers; ``tests/test_config_schema.py`` compares)."""
    lines = ["| key | type | default | valid values | notes |", "|---|---|---|---|---|"]
    for row in reference_rows(cls, prefix):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines) + "\n"
