"""The fast path (Cython extension and its pure-Python fallback) against the construct table.

Every test runs on both implementations through the ``codec`` fixture; the compiled one is
skipped (only it) when the extension is not built. The reference is always
``decode_construct`` / ``encode_construct``: construct running the one wire table.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import shutil
import subprocess
import sys
import sysconfig
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.itch import fastpath
from tickwire.itch.messages import (
    MESSAGE_CLASSES,
    MESSAGE_LENGTHS,
    AddOrder,
    DecodeError,
    EncodeError,
    Message,
    decode_construct,
    encode_construct,
)
from tickwire.itch.reader import BinaryFileReader, read
from tickwire.itch.strategies import messages, streams

HOT_TYPES = "AFECXDUP"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", params=["pure", "cython"])
def codec(request: pytest.FixtureRequest) -> fastpath.Codec:
    if request.param == "pure":
        return fastpath.PURE
    if fastpath.COMPILED is None:
        pytest.skip(f"compiled fast path not in use: {fastpath.UNAVAILABLE_REASON}")
    return fastpath.COMPILED


def wire_messages(types: str | None = None) -> st.SearchStrategy[bytes]:
    """Any valid message as bytes: the type byte, then any bytes of the right length.

    Every byte string of a known type's length is a valid ITCH message to this codec
    (unknown code values are preserved, Alpha fields are latin-1), so this reaches every
    field value the wire can carry, including codes no spec lists.
    """
    letters = sorted(types or MESSAGE_LENGTHS)
    return st.sampled_from(letters).flatmap(
        lambda t: st.binary(min_size=MESSAGE_LENGTHS[t] - 1, max_size=MESSAGE_LENGTHS[t] - 1).map(
            lambda body: t.encode("latin-1") + body
        )
    )


def same(a: Message, b: Message) -> None:
    """Equal, and equal all the way down: same class, same value types (enum members
    where the pure path gives enum members, plain str where it gives plain str)."""
    assert type(a) is type(b)
    assert a == b
    for name in names(a):
        va, vb = getattr(a, name), getattr(b, name)
        assert type(va) is type(vb), name
        assert va == vb, name


def names(msg: Message) -> list[str]:
    return [f.name for f in dataclasses.fields(msg)]


def frame(body: bytes, prefix: int | None = None) -> bytes:
    return (len(body) if prefix is None else prefix).to_bytes(2, "big") + body


# ----------------------------------------------------------------------------- selection


def test_fastpath_reports_what_it_uses() -> None:
    assert (fastpath.COMPILED is not None) is fastpath.AVAILABLE
    assert fastpath.DEFAULT is (fastpath.COMPILED or fastpath.PURE)
    assert (fastpath.UNAVAILABLE_REASON is None) == fastpath.AVAILABLE
    assert fastpath.decode is fastpath.DEFAULT.decode


def test_tickwire_pure_forces_the_fallback() -> None:
    code = (
        "import tickwire.itch.fastpath as f, tickwire.itch.messages as m;"
        "assert not f.AVAILABLE and f.COMPILED is None;"
        "assert f.decode is m.decode and f.encode is m.encode;"
        "print(f.UNAVAILABLE_REASON)"
    )
    env = {**os.environ, "TICKWIRE_PURE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert "TICKWIRE_PURE" in out.stdout


def test_extension_is_built_when_required() -> None:
    """With TICKWIRE_REQUIRE_EXT=1 (for CI, where a compiler is installed) a missing
    extension is a failure, not a silent fallback. Otherwise its absence is allowed (the
    package must work without a compiler) and reported as a skip with the reason."""
    if fastpath.AVAILABLE:
        assert fastpath.COMPILED is not None
        return
    if os.environ.get("TICKWIRE_REQUIRE_EXT", "") not in ("", "0"):
        pytest.fail(f"TICKWIRE_REQUIRE_EXT is set but {fastpath.UNAVAILABLE_REASON}")
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    can_build = shutil.which(compiler) is not None and headers.exists()
    pytest.skip(
        f"fast path not in use: {fastpath.UNAVAILABLE_REASON}"
        + (
            " (a compiler and headers exist: rebuild with uv sync --reinstall-package "
            "tickwire-itch)"
            if can_build
            else ""
        )
    )


def test_specs_are_derived_from_the_table() -> None:
    specs = fastpath.extension_specs()
    assert {chr(t) for t, *_ in specs} == set(MESSAGE_CLASSES)
    for t, cls, length, layout in specs:
        assert cls is MESSAGE_CLASSES[chr(t)]
        assert length == MESSAGE_LENGTHS[chr(t)]
        assert len(layout) == len(dataclasses.fields(cls))
        assert sum(f[2] for f in layout) == length - 1


# ----------------------------------------------------------------------------- one message


@SETTINGS
@given(data=wire_messages())
def test_decode_equals_construct_on_any_valid_bytes(codec: fastpath.Codec, data: bytes) -> None:
    same(codec.decode(data), decode_construct(data))


@SETTINGS
@given(msg=messages(valid_codes=False))
def test_encode_equals_construct_and_round_trips(codec: fastpath.Codec, msg: Message) -> None:
    raw = codec.encode(msg)
    assert raw == encode_construct(msg)
    same(codec.decode(raw), decode_construct(raw))
    assert codec.decode(raw) == msg


@SETTINGS
@given(data=wire_messages(HOT_TYPES))
def test_hot_types_round_trip_bytes(codec: fastpath.Codec, data: bytes) -> None:
    """parse then build gives the same bytes (decoding loses nothing)."""
    assert codec.encode(codec.decode(data)) == data


@SETTINGS
@given(data=wire_messages(), extra=st.binary(max_size=8))
def test_decode_ignores_bytes_past_the_message(
    codec: fastpath.Codec, data: bytes, extra: bytes
) -> None:
    same(codec.decode(data + extra), decode_construct(data))
    same(codec.decode(memoryview(bytearray(data + extra))), decode_construct(data))


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=60))
def test_random_bytes_raise_only_decode_error(codec: fastpath.Codec, data: bytes) -> None:
    try:
        msg = codec.decode(data)
    except DecodeError as exc:
        # Same verdict, same reason as the pure decoder.
        with pytest.raises(DecodeError) as ref:
            fastpath.PURE.decode(data)
        assert str(exc) == str(ref.value)
    else:
        same(msg, decode_construct(data))


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300))
def test_random_streams_raise_only_decode_error(codec: fastpath.Codec, data: bytes) -> None:
    try:
        out = list(codec.decode_binaryfile(data, chunk_size=64))
    except DecodeError as exc:
        assert exc.offset <= len(data)
        return
    assert all(isinstance(m, Message) for m in out)


def test_truncated_and_unknown(codec: fastpath.Codec) -> None:
    good = AddOrder(1, 2, 3, 4, "B", 100, "AAPL", 1_500_000)
    raw = encode_construct(good)
    for cut in range(len(raw)):
        with pytest.raises(DecodeError) as info:
            codec.decode(raw[:cut])
        assert info.value.message_type == ("A" if cut else None)
    with pytest.raises(DecodeError) as info:
        codec.decode(b"z" + bytes(40))
    assert info.value.message_type == "z"


# ----------------------------------------------------------------------------- encoder errors

OUT_OF_RANGE: list[tuple[str, Any]] = [
    ("shares", -1),
    ("shares", 1 << 32),
    ("price", 1 << 32),
    ("order_reference_number", 1 << 64),
    ("timestamp", 1 << 48),
    ("stock_locate", 1 << 16),
    ("stock", "TOOLONGSYM"),
    ("stock", "\u20ac"),
    ("buy_sell_indicator", "BS"),
    ("buy_sell_indicator", ""),
    ("shares", 1.5),
]


@pytest.mark.parametrize(("name", "value"), OUT_OF_RANGE)
def test_encode_refuses_what_does_not_fit(codec: fastpath.Codec, name: str, value: Any) -> None:
    fields = {
        "stock_locate": 1,
        "tracking_number": 0,
        "timestamp": 5,
        "order_reference_number": 9,
        "buy_sell_indicator": "S",
        "shares": 100,
        "stock": "MSFT",
        "price": 100,
    }
    fields[name] = value
    msg = AddOrder(**fields)
    with pytest.raises(EncodeError):
        encode_construct(msg)
    with pytest.raises(EncodeError):
        codec.encode(msg)


@SETTINGS
@given(
    msg=messages(valid_codes=False),
    data=st.data(),
)
def test_encode_agrees_with_construct_on_arbitrary_field_values(
    codec: fastpath.Codec, msg: Message, data: st.DataObject
) -> None:
    """Replace one field by an arbitrary value: both encoders accept it with the same
    bytes, or both refuse it with EncodeError."""
    name = data.draw(st.sampled_from(names(msg)))
    if type(msg).__dataclass_fields__[name].type == "int":
        value: Any = data.draw(st.integers(min_value=-2, max_value=1 << 65))
    else:
        value = data.draw(
            st.one_of(
                st.text(max_size=10),
                st.sampled_from(["", "B", "\xff", "ABCDEFGH", "ABCDEFGHI", "\u0100"]),
            )
        )
    changed = dataclasses.replace(msg, **{name: value})
    try:
        expected: bytes | None = encode_construct(changed)
    except EncodeError:
        expected = None
    if expected is None:
        with pytest.raises(EncodeError):
            codec.encode(changed)
    else:
        assert codec.encode(changed) == expected


@pytest.mark.parametrize("value", [7, None, b"AAPL", 1.5])
def test_encode_refuses_wrong_types_like_the_pure_encoder(
    codec: fastpath.Codec, value: Any
) -> None:
    msg = AddOrder(1, 0, 5, 9, "S", 100, value, 100)
    with pytest.raises(EncodeError):
        fastpath.PURE.encode(msg)
    with pytest.raises(EncodeError):
        codec.encode(msg)


# ----------------------------------------------------------------------------- streams


@st.composite
def framed_streams(draw: st.DrawFn) -> tuple[bytes, list[bytes], int, int]:
    """A BinaryFILE of random valid messages, each prefixed by its length, 0 or a wrong
    length, with unknown-type frames (skipped by their prefix) mixed in.

    Returns (file bytes, the message bodies in order, fixups, skipped)."""
    bodies = draw(st.lists(wire_messages(), max_size=40))
    out = bytearray()
    fixups = skipped = 0
    for body in bodies:
        if draw(st.integers(0, 9)) == 0:
            unknown = draw(st.sampled_from(b"abcdegijklmnopqrstuvwxyz"))
            payload = draw(st.binary(max_size=30))
            out += frame(bytes([unknown]) + payload)
            skipped += 1
        prefix = draw(st.sampled_from([len(body), len(body), 0, len(body) + 1, 0xFFFF]))
        fixups += prefix != len(body)
        out += frame(body, prefix)
    return bytes(out), bodies, fixups, skipped


@settings(max_examples=60, deadline=None)
@given(case=framed_streams(), chunk=st.sampled_from([64, 100, 1 << 20]))
def test_binaryfile_equals_construct_on_random_streams(
    codec: fastpath.Codec, case: tuple[bytes, list[bytes], int, int], chunk: int
) -> None:
    data, bodies, fixups, skipped = case
    stats = fastpath.FrameStats()
    got = list(codec.decode_binaryfile(data, stats=stats, chunk_size=chunk))
    expected = [decode_construct(b) for b in bodies]
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        same(a, b)
    assert stats.messages == len(bodies)
    assert stats.length_fixups == fixups
    assert stats.skipped == skipped
    # The same from a (non-seekable-style) file object, and gzipped.
    assert list(codec.decode_binaryfile(io.BytesIO(data), chunk_size=chunk)) == expected
    assert list(codec.decode_binaryfile(gzip.compress(data), chunk_size=chunk)) == expected


def split_stream() -> tuple[bytes, list[bytes]]:
    """Frames of several lengths: a fixed-up prefix, a zero prefix, an unknown type."""
    bodies = [
        encode_construct(AddOrder(1, 0, 34_200_000_000_000, 7, "B", 100, "AAPL", 1_500_000)),
        encode_construct(AddOrder(2, 0, 34_200_000_000_001, 8, "S", 200, "MSFT", 2_500_000)),
    ]
    data = (
        frame(bodies[0])
        + frame(b"z" + bytes(5))  # unknown type, skipped by its prefix
        + frame(bodies[1], 0)  # zero prefix: the type's length is used
        + frame(bodies[0], 99)  # wrong prefix: fixed up
    )
    return data, [bodies[0], bodies[1], bodies[0]]


def compiled_ext() -> Any:
    if fastpath._ext is None:
        pytest.skip(f"compiled fast path not in use: {fastpath.UNAVAILABLE_REASON}")
    return fastpath._ext


def test_frame_split_at_every_offset() -> None:
    """The one framing loop of FrameDecoder.feed and ColumnBuilder.feed: a buffer cut at
    any offset (inside a prefix, a type byte, a body, a skipped frame), the head fed
    first and the unconsumed rest carried into the tail, frames every message once, with
    the same counters, as the whole buffer in one call."""
    ext = compiled_ext()
    data, bodies = split_stream()
    whole = ext.ColumnBuilder()
    assert whole.feed(data) == (len(data), False)
    want_columns = whole.take()
    for cut in range(len(data) + 1):
        dec, col = ext.FrameDecoder(), ext.ColumnBuilder()
        msgs, stop, blocked = dec.feed(data[:cut])
        assert col.feed(data[:cut]) == (stop, False) and not blocked
        rest = data[stop:cut] + data[cut:]
        more, end, _ = dec.feed(rest)
        assert col.feed(rest) == (end, False)
        assert end == len(rest), cut
        assert msgs + more == [decode_construct(b) for b in bodies], cut
        for framer in (dec, col):
            assert (framer.messages, framer.skipped, framer.length_fixups) == (3, 1, 2), cut
            assert framer.by_type == {"A": 3}, cut
        assert col.take() == want_columns, cut


def test_frame_limit_and_blocked() -> None:
    """``limit`` stops before the first frame starting at or after it; an unknown type
    with a zero prefix blocks the loop at its offset."""
    ext = compiled_ext()
    data, _ = split_stream()
    first = 2 + MESSAGE_LENGTHS["A"]
    for framer in (ext.FrameDecoder(), ext.ColumnBuilder()):
        got = framer.feed(data, 0, first)
        assert got[-2:] == (first, False)
        assert framer.feed(data + frame(b"z", 0), first)[-2:] == (len(data), True)


def test_attach_refuses_what_is_not_a_sink() -> None:
    ext = compiled_ext()

    class NotACapsule:
        def itch_sink(self) -> object:
            return object()

    for framer in (ext.FrameDecoder(), ext.ColumnBuilder()):
        with pytest.raises(TypeError, match=r"did not return a 'tickwire\.itch\.sink' capsule"):
            framer.attach(NotACapsule())
        with pytest.raises(AttributeError):
            framer.attach(object())


@settings(max_examples=25, deadline=None)
@given(day=streams())
def test_binaryfile_on_consistent_streams(codec: fastpath.Codec, day: list[Message]) -> None:
    data = b"".join(frame(encode_construct(m)) for m in day)
    assert list(codec.decode_binaryfile(data, chunk_size=128)) == day


def test_binaryfile_errors_match_the_reader(codec: fastpath.Codec) -> None:
    body = encode_construct(AddOrder(1, 0, 1, 1, "B", 1, "A", 1))
    good = frame(body)
    for bad, offset, letter in [
        (good + good[:10], len(good), "A"),  # truncated tail
        (good + b"\x00", len(good), None),  # a lone byte
        (good + b"\x00\x00z" + bytes(20), len(good), "z"),  # unknown type, prefix 0
    ]:
        with pytest.raises(DecodeError) as info:
            list(codec.decode_binaryfile(bad, chunk_size=64))
        assert (info.value.offset, info.value.message_type) == (offset, letter)
        with pytest.raises(DecodeError) as ref:
            list(read(bad))
        assert (ref.value.offset, ref.value.message_type) == (offset, letter)


@pytest.mark.parametrize("chunk_size", [4096, 1 << 20])
def test_a_cut_gzip_says_how_far_it_was_read(
    codec: fastpath.Codec, real_bytes: bytes, chunk_size: int
) -> None:
    """A gzip cut short delivers every message whose frame was decompressed before the
    cut, then raises its DecodeError at the offset in the uncompressed stream where the
    decompressed bytes end (``reader.read_chunks``), on both implementations and the
    reader alike, whatever the chunk size. The compiled one said ``at byte offset 0``
    whatever was read before (a day cut near its end looked damaged from its start);
    then both read up to the last whole chunk only (what ``GzipFile.read`` had
    decompressed in the call that failed was dropped), so the messages delivered and the
    offset depended on the chunk size, and the engine's compiled book, reading 4 MiB at
    a time, applied other messages than the reference."""
    cut = gzip.compress(real_bytes)[: len(gzip.compress(real_bytes)) * 3 // 4]
    readable = zlib.decompressobj(wbits=31).decompress(cut)  # all a cut gzip gives
    assert len(readable) < len(real_bytes)
    got: list[Message] = []
    with pytest.raises(DecodeError) as info:
        for msg in codec.decode_binaryfile(cut, chunk_size=chunk_size):
            got.append(msg)
    assert str(info.value).startswith("corrupt gzip stream: ")
    assert info.value.offset == len(readable)
    whole = [
        off
        for off, raw in BinaryFileReader(real_bytes).iter_raw()
        if off + 2 + len(raw) <= len(readable)
    ]
    assert got == list(read(real_bytes))[: len(whole)] and len(got) > 6_000
    with pytest.raises(DecodeError) as ref:
        list(BinaryFileReader(cut, chunk_size=chunk_size))
    assert ref.value.offset == len(readable) and str(ref.value) == str(info.value)


def test_real_file(codec: fastpath.Codec, real_file: Path, real_raw_messages: list[bytes]) -> None:
    stats = fastpath.FrameStats()
    got = list(codec.decode_binaryfile(real_file, stats=stats))
    assert len(got) == 12_012
    assert stats.messages == 12_012
    assert stats.length_fixups == 12_012  # every prefix in the sample is zero
    for msg, raw in zip(got, real_raw_messages, strict=True):
        same(msg, decode_construct(raw))
        assert codec.encode(msg) == raw
    assert got == list(read(real_file))


def test_real_file_gzipped_from_path_and_file_object(
    codec: fastpath.Codec, real_bytes: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "sample.itch.gz"
    path.write_bytes(gzip.compress(real_bytes))
    expected = list(read(real_bytes))
    stats = fastpath.FrameStats()
    assert list(codec.decode_binaryfile(path, stats=stats, chunk_size=4096)) == expected
    assert stats.messages == 12_012 and stats.by_type["A"] == 4_997
    with path.open("rb") as f:
        assert list(codec.decode_binaryfile(f)) == expected
        assert not f.closed  # a caller's file object is left open
