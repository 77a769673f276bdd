"""Build the BPF object from the C source shipped in the package, once.

Two places can hold the object:

* a prebuilt ``bpf/tickwire_xdp.o`` inside the installed package, compiled when the wheel
  was built (``setup.py`` calls :func:`build_prebuilt`; skipped with a warning when the
  build machine has no clang), used when its stamp matches the shipped sources;
* otherwise a cache, ``~/.cache/tickwire/xdp/``, filled on first use. Its key hashes the
  sources and ``clang --version``, so a new release or a clang upgrade gives a new file
  and an old one is never reused by mistake.

Files are written to a temporary name and renamed, so two processes building at once
never load a half-written object. This module imports nothing but the standard library
(``setup.py`` loads it by path at wheel build time), except for the optional, lazy
import of the header generator in :func:`generated_layout_header`.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

__all__ = [
    "BuildError",
    "build_prebuilt",
    "cache_dir",
    "compile_object",
    "generated_layout_header",
    "object_path",
    "source_files",
]

SOURCE = "tickwire_xdp.c"
HEADER = "tickwire_xdp.h"
#: Generated from the Python tables by tickwire.threshold.cheader (see source_files).
LAYOUT_HEADER = "tickwire_layout.h"
SOURCES = (SOURCE, HEADER, LAYOUT_HEADER)
PREBUILT = "tickwire_xdp.o"
STAMP = "tickwire_xdp.o.sha256"


class BuildError(RuntimeError):
    """The BPF object could not be built (no clang, or a compile error: see the message)."""


def source_files() -> dict[str, bytes]:
    """The C source and headers, by file name: as shipped in the package, except the
    layout header, which is generated from the installed Python tables when they can be
    imported (always, once installed; the shipped copy, which the tests keep equal to
    it, serves the wheel build)."""
    base = resources.files("tickwire.xdp") / "bpf"
    files = {name: (base / name).read_bytes() for name in SOURCES}
    generated = generated_layout_header()
    if generated is not None:
        files[LAYOUT_HEADER] = generated
    return files


def generated_layout_header() -> bytes | None:
    """``tickwire_layout.h`` as :mod:`tickwire.threshold.cheader` writes it from the
    tables, or None when they cannot be imported (setup.py, at wheel build time)."""
    try:
        from tickwire.threshold.cheader import backend_header
    except ImportError:
        return None
    return backend_header("tickwire.xdp.layout").encode()


def sources_digest(files: dict[str, bytes]) -> str:
    """SHA-256 over the source files' names and contents."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    return digest.hexdigest()


def cache_dir() -> Path:
    """``$TICKWIRE_XDP_CACHE``, else ``$XDG_CACHE_HOME/tickwire/xdp``, else ``~/.cache/...``."""
    env = os.environ.get("TICKWIRE_XDP_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg) if xdg else Path.home() / ".cache"
    return root / "tickwire" / "xdp"


def _clang() -> str:
    clang = os.environ.get("TICKWIRE_CLANG") or shutil.which("clang")
    if not clang:
        raise BuildError("clang not found: install clang (scripts/setup.sh) or set TICKWIRE_CLANG")
    return clang


def _clang_version(clang: str) -> str:
    try:
        return subprocess.run(
            [clang, "--version"], capture_output=True, check=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BuildError(f"cannot run {clang}: {exc}") from exc


def _include_dirs() -> list[str]:
    # Debian keeps asm/types.h under the multiarch directory, which -target bpf does not
    # search by itself.
    multiarch = f"/usr/include/{platform.machine()}-linux-gnu"
    return [f"-I{multiarch}"] if os.path.isdir(multiarch) else []


def compile_object(files: dict[str, bytes], target: Path, clang: str | None = None) -> None:
    """Compile ``files`` (the .c and its headers) into the BPF object ``target``, atomically."""
    clang = clang or _clang()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        work = Path(tmp)
        for name, data in files.items():
            (work / name).write_bytes(data)
        out = work / "out.o"
        cmd = [clang, "-O2", "-g", "-target", "bpf", "-Wall", *_include_dirs()]
        cmd += ["-c", str(work / SOURCE), "-o", str(out)]  # -g: BTF, which the maps need
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"clang failed ({' '.join(cmd)}):\n{proc.stderr}")
        os.replace(out, target)


def build_prebuilt(src_dir: Path, out_dir: Path) -> Path:
    """Compile the sources in ``src_dir`` into ``out_dir`` with a stamp (wheel build)."""
    files = {name: (src_dir / name).read_bytes() for name in SOURCES}
    target = out_dir / PREBUILT
    compile_object(files, target)
    (out_dir / STAMP).write_text(sources_digest(files) + "\n")
    return target


def _prebuilt(files: dict[str, bytes]) -> Path | None:
    # clang's bpf target follows the host's byte order; a wheel is built little-endian.
    if sys.byteorder != "little":
        return None
    base = resources.files("tickwire.xdp") / "bpf"
    obj, stamp = base / PREBUILT, base / STAMP
    if not (isinstance(obj, Path) and obj.is_file() and stamp.is_file()):
        return None
    return obj if stamp.read_text().strip() == sources_digest(files) else None


def object_path() -> Path:
    """The compiled object: the wheel's prebuilt one, else the cache (building it first)."""
    files = source_files()
    prebuilt = _prebuilt(files)
    if prebuilt is not None:
        return prebuilt
    clang = _clang()
    key = hashlib.sha256((_clang_version(clang) + sources_digest(files)).encode()).hexdigest()
    target = cache_dir() / f"tickwire_xdp-{key[:16]}.o"
    if not target.exists():
        compile_object(files, target, clang)
    return target
