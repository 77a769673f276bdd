"""The exchange's command line, both ways in: ``python -m tickwire.exchange`` and
``python -m tickwire.engine exchange`` (the engine finds the command through the
``tickwire.engine.commands`` entry point this distribution registers). Same options, same
checks before any port opens, one ``error:`` line and never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from tickwire.engine.cli import build_parser as engine_parser
from tickwire.engine.cli import main as engine_main
from tickwire.engine.credentials import PASSWORD_ENV
from tickwire.exchange.cli import add_engine_command
from tickwire.exchange.cli import main as exchange_main
from tickwire.itch import BinaryFileWriter
from tickwire.itch.generator import generate_day
from tickwire.moldudp64.codec import encode_session
from tickwire.ouch import v50
from tickwire.soupbintcp import ClientSession
from tickwire.soupbintcp.aio import LoginRejectedError, SoupClient, run
from tickwire.soupbintcp.packets import LoginRequest, build_packet, data_packet

EXCHANGE = [sys.executable, "-m", "tickwire.exchange"]
ENGINE_EXCHANGE = [sys.executable, "-m", "tickwire.engine", "exchange"]
DATA = Path(__file__).resolve().parents[3] / "data" / "itch" / "ex20101224.TEST_ITCH_50"
LOCAL = ["--feed", "127.0.0.1:9", "--ouch-port", "0", "--rerequest-port", "0"]


def _via_engine(argv: Sequence[str]) -> int:
    return engine_main(["exchange", *argv])


#: The command's two doors, as functions of its argv.
MAINS: dict[str, Callable[[Sequence[str]], int]] = {
    "tickwire.exchange": exchange_main,
    "tickwire.engine exchange": _via_engine,
}


def _error_line(err: str) -> str:
    assert "Traceback" not in err
    # argparse's "PROG: error: ..." after its usage lines, else the command's one line
    lines = [x for x in err.splitlines() if "error:" in x] or err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_engine_lists_the_exchange_command_from_the_entry_point() -> None:
    sub = next(a for a in engine_parser()._actions if isinstance(a, argparse._SubParsersAction))
    # the real parser of the plugin, not the stand-in for a missing tickwire-exchange
    options = {o for a in sub.choices["exchange"]._actions for o in a.option_strings}
    assert {"--feed", "--ouch-port", "--preload", "--flow", "--loss", "--json"} <= options
    ours = argparse.ArgumentParser().add_subparsers()
    add_engine_command(ours)
    assert set(ours.choices) == {"exchange"}


@pytest.mark.parametrize("door", MAINS)
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--ouch-port", "99999"], "port 99999 is not in 0..65535"),
        (["--loss", "2"], "probability 2.0 is not in 0..1"),
        (["--reorder", "-0.1"], "is not in 0..1"),
        (["--rate", "-5"], "-5.0 is not above 0"),
        (["--delay", "nan"], "not a finite number"),
        (["--duration", "-1"], "is negative"),
        (["--generate", "10", "--symbols", "5000"], "cannot hold a day"),
        (["--flow", "/nonexistent.itch"], "no such file"),
        (["--preload", "/nonexistent.itch"], "no such file"),
        (["--seed", "/nonexistent.itch"], "no such file"),  # the deprecated name
        (["--seed", "DATA", "--preload", "DATA"], "give --preload only"),
        (["--password-file", "/nonexistent/pw"], "--password-file: /nonexistent/pw: no such file"),
    ],
)
def test_bad_arguments_exit_2_before_any_port_opens(
    capsys: pytest.CaptureFixture[str], door: str, argv: list[str], needle: str
) -> None:
    argv = [str(DATA) if a == "DATA" else a for a in argv]
    assert MAINS[door]([*LOCAL, "--duration", "0", *argv]) == 2  # a regression ends at once
    assert needle in _error_line(capsys.readouterr().err)


@pytest.mark.parametrize("door", MAINS)
def test_a_flow_from_a_bad_file_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], door: str
) -> None:
    day = tmp_path / "day.itch"
    with BinaryFileWriter(day) as w:
        w.write_all(generate_day(500, 3, 1))
    bad = tmp_path / "cut.itch"
    bad.write_bytes(day.read_bytes()[:-5])
    assert MAINS[door]([*LOCAL, "--flow", str(bad), "--rate", "1000000", "--duration", "0"]) == 1
    assert "truncated" in _error_line(capsys.readouterr().err)


def test_an_unreadable_preload_or_flow_is_named_in_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two data files, one broken: the error line names the option and the file (it
    said ``truncated frame at end of stream ...`` or ``corrupt gzip stream ...`` and
    nothing of which of the two), exit 1. A send that fails is not the file's fault and
    is not named so (only reading the file is)."""
    import gzip

    day = tmp_path / "day.itch"
    with BinaryFileWriter(day) as w:
        w.write_all(generate_day(500, 3, 1))
    cut = tmp_path / "cut.itch"
    cut.write_bytes(day.read_bytes()[:-5])
    packed = gzip.compress(day.read_bytes())
    cut_gz = tmp_path / "cut.itch.gz"
    cut_gz.write_bytes(packed[: len(packed) // 2])
    run = [*LOCAL, "--rate", "1000000", "--duration", "0"]
    for preload, flow, named in (
        (day, cut, f"--flow {cut}: truncated frame at end of stream"),
        (cut, day, f"--preload {cut}: truncated frame at end of stream"),
        (cut_gz, day, f"--preload {cut_gz}: corrupt gzip stream"),
        (day, cut_gz, f"--flow {cut_gz}: corrupt gzip stream"),
    ):
        assert exchange_main([*run, "--preload", str(preload), "--flow", str(flow)]) == 1
        line = _error_line(capsys.readouterr().err)
        assert line.startswith(f"tickwire-exchange: error: {named}"), line


@pytest.mark.parametrize("command", [EXCHANGE, ENGINE_EXCHANGE], ids=["exchange", "engine"])
def test_a_password_on_the_command_line_is_refused(command: list[str]) -> None:
    done = subprocess.run(
        [*command, *LOCAL, "--duration", "0", "--user", "TW:Hunter2"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "password on the command line" in done.stderr
    assert "Hunter2" not in done.stderr + done.stdout


def test_the_users_password_comes_from_the_file(tmp_path: Path) -> None:
    """Two users with the file's password; the environment's (overridden) and the demo
    default are refused."""
    pw = tmp_path / "pw"
    pw.write_text("FilePw9\n")
    env = {**os.environ, PASSWORD_ENV: "EnvPw"}
    ex = subprocess.Popen(
        [*EXCHANGE, *LOCAL, "--duration", "30", "--user", "ALICE", "--user", "BOB",
         "--password-file", str(pw)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert ex.stdout is not None
        port = json.loads(ex.stdout.readline())["ouch50"]

        async def login(user: str, password: str) -> str:
            client = SoupClient(ClientSession(user, password), "127.0.0.1", port)
            try:
                await client.connect()
            except LoginRejectedError as exc:
                return exc.reason
            await client.close()
            await asyncio.sleep(0.2)  # the server has the logout: the session is free
            return "accepted"

        async def main() -> list[str]:
            return [
                await login("ALICE", "FilePw9"),
                await login("BOB", "FilePw9"),
                await login("ALICE", "EnvPw"),
                await login("TW", "SECRET"),
            ]

        assert run(main()) == ["accepted", "accepted", "A", "A"]
    finally:
        ex.send_signal(signal.SIGINT)
        ex.wait(timeout=20)


def test_seeded_from_a_real_itch_file_it_publishes_the_feed() -> None:
    feed = _free_udp_port()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", feed))
    rx.settimeout(10)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stats = Path(tmp, "stats.json")
            done = subprocess.run(
                [*EXCHANGE, "--feed", f"127.0.0.1:{feed}", "--ouch-port", "0",
                 "--rerequest-port", "0", "--preload", str(DATA), "--duration", "0.2",
                 "--json", str(stats)],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            xs = json.loads(stats.read_text())
        assert xs["published"] > 1000
        assert json.loads(done.stdout.splitlines()[-1]) == xs  # the statistics, on stdout too
        first = rx.recv(2048)  # MoldUDP64 packets on the feed port
        assert first[:10] == b"TWFEED0001"
    finally:
        rx.close()


def test_the_console_script_runs_the_same_command() -> None:
    script = Path(sys.executable).with_name("tickwire-exchange")
    assert script.exists(), "tickwire-exchange console script not installed"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--feed" in done.stdout
    bad = subprocess.run([str(script)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "the following arguments are required: --feed" in bad.stderr


def test_seed_is_the_deprecated_name_of_preload(capsys: pytest.CaptureFixture[str]) -> None:
    """--seed is a random seed in every other command; the file that fills the books is
    --preload (issue #18). The old spelling is read until 0.3, with a warning, and runs
    the same checks before any port opens."""
    from tickwire.exchange.cli import main

    assert main([*LOCAL, "--duration", "0", "--seed", str(DATA), "--generate", "10",
                 "--symbols", "5000"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "warning: --seed FILE is deprecated: use --preload FILE" in err
    assert "cannot hold a day" in err


def _capture(path: Path, packets: list[tuple[str, int]]) -> Path:
    """A MoldUDP64 capture of one generated message a packet: (session, sequence) each."""
    from tickwire.itch import encode
    from tickwire.moldudp64.testing import write_capture

    return write_capture(path, packets, [encode(m) for m in generate_day(40, 2, 1)])


@pytest.mark.parametrize("option", ["--preload", "--flow"])
def test_a_capture_follows_the_capture_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    """docs/cli.md, "Captures": a capture with lost messages runs, then ends with one
    error line and exit 1 (it exited 0: the exchange published a day with a hole and said
    nothing); a capture of two sessions is exit 2 naming both, --session picks one; and
    --session with no capture is a usage error."""
    run = [*LOCAL, "--rate", "1000000", "--duration", "0", option]
    whole = _capture(tmp_path / "whole.pcap", [("FEED", s) for s in range(1, 21)])
    gap = _capture(tmp_path / "gap.pcap", [("FEED", s) for s in range(1, 21) if s != 4])
    two = _capture(tmp_path / "two.pcap", [("FEED", 1), ("FEED", 2), ("OTHER", 1), ("FEED", 3)])
    assert exchange_main([*run, str(whole)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out.splitlines()[-1])["published"] > 0
    assert exchange_main([*run, str(gap)]) == 1
    out, err = capsys.readouterr()
    what = "the books were preloaded" if option == "--preload" else "the flow was published"
    assert _error_line(err).endswith(
        f"{gap}: 1 sequence gaps (1 messages missing); {what} all the same"
    )
    assert json.loads(out.splitlines()[-1])["published"] > 0  # the statistics first
    assert exchange_main([*run, str(two)]) == 2
    assert "session 'OTHER' and frame 1 one of session 'FEED'" in _error_line(
        capsys.readouterr().err
    )
    assert exchange_main([*run, str(two), "--session", "FEED"]) == 0
    capsys.readouterr()
    day = tmp_path / "day.itch"
    with BinaryFileWriter(day) as w:
        w.write_all(generate_day(40, 2, 1))
    assert exchange_main([*run, str(day), "--session", "FEED"]) == 2
    assert "--session: for a MoldUDP64 capture" in _error_line(capsys.readouterr().err)


def test_the_statistics_count_what_a_hostile_client_was_refused(tmp_path: Path) -> None:
    """A wrong password, a repeated UserRefNum and a packet of length 0 after a login, and
    a re-request beyond the session's messages: each refusal is counted once in the
    statistics (``ouch50.server``, ``ouch50.ignored``, ``rerequest``), where an operator
    sees them; they were counted inside and never shown."""
    stats_file = tmp_path / "stats.json"
    env = {**os.environ, PASSWORD_ENV: "SECRET"}
    ex = subprocess.Popen(
        [*EXCHANGE, *LOCAL, "--open", "--duration", "30", "--json", str(stats_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert ex.stdout is not None
        ready = json.loads(ex.stdout.readline())

        def until_closed(*packets: bytes) -> bytes:
            with socket.create_connection(("127.0.0.1", ready["ouch50"]), timeout=10) as s:
                s.sendall(b"".join(packets))
                got = b""
                while chunk := s.recv(65536):
                    got += chunk
                return got

        assert until_closed(build_packet(LoginRequest("TW", "WRONG", "", 1)))[2:3] == b"J"
        enter = v50.EnterOrder(1, "B", 100, "NOPE", 1_000, "0", "Y", "P", "N", "N", "X")
        twice = 2 * data_packet("U", v50.encode(enter))
        login = build_packet(LoginRequest("TW", "SECRET", "", 1))
        assert until_closed(login, twice, b"\x00\x00")[2:3] == b"A"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            request = encode_session("TWFEED0001") + struct.pack(">QH", 10**9, 5)
            u.sendto(request, tuple(ready["rerequest"]))
        time.sleep(0.3)
    finally:
        ex.send_signal(signal.SIGINT)
        _, err = ex.communicate(timeout=30)
    assert ex.returncode == 0, err
    assert "Traceback" not in err
    stats = json.loads(stats_file.read_text())
    server = stats["ouch50"]["server"]
    assert (server["bad_logins"], server["logins"], server["protocol_errors"]) == (1, 1, 1)
    assert (stats["ouch50"]["entered"], stats["ouch50"]["ignored"]) == (1, 1)
    assert stats["ouch42"] is None
    assert (stats["rerequest"]["requests"], stats["rerequest"]["out_of_range"]) == (1, 1)
