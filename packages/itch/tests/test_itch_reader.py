"""BinaryFILE framing rules, errors, lenient mode, gzip, streaming and the writer."""

from __future__ import annotations

import gzip
import io
import logging
import tracemalloc
from pathlib import Path

import pytest
import tickwire.itch as itch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.itch import (
    AddOrder,
    BinaryFileReader,
    BinaryFileWriter,
    DecodeError,
    EncodeError,
    OrderDelete,
    SystemEvent,
    encode,
    iter_raw,
    read,
)
from tickwire.itch.strategies import messages, streams

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MSGS = [
    SystemEvent(0, 0, 1, "O"),
    AddOrder(1, 0, 2, 10, "B", 100, "AAPL", 1_500_000),
    OrderDelete(1, 0, 3, 10),
    SystemEvent(0, 0, 4, "C"),
]


def frame(raw: bytes, prefix: int | None = None) -> bytes:
    return (len(raw) if prefix is None else prefix).to_bytes(2, "big") + raw


def framed(msgs: list[itch.Message], prefix: int | None = None) -> bytes:
    return b"".join(frame(encode(m), prefix) for m in msgs)


class NonSeekable(io.RawIOBase):
    """A pipe-like stream: read only, no seek, short reads."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data = data
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), self._step, len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_correct_prefixes() -> None:
    reader = read(framed(MSGS))
    assert list(reader) == MSGS
    s = reader.stats
    assert (s.messages, s.length_fixups, s.skipped) == (4, 0, 0)
    assert s.by_type == {"A": 1, "D": 1, "S": 2}


@pytest.mark.parametrize("prefix", [0, 1, 5, 200, 0xFFFF])
def test_zero_or_wrong_prefix_uses_the_type_length(prefix: int) -> None:
    reader = read(framed(MSGS, prefix))
    assert list(reader) == MSGS
    assert reader.stats.length_fixups == 4


def test_unknown_type_is_skipped_by_its_prefix() -> None:
    data = frame(encode(MSGS[0])) + frame(b"z" + b"payload of a future type") + framed(MSGS[1:])
    reader = read(data)
    assert list(reader) == MSGS
    assert reader.stats.skipped == 1
    assert reader.stats.skipped_by_type == {"z": 1}
    assert reader.stats.messages == 4


def test_unknown_type_with_zero_prefix_is_an_error_with_offset() -> None:
    bad = frame(encode(MSGS[0])) + b"\x00\x00z" + bytes(30)
    with pytest.raises(DecodeError) as info:
        list(read(bad))
    assert info.value.offset == 14  # after one 2+12-byte frame
    assert info.value.message_type == "z"


@pytest.mark.parametrize("cut", [1, 2, 3, 10, 35])
def test_truncated_tail_raises_with_offset_and_type(cut: int) -> None:
    data = framed(MSGS[:2])
    partial = data[: 14 + cut]  # the A frame is 38 bytes; cut inside it
    with pytest.raises(DecodeError) as info:
        list(read(partial))
    assert info.value.offset == 14
    assert info.value.message_type == ("A" if cut >= 3 else None)
    assert "truncated" in info.value.reason


def test_truncated_unknown_frame_raises() -> None:
    data = frame(encode(MSGS[0])) + frame(b"z" + bytes(50))[:20]
    with pytest.raises(DecodeError) as info:
        list(read(data))
    assert info.value.offset == 14


def test_lenient_reports_counts_and_continues(caplog: pytest.LogCaptureFixture) -> None:
    data = framed(MSGS[:2]) + b"\x00\x00zzzz" + framed(MSGS[2:]) + b"\x00\x24A\x00"
    with caplog.at_level(logging.WARNING, logger="tickwire.itch"):
        reader = read(data, lenient=True)
        got = list(reader)
    assert got == MSGS
    s = reader.stats
    assert s.error_count == 2
    assert [e.message_type for e in s.errors] == ["z", "A"]
    assert s.errors[0].offset == len(framed(MSGS[:2]))
    assert s.garbage_bytes == 6 + 4
    assert len([r for r in caplog.records if "tickwire.itch" in r.getMessage()]) == 2
    with pytest.raises(DecodeError):
        list(read(data))


def test_sources_path_bytes_file_gzip(tmp_path: Path) -> None:
    data = framed(MSGS, prefix=0)
    zipped = gzip.compress(data)
    plain_path = tmp_path / "day.itch"
    gz_path = tmp_path / "day.itch.gz"
    plain_path.write_bytes(data)
    gz_path.write_bytes(zipped)
    sources: list[object] = [
        data,
        bytearray(data),
        memoryview(data),
        zipped,
        plain_path,
        str(gz_path),
        io.BytesIO(data),
        io.BytesIO(zipped),
        NonSeekable(data),
        NonSeekable(zipped),
    ]
    for source in sources:
        with read(source) as reader:  # type: ignore[arg-type]
            assert list(reader) == MSGS, source
            assert reader.stats.length_fixups == 4


def test_caller_file_objects_stay_open(tmp_path: Path) -> None:
    f = io.BytesIO(gzip.compress(framed(MSGS)))
    assert list(read(f)) == MSGS
    assert not f.closed
    path = tmp_path / "x.itch"
    path.write_bytes(framed(MSGS))
    with path.open("rb") as g:
        assert list(read(g)) == MSGS
        assert not g.closed


def test_reader_is_single_pass() -> None:
    reader = read(framed(MSGS))
    list(reader)
    with pytest.raises(RuntimeError):
        list(reader)


def test_iter_raw_offsets_and_bytes() -> None:
    data = framed(MSGS, prefix=0)
    got = list(iter_raw(data))
    offsets = [0, 14, 14 + 38, 14 + 38 + 21]
    assert [o for o, _ in got] == offsets
    assert [raw for _, raw in got] == [encode(m) for m in MSGS]
    reader = BinaryFileReader(data)
    assert list(reader.iter_raw()) == got
    assert reader.stats.length_fixups == 4


@SETTINGS
@given(streams(), st.integers(64, 300), st.sampled_from([None, 0]))
def test_streams_survive_any_chunking(
    msgs: list[itch.Message], chunk: int, prefix: int | None
) -> None:
    data = framed(msgs, prefix)
    reader = BinaryFileReader(io.BytesIO(data), chunk_size=chunk)
    assert list(reader) == msgs
    assert reader.stats.messages == len(msgs)
    assert reader.stats.bytes_read == len(data)
    raw = list(BinaryFileReader(io.BytesIO(data), chunk_size=chunk).iter_raw())
    assert [r for _, r in raw] == [encode(m) for m in msgs]


@SETTINGS
@given(st.lists(messages(valid_codes=False), max_size=20))
def test_writer_reader_round_trip(msgs: list[itch.Message]) -> None:
    out = io.BytesIO()
    with BinaryFileWriter(out) as w:
        assert w.write_all(msgs) == len(msgs)
    assert not out.closed
    assert list(read(out.getvalue())) == msgs


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    for lenient in (False, True):
        reader = read(data, lenient=lenient)
        try:
            for msg in reader:
                assert isinstance(msg, itch.Message)
        except DecodeError as exc:  # lenient mode raises only for a stream refused whole:
            # a capture, or another compressed format (refuse_capture)
            assert not lenient or (exc.offset == 0 and ", not a BinaryFILE" in exc.reason)
            assert 0 <= exc.offset < len(data)
        assert reader.stats.bytes_read <= len(data)


def test_writer_gzip_and_raw_bytes(tmp_path: Path) -> None:
    path = tmp_path / "out.itch.gz"
    with BinaryFileWriter(path) as w:
        for m in MSGS:
            w.write(encode(m))
        w.write(b"z123")  # unknown types pass through as given
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    reader = read(path)
    assert list(reader) == MSGS
    assert reader.stats.skipped == 1
    with pytest.raises(EncodeError):
        BinaryFileWriter(io.BytesIO()).write(b"A123")  # wrong length for A
    with pytest.raises(EncodeError):
        BinaryFileWriter(io.BytesIO()).write(b"")
    with pytest.raises(EncodeError):
        BinaryFileWriter(io.BytesIO()).write(b"z" * 70_000)


def test_streaming_memory_is_bounded() -> None:
    # ~40 MB through a file object, mostly big unknown-type frames (cheap to trace), some
    # real messages: peak allocations stay near a couple of 1 MiB chunks.
    one = frame(b"z" + bytes(60_000)) + framed(MSGS)
    copies = 40_000_000 // len(one)

    class Repeating(io.RawIOBase):
        def __init__(self) -> None:
            self.left = copies

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
            if not self.left:
                return 0
            self.left -= 1
            buffer[: len(one)] = one
            return len(one)

    stream = io.BufferedReader(Repeating(), buffer_size=len(one))
    tracemalloc.start()
    try:
        reader = read(stream)
        n = sum(1 for _ in reader)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == copies * len(MSGS)
    assert reader.stats.skipped == copies
    assert peak < 8 * 1024 * 1024, peak


CAPTURE_HEADS = [
    b"\xd4\xc3\xb2\xa1",  # classic pcap, microseconds, little-endian
    b"\xa1\xb2\xc3\xd4",  # the same, big-endian
    b"\x4d\x3c\xb2\xa1",  # nanoseconds, little-endian
    b"\xa1\xb2\x3c\x4d",  # nanoseconds, big-endian
    b"\x0a\x0d\x0d\x0a",  # pcapng section header block
]


@pytest.mark.parametrize("head", CAPTURE_HEADS, ids=lambda h: h.hex())
@pytest.mark.parametrize("form", ["bytes", "path", "gzip", "file"])
def test_a_capture_is_refused_not_framed(tmp_path: Path, head: bytes, form: str) -> None:
    """A stream that starts like a pcap or pcapng file is not a BinaryFILE: every framer
    says so at offset 0, lenient mode too. On the old code strict mode failed somewhere
    inside with a framing error and lenient mode counted "messages" found in its bytes."""
    from tickwire.itch import fastpath

    data = head + bytes(20) + b"".join(frame(encode(m)) for m in MSGS) * 50

    def source() -> object:
        if form == "bytes":
            return data
        path = tmp_path / ("cap.gz" if form == "gzip" else "cap")
        path.write_bytes(gzip.compress(data) if form == "gzip" else data)
        return str(path) if form != "file" else path.open("rb")

    readers = [
        lambda s: list(read(s)),
        lambda s: list(read(s, lenient=True)),
        lambda s: list(iter_raw(s)),
        *(
            (lambda s, c=codec: list(c.decode_binaryfile(s, chunk_size=64)))
            for codec in (fastpath.PURE, fastpath.COMPILED)
            if codec is not None
        ),
    ]
    for reader in readers:
        src = source()
        with pytest.raises(DecodeError, match="a pcap or pcapng capture, not a BinaryFILE") as e:
            reader(src)
        assert e.value.offset == 0
        if isinstance(src, io.IOBase):
            src.close()


def test_a_binaryfile_is_not_taken_for_a_capture() -> None:
    """The rule looks at the stream's first four bytes only: the same bytes later on, in
    an unknown type's frame, are skipped as before."""
    body = b"\x0a\x0d\x0d\x0a" + b"?" * 10
    data = (
        b"".join(frame(encode(m)) for m in MSGS[:1]) + frame(b"Z" + body) + frame(encode(MSGS[1]))
    )
    assert list(read(data)) == MSGS[:2]


