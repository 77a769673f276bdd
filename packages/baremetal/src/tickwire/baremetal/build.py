"""Build the kernel image (nasm + gcc freestanding + ld), cached by content hash.

The image depends only on the kernel sources and the build commands, so the cache key
is a SHA-256 over both; a rebuilt wheel or an edited source gets a fresh image, and
CI rebuilds at most once per source change (a cold build takes about a second).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

__all__ = ["KERNEL_SOURCES", "BuildError", "build_kernel", "cache_dir", "kernel_source_dir"]

C_SOURCES = ("kmain.c", "strategy.c", "e1000.c", "pci.c", "fwcfg.c", "serial.c", "libc.c")
HEADERS = ("types.h", "io.h", "parse.h", "strategy.h", "serial.h", "hw.h", "control.h")
KERNEL_SOURCES = ("boot.asm", "linker.ld", *C_SOURCES, *HEADERS)

CFLAGS = (
    "-m32",
    "-march=i686",
    "-ffreestanding",
    "-fno-pic",
    "-fno-pie",
    "-fno-stack-protector",
    "-fno-builtin",
    "-nostdlib",
    "-mno-red-zone",
    "-mgeneral-regs-only",
    "-O2",
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Werror",
)


class BuildError(RuntimeError):
    """A tool is missing or a build step failed (the message carries its output)."""


def kernel_source_dir() -> Path:
    """The directory holding the kernel sources shipped inside the package."""
    return Path(str(resources.files("tickwire.baremetal") / "kernel"))


def cache_dir() -> Path:
    """Where built images are kept: ``$TICKWIRE_BAREMETAL_CACHE`` or ~/.cache/tickwire-baremetal."""
    env = os.environ.get("TICKWIRE_BAREMETAL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tickwire-baremetal"


def _key(src: Path, cc: str) -> str:
    h = hashlib.sha256()
    h.update(" ".join((cc, *CFLAGS)).encode())
    for name in KERNEL_SOURCES:
        h.update(name.encode() + b"\0" + (src / name).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _run(cmd: list[str], cwd: Path) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    except FileNotFoundError as exc:
        raise BuildError(f"{cmd[0]} not found: install it (scripts/setup.sh)") from exc
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")


def build_kernel(*, force: bool = False, cc: str = "gcc") -> Path:
    """Return the path of ``kernel.elf``, building it when the cache has no current copy."""
    src = kernel_source_dir()
    out_dir = cache_dir() / _key(src, cc)
    image = out_dir / "kernel.elf"
    if image.exists() and not force:
        return image
    for tool in ("nasm", cc, "ld"):
        if shutil.which(tool) is None:
            raise BuildError(f"{tool} not found: install it (scripts/setup.sh)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent) as tmp:
        work = Path(tmp)
        for name in KERNEL_SOURCES:
            shutil.copy(src / name, work / name)
        _run(["nasm", "-f", "elf32", "-o", "boot.o", "boot.asm"], work)
        objs = ["boot.o"]
        for name in C_SOURCES:
            obj = name[:-2] + ".o"
            _run([cc, *CFLAGS, "-c", "-o", obj, name], work)
            objs.append(obj)
        _run(
            [
                "ld",
                "-m",
                "elf_i386",
                "-T",
                "linker.ld",
                "-nostdlib",
                "-z",
                "noexecstack",
                "-o",
                "kernel.elf",
                *objs,
            ],
            work,
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        # Atomic publish: a concurrent build of the same key never sees a partial file.
        tmp_image = out_dir / f".kernel.{os.getpid()}.elf"
        shutil.copy(work / "kernel.elf", tmp_image)
        os.replace(tmp_image, image)
    return image
