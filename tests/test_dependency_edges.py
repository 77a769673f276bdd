"""The dependency graph between the tickwire distributions (issue #15).

Two checks, both read from the repository (nothing is installed or imported):

* every ``packages/*/pyproject.toml``'s Requires-Dist (dependencies and extras) names
  only the tickwire distributions :data:`ALLOWED` lets it depend on, and the graph has no
  cycle;
* every ``tickwire.X`` a package's source imports (``import``, ``from ... import``, also
  inside functions, and ``importlib.import_module``/``__import__`` of a literal name,
  found with ``ast``; ``cimport``/``import`` lines of Cython sources by pattern) is the
  package itself or a distribution in its own Requires-Dist. So a lazy import of a
  package it does not depend on (the cycle engine -> tickwire.xdp had) fails here.
  Optional integrations across distributions go through entry points instead.

Tests are not scanned: a test may use the workspace's dev dependencies.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The target graph of issue #15: distribution -> the tickwire distributions it may
#: require. A distribution not yet in the repository simply has no row or edge here.
CODECS = {"tickwire-itch", "tickwire-moldudp64", "tickwire-ouch", "tickwire-soupbintcp"}
#: The command line's conventions (rich only): any package with a command line may use it.
CLI = "tickwire-cli"
ALLOWED: dict[str, set[str]] = {
    "tickwire-cli": set(),
    "tickwire-itch": {CLI},
    "tickwire-net": set(),
    "tickwire-moldudp64": {CLI, "tickwire-net", "tickwire-itch"},  # itch: an optional extra
    "tickwire-soupbintcp": set(),
    "tickwire-ouch": {CLI, "tickwire-soupbintcp", "tickwire-net"},
    "tickwire-threshold": {
        CLI,
        "tickwire-itch",
        "tickwire-net",
        "tickwire-moldudp64",
        "tickwire-ouch",
    },
    "tickwire-engine": CODECS | {CLI, "tickwire-net", "tickwire-threshold"},
    "tickwire-exchange": CODECS | {CLI, "tickwire-net", "tickwire-engine"},
    # The backends: the threshold contract and the codecs their traffic tools use; never
    # the engine (installing a backend must not bring books, risk and backtests).
    "tickwire-xdp": {
        CLI,
        "tickwire-threshold",
        "tickwire-moldudp64",
        "tickwire-itch",
        "tickwire-net",
    },
    "tickwire-baremetal": {
        CLI,
        "tickwire-threshold",
        "tickwire-moldudp64",
        "tickwire-itch",
        "tickwire-net",
    },
    # The FPGA design reads frames through the contract's tables (tickwire.threshold) and
    # pcaps with tickwire.net; its tests bring the codecs they need.
    "tickwire-fpga": {CLI, "tickwire-threshold", "tickwire-net"},
}

#: Deprecation shims of modules that moved to a distribution which depends on this one:
#: they import the new home only when a user imports the old path, and say what to install
#: when it is missing (tests: packages/engine/tests/test_engine_cli_plugins.py), so they
#: are no dependency. Folder -> the one distribution its files may import.
SHIMS: dict[str, str] = {
    "packages/engine/src/tickwire/engine/exchange": "tickwire-exchange",
}

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+")
_PYX_IMPORT = re.compile(r"^\s*(?:from|c?import)\s+tickwire\.(\w+)", re.M)


def _requirement_name(spec: str) -> str:
    match = _NAME.match(spec.strip())
    assert match, spec
    return match.group(0).lower()


class Package:
    def __init__(self, folder: Path) -> None:
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        self.folder = folder
        self.dist: str = project["name"]
        specs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            specs += extra
        self.requires = {_requirement_name(s) for s in specs} - {self.dist}
        self.modules = {p.name for p in (folder / "src" / "tickwire").iterdir() if p.is_dir()}


PACKAGES = [Package(p.parent) for p in sorted(ROOT.glob("packages/*/pyproject.toml"))]
BY_DIST = {p.dist: p for p in PACKAGES}
MODULE_TO_DIST = {m: p.dist for p in PACKAGES for m in p.modules}


def _tickwire_imports(path: Path) -> set[tuple[int, str]]:
    """(line, X) for every ``tickwire.X`` the file imports."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".pyx", ".pxd"):
        return {
            (text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _PYX_IMPORT.finditer(text)
        }
    found: set[tuple[int, str]] = set()

    def add(line: int, dotted: str | None) -> None:
        parts = (dotted or "").split(".")
        if parts[0] == "tickwire" and len(parts) > 1:
            found.add((line, parts[1]))

    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            if node.module == "tickwire":  # from tickwire import xdp
                for alias in node.names:
                    add(node.lineno, f"tickwire.{alias.name}")
            else:
                add(node.lineno, node.module)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if (
                name in ("import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                add(node.lineno, first.value)
    return found


def test_every_distribution_has_a_row() -> None:
    unknown = sorted(set(BY_DIST) - set(ALLOWED))
    assert not unknown, f"add {unknown} to ALLOWED with the edges issue #15 allows"


@pytest.mark.parametrize("package", PACKAGES, ids=[p.dist for p in PACKAGES])
def test_requires_dist_follows_the_allowed_edges(package: Package) -> None:
    tickwire = {d for d in package.requires if d.startswith("tickwire-")}
    extra = sorted(tickwire - ALLOWED[package.dist])
    assert not extra, f"{package.dist} may not depend on {extra} (issue #15's graph)"


def test_the_graph_has_no_cycle() -> None:
    def visit(dist: str, path: tuple[str, ...]) -> None:
        assert dist not in path, f"dependency cycle: {' -> '.join((*path, dist))}"
        for dep in sorted(BY_DIST[dist].requires & set(BY_DIST)):
            visit(dep, (*path, dist))

    for dist in BY_DIST:
        visit(dist, ())


@pytest.mark.parametrize("package", PACKAGES, ids=[p.dist for p in PACKAGES])
def test_source_imports_only_what_it_requires(package: Package) -> None:
    src = package.folder / "src"
    problems = []
    sources = [*src.rglob("*.py"), *src.rglob("*.pyx"), *src.rglob("*.pxd")]
    for path in sorted(sources):
        for line, module in sorted(_tickwire_imports(path)):
            dist = MODULE_TO_DIST.get(module)
            where = f"{path.relative_to(ROOT)}:{line}"
            if dist is None:
                problems.append(f"{where}: tickwire.{module} is no distribution's")
            elif SHIMS.get(path.parent.relative_to(ROOT).as_posix()) == dist:
                continue
            elif dist != package.dist and dist not in package.requires:
                problems.append(
                    f"{where}: imports tickwire.{module} ({dist}), not in the Requires-Dist "
                    f"of {package.dist}"
                )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("package", PACKAGES, ids=[p.dist for p in PACKAGES])
def test_every_tickwire_requirement_is_imported(package: Package) -> None:
    """The converse: a tickwire distribution in the Requires-Dist (dependencies and
    extras) that no source of the package imports is a dependency a user installs for
    nothing (tickwire-fpga listed tickwire-moldudp64 and never imported it)."""
    src = package.folder / "src"
    used = set()
    for path in [*src.rglob("*.py"), *src.rglob("*.pyx"), *src.rglob("*.pxd")]:
        used |= {MODULE_TO_DIST.get(module) for _, module in _tickwire_imports(path)}
    unused = sorted(d for d in package.requires if d.startswith("tickwire-") and d not in used)
    assert not unused, f"{package.dist} requires {unused} but its source never imports them"


def test_the_scanner_finds_lazy_and_dynamic_imports(tmp_path: Path) -> None:
    """The check would catch the cycle it was written for (a lazy import in a function)."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import importlib\n"
        "def f():\n"
        "    from tickwire.xdp.mirror import MirrorFeed\n"
        "    import tickwire.engine.cli\n"
        "    from tickwire import ouch\n"
        "    importlib.import_module('tickwire.exchange')\n"
        "    __import__('tickwire.net.frames')\n"
    )
    assert {m for _, m in _tickwire_imports(probe)} == {"xdp", "engine", "ouch", "exchange", "net"}
