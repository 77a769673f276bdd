"""Fixtures of the tickwire-baremetal tests.

``guest`` boots one kernel per test module (QEMU, KVM or TCG as
:func:`tickwire.baremetal.default_accel` decides) and every test reconfigures it, which
is also what makes "one boot serves many cases" part of what is tested. It is always
shut down in the fixture's finally, and not kept for the whole session: a spin-polling
guest keeps a host core busy, which other packages' tests should not pay for. ``cstrategy`` compiles the kernel's strategy.c as a
hosted shared library so it can be driven against the reference without QEMU.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from _baremetal_helpers import BASE_CONFIG, CStrategy, tools_missing  # noqa: E402
from tickwire.baremetal import Guest, build_kernel, default_accel  # noqa: E402
from tickwire.baremetal.build import kernel_source_dir  # noqa: E402


@pytest.fixture(scope="module")
def guest() -> Iterator[Guest]:
    missing = tools_missing()
    if missing:
        pytest.skip(f"missing {', '.join(missing)} (scripts/setup.sh installs them)")
    build_kernel()
    g = Guest(BASE_CONFIG, accel=default_accel())
    try:
        g.start()
        yield g
    finally:
        g.close()


@pytest.fixture(scope="session")
def cstrategy_lib(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    if shutil.which("gcc") is None:
        pytest.skip("gcc missing")
    src = kernel_source_dir()
    out = tmp_path_factory.mktemp("cstrategy") / "libtwstrategy.so"
    shim = out.parent / "shim.c"
    shim.write_text(
        '#include <stddef.h>\n#include "strategy.h"\n'
        "unsigned tw_stats_offset(void) { return (unsigned)offsetof(struct tw_state, st); }\n"
    )
    subprocess.run(
        ["gcc", "-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-fsanitize=undefined",
         "-fno-sanitize-recover=all", f"-I{src}", "-o", str(out), str(src / "strategy.c"), str(shim)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    lib = ctypes.CDLL(str(out))
    lib.tw_state_size.restype = ctypes.c_uint32
    lib.tw_stats_offset.restype = ctypes.c_uint32
    lib.tw_load_config.restype = ctypes.c_int
    lib.tw_load_config.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint32]
    lib.tw_process.restype = ctypes.c_uint32
    lib.tw_process.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint32, ctypes.c_char_p]
    return lib


@pytest.fixture(scope="session")
def ccontrol_lib(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    """kernel/control.h's length checks compiled hosted, as ``tw_ctl_check_frame``."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc missing")
    src = kernel_source_dir()
    out = tmp_path_factory.mktemp("ccontrol") / "libtwcontrol.so"
    shim = out.parent / "shim.c"
    shim.write_text(
        '#include "control.h"\n'
        "u32 tw_ctl_check_frame(const u8 *f, u32 n, u32 *blen) {\n"
        "    const u8 *body = 0;\n"
        "    u32 len = 0xFFFFFFFFu, r = tw_ctl_check(f, n, &body, &len);\n"
        "    *blen = len;\n"
        "    return r;\n"
        "}\n"
    )
    subprocess.run(
        ["gcc", "-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-fsanitize=undefined",
         "-fno-sanitize-recover=all", f"-I{src}", "-o", str(out), str(shim)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    lib = ctypes.CDLL(str(out))
    lib.tw_ctl_check_frame.restype = ctypes.c_uint32
    lib.tw_ctl_check_frame.argtypes = [
        ctypes.c_char_p,
        ctypes.c_uint32,
        ctypes.POINTER(ctypes.c_uint32),
    ]
    return lib


@pytest.fixture
def cstrategy(cstrategy_lib: ctypes.CDLL) -> CStrategy:
    return CStrategy(cstrategy_lib)


def repo_data() -> Path:
    """The real test data, in the repository (data/PROVENANCE.md)."""
    return Path(__file__).resolve().parents[3] / "data"
