"""Every package with a command line (``python -m tickwire.NAME``) also installs it as a
console script, ``tickwire-NAME``, whose target is the same ``main`` (issue #15), and
registers that ``main`` as ``tickwire NAME`` (the ``tickwire.commands`` entry points,
issue #18). tickwire-cli's own is the ``tickwire`` command itself."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[1] / "packages"
WITH_MAIN = sorted(p.parents[3] for p in PACKAGES.glob("*/src/tickwire/*/__main__.py"))


def test_the_packages_with_a_command_line_are_found() -> None:
    assert len(WITH_MAIN) >= 9


@pytest.mark.parametrize("package", WITH_MAIN, ids=lambda p: p.name)
def test_each_command_line_is_a_console_script(package: Path) -> None:
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    (module_dir,) = (package / "src" / "tickwire").iterdir()
    scripts = project.get("scripts", {})
    if module_dir.name == "cli":
        assert scripts == {"tickwire": "tickwire.cli.main:main"}
        return
    name = f"tickwire-{module_dir.name}"
    assert name in scripts, (
        f"{project['name']} has python -m tickwire.{module_dir.name} but no {name} script"
    )
    module, _, attr = scripts[name].partition(":")
    assert module.startswith(f"tickwire.{module_dir.name}")
    assert callable(getattr(importlib.import_module(module), attr))
    commands = project.get("entry-points", {}).get("tickwire.commands", {})
    assert commands == {module_dir.name: scripts[name]}, (
        f"{project['name']}: register its main as `tickwire {module_dir.name}`"
    )
