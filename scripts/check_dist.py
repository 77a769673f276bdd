"""Check the release artifacts in a dist directory before they go to a package index.

    python scripts/check_dist.py DIST

``scripts/build-dist.sh`` runs this after it has built and repaired every wheel (twine
and auditwheel check the formats; this checks what is ours). Standard library only, so it
runs on any interpreter. For every package under ``packages/``:

1. exactly one sdist and at least one wheel of the version its ``pyproject.toml`` names;
2. each carries the repository's ``LICENSE``, byte for byte (``NAME-VERSION/LICENSE`` in
   the sdist, ``*.dist-info/licenses/LICENSE`` in the wheel);
3. a package with compiled extensions (``COMPILED``) ships them, in wheels tagged for a
   PEP 600 ``manylinux_X_Y`` platform (an auditwheel-repaired wheel), never ``linux_*``:
   its ``setup.py`` skips an extension that fails to compile, so a wheel without the
   ``.so`` would otherwise pass as a release; every other package is one
   ``py3-none-any`` wheel (``REQUIRED`` lists files a pure wheel must still hold, such as
   the prebuilt BPF object of tickwire-xdp);
4. the long description (the README in the wheel's METADATA) has no relative link: on an
   index page those resolve against the index, not the repository, and break;
5. no compiled module carries DWARF debug sections (``.debug_*``): they were five sixths
   of each extension (the engine's ``_cbook`` 4.3 MB with them, 0.66 MB without) and
   serve no user; ``build-dist.sh`` strips them with ``auditwheel repair --strip``.
   Editable builds keep them, for ``py-spy --native`` line numbers.

Prints one line per problem and exits 1 when there is any, else prints a summary and
exits 0.
"""

from __future__ import annotations

import email
import re
import struct
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Distribution -> modules that must be compiled into its wheels (``pkg/mod``). Any module
#: compiled from a ``.py`` the wheel also holds (the engine's order path) must have its
#: source digest beside it (``<extension>.sha256``), or the import guard runs the source;
#: that those are built is checked in a fresh venv (``tests/test_dist_wheels.py``).
COMPILED: dict[str, tuple[str, ...]] = {
    "tickwire-itch": ("tickwire/itch/_fast",),
    "tickwire-threshold": ("tickwire/threshold/_cthreshold",),
    "tickwire-engine": ("tickwire/engine/_cbook",),
}

#: Distribution -> files a wheel must hold besides its Python code.
REQUIRED: dict[str, tuple[str, ...]] = {
    # Prebuilt when the build machine has clang (setup.py); without it every user compiles.
    "tickwire-xdp": ("tickwire/xdp/bpf/tickwire_xdp.o", "tickwire/xdp/bpf/tickwire_xdp.c"),
    "tickwire-baremetal": ("tickwire/baremetal/kernel/kmain.c",),
    # The example configs the docs use (packages/engine/examples, copied by setup.py).
    "tickwire-engine": tuple(
        f"tickwire/engine/examples/{p.name}"
        for p in sorted((ROOT / "packages/engine/examples").glob("*.toml"))
    ),
}

#: Distribution -> files its sdist must hold (relative to the sdist's top folder).
SDIST_REQUIRED: dict[str, tuple[str, ...]] = {
    "tickwire-engine": tuple(
        f"examples/{p.name}" for p in sorted((ROOT / "packages/engine/examples").glob("*.toml"))
    ),
}

#: A Markdown link or image target: ``](target)`` or a ``[ref]: target`` definition.
_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)|^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$", re.MULTILINE)
_ABSOLUTE = ("http://", "https://", "mailto:", "#")


def packages() -> dict[str, str]:
    """Distribution name -> version, for every ``packages/*/pyproject.toml``."""
    out: dict[str, str] = {}
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        out[project["name"]] = project["version"]
    return out


