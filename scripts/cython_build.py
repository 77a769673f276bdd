"""The build hook of the optional Cython extensions, one copy for the three packages that
compile (tickwire-itch, tickwire-threshold, tickwire-engine).

Each of them has this file as ``cython_build.py``, a symlink to ``scripts/cython_build.py``
that its sdist holds as a plain file (MANIFEST.in), so an isolated build of the sdist
finds it beside ``setup.py``, which puts its own folder on ``sys.path`` and calls
:func:`setup_args`. It is not installed: the wheels hold only ``src/``.

The rules, for every extension:

- optional on purpose: each package must install and work through its pure-Python path
  on a machine without a C compiler or without Cython, so a failed compile is reported
  (a ``WARNING`` line naming the fallback) and skipped instead of failing the install;
  ``TICKWIRE_NO_EXT=1`` builds without the extensions;
- the .pyx becomes C once per build command that needs it, ``build_ext`` (forced: never a
  stale generated ``.c``) and ``sdist`` (which ships the C for builds without Cython),
  never when ``setup.py`` is merely loaded: every PEP 517 hook loads it, and Cython takes
  seconds per module;
- a wheel built without the extensions never ships the binary of an earlier build left in
  ``build/lib``, and the ``.pyx`` and ``.c`` ship in the sdist only;
- ``compiled_py`` modules are plain Python modules that are also compiled, unchanged, into
  an extension of the same name (annotations are not C types: the source's behaviour is
  kept), only from the C the build's own Cython makes (a C of them in the sdist, which
  setuptools adds as an extension's source, is never compiled: a build without Cython
  runs the source). Python imports that extension before the source, so each
  one's build writes the SHA-256 of the source it was compiled from beside it
  (``<extension file>.sha256``): the package's import guard (``tickwire.engine.compiled``)
  runs the source instead of a compiled module whose source has changed since;
- a ``.pyx`` extension's build writes the SHA-256 of its ``.pyx`` beside it the same way,
  so where the ``.pyx`` is installed too (a checkout's editable install) a package can
  refuse an extension built from an older one (``tickwire.engine.compiled.pyx_stale_reason``:
  the compiled book). A wheel ships no ``.pyx``: nothing to compare, nothing refused.
"""

from __future__ import annotations

import ast
import hashlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from setuptools import Extension
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist


