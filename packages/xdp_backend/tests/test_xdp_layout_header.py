"""The generated layout header: current, compiled in, and true to the tables in the BTF.

``bpf/tickwire_layout.h`` is generated from the Python tables (tickwire.threshold.cheader
with tickwire.xdp.layout); the copy in the package must be exactly what the generator
writes now, the build must use it, and the packed wire structs clang compiles from it
must have the tables' offsets and sizes in the object's BTF.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import tickwire.xdp.build as build
from tickwire.threshold.cheader import backend_header, wire_layouts
from tickwire.xdp.build import LAYOUT_HEADER, object_path, source_files

SHIPPED = Path(build.__file__).parent / "bpf" / LAYOUT_HEADER


def test_shipped_header_is_the_generated_one() -> None:
    # Regenerate with: python -m tickwire.threshold.cheader --layouts tickwire.xdp.layout FILE
    assert SHIPPED.read_text() == backend_header("tickwire.xdp.layout")


def test_the_build_compiles_the_generated_header() -> None:
    assert source_files()[LAYOUT_HEADER] == backend_header("tickwire.xdp.layout").encode()


def test_the_c_uses_no_bare_wire_numbers() -> None:
    """The lengths the C used to spell out (36, 40, 47, 97, 111, ...) come from the header."""
    text = (SHIPPED.parent / "tickwire_xdp.c").read_text()
    code = "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith(("*", "/*", "//"))
    )
    for bare in ("+ 14", "+ 18", "+ 20", "+ 22", "+ 32", "[19]", "+ 45", " 36", " 97", " 111"):
        assert bare not in code, bare


def _btf_structs() -> dict[str, dict[str, object]]:
    if shutil.which("bpftool") is None:
        pytest.skip("bpftool missing (scripts/setup.sh installs it)")
    out = subprocess.run(
        ["bpftool", "-j", "btf", "dump", "file", str(object_path())],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {t["name"]: t for t in json.loads(out)["types"] if t["kind"] == "STRUCT"}


@pytest.mark.parametrize("lay", wire_layouts(), ids=lambda lay: lay.prefix)
def test_packed_wire_structs_in_the_btf_match_the_tables(lay: object) -> None:
    from tickwire.threshold.cheader import CLayout

    assert isinstance(lay, CLayout)
    btf = _btf_structs()[f"tw_wire_{lay.prefix.lower()}"]
    assert btf["size"] == lay.size
    members = btf["members"]
    assert isinstance(members, list)
    assert [m["name"] for m in members] == [f.name for f in lay.fields]
    for m, f in zip(members, lay.fields, strict=True):
        assert m["bits_offset"] // 8 == f.offset, f.name