def elf_sections(image: bytes) -> list[str]:
    """The section names of a 64-bit little-endian ELF file (an x86_64 or aarch64 Linux
    extension module), from its section header table; [] for anything else."""
    if image[:6] != b"\x7fELF\x02\x01":
        return []
    (shoff,) = struct.unpack_from("<Q", image, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", image, 0x3A)
    if not shoff or shstrndx >= shnum or shoff + shnum * shentsize > len(image):
        return []

    def header(i: int) -> tuple[int, int, int]:  # name offset, file offset, size
        base = shoff + i * shentsize
        (name,) = struct.unpack_from("<I", image, base)
        offset, size = struct.unpack_from("<QQ", image, base + 0x18)
        return name, offset, size

    _, table, size = header(shstrndx)
    strings = image[table : table + size]
    return [strings[n : strings.index(b"\0", n)].decode() for n, _, _ in map(header, range(shnum))]


def relative_links(markdown: str) -> list[str]:
    """The link targets of ``markdown`` that are not absolute URLs or in-page anchors."""
    targets = (m.group(1) or m.group(2) for m in _LINK.finditer(markdown))
    return [t for t in targets if not t.startswith(_ABSOLUTE)]


def _wheel_problems(wheel: Path, dist: str, license_text: bytes) -> list[str]:
    problems: list[str] = []
    tag = wheel.name.removesuffix(".whl").split("-", 2)[2]
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        licenses = [n for n in names if re.fullmatch(r"[^/]+\.dist-info/licenses/LICENSE", n)]
        if not licenses:
            problems.append(f"{wheel.name}: no .dist-info/licenses/LICENSE")
        elif zf.read(licenses[0]) != license_text:
            problems.append(f"{wheel.name}: LICENSE differs from the repository's")
        meta_name = next(n for n in names if re.fullmatch(r"[^/]+\.dist-info/METADATA", n))
        metadata = email.message_from_bytes(zf.read(meta_name))
        debug = {
            n: [s for s in elf_sections(zf.read(n)) if s.startswith(".debug_")]
            for n in names
            if n.endswith(".so")
        }
    body = metadata.get_payload()
    for target in relative_links(body if isinstance(body, str) else ""):
        problems.append(f"{wheel.name}: README link {target!r} is relative (breaks on an index)")
    for path in REQUIRED.get(dist, ()):
        if path not in names:
            problems.append(f"{wheel.name}: {path} missing")
    compiled = COMPILED.get(dist, ())
    if compiled:
        if not re.search(r"manylinux_\d+_\d+_", tag):
            problems.append(f"{wheel.name}: tag {tag} is not PEP 600 manylinux (auditwheel repair)")
        for module in compiled:
            if not any(n.startswith(module + ".") and n.endswith(".so") for n in names):
                problems.append(f"{wheel.name}: compiled {module} missing (was it built?)")
        for name in names:
            source = name.split(".", 1)[0] + ".py"
            if name.endswith(".so") and source in names and f"{name}.sha256" not in names:
                problems.append(f"{wheel.name}: {name}.sha256 missing (its source would run)")
            if debug.get(name):
                problems.append(
                    f"{wheel.name}: {name} carries debug sections "
                    f"({', '.join(debug[name])}): auditwheel repair --strip"
                )
    elif tag != "py3-none-any":
        problems.append(f"{wheel.name}: tag {tag}, expected py3-none-any (pure Python)")
    return problems


def check(dist_dir: Path) -> list[str]:
    """Every problem found in ``dist_dir``, one line each."""
    license_text = (ROOT / "LICENSE").read_bytes()
    problems: list[str] = []
    for dist, version in packages().items():
        stem = f"{dist.replace('-', '_')}-{version}"
        sdists = sorted(dist_dir.glob(f"{stem}.tar.gz"))
        wheels = sorted(dist_dir.glob(f"{stem}-*.whl"))
        if len(sdists) != 1:
            problems.append(f"{dist}: expected one sdist {stem}.tar.gz, found {len(sdists)}")
        if not wheels:
            problems.append(f"{dist}: no wheel {stem}-*.whl")
        if dist not in COMPILED and len(wheels) > 1:
            problems.append(f"{dist}: a pure package needs one wheel, found {len(wheels)}")
        for sdist in sdists:
            with tarfile.open(sdist) as tf:
                try:
                    member = tf.extractfile(f"{stem}/LICENSE")
                except KeyError:
                    member = None
                if member is None:
                    problems.append(f"{sdist.name}: no {stem}/LICENSE")
                elif member.read() != license_text:
                    problems.append(f"{sdist.name}: LICENSE differs from the repository's")
                names = set(tf.getnames())
                for path in SDIST_REQUIRED.get(dist, ()):
                    if f"{stem}/{path}" not in names:
                        problems.append(f"{sdist.name}: {path} missing")
        for wheel in wheels:
            problems += _wheel_problems(wheel, dist, license_text)
    known = {f"{d.replace('-', '_')}-{v}" for d, v in packages().items()}
    for path in sorted(dist_dir.iterdir()):
        if path.name.endswith((".whl", ".tar.gz")) and not path.name.startswith(tuple(known)):
            problems.append(f"{path.name}: not an artifact of the current packages")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/check_dist.py DIST", file=sys.stderr)
        return 2
    dist_dir = Path(argv[0])
    problems = check(dist_dir)
    for line in problems:
        print(f"check_dist: {line}", file=sys.stderr)
    if problems:
        return 1
    n = sum(1 for p in dist_dir.iterdir() if p.name.endswith((".whl", ".tar.gz")))
    print(f"check_dist: {n} artifacts of {len(packages())} packages are complete")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
