"""The control channel's length checks (kernel/control.h), compiled hosted: every command
body must be exactly its command's length, whatever padding the NIC adds."""

from __future__ import annotations

import ctypes

import pytest
from _baremetal_helpers import BASE_CONFIG
from hypothesis import given, settings
from hypothesis import strategies as st
from tickwire.baremetal.layout import (
    BODY_SIZE,
    CONTROL,
    Command,
    CommandResult,
    build_control,
    config_blob,
    new_secret,
)

SECRET = bytes(range(16))
ZLEN = 60  # the NIC pads shorter frames with zeros up to this


def check(lib: ctypes.CDLL, frame: bytes) -> tuple[CommandResult, int]:
    blen = ctypes.c_uint32()
    res = lib.tw_ctl_check_frame(frame, len(frame), ctypes.byref(blen))
    return CommandResult(res), blen.value


def padded(frame: bytes) -> bytes:
    return frame.ljust(ZLEN, b"\x00")


def right_size(command: Command, body: bytes) -> bool:
    want = BODY_SIZE[command]
    if want is not None:
        return len(body) == want
    if len(body) < (48 if command is Command.CONFIG else 2):
        return False
    if command is Command.CONFIG:
        return len(body) == 48 + 46 * int.from_bytes(body[46:48], "little")
    return len(body) == 2 + int.from_bytes(body[:2], "little")


def test_an_empty_arm_is_a_length_error_not_a_disarm(ccontrol_lib: ctypes.CDLL) -> None:
    """The bug: a body-less ARM, padded to 60 bytes, read a padding zero and disarmed."""
    frame = padded(build_control(SECRET, 1, Command.ARM, b""))
    assert len(frame) == ZLEN and frame[41:] == bytes(19)
    assert check(ccontrol_lib, frame)[0] == CommandResult.BAD_LENGTH
    assert check(ccontrol_lib, padded(build_control(SECRET, 1, Command.ARM, b"\x00"))) == (
        CommandResult.OK,
        1,
    )


@pytest.mark.parametrize("command", list(Command))
def test_every_command_takes_exactly_its_body_length(
    ccontrol_lib: ctypes.CDLL, command: Command
) -> None:
    want = BODY_SIZE[command]
    sizes = range(0, 30) if want is not None else range(0, 4)
    for n in sizes:
        frame = padded(build_control(SECRET, 7, command, bytes(n)))
        res, blen = check(ccontrol_lib, frame)
        ok = right_size(command, bytes(n))
        assert res == (CommandResult.OK if ok else CommandResult.BAD_LENGTH), n
        if ok:
            assert blen == n


def test_config_and_frame_lengths_come_from_their_bodies(ccontrol_lib: ctypes.CDLL) -> None:
    blob = config_blob(BASE_CONFIG, new_secret())
    assert check(ccontrol_lib, build_control(SECRET, 1, Command.CONFIG, blob)) == (
        CommandResult.OK,
        len(blob),
    )
    for bad in (blob[:-1], blob + b"\x00", blob[:48]):
        frame = build_control(SECRET, 1, Command.CONFIG, bad)
        assert check(ccontrol_lib, frame)[0] == CommandResult.BAD_LENGTH
    inner = bytes(range(30))
    body = len(inner).to_bytes(2, "little") + inner
    assert check(ccontrol_lib, padded(build_control(SECRET, 1, Command.FRAME, body)))[0] == (
        CommandResult.OK
    )
    for bad in (body[:-1], body + b"x"):
        frame = padded(build_control(SECRET, 1, Command.FRAME, bad))
        assert check(ccontrol_lib, frame)[0] == CommandResult.BAD_LENGTH


def test_a_body_past_the_frame_or_bytes_after_it_are_length_errors(
    ccontrol_lib: ctypes.CDLL,
) -> None:
    limits = build_control(SECRET, 1, Command.LIMITS, bytes(22))  # 63 bytes: not padded
    assert check(ccontrol_lib, limits)[0] == CommandResult.OK
    assert check(ccontrol_lib, limits[:-1])[0] == CommandResult.BAD_LENGTH  # truncated
    assert check(ccontrol_lib, limits + b"\x00")[0] == CommandResult.BAD_LENGTH  # a long one
    header_only = build_control(SECRET, 1, Command.SYNC)[:40]  # the length field cut in two
    assert check(ccontrol_lib, header_only)[0] == CommandResult.BAD_LENGTH
    unknown = padded(build_control(SECRET, 1, Command.SYNC)[:38] + b"\x63\x00\x00")
    assert check(ccontrol_lib, unknown)[0] == CommandResult.UNKNOWN


@settings(max_examples=300, deadline=None)
@given(
    command=st.sampled_from(list(Command)),
    body=st.binary(max_size=80),
    declared=st.one_of(st.none(), st.integers(0, 0xFFFF)),
    extra=st.binary(max_size=30),
)
def test_the_check_matches_the_rule_on_any_frame(
    ccontrol_lib: ctypes.CDLL,
    command: Command,
    body: bytes,
    declared: int | None,
    extra: bytes,
) -> None:
    """OK exactly when the declared length is the body's, the body is its command's
    size, and anything after it is the padding of a frame of at most 60 bytes."""
    frame = bytearray(build_control(SECRET, 3, command, body))
    if declared is not None:
        frame[39:41] = declared.to_bytes(2, "little")
    frame += extra
    wire = padded(bytes(frame))
    res, blen = check(ccontrol_lib, wire)
    length = int.from_bytes(wire[39:41], "little")
    fits = 41 + length <= len(wire)
    tail_ok = 41 + length == len(wire) or len(wire) <= ZLEN
    sent = wire[41 : 41 + length]
    if fits and tail_ok and right_size(command, sent):
        assert (res, blen) == (CommandResult.OK, length)
        assert CONTROL.parse(wire[14:]).body == sent
    else:
        assert res == CommandResult.BAD_LENGTH
