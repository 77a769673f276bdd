"""A wheel of tickwire-itch installs into a fresh venv and works with construct alone.

The wheel is built without the optional Cython extension (``TICKWIRE_NO_EXT=1``, see
setup.py): that is the wheel a machine without a compiler gets, it proves the pure-Python
fallback is complete, and it keeps this test well under a minute on a busy 2-core box
(compiling the extension alone takes longer). The extension itself is covered by the
fast-path tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1]

# Runs inside the fresh venv: nothing from the workspace is importable there.
CHECK = textwrap.dedent(
    """
    import json, subprocess, sys
    import importlib.metadata as md
    import tickwire.itch as itch

    reader = itch.read(sys.argv[1])
    msgs = list(reader)
    assert len(msgs) == 12012, len(msgs)
    assert reader.stats.length_fixups == 12012
    assert all(itch.decode(itch.encode(m)) == m for m in msgs)
    assert all(itch.decode_construct(itch.encode_construct(m)) == m for m in msgs[:500])
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        pass
    else:
        raise AssertionError("hypothesis must not be installed by default")
    out = subprocess.run(
        [sys.executable, "-m", "tickwire.itch", "stats", sys.argv[1], "--json"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert json.loads(out)["messages"] == 12012
    from tickwire.itch import fastpath
    assert not fastpath.AVAILABLE  # no extension in this wheel: the fallback is used
    assert len(list(fastpath.decode_binaryfile(sys.argv[1]))) == 12012
    requires = md.requires("tickwire-itch") or []
    hard = [r for r in requires if "extra ==" not in r]
    print(json.dumps({"file": itch.__file__, "requires": hard}))
    """
)


def _build_wheel(out: Path) -> Path:
    uv = shutil.which("uv") or shutil.which("uv", path=os.path.expanduser("~/.local/bin"))
    if uv is not None:
        cmd = [uv, "build", "--wheel", str(PACKAGE_DIR), "-o", str(out)]
    else:  # pragma: no cover - CI has uv; plain pip users have build
        cmd = [sys.executable, "-m", "build", "--wheel", str(PACKAGE_DIR), "--outdir", str(out)]
    env = {**os.environ, "TICKWIRE_NO_EXT": "1"}
    subprocess.run(cmd, check=True, capture_output=True, timeout=300, env=env)
    wheels = sorted(out.glob("tickwire_itch-*.whl"))
    assert len(wheels) == 1, wheels
    assert wheels[0].name.endswith("-py3-none-any.whl"), wheels[0].name
    return wheels[0]


@pytest.mark.slow
def test_wheel_installs_and_works_with_construct_only(tmp_path: Path, real_file: Path) -> None:
    wheel = _build_wheel(tmp_path / "dist")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    listed = subprocess.run(
        [str(py), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    # Only construct arrives with it (pip/setuptools are the venv's own).
    assert names - {"pip", "setuptools"} == {"construct", "tickwire-itch"}, names
    script = tmp_path / "check.py"
    script.write_text(CHECK)
    proc = subprocess.run(
        [str(py), str(script), str(real_file)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert str(venv) in report["file"]
    assert len(report["requires"]) == 1 and report["requires"][0].startswith("construct")
