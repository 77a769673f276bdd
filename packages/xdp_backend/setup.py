"""Build hook for tickwire-xdp: compile the BPF object into the wheel when clang is there.

All metadata lives in pyproject.toml. The prebuilt object is optional on purpose: without
clang on the build machine the wheel still works and compiles the object on first use
(``tickwire.xdp.build.object_path``), so a failed compile is reported and skipped.
Editable installs always compile on first use.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
BPF_SRC = HERE / "src" / "tickwire" / "xdp" / "bpf"


class BuildPyWithBpf(build_py):
    """build_py that also compiles ``bpf/tickwire_xdp.c`` into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        try:
            spec = importlib.util.spec_from_file_location(
                "_tickwire_xdp_build", HERE / "src" / "tickwire" / "xdp" / "build.py"
            )
            assert spec is not None and spec.loader is not None
            build = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(build)
            out = build.build_prebuilt(BPF_SRC, Path(self.build_lib) / "tickwire" / "xdp" / "bpf")
            print(f"tickwire-xdp: prebuilt {out}")
        except Exception as exc:  # no clang, no headers: compiled on first use instead
            print(
                f"tickwire-xdp: BPF object not prebuilt ({exc}); it is built on first use",
                file=sys.stderr,
            )


setup(cmdclass={"build_py": BuildPyWithBpf})
