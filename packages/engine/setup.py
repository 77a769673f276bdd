"""Build hook for tickwire-engine: the optional Cython extension ``tickwire.engine._cbook``
(the full-depth L3 book and the replay core, ITCH decoded straight from bytes), the order
path's Python modules compiled as they are (``ORDER_PATH``), and the example
configurations in the wheel.

All metadata lives in pyproject.toml. The rules of the optional extensions (a failed
compile is reported and skipped, Cython once per build, nothing stale shipped) are in
``cython_build.py``, shared with tickwire-itch and tickwire-threshold.
``tickwire.engine.cbook.AVAILABLE`` says at runtime whether the compiled path is in use.
"""

import shutil
import sys
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from cython_build import module_literal, setup_args  # noqa: E402  (beside this file, not installed)

#: The order path's modules, also compiled unchanged from their Python source: the one
#: list is ``ORDER_PATH`` of ``tickwire.engine.compiled``, which holds the guard that never
#: runs a stale one.
ORDER_PATH = module_literal(HERE / "src/tickwire/engine/compiled.py", "ORDER_PATH")


def ship_examples(build_lib: Path) -> None:
    """The example configurations (``examples/*.toml``, in the sdist through MANIFEST.in)
    into the wheel as ``tickwire/engine/examples/``."""
    examples = sorted((HERE / "examples").glob("*.toml"))
    if not examples:
        raise FileNotFoundError(f"{HERE / 'examples'}: no example configs to ship")
    target = build_lib / "tickwire" / "engine" / "examples"
    target.mkdir(parents=True, exist_ok=True)
    for path in examples:
        shutil.copyfile(path, target / path.name)


setup(
    **setup_args(
        HERE,
        "tickwire.engine",
        ("_cbook",),
        "the reference book will be used",
        also_build_py=ship_examples,
        compiled_py=ORDER_PATH,
    )
)
