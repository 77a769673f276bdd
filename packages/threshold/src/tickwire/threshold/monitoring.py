"""Undo the ``sys.monitoring`` events a failed hypothesis run leaves behind (CPython 3.12+).

The rule: once a hypothesis run has ended, no ``sys.monitoring`` event stays switched on
for a tool id that no tool holds. :func:`clear_orphaned_events` switches such events off.
:func:`tickwire.threshold.harness.check_backend` calls it when it returns or raises, and
the pytest plugin calls it after every test.

The reason: when a test fails, hypothesis's explain phase traces the failing example with
``sys.monitoring`` (tool id 3, ``LINE`` events on every code object). Hypothesis 6.170
then frees the tool id but does not switch the events off, and CPython 3.12 and 3.13's
``free_tool_id`` keeps them. From then on every line the process runs goes through the
instrumented path, with no callback to call. Code made of many lines pays the most: the
FPGA core's Python simulation (amaranth's generated code) fed 400 frames in 0.95 s of
CPU before one caught failure of a ``@given`` test and in 228 s after it, on Python
3.12. CI's suites on 3.12 and 3.13 hit pytest's 600 s timeout that way, on whatever test
followed ``check_backend``'s mutation tests in the same worker. Python 3.11 has no
``sys.monitoring`` (hypothesis uses ``sys.settrace`` there and removes it), so this is a
no-op there.

The test: ``packages/threshold/tests/test_threshold_monitoring.py``. A caught hypothesis
failure leaves no events, both after ``check_backend`` and after a test seen through the
plugin.
"""

from __future__ import annotations

import sys

__all__ = ["clear_orphaned_events", "orphaned_events"]

#: sys.monitoring's tool ids (0 to 5: debugger, coverage, profiler, three optimizers).
_TOOL_IDS = range(6)


def orphaned_events() -> dict[int, int]:
    """``{tool id: event set}`` for every tool id that has events on but no tool."""
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None:
        return {}
    return {
        tool: events
        for tool in _TOOL_IDS
        if monitoring.get_tool(tool) is None and (events := monitoring.get_events(tool))
    }


def clear_orphaned_events() -> dict[int, int]:
    """Switch off the events of :func:`orphaned_events`; return what was switched off.

    ``set_events`` needs the tool id in use, so each is taken for the moment it takes
    and freed again. Tool ids held by a tool (a debugger, coverage.py, hypothesis in the
    middle of a run) are never touched.
    """
    found = orphaned_events()
    monitoring = getattr(sys, "monitoring", None)
    for tool in found:
        assert monitoring is not None
        monitoring.use_tool_id(tool, "tickwire.threshold.monitoring")
        try:
            monitoring.set_events(tool, monitoring.events.NO_EVENTS)
        finally:
            monitoring.free_tool_id(tool)
    return found
