"""Building the BPF object: cached by content, clear errors without a compiler."""

from __future__ import annotations

from pathlib import Path

import pytest
from tickwire.xdp.build import BuildError, object_path, source_files


def test_builds_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKWIRE_XDP_CACHE", str(tmp_path))
    first = object_path()
    assert first.parent == tmp_path and first.suffix == ".o"
    assert first.read_bytes()[:4] == b"\x7fELF"
    mtime = first.stat().st_mtime_ns
    assert object_path() == first and first.stat().st_mtime_ns == mtime  # not rebuilt
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no leftovers


def test_ships_its_source() -> None:
    files = source_files()
    assert b'SEC("xdp")' in files["tickwire_xdp.c"]
    assert b"struct tw_config" in files["tickwire_xdp.h"]


def test_missing_or_broken_compiler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKWIRE_XDP_CACHE", str(tmp_path))
    monkeypatch.setenv("TICKWIRE_CLANG", "/bin/false")
    with pytest.raises(BuildError, match="cannot run /bin/false"):
        object_path()
    monkeypatch.delenv("TICKWIRE_CLANG")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BuildError, match="clang not found"):
        object_path()


def test_prebuilt_for_the_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What setup.py does at wheel build: the object plus a stamp of the sources it came from."""
    import tickwire.xdp.build as build

    src = Path(build.__file__).parent / "bpf"
    obj = build.build_prebuilt(src, tmp_path)
    assert obj.read_bytes()[:4] == b"\x7fELF"
    assert (tmp_path / build.STAMP).read_text().strip() == build.sources_digest(source_files())
    # An editable install has no prebuilt object: the cache is used instead.
    monkeypatch.setenv("TICKWIRE_XDP_CACHE", str(tmp_path / "cache"))
    assert object_path().parent == tmp_path / "cache"