def _compressed_heads() -> dict[str, bytes]:
    import bz2
    import lzma
    import zipfile

    day = b"".join(frame(encode(m)) for m in MSGS) * 50
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("day.itch", day)
    return {
        "gzip": gzip.compress(gzip.compress(day)),  # a gzip inside a gzip
        "xz": lzma.compress(day),
        "bzip2": bz2.compress(day),
        "zstd": b"\x28\xb5\x2f\xfd" + bytes(100),  # the magic is what is read
        "zip": zipped.getvalue(),
        "lz4": b"\x04\x22\x4d\x18" + bytes(100),
    }


@pytest.mark.parametrize("kind", list(_compressed_heads()))
def test_a_compressed_file_other_than_gzip_is_named_not_framed(kind: str) -> None:
    """A BinaryFILE compressed by another tool than gzip (or gzipped twice) is framed as
    ITCH by no reader: every framer says what it is at offset 0 (they framed the
    compressed bytes, skipping "unknown types" by whatever prefix they met, and said
    ``truncated frame at end of stream ... at byte offset 119886``, a damaged day)."""
    from tickwire.itch import fastpath

    data = _compressed_heads()[kind]
    what = {"gzip": "a gzip inside a gzip", "xz": "an xz-compressed file"}.get(
        kind, f"a {kind}-compressed file"
    )
    readers = [
        lambda s: list(read(s)),
        lambda s: list(read(s, lenient=True)),
        *(
            (lambda s, c=codec: list(c.decode_binaryfile(s, chunk_size=64)))
            for codec in (fastpath.PURE, fastpath.COMPILED)
            if codec is not None
        ),
    ]
    for reader in readers:
        with pytest.raises(DecodeError, match=f"^{what}, not a BinaryFILE") as e:
            reader(data)
        assert e.value.offset == 0
