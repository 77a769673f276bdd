"""Build hook for tickwire-threshold: the optional Cython extension
``tickwire.threshold._cthreshold`` (the threshold strategy of the ``cython`` backend).

All metadata lives in pyproject.toml. The rules of the optional extensions (a failed
compile is reported and skipped, Cython once per build, nothing stale shipped) are in
``cython_build.py``, shared with tickwire-itch and tickwire-engine.
``tickwire.threshold.cbackend.AVAILABLE`` says at runtime whether the compiled path is in
use.
"""

import sys
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from cython_build import setup_args  # noqa: E402  (beside this file, not installed)

setup(
    **setup_args(HERE, "tickwire.threshold", ("_cthreshold",), "the reference engine will be used")
)
