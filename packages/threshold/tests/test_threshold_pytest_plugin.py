"""The pytest plugin (entry point ``pytest11``), as a user's suite sees it: the
``threshold_backend`` fixture over the registered backends, ``--threshold-backend``."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SUITE = """
from tickwire.threshold import ThresholdConfig
from tickwire.threshold.harness import check_frames
from tickwire.threshold.testing import add_order, feed_frame


def test_one_frame(threshold_backend):
    config = ThresholdConfig(True, 5, 1, 26477, 26400, "TWORDERS01")
    check_frames(threshold_backend, config, [feed_frame([add_order(13, "S", 100)])])


def test_name(threshold_backend_name):
    assert threshold_backend_name
"""


def test_the_fixture_runs_once_per_chosen_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_suite=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "--threshold-backend", "reference", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_one_frame?reference? PASSED*"])


def test_every_registered_backend_by_default(pytester: pytest.Pytester) -> None:
    from tickwire.threshold import available_backends

    pytester.makepyfile(
        test_user_suite=SUITE.split("\n\n\ndef test_one_frame")[0]
        + """


def test_name(threshold_backend_name):
    assert threshold_backend_name
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=len(available_backends()))


def test_an_unknown_backend_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_suite=SUITE)
    result = pytester.runpytest("-p", "no:cacheprovider", "--threshold-backend", "nosuch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--threshold-backend nosuch: not registered (known: reference*"])
