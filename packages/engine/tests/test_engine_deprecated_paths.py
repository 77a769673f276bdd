"""The threshold modules moved to tickwire-threshold; their old engine paths still work
for one minor version (0.3.x), warn, and hand out the very same objects."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import tickwire.threshold as threshold
from tickwire.threshold import backends as new_backends
from tickwire.threshold import cbackend, config, order, reference, scan, stats, testing

MOVED = {
    "config": (config, ["ThresholdConfig", "load_config", "ConfigError", "config_from_mapping"]),
    "scan": (scan, ["scan_frame", "field_offset", "A_PRICE"]),
    "threshold": (reference, ["ThresholdEngine", "ReferenceBackend"]),
    "backends": (new_backends, ["load_backend", "Backend", "ENTRY_POINT_GROUP"]),
    "testing": (testing, ["feed_frame", "add_order", "FEED_DST_IP"]),
    "cbackend": (cbackend, ["CythonBackend", "AVAILABLE"]),
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_module_warns_and_reexports(old: str) -> None:
    # A fresh interpreter: the warning is given once, on the first import.
    code = (
        "import warnings\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        f"    import tickwire.engine.{old}\n"
        "print([str(w.message) for w in seen if w.category is DeprecationWarning])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert f"tickwire.engine.{old} is deprecated" in out
    new, names = MOVED[old]
    with pytest.warns(DeprecationWarning):
        sys.modules.pop(f"tickwire.engine.{old}", None)
        module = importlib.import_module(f"tickwire.engine.{old}")
    for name in names:
        assert getattr(module, name) is getattr(new, name)


def test_the_split_reference_module_keeps_its_old_names() -> None:
    sys.modules.pop("tickwire.engine.threshold", None)
    with pytest.warns(DeprecationWarning):
        module = importlib.import_module("tickwire.engine.threshold")
    assert module.ThresholdStats is stats.ThresholdStats
    assert module.REFUSAL_REASONS is stats.REFUSAL_REASONS
    assert module.build_order_frame is order.build_order_frame
    with pytest.raises(AttributeError):
        _ = module.no_such_name


@pytest.mark.parametrize("name", ["ThresholdConfig", "ThresholdEngine", "load_backend"])
def test_package_level_names_warn(name: str) -> None:
    import tickwire.engine

    with pytest.warns(DeprecationWarning, match=f"tickwire.engine.{name} is deprecated"):
        value = getattr(tickwire.engine, name)
    assert value is getattr(threshold, name)
    with pytest.raises(AttributeError):
        _ = tickwire.engine.NoSuchName  # type: ignore[attr-defined]
