"""The pytest plugin of tickwire-threshold (entry point ``pytest11``), on when installed.

It gives a test suite the registered backends of the threshold strategy as fixtures, so
a backend's own tests (or a user's) run the differential harness on every backend
installed in the environment without listing them:

* ``threshold_backend_name``: parametrised over every backend registered under the
  ``tickwire.backends`` entry points (``reference`` first), or only those named with
  ``--threshold-backend NAME`` (repeatable);
* ``threshold_backend``: that backend loaded and probed with a minimal configuration; a
  backend that cannot run on this machine (no root, no qemu, not built) is skipped with
  its :class:`~tickwire.threshold.backends.BackendUnavailable` reason, and it is closed
  after the test.

Combine it with :func:`tickwire.threshold.harness.check_frames` or
:func:`~tickwire.threshold.harness.check_backend` (``docs/threshold.md``, "Testing a
backend"). The module imports nothing heavy: hypothesis is only needed by the harness.

After every test it switches off the ``sys.monitoring`` events a failed hypothesis run
left on with no tool behind them (:mod:`tickwire.threshold.monitoring`: on Python 3.12
and 3.13 they slow every later test in the process, up to hundreds of times).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tickwire.threshold.backends import (
    Backend,
    BackendUnavailable,
    available_backends,
    load_backend,
)
from tickwire.threshold.config import ThresholdConfig
from tickwire.threshold.monitoring import clear_orphaned_events

__all__ = ["PROBE_CONFIG", "threshold_backend", "threshold_backend_name"]

#: The configuration a backend is probed with before a test gets it (no instrument).
PROBE_CONFIG = ThresholdConfig(
    armed=True,
    max_orders=0,
    first_user_ref_num=1,
    feed_port=26477,
    order_port=26400,
    order_session="PROBE",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tickwire-threshold")
    group.addoption(
        "--threshold-backend",
        action="append",
        default=[],
        metavar="NAME",
        help="run the threshold_backend fixtures on this registered backend only (repeatable)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """An unknown ``--threshold-backend`` is a usage error (exit 4), before collection."""
    chosen: list[str] = config.getoption("threshold_backend")
    registered = available_backends()
    unknown = [name for name in chosen if name not in registered]
    if unknown:
        raise pytest.UsageError(
            f"--threshold-backend {', '.join(unknown)}: not registered "
            f"(known: {', '.join(registered) or 'none'})"
        )


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """No test leaves ``sys.monitoring`` events on for the tests after it."""
    clear_orphaned_events()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "threshold_backend_name" not in metafunc.fixturenames:
        return
    chosen: list[str] = metafunc.config.getoption("threshold_backend")
    names = chosen or available_backends()
    metafunc.parametrize("threshold_backend_name", names, indirect=True)


@pytest.fixture
def threshold_backend_name(request: pytest.FixtureRequest) -> str:
    """The name of one registered backend (the test runs once per backend)."""
    name: str = request.param
    return name


@pytest.fixture
def threshold_backend(threshold_backend_name: str) -> Iterator[Backend]:
    """The backend ``threshold_backend_name`` loaded; skipped when it cannot run here."""
    instance = load_backend(threshold_backend_name)
    try:
        instance.configure(PROBE_CONFIG)
    except BackendUnavailable as exc:
        instance.close()
        pytest.skip(f"backend {threshold_backend_name!r} unavailable: {exc}")
    try:
        yield instance
    finally:
        instance.close()
