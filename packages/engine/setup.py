"""Build hook for tickwire-engine: the optional Cython extension.

All metadata lives in pyproject.toml; this file only declares the compiled path of the
``cython`` book backend: ``tickwire.engine._cbook`` (the full-depth L3 book, ITCH decoded
straight from bytes). It is optional on purpose, like ``tickwire.itch._fast``:
tickwire-engine must install and work (through the reference book) on a machine without a
C compiler or without Cython, so a failed compile is reported and skipped instead of
failing the install. ``tickwire.engine.cbook.AVAILABLE`` says at runtime whether the
compiled path is in use. ``TICKWIRE_NO_EXT=1`` builds without it. (The compiled threshold
backend is built by tickwire-threshold's own setup.py; build isolation gives each package
its own copy of :class:`OptionalBuildExt`.)
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
PKG = "src/tickwire/engine"
MODULES = ("_cbook",)


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing when an extension cannot be compiled."""

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
            f"WARNING: tickwire.engine extensions not built ({exc!r}); "
            "the reference book will be used",
            file=sys.stderr,
        )


class CythonizedSdist(sdist):
    """sdist that ships the C generated from each .pyx (for builds without Cython)."""

    def run(self) -> None:
        _cythonize(list(self.distribution.ext_modules or []))
        super().run()


class CleanBuildPy(build_py):
    """build_py that drops compiled leftovers of an earlier build from ``build/lib``
    (a wheel built without the extensions must not ship a stale binary), and puts the
    example configurations (``examples/*.toml``, in the sdist through MANIFEST.in) into
    the wheel as ``tickwire/engine/examples/``."""

    def run(self) -> None:
        if not self.distribution.ext_modules:
            stale = Path(self.build_lib) / "tickwire" / "engine"
            for name in MODULES:
                for path in stale.glob(f"{name}*"):
                    path.unlink()
        super().run()
        examples = sorted((HERE / "examples").glob("*.toml"))
        if not examples:
            raise FileNotFoundError(f"{HERE / 'examples'}: no example configs to ship")
        target = Path(self.build_lib) / "tickwire" / "engine" / "examples"
        target.mkdir(parents=True, exist_ok=True)
        for path in examples:
            self.copy_file(str(path), str(target / path.name))


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
    """The C each extension compiles: generated from its .pyx by :func:`_cythonize`, or
    shipped in the sdist."""
    if os.environ.get("TICKWIRE_NO_EXT"):
        return []
    flags = ["-O3"] if os.name == "posix" else []
    return [
        Extension(f"tickwire.engine.{module}", [f"{PKG}/{module}.c"], extra_compile_args=flags)
        for module in MODULES
        if (HERE / PKG / f"{module}.pyx").exists() or (HERE / PKG / f"{module}.c").exists()
    ]


setup(
    ext_modules=_extensions(),
    cmdclass={"build_ext": OptionalBuildExt, "build_py": CleanBuildPy, "sdist": CythonizedSdist},
    exclude_package_data={"tickwire.engine": ["*.c", "*.pyx"]},
)
