"""Every code block in the READMEs and docs/ runs from a fresh checkout, or says why not.

The documents are README.md, packages/*/README.md and docs/*.md. Each fenced block is
classified by its language and by an HTML comment on the line right before the fence:

==================  ====================================================================
block               what the test does
==================  ====================================================================
``python``          runs it (``runpy``, as ``__main__``), unless marked ``not-run``
``console``,        runs it with bash (``set -euo pipefail``) when marked ``<!-- run -->``;
``bash``, ``sh``    with ``$ `` prompts only the prompted lines (and their ``\\``
                    continuations) are commands, the rest is their output
``toml``, ``json``  parses it (a config or a report shown must be valid)
``text``            a listing (a synopsis, output, a diagram): counted, not run
==================  ====================================================================

``<!-- file: NAME -->`` before a block also writes its text to ``NAME`` in the working
directory, for the blocks after it (a README shows ``threshold.toml``, then uses it).
``<!-- not-run: REASON -->`` keeps a block from running (it needs root and a NIC, a
cluster, a board, an install into the environment, a long run); the reason is required. A
console block with neither marker, or a block with no language, fails the test: nothing is
skipped silently. :func:`test_docs_blocks_are_accounted_for` prints the tally and every
block not run with its reason (``pytest -s``).

Each document's blocks run in order, as a reader would type them, in a directory holding a
copy of the repository's tracked files (``git ls-files``, as in a fresh clone; the
``data/`` samples and ``packages/engine/examples`` come with it), with the test's own
interpreter first on ``PATH`` as ``python``.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

_DOCS_PROFILE = "tickwire-docs-examples"
settings.register_profile(
    _DOCS_PROFILE, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted(
    [ROOT / "README.md", *ROOT.glob("packages/*/README.md"), *ROOT.glob("docs/*.md")]
)
SHELLS = {"console", "bash", "sh"}
LANGUAGES = {"python", "toml", "json", "text", *SHELLS}
#: Seconds one shell block may take (the whole test is meant to stay under two minutes).
SHELL_TIMEOUT = 120

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<lang>[\w+-]*)\s*$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<kind>run|not-run|file)\s*(?::\s*(?P<arg>.*?))?\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language, its marker (if any) and its text."""

    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    marker: str | None  # "run", "not-run" or "file"
    arg: str  # the not-run reason or the file name
    text: str

    @property
    def where(self) -> str:
        name = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{name}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of ``path`` in order, each with the marker on the line before it."""
    lines = path.read_text().split("\n")
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        start, body = i, []
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        marker = _MARKER.match(lines[start - 1]) if start > 0 else None
        found.append(
            Block(
                path=path,
                line=start + 1,
                lang=opening["lang"],
                marker=marker["kind"] if marker else None,
                arg=(marker["arg"] or "") if marker else "",
                text="\n".join(body) + "\n",
            )
        )
    return found


def problems(block: Block) -> list[str]:
    """Why ``block`` is not accounted for (empty when it runs, is checked or says why not)."""
    if block.lang not in LANGUAGES:
        return [f"{block.where}: a block needs a language, one of {sorted(LANGUAGES)}"]
    if block.marker == "not-run" and not block.arg:
        return [f"{block.where}: <!-- not-run: REASON --> needs its reason"]
    if block.marker == "run" and block.lang not in SHELLS:
        return [f"{block.where}: <!-- run --> is for console blocks ({block.lang} always runs)"]
    if block.lang in SHELLS and block.marker not in {"run", "not-run"}:
        return [
            f"{block.where}: a {block.lang} block is marked <!-- run --> or <!-- not-run: ... -->"
        ]
    return []


def shell_script(text: str) -> str:
    """The commands of a console block: all of it, or with ``$`` prompts only the prompted lines."""
    lines = text.rstrip("\n").split("\n")
    if not any(line.startswith("$ ") for line in lines):
        return text
    commands: list[str] = []
    continued = False
    for line in lines:
        if line.startswith("$ ") or continued:
            commands.append(line[2:] if line.startswith("$ ") and not continued else line)
            continued = line.rstrip().endswith("\\")
    return "\n".join(commands) + "\n"


#: What a checkout holds that a clone does not: the environment, build output, caches.
#: Skipped when the repository is not a git checkout (``.ci/run`` tests a copy without
#: ``.git``), where the copy is made by walking the tree instead of ``git ls-files``.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git",
    ".venv*",  # .venv and scripts/test.sh's .venv-3.12, .venv-3.13 (GBs each, per document)
    "site",
    "dist",
    "build",
    "out",
    "backtest-out",
    "__pycache__",
    "*.egg-info",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "*.so",
)


def test_a_copy_without_git_leaves_every_environment_behind() -> None:
    """scripts/test.sh makes one environment per Python (.venv, .venv-3.12, .venv-3.13).

    Copied into each document's clone they filled a 252 GB disk in one ``.ci/run``.
    """
    names = [".venv", ".venv-3.12", ".venv-3.13", "docs", "packages", "scripts"]
    assert sorted(NOT_IN_A_CLONE(str(ROOT), names)) == [".venv", ".venv-3.12", ".venv-3.13"]


def fresh_checkout(dest: Path) -> Path:
    """Copy the repository's tracked files (as in the working tree) to ``dest``."""
    if not (ROOT / ".git").exists():
        shutil.copytree(ROOT, dest, ignore=NOT_IN_A_CLONE, dirs_exist_ok=True)
        return dest
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():  # a file deleted in the working tree is not there
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


