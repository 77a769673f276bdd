"""The order path compiled from its own Python source, and the guard that never runs a stale
one.

``risk``, ``strategy.orders``, ``strategy.context`` and ``backtest.spill`` are plain Python
modules, and what the engine does is what their source says. The build also compiles each
of them, unchanged, with Cython into an extension module of the same name beside it
(:data:`ORDER_PATH`; annotations are not taken as C types, so the compiled
module keeps the source's Python semantics). Same reports, about a fifth less CPU on a busy
backtest (bench/RESULTS.md, "The order path compiled from its source"). Without a compiler
the build skips them and the source runs.

The danger is staleness: Python imports an extension before a source module of the same
name, so an edited ``risk.py`` would keep running its old compiled self until the next
build, silently. So the build writes beside each such extension the SHA-256 of the source
it was compiled from (``<extension file>.sha256``, ``scripts/cython_build.py``), and
:class:`SourceFirst`, put first on ``sys.meta_path`` when ``tickwire.engine`` is imported,
imports the source instead when that digest is missing or differs (with a
``RuntimeWarning`` naming the file), or when ``TICKWIRE_PURE=1`` is set (every compiled
part off, as for the compiled book: :mod:`tickwire.engine.cbook`). It looks only at
``tickwire.engine`` modules that have both an extension and a ``.py`` of the same name;
``_cbook`` (a ``.pyx``) has no source to run instead: :mod:`tickwire.engine.cbook` asks
:func:`pyx_stale_reason` and treats a stale one as not built.

Tests: ``test_engine_compiled.py`` (a stale or unrecorded extension is passed over for its
source, a current one is kept, the order path runs compiled in this checkout, and a
backtest under ``TICKWIRE_PURE=1`` writes the same report, and the order path's own tests
pass on its source).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

__all__ = [
    "ORDER_PATH",
    "SourceFirst",
    "install",
    "pure_requested",
    "pyx_stale_reason",
    "stale_reason",
    "status",
]

#: The modules (under ``tickwire.engine``) the build also compiles from their source;
#: ``setup.py`` reads this tuple from here (a literal, so it can without importing).
ORDER_PATH = ("risk", "strategy.orders", "strategy.context", "backtest.spill")
_PACKAGE = "tickwire.engine."


def pure_requested() -> bool:
    """``TICKWIRE_PURE`` is set (to anything but ``""`` or ``0``): no compiled part runs."""
    return os.environ.get("TICKWIRE_PURE", "") not in ("", "0")


def stale_reason(extension: Path, source: Path) -> str | None:
    """Why the extension compiled from ``source`` must not run, or None when it may."""
    if pure_requested():
        return "TICKWIRE_PURE is set"
    record = Path(f"{extension}.sha256")
    try:
        built_from = record.read_text().strip()
    except OSError:
        return f"no record of the source it was compiled from ({record.name})"
    if hashlib.sha256(source.read_bytes()).hexdigest() != built_from:
        return f"{source.name} changed since it was compiled"
    return None


def pyx_stale_reason(extension: Path) -> str | None:
    """Why the extension ``extension`` (a ``.pyx``'s: ``_cbook``) must not run, or None.

    Rule: where its ``.pyx`` is installed beside it (a checkout's editable install), the
    extension runs only if it was built from that ``.pyx`` as it is now
    (:func:`stale_reason`: the digest the build records, ``scripts/cython_build.py``); a
    wheel ships no ``.pyx`` and is not asked. The caller treats a stale one as not built:
    its reason says so and how to rebuild. Why: a ``_cbook`` built before a ``.pyx``
    change (a ``git pull`` with no rebuild) ran silently against the newer Python beside
    it: the compiled venue took the reference venue's arguments of another release
    (113 tests failed with ``TypeError``; had the count matched, the compiled twin of the
    oracle would have run old rules). Test: ``test_engine_compiled.py::
    test_a_pyx_extension_older_than_its_pyx_is_refused``."""
    source = extension.with_name(extension.name.split(".", 1)[0] + ".pyx")
    if not source.is_file():
        return None
    return stale_reason(extension, source)


class SourceFirst(importlib.abc.MetaPathFinder):
    """Finds ``tickwire.engine`` modules compiled from a ``.py``: the extension when its
    recorded source is the ``.py`` as it is now, else the ``.py`` itself."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if not fullname.startswith(_PACKAGE) or path is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if (
            spec is None
            or spec.origin is None
            or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)
        ):
            return spec
        extension = Path(spec.origin)
        source = extension.with_name(fullname.rpartition(".")[2] + ".py")
        if not source.is_file():
            return spec  # compiled from a .pyx (_cbook): no source twin
        why = stale_reason(extension, source)
        if why is None:
            return spec
        if not pure_requested():
            warnings.warn(
                f"{fullname}: {why}; running the source (a build, e.g. uv sync, compiles it)",
                RuntimeWarning,
                stacklevel=2,
            )
        return importlib.util.spec_from_file_location(fullname, source)


def install() -> None:
    """Put :class:`SourceFirst` first on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, SourceFirst) for finder in sys.meta_path):
        sys.meta_path.insert(0, SourceFirst())


def status(names: Sequence[str] = ORDER_PATH) -> dict[str, bool]:
    """Whether each of ``names`` (``tickwire.engine.<name>``) runs compiled, importing it."""
    return {
        name: isinstance(
            importlib.import_module(_PACKAGE + name).__loader__,
            importlib.machinery.ExtensionFileLoader,
        )
        for name in names
    }
