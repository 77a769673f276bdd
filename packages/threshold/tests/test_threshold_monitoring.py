"""A failed hypothesis run leaves no ``sys.monitoring`` events on (tickwire.threshold.monitoring)."""

from __future__ import annotations

import sys

import pytest
from tickwire.threshold import ThresholdEngine
from tickwire.threshold.harness import HarnessMismatch, check_backend
from tickwire.threshold.monitoring import clear_orphaned_events, orphaned_events

pytestmark = pytest.mark.skipif(
    not hasattr(sys, "monitoring"), reason="sys.monitoring is new in Python 3.12"
)

pytest_plugins = ["pytester"]


class _WrongTtl(ThresholdEngine):
    """Deliberately wrong: order frames with TTL 63."""

    def feed(self, frame: bytes) -> list[bytes]:
        return [f[:22] + b"\x3f" + f[23:] for f in super().feed(frame)]


def test_an_orphaned_event_set_is_found_and_switched_off() -> None:
    monitoring = sys.monitoring
    tool = 4
    assert monitoring.get_tool(tool) is None
    monitoring.use_tool_id(tool, "test")
    monitoring.set_events(tool, monitoring.events.LINE)
    monitoring.free_tool_id(tool)  # as hypothesis does: the events stay on
    try:
        assert orphaned_events() == {tool: monitoring.events.LINE}
        assert clear_orphaned_events() == {tool: monitoring.events.LINE}
        assert orphaned_events() == {} and monitoring.get_tool(tool) is None
    finally:
        clear_orphaned_events()


def test_a_held_tool_id_is_left_alone() -> None:
    monitoring = sys.monitoring
    tool = 4
    monitoring.use_tool_id(tool, "a debugger")
    monitoring.set_events(tool, monitoring.events.LINE)
    try:
        assert clear_orphaned_events() == {}
        assert monitoring.get_events(tool) == monitoring.events.LINE
    finally:
        monitoring.set_events(tool, 0)
        monitoring.free_tool_id(tool)


def test_check_backend_that_finds_a_difference_leaves_no_events_on() -> None:
    """The harness's failure is explained by hypothesis under sys.monitoring; after it the
    process runs untraced (it ran every later line through the instrumented path).

    1,000 examples, not 50: the run stops at the first mismatch, and a derandomized run
    repeats only for the same modules imported (``test_threshold_harness.py::
    test_check_backend_catches_a_wrong_backend``); with 50 it found nothing on Python 3.12
    in a CI replica of ``ba0e981``."""
    with pytest.raises(HarnessMismatch):
        check_backend(_WrongTtl, max_examples=1000, derandomize=True)
    assert orphaned_events() == {}


SUITE = """
import sys
import pytest
from hypothesis import given, settings, strategies as st
from tickwire.threshold.monitoring import orphaned_events


@settings(database=None, derandomize=True)
@given(st.integers())
def _fails(x):
    assert x < 10


def test_a_caught_failure():
    with pytest.raises(AssertionError):
        _fails()


def test_after_it():
    assert orphaned_events() == {}
"""


@pytest.mark.parametrize("plugin", [True, False])
def test_the_plugin_clears_them_after_every_test(pytester: pytest.Pytester, plugin: bool) -> None:
    """Without the plugin the second test sees the first one's events: the check can fail."""
    pytester.makepyfile(test_user_suite=SUITE)
    args = ["-p", "no:cacheprovider"]
    if not plugin:
        args += ["-p", "no:tickwire-threshold"]
    result = pytester.runpytest_subprocess(*args)
    if plugin:
        result.assert_outcomes(passed=2)
    else:
        result.assert_outcomes(passed=1, failed=1)