#: What a block prints, where its README shows it: (document, text in the block) -> lines
#: its standard output must contain.
EXPECTED_OUTPUT: dict[tuple[str, str], list[str]] = {
    ("packages/itch/README.md", "columnar.to_arrow"): [
        "2 ['stock_locate', 'tracking_number', 'timestamp', 'order_reference_number']"
        " [3000000, 3000100]"
    ],
    ("packages/itch/README.md", "# 5 {"): [
        "5 {'A': 1, 'D': 1, 'E': 1, 'S': 2}",
        "add 100 MSFT @ 300.0000",
    ],
    ("packages/net/README.md", "print(exc.reason, exc.offset)"): [
        "frame ends inside its IPv4 header 18"
    ],
    ("packages/fpga/README.md", "import"): ['"orders": 1', "0x54574650"],
    ("packages/exchange/README.md", "import"): ["R INVALID_SYMBOL", "{'AAPL': 200}"],
    ("docs/index.md", "itch.read("): ["12012 [('P', 5000), ('A', 4997)]"],
    ("docs/backtest.md", "expire_time=2"): ["accepted cancelled T 2 s later"],
}


def run_block(block: Block, cwd: Path, capsys: pytest.CaptureFixture[str]) -> str | None:
    """Run or check one block in ``cwd``; the failure, or None."""
    if block.marker == "file":
        (cwd / block.arg).write_text(block.text)
    if block.marker == "not-run" or block.lang == "text":
        return None
    if block.lang == "toml":
        try:
            tomllib.loads(block.text)
        except tomllib.TOMLDecodeError as exc:
            return f"{block.where}: not valid TOML: {exc}"
        return None
    if block.lang == "json":
        try:
            json.loads(block.text)
        except json.JSONDecodeError as exc:
            return f"{block.where}: not valid JSON: {exc}"
        return None
    if block.lang in SHELLS:
        env = dict(os.environ)
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        try:
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", shell_script(block.text)],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=SHELL_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            return f"{block.where}: did not finish in {SHELL_TIMEOUT} s"
        if done.returncode != 0:
            return (
                f"{block.where}: exit {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        return None
    script = cwd / f"block_{block.line}.py"
    script.write_text(block.text)
    capsys.readouterr()
    # An example's hypothesis tests run without the per-example deadline and the
    # too-slow check: they prove the example works, not how fast data is drawn on a
    # loaded machine (a 2-worker run flaked on the itch README's under load).
    settings.load_profile(_DOCS_PROFILE)
    try:
        runpy.run_path(str(script), run_name="__main__")
    except BaseException as exc:  # SystemExit included: an example that exits has failed
        return f"{block.where}: {type(exc).__name__}: {exc}"
    finally:
        settings.load_profile("default")
    out = capsys.readouterr().out
    document = str(block.path.relative_to(ROOT))
    for (doc, needle), wanted in EXPECTED_OUTPUT.items():
        if doc == document and needle in block.text:
            missing = [line for line in wanted if line not in out]
            if missing:
                return f"{block.where}: printed {out!r}, not {missing}"
    return None


@pytest.fixture(scope="session")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_checkout(tmp_path_factory.mktemp("checkout"))


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_document_blocks_run(
    path: Path,
    checkout: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    found = blocks(path)
    unaccounted = [problem for block in found for problem in problems(block)]
    assert not unaccounted, "\n".join(unaccounted)
    cwd = shutil.copytree(checkout, tmp_path / "clone")
    monkeypatch.chdir(cwd)
    monkeypatch.syspath_prepend(str(cwd))
    failures = [
        failure for block in found if (failure := run_block(block, cwd, capsys)) is not None
    ]
    assert not failures, "\n\n".join(failures)


def test_docs_blocks_are_accounted_for(capsys: pytest.CaptureFixture[str]) -> None:
    """The tally of every block, and the list of blocks not run with their reasons."""
    tally: dict[str, int] = {}
    not_run: list[str] = []
    for path in DOCUMENTS:
        for block in blocks(path):
            if block.marker == "not-run":
                kind = "not run"
                not_run.append(f"{block.where} ({block.lang}): {block.arg}")
            elif block.lang in {"toml", "json"}:
                kind = "parsed"
            elif block.lang == "text":
                kind = "listing"
            else:
                kind = "run"
            tally[kind] = tally.get(kind, 0) + 1
    with capsys.disabled():
        print(f"\ndocs blocks: {tally}")
        print("\n".join(f"  not run: {line}" for line in not_run))
    assert tally.get("run", 0) >= 30  # the examples are really run, not all marked away


def test_unaccounted_blocks_fail(tmp_path: Path) -> None:
    """A block with no language, an unmarked console block, a reason-less not-run fail."""
    doc = tmp_path / "doc.md"
    doc.write_text(
        "```\nls\n```\n\n```console\nls\n```\n\n<!-- not-run: -->\n```python\nx\n```\n\n"
        "<!-- not-run: needs a board -->\n```console\nflash\n```\n\n"
        "<!-- run -->\n```console\n$ echo a \\\n    b\na b\n$ true\n```\n"
    )
    found = blocks(doc)
    assert [(b.lang, b.marker, b.arg) for b in found] == [
        ("", None, ""),
        ("console", None, ""),
        ("python", "not-run", ""),
        ("console", "not-run", "needs a board"),
        ("console", "run", ""),
    ]
    assert [bool(problems(b)) for b in found] == [True, True, True, False, False]
    assert "needs a language" in problems(found[0])[0]
    assert shell_script(found[4].text) == "echo a \\\n    b\ntrue\n"
    assert shell_script("echo a  # comment\n") == "echo a  # comment\n"
