"""``tickwire.cli.output``: ``--json [PATH|-]`` and outputs written whole or not at all."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import stat
from pathlib import Path

import pytest
from tickwire.cli import add_json_option, atomic_open, atomic_path, json_output, write_json


def _parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("file", nargs="?")
    p.add_argument("--lenient", action="store_true")
    add_json_option(p, "the counts")
    return p.parse_args(argv)


def test_json_option_values() -> None:
    assert _parse("f").json is None
    assert _parse("f", "--json").json == "-"
    assert _parse("f", "--json", "-").json == "-"
    assert _parse("f", "--json", "out.json").json == "out.json"
    assert _parse("f", "--json=out.json").json == "out.json"
    assert _parse("f", "--json", "--lenient").json == "-"  # an option is not its value


def test_write_json_to_stdout_and_to_a_file(tmp_path: Path) -> None:
    out = io.StringIO()
    write_json("-", {"a": 1}, stdout=out)
    assert json.loads(out.getvalue()) == {"a": 1}
    target = tmp_path / "s.json"
    write_json(str(target), {"a": 2}, indent=2)
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_a_failed_write_leaves_no_file_and_keeps_an_old_one(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), json_output(str(target)) as f:
        f.write("{half")
        raise RuntimeError("the input ended")
    assert list(tmp_path.iterdir()) == []
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_open(target) as f:
        f.write("new, half")
        raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_the_temporary_name_keeps_the_suffix_and_the_mode_is_a_plain_files(
    tmp_path: Path,
) -> None:
    target = tmp_path / "day.itch.gz"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith("day.itch.gz")
        assert tmp.name.startswith(".")
        tmp.write_bytes(gzip.compress(b"x"))
    assert gzip.decompress(target.read_bytes()) == b"x"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_a_device_is_written_in_place_and_a_directory_refused(tmp_path: Path) -> None:
    with atomic_path("/dev/null") as p:
        assert str(p) == "/dev/null"
    with pytest.raises(IsADirectoryError), atomic_path(tmp_path):
        pass


def test_a_missing_folder_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_path(tmp_path / "no" / "x.json"):
        pass