def module_literal(path: Path, name: str) -> Any:
    """The literal value assigned to ``name`` at the top of the Python module ``path``,
    read without importing it (the package being built is not importable yet)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == name:
            return ast.literal_eval(node.value)
    raise LookupError(f"{path}: no {name} = <literal>")


def setup_args(
    here: Path,
    package: str,
    modules: Sequence[str],
    fallback: str,
    also_build_py: Callable[[Path], None] | None = None,
    compiled_py: Sequence[str] = (),
) -> dict[str, Any]:
    """``setup()``'s arguments for ``package``'s extensions ``modules`` (names of ``.pyx``
    in ``src/<package path>/``) and ``compiled_py`` (dotted names of ``.py`` modules under
    it, also compiled). ``fallback`` says what is used without them;
    ``also_build_py(build_lib)`` runs after build_py (to add files to the wheel)."""
    src = Path("src", *package.split("."))
    #: Extension name -> the Python source it is compiled from (``compiled_py``).
    from_py = {
        f"{package}.{name}": Path(src, *name.split(".")).with_suffix(".py") for name in compiled_py
    }
    #: Extension name -> its ``.pyx``: its digest is written beside it too, for a guard
    #: that refuses an extension older than the ``.pyx`` beside it (a checkout's).
    from_pyx = {f"{package}.{name}": src / f"{name}.pyx" for name in modules}

    def skip(exc: BaseException) -> None:
        print(f"WARNING: {package} extensions not built ({exc!r}); {fallback}", file=sys.stderr)

    def cythonize_all(extensions: list[Extension]) -> list[Extension]:
        """Regenerate each extension's C from its .pyx; keep those with C to compile."""
        try:
            from Cython.Build import cythonize
        except ImportError:
            cythonize = None
        kept = []
        for ext in extensions:
            c_src = ext.sources[0]
            source = c_src.removesuffix(".c") + ".pyx"
            directives = {"language_level": "3"}
            if ext.name in from_py:
                source = str(from_py[ext.name])
                directives["annotation_typing"] = False  # the source's Python semantics
            made = False
            if cythonize is not None and (here / source).exists():
                try:
                    cythonize(
                        [Extension(ext.name, [source])],
                        compiler_directives=directives,
                        quiet=True,
                        force=True,
                    )
                    made = True
                except Exception as exc:
                    skip(exc)
            # A .py's C only from this build's Cython: a .c left over (or in the sdist)
            # could be of an older source, which its digest (of the source now) would hide.
            usable = made if ext.name in from_py else (here / c_src).exists()
            if usable:
                kept.append(ext)
        return kept

    class OptionalBuildExt(build_ext):
        def run(self) -> None:
            self.extensions = cythonize_all(self.extensions)
            try:
                super().run()
            except Exception as exc:  # no compiler, no headers, ...
                skip(exc)

        def build_extension(self, ext: Extension) -> None:
            try:
                super().build_extension(ext)
            except Exception as exc:
                skip(exc)
                return
            source = from_py.get(ext.name) or from_pyx.get(ext.name)
            if source is not None and (here / source).exists():  # for the import guards
                digest = hashlib.sha256((here / source).read_bytes()).hexdigest()
                Path(self.get_ext_fullpath(ext.name) + ".sha256").write_text(digest + "\n")

        def copy_extensions_to_source(self) -> None:
            """An editable install: each extension and its digest."""
            super().copy_extensions_to_source()
            build_py = self.get_finalized_command("build_py")
            for ext in self.extensions:
                if ext.name in from_py or ext.name in from_pyx:
                    inplace, regular = self._get_inplace_equivalent(build_py, ext)
                    record = Path(regular + ".sha256")
                    if record.exists():
                        self.copy_file(str(record), inplace + ".sha256", level=self.verbose)

    class CythonizedSdist(sdist):
        def run(self) -> None:
            extensions = self.distribution.ext_modules or []
            cythonize_all([ext for ext in extensions if ext.name not in from_py])
            super().run()

    class CleanBuildPy(build_py):
        def run(self) -> None:
            if not self.distribution.ext_modules:
                stale = Path(self.build_lib, *package.split("."))
                for name in modules:
                    for path in stale.glob(f"{name}*"):
                        path.unlink()
                for name in compiled_py:  # the extensions and digests, not the source
                    module = Path(stale, *name.split("."))
                    for path in module.parent.glob(f"{module.name}.*"):
                        if path.suffix not in (".py", ".pyi"):
                            path.unlink()
            super().run()
            if also_build_py is not None:
                also_build_py(Path(self.build_lib))

    flags = ["-O3"] if os.name == "posix" else []
    ext_modules = [
        Extension(f"{package}.{name}", [str(src / f"{name}.c")], extra_compile_args=flags)
        for name in modules
        if (here / src / f"{name}.pyx").exists() or (here / src / f"{name}.c").exists()
    ] + [
        Extension(name, [str(source.with_suffix(".c"))], extra_compile_args=flags)
        for name, source in from_py.items()
    ]
    return {
        "ext_modules": [] if os.environ.get("TICKWIRE_NO_EXT") else ext_modules,
        "cmdclass": {
            "build_ext": OptionalBuildExt,
            "build_py": CleanBuildPy,
            "sdist": CythonizedSdist,
        },
        "exclude_package_data": {
            name: ["*.c", "*.pyx", "*.h"]
            for name in {package} | {n.rpartition(".")[0] for n in from_py}
        },
    }
