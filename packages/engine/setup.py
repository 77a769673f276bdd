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

HERE = Path(__file__).parent
PKG = "src/tickwire/engine"
MODULES = ("_cbook",)


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing when an extension cannot be compiled."""

    def run(self) -> None:
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


def _extensions() -> list[Extension]:
    if os.environ.get("TICKWIRE_NO_EXT"):
        return []
    flags = ["-O3"] if os.name == "posix" else []
    try:
        from Cython.Build import cythonize
    except ImportError:
        cythonize = None
    out: list[Extension] = []
    for name in MODULES:
        pyx = f"{PKG}/{name}.pyx"
        c_src = f"{PKG}/{name}.c"
        ext_name = f"tickwire.engine.{name}"
        if cythonize is not None and (HERE / pyx).exists():
            ext = Extension(ext_name, [pyx], extra_compile_args=flags)
            try:
                # force: never compile a stale generated .c left next to the .pyx.
                out += cythonize(
                    [ext], compiler_directives={"language_level": "3"}, quiet=True, force=True
                )
                continue
            except Exception as exc:
                OptionalBuildExt._skip(exc)
        if (HERE / c_src).exists():
            # No Cython (or it failed): compile the C an sdist ships.
            out.append(Extension(ext_name, [c_src], extra_compile_args=flags))
    return out


setup(
    ext_modules=_extensions(),
    cmdclass={"build_ext": OptionalBuildExt, "build_py": CleanBuildPy},
    exclude_package_data={"tickwire.engine": ["*.c", "*.pyx"]},
)
