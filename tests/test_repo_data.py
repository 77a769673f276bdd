"""The real test data ship inside the repository (``data/``, see ``data/PROVENANCE.md``).

Every file there is pinned by ``data/SHA256SUMS``: a changed, missing or unlisted file
fails this module (missing data fail, they never skip). The last test keeps the rule that
nothing in the checkout reads data from beside it: no test, benchmark, doc example or
script names the folder the data used to come from.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SUMS = DATA / "SHA256SUMS"

#: Files in data/ that are notes about the data, not data (not listed in SHA256SUMS).
NOTES = {"PROVENANCE.md", "SHA256SUMS", ".gitattributes"}


def _listed() -> dict[str, str]:
    """``relative path -> sha256`` from SHA256SUMS (``sha256sum`` output format)."""
    out: dict[str, str] = {}
    for line in SUMS.read_text().splitlines():
        digest, _, name = line.partition("  ")
        assert re.fullmatch(r"[0-9a-f]{64}", digest), f"bad SHA256SUMS line: {line!r}"
        out[name] = digest
    return out


def test_the_data_folder_has_its_provenance_and_sums() -> None:
    assert (DATA / "PROVENANCE.md").is_file(), "data/PROVENANCE.md missing"
    assert SUMS.is_file(), "data/SHA256SUMS missing"
    listed = _listed()
    assert "itch/ex20101224.TEST_ITCH_50" in listed
    assert sum(name.startswith("pcap/nasdaq-itch50/") for name in listed) == 8


@pytest.mark.parametrize("name", sorted(_listed()))
def test_every_listed_file_matches_its_sum(name: str) -> None:
    path = DATA / name
    assert path.is_file(), f"data/{name} is listed in data/SHA256SUMS but missing"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == _listed()[name], (
        f"data/{name} differs from its SHA256SUMS line"
    )


def test_every_data_file_is_listed() -> None:
    present = {
        p.relative_to(DATA).as_posix()
        for p in DATA.rglob("*")
        if p.is_file() and p.name not in NOTES
    }
    assert present - set(_listed()) == set(), "files in data/ without a SHA256SUMS line"


#: Folders that are not the project's own text (environments, caches, build output).
_SKIP_DIRS = {".git", ".venv", "build", "dist", "out", "backtest-out", "node_modules"}
#: The spellings a path to the old sibling data folder took, also split over lines (built
#: from pieces so that this file does not match itself).
_OLD = re.compile(
    "|".join(
        [
            re.escape("../" + "shared"),
            re.escape('"shared"') + r"\s*/\s*" + re.escape('"data"'),
            re.escape("shared" + "/data"),
        ]
    )
)


def _project_text_files() -> list[Path]:
    out = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [
            d
            for d in dirs
            if d not in _SKIP_DIRS
            and not d.endswith(".egg-info")
            and (d == ".ci" or not d.startswith("."))
        ]
        for name in files:
            path = Path(folder) / name
            if path.suffix in {".py", ".md", ".sh", ".toml", ".pyx", ".c", ".h", ""}:
                out.append(path)
    return out


def test_nothing_reads_data_from_beside_the_checkout() -> None:
    offenders = []
    for path in _project_text_files():
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        for match in _OLD.finditer(text):
            number = text.count("\n", 0, match.start()) + 1
            offenders.append(f"{path.relative_to(ROOT)}:{number}: {match.group()!r}")
    assert offenders == [], "use data/ in the repository:\n" + "\n".join(offenders)
