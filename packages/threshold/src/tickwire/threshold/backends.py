"""The backend interface of the threshold strategy and loading backends by name.

A backend is anything with ``configure``, ``feed``, ``stats`` and ``close`` (the
:class:`Backend` protocol) whose zero-argument factory is registered under the
entry-point group ``tickwire.backends``::

    [project.entry-points."tickwire.backends"]
    reference = "tickwire.threshold.reference:ReferenceBackend"

Every backend must reproduce the reference (``docs/threshold.md``) byte for byte; the
differential harness in ``tests/test_threshold_harness.py`` runs every registered backend
against it, so a new backend plugs in by registering itself and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol, runtime_checkable

from tickwire.threshold.config import ThresholdConfig
from tickwire.threshold.stats import ThresholdStats

__all__ = [
    "ENTRY_POINT_GROUP",
    "Backend",
    "BackendNotFound",
    "BackendUnavailable",
    "available_backends",
    "load_backend",
    "run_frames",
]

ENTRY_POINT_GROUP = "tickwire.backends"


class BackendNotFound(LookupError):
    """No backend is registered under that name."""


class BackendUnavailable(RuntimeError):
    """The backend exists but cannot run here (no root, no qemu, not built, ...)."""


@runtime_checkable
class Backend(Protocol):
    """One implementation of the threshold strategy.

    ``configure`` starts a run (all state reset); ``feed`` takes one raw Ethernet frame
    (no FCS) and returns the order frames it caused, in order (zero or one under the
    contract); ``stats`` returns the statistics so far; ``close`` releases resources
    (processes, network namespaces, BPF programs). ``configure`` may raise
    :class:`BackendUnavailable`.
    """

    def configure(self, config: ThresholdConfig) -> None: ...

    def feed(self, frame: bytes) -> list[bytes]: ...

    def stats(self) -> ThresholdStats: ...

    def close(self) -> None: ...


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_backends() -> list[str]:
    """Names of every registered backend, sorted, ``reference`` first."""
    names = sorted(_entry_points())
    return sorted(names, key=lambda n: (n != "reference", n))


def load_backend(name: str) -> Backend:
    """Instantiate the backend registered as ``name``."""
    eps = _entry_points()
    if name not in eps:
        known = ", ".join(available_backends()) or "none"
        raise BackendNotFound(f"no backend {name!r} registered (known: {known})")
    factory: Callable[[], object] = eps[name].load()
    backend = factory()
    if not isinstance(backend, Backend):
        raise TypeError(f"backend {name!r} does not implement the Backend protocol")
    return backend


def run_frames(
    backend: Backend, config: ThresholdConfig, frames: Iterable[bytes]
) -> tuple[list[list[bytes]], ThresholdStats]:
    """Configure ``backend``, feed every frame; return the outputs per frame and the stats."""
    backend.configure(config)
    outputs = [backend.feed(frame) for frame in frames]
    return outputs, backend.stats()
