"""Build hook for tickwire-itch: the optional Cython fast path.

All metadata lives in pyproject.toml; this file only declares the extension
``tickwire.itch._fast``. The extension is optional on purpose: tickwire-itch must
install (and work, through its pure-Python construct path) on a machine without a
C compiler or without Cython, so a failed compile is reported and skipped instead
of failing the install. ``tickwire.itch.fastpath.AVAILABLE`` says at runtime which
path is in use.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).parent
PYX = "src/tickwire/itch/_fast.pyx"
C_SRC = "src/tickwire/itch/_fast.c"


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing when the extension cannot be compiled."""

    def run(self) -> None:
        self.extensions = _cythonize(self.extensions)
        try:
            super().run()
        except Exception as exc:  # no compiler, no headers, ...
            self._skip(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._skip(exc)

    @staticmethod
    def _skip(exc: BaseException) -> None:
        print(
            f"WARNING: tickwire.itch._fast not built ({exc!r}); "
            "the pure-Python decoder will be used",
            file=sys.stderr,
        )


class CythonizedSdist(sdist):
    """sdist that ships the C generated from each .pyx (for builds without Cython)."""

    def run(self) -> None:
        _cythonize(list(self.distribution.ext_modules or []))
        super().run()


class CleanBuildPy(build_py):
    """build_py that drops compiled leftovers of an earlier build from ``build/lib``.

    setuptools reuses the build directory between builds, so a wheel built without the
    extension (no compiler, or TICKWIRE_NO_EXT=1) would otherwise pick up the ``.so`` of
    a previous build and claim to be pure Python while shipping a stale binary.
    """

    def run(self) -> None:
        if not self.distribution.ext_modules:
            stale = Path(self.build_lib) / "tickwire" / "itch"
            for path in stale.glob("_fast*"):
                path.unlink()
        super().run()


def _cythonize(extensions: list[Extension]) -> list[Extension]:
    """Regenerate each extension's C from the .pyx beside it, once per build command that
    needs it (``build_ext``, ``sdist``), never when setup.py is merely loaded: every PEP 517
    hook loads it, and Cython takes seconds per module. Without Cython (or if it fails) the
    C an sdist ships is compiled; an extension with neither is dropped."""
    try:
        from Cython.Build import cythonize
    except ImportError:
        cythonize = None
    kept = []
    for ext in extensions:
        c_src = ext.sources[0]
        pyx = c_src.removesuffix(".c") + ".pyx"
        if cythonize is not None and (HERE / pyx).exists():
            try:
                # force: never compile a stale generated .c left next to the .pyx.
                cythonize(
                    [Extension(ext.name, [pyx])],
                    compiler_directives={"language_level": "3"},
                    quiet=True,
                    force=True,
                )
            except Exception as exc:
                OptionalBuildExt._skip(exc)
        if (HERE / c_src).exists():
            kept.append(ext)
    return kept


def _extensions() -> list[Extension]:
    if os.environ.get("TICKWIRE_NO_EXT"):
        return []
    if not (HERE / PYX).exists() and not (HERE / C_SRC).exists():
        return []
    flags = ["-O3"] if os.name == "posix" else []
    # The C generated from the .pyx (by _cythonize) or shipped in the sdist.
    return [Extension("tickwire.itch._fast", [C_SRC], extra_compile_args=flags)]


setup(
    ext_modules=_extensions(),
    cmdclass={"build_ext": OptionalBuildExt, "build_py": CleanBuildPy, "sdist": CythonizedSdist},
    # The sources ship in the sdist (MANIFEST.in), not in the wheel next to the .so.
    exclude_package_data={"tickwire.itch": ["*.c", "*.pyx"]},
)
