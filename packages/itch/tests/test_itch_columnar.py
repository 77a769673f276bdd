"""Columnar output (tickwire.itch.columnar) and ``python -m tickwire.itch convert``.

The references: :func:`tickwire.itch.decode` of each message (hypothesis), the pure
builder for the compiled one (same tables, any bytes), ``dump --json`` on the real
sample, and the readers' own errors for damaged input.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.itch import columnar, fastpath
from tickwire.itch.cli import main
from tickwire.itch.convert import table_filename
from tickwire.itch.layouts import LAYOUTS, FieldKind
from tickwire.itch.messages import MESSAGE_LENGTHS, DecodeError, Message, decode
from tickwire.itch.strategies import messages
from tickwire.itch.writer import BinaryFileWriter

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
IMPLEMENTATIONS = ["pure", "cython"]


@pytest.fixture(params=IMPLEMENTATIONS)
def impl(request: pytest.FixtureRequest) -> columnar.Implementation:
    if request.param == "cython" and fastpath.COMPILED is None:
        pytest.skip(f"compiled fast path not in use: {fastpath.UNAVAILABLE_REASON}")
    return request.param  # type: ignore[no-any-return]


def binaryfile(msgs: list[Message | bytes]) -> bytes:
    buf = io.BytesIO()
    with BinaryFileWriter(buf) as w:
        w.write_all(msgs)
    return buf.getvalue()


def row_of(msg: Message) -> dict[str, Any]:
    """What a table row must hold for a decoded message: every field, text as str."""
    return {
        f.name: (str(v) if isinstance(v := getattr(msg, f.name), str) else v)
        for f in dataclasses.fields(msg)
    }


def rows(tables: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {t: table.to_pylist() for t, table in tables.items()}


def wire_messages() -> st.SearchStrategy[bytes]:
    """Any valid message bytes (every code byte, latin-1 text, any integers)."""
    letters = sorted(MESSAGE_LENGTHS)
    return st.sampled_from(letters).flatmap(
        lambda t: st.binary(min_size=MESSAGE_LENGTHS[t] - 1, max_size=MESSAGE_LENGTHS[t] - 1).map(
            lambda body, t=t: t.encode() + body
        )
    )


# ------------------------------------------------------------------------------ schema


def test_schema_is_the_layout_table() -> None:
    kinds = {
        FieldKind.U16: pa.uint16(),
        FieldKind.U32: pa.uint32(),
        FieldKind.U64: pa.uint64(),
        FieldKind.TS48: pa.uint64(),
        FieldKind.CODE: pa.string(),
        FieldKind.ALPHA: pa.string(),
    }
    for letter, wire in LAYOUTS.items():
        sch = columnar.schema(letter)
        expected = [(f.name, kinds[f.kind]) for f in wire if f.kind is not FieldKind.TYPE]
        assert [(f.name, f.type) for f in sch] == expected, letter
        assert sch.metadata[b"itch_message_type"] == letter.encode()
    with pytest.raises(ValueError, match=r"not an ITCH 5\.0 message type"):
        columnar.schema("?")


# ------------------------------------------------------------------------------ round trips


@SETTINGS
@given(st.lists(messages(), min_size=1, max_size=40))
def test_round_trip_equals_decode_of_each_message(msgs: list[Message]) -> None:
    data = binaryfile(list(msgs))
    expected: dict[str, list[dict[str, Any]]] = {}
    for m in msgs:
        expected.setdefault(m.message_type, []).append(row_of(decode(fastpath.encode(m))))
    for impl in IMPLEMENTATIONS:
        if impl == "cython" and fastpath.COMPILED is None:
            continue
        got = rows(columnar.to_arrow(data, implementation=impl))  # type: ignore[arg-type]
        assert got == {t: expected[t] for t in sorted(expected, key=ord)}, impl


@pytest.mark.skipif(fastpath.COMPILED is None, reason="compiled fast path not in use")
@SETTINGS
@given(
    st.lists(wire_messages(), min_size=1, max_size=60),
    st.sampled_from([64, 97, 1 << 20]),
    st.booleans(),
)
def test_compiled_equals_pure_for_any_bytes(bodies: list[bytes], chunk: int, gzipped: bool) -> None:
    """Every code byte and every latin-1 character (0x80.. become two UTF-8 bytes), in
    chunks that cut frames anywhere, gzipped or not: the same tables as the oracle."""
    data = binaryfile(list(bodies))
    if gzipped:
        data = gzip.compress(data)
    tables = {}
    for impl in IMPLEMENTATIONS:
        tables[impl] = dict(
            (t, pa.Table.from_batches(bs, schema=columnar.schema(t)))
            for t, bs in _group(
                columnar.iter_batches(io.BytesIO(data), implementation=impl, chunk_size=chunk)  # type: ignore[arg-type]
            ).items()
        )
    assert tables["pure"].keys() == tables["cython"].keys()
    for t in tables["pure"]:
        assert tables["cython"][t].equals(tables["pure"][t]), t
    assert rows(tables["cython"]) == rows(
        {t: pa.Table.from_pylist([row_of(decode(b)) for b in bodies if b[:1] == t.encode()],
                                 schema=columnar.schema(t)) for t in tables["pure"]}
    )  # fmt: skip


def _group(batches: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for t, b in batches:
        out.setdefault(t, []).append(b)
    return out


@SETTINGS
@given(st.lists(wire_messages(), min_size=1, max_size=30), st.binary(min_size=1, max_size=5))
def test_framed_messages_equal_the_file_path(bodies: list[bytes], junk: bytes) -> None:
    """messages_to_arrow (a capture's messages) gives the tables of the same messages in a
    BinaryFILE; unknown types are skipped and counted."""
    unknown = b"z" + junk
    for impl in IMPLEMENTATIONS:
        if impl == "cython" and fastpath.COMPILED is None:
            continue
        stats = fastpath.FrameStats()
        got = columnar.messages_to_arrow(
            [*bodies, unknown],
            implementation=impl,  # type: ignore[arg-type]
            stats=stats,
        )
        want = columnar.to_arrow(binaryfile(list(bodies)), implementation="pure")
        assert got.keys() == want.keys()
        assert all(got[t].equals(want[t]) for t in got), impl
        assert (stats.messages, stats.skipped) == (len(bodies), 1)


def test_real_sample_equals_dump_json(real_file: Path, impl: columnar.Implementation) -> None:
    out = io.StringIO()
    assert main(["dump", str(real_file), "--json"], out=out) == 0
    dumped: dict[str, list[dict[str, Any]]] = {}
    for line in out.getvalue().splitlines():
        obj = json.loads(line)
        letter = obj.pop("type")
        obj.pop("name")
        dumped.setdefault(letter, []).append(obj)
    stats = fastpath.FrameStats()
    tables = columnar.to_arrow(real_file, implementation=impl, stats=stats)
    assert sum(t.num_rows for t in tables.values()) == 12_012 == stats.messages
    assert stats.length_fixups == 12_012
    assert rows(tables) == {t: dumped[t] for t in sorted(dumped, key=ord)}


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[:-5],  # truncated tail
        lambda d: d[:40] + b"\x00\x00z" + d[40:],  # unknown type, zero prefix
        lambda d: gzip.compress(d)[:-30],  # cut gzip
    ],
)
def test_damaged_input_raises_the_readers_error(
    real_bytes: bytes, impl: columnar.Implementation, damage: Any
) -> None:
    data = damage(real_bytes)
    with pytest.raises(DecodeError) as want:
        list(fastpath.PURE.decode_binaryfile(data))
    with pytest.raises(DecodeError) as got:
        columnar.to_arrow(data, implementation=impl)
    assert str(got.value) == str(want.value)


def test_framed_message_too_short_raises(impl: columnar.Implementation) -> None:
    with pytest.raises(DecodeError, match="message type 'A'"):
        columnar.messages_to_arrow([b"A" + bytes(10)], implementation=impl)


def test_frames(real_file: Path) -> None:
    pl = pytest.importorskip("polars")
    pytest.importorskip("pandas")
    frames = columnar.to_polars(real_file)
    assert isinstance(frames["A"], pl.DataFrame)
    assert frames["A"].height == 4997
    assert frames["A"]["price"].dtype == pl.UInt32
    pdf = columnar.to_pandas(real_file)
    assert len(pdf["P"]) == 5000
    assert str(pdf["A"]["timestamp"].dtype) == "uint64"
    assert pdf["A"]["stock"].iloc[0] == frames["A"]["stock"][0]


# ------------------------------------------------------------------------------ convert


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_convert_writes_one_parquet_per_type(real_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    stale = out / "Q_CrossTrade.parquet"  # an earlier run's type this day lacks
    stale.write_bytes(b"old")
    status, text = run("convert", str(real_file), "--parquet", str(out), "--json", "--no-series")
    assert status == 0
    summary = json.loads(text)
    assert summary["messages"] == 12_012
    assert not stale.exists()
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(summary["files"])
    assert "A_AddOrder.parquet" in names and not any(n.endswith(".part") for n in names)
    tables = columnar.to_arrow(real_file)
    for letter, table in tables.items():
        name = table_filename(letter)
        assert pq.read_table(out / name).equals(table), letter
        assert summary["files"][name]["rows"] == table.num_rows
    status, text = run("convert", str(real_file), "--parquet", str(out), "--no-series")
    assert status == 0 and "12,012 messages" in text and "A_AddOrder.parquet" in text


def test_convert_bad_input(
    real_bytes: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.itch"
    cut.write_bytes(real_bytes[:-5])
    cut_gz = tmp_path / "cut.itch.gz"
    cut_gz.write_bytes(gzip.compress(real_bytes)[:-30])
    empty = tmp_path / "empty.itch"
    empty.write_bytes(b"")
    out = tmp_path / "out"
    capsys.readouterr()
    for argv, status, needle in (
        (["convert", str(cut), "--parquet", str(out)], 1, "truncated frame"),
        (["convert", str(cut_gz), "--parquet", str(out)], 1, "gzip"),
        (["convert", str(empty), "--parquet", str(out)], 2, "empty file"),
        (["convert", str(tmp_path / "nope"), "--parquet", str(out)], 2, "no such file"),
        (["convert", str(cut)], 2, "--parquet"),
        (["convert", str(cut), "--parquet", str(out), "--compression", "lz77"], 2, "invalid choice"),
    ):  # fmt: skip
        assert run(*argv)[0] == status, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err
        (line,) = [x for x in err.splitlines() if "error:" in x]
        assert needle in line, (argv, line)
        # Nothing half-written is left behind, nor the folder the run created.
        assert not out.exists()
    # A folder that was there stays, with what it held.
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert run("convert", str(cut), "--parquet", str(out))[0] == 1
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_sinks_need_the_compiled_builder(real_bytes: bytes) -> None:
    """Message sinks are fed in C by the compiled builder; asking the pure one for them
    is a one-line error, not a silently unfed sink."""
    with pytest.raises(ValueError, match="sinks need the compiled column builder"):
        columnar.iter_batches(real_bytes, implementation="pure", sinks=[object()])
    with pytest.raises(ValueError, match="sinks need the compiled column builder"):
        columnar.iter_message_batches([], implementation="pure", sinks=[object()])
