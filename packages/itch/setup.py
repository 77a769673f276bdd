"""Build hook for tickwire-itch: the optional Cython fast path ``tickwire.itch._fast``.

All metadata lives in pyproject.toml. The rules of the optional extensions (a failed
compile is reported and skipped, Cython once per build, nothing stale shipped) are in
``cython_build.py``, shared with tickwire-threshold and tickwire-engine.
``tickwire.itch.fastpath.AVAILABLE`` says at runtime which path is in use.
"""

import sys
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from cython_build import setup_args  # noqa: E402  (beside this file, not installed)

setup(**setup_args(HERE, "tickwire.itch", ("_fast",), "the pure-Python decoder will be used"))
