"""The ``exchange`` (tickwire-exchange, found by the engine's command line through its entry
point) and ``live`` commands as separate processes on loopback: SIGTERM
shuts the engine down cleanly (orders cancelled, logged out, report written) and the
kill switch is tripped from a third process. The report file is ``--json PATH``, written
whole (renamed over the target); ``--report PATH`` is its deprecated old name."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

ENGINE = [sys.executable, "-m", "tickwire.engine"]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(path: Path, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)


def test_exchange_and_live_processes_sigterm_and_kill_command() -> None:
    feed = _free_udp_port()
    with tempfile.TemporaryDirectory() as tmp:
        ctl = Path(tmp, "ctl.sock")
        report = Path(tmp, "report.json")
        stats = Path(tmp, "stats.json")
        config = Path(tmp, "fees.toml")
        config.write_text("[fees]\nremove_per_share = 30\nadd_per_share = -20\n")
        report.write_text("an older report\n")
        before = report.stat().st_ino
        ex = subprocess.Popen(
            [*ENGINE, "exchange", "--feed", f"127.0.0.1:{feed}", "--ouch-port", "0",
             "--rerequest-port", "0", "--generate", "3000", "--symbols", "4", "--rate", "3000",
             "--duration", "30", "--json", str(stats)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert ex.stdout is not None
            ports = json.loads(ex.stdout.readline())
            live = subprocess.Popen(
                [*ENGINE, "live", "--feed", f"127.0.0.1:{feed}",
                 "--rerequest", f"127.0.0.1:{ports['rerequest'][1]}",
                 "--ouch", f"127.0.0.1:{ports['ouch50']}", "--control", str(ctl),
                 "--config", str(config), "--json", str(report)],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            _wait_for(ctl)
            time.sleep(0.5)
            out = subprocess.run(
                [*ENGINE, "live", "--control", str(ctl), "--command", "kill"],
                capture_output=True, text=True, timeout=30, check=True,
            )  # fmt: skip
            assert json.loads(out.stdout)["armed"] is False
            status = subprocess.run(
                [*ENGINE, "live", "--control", str(ctl), "--command", "status"],
                capture_output=True, text=True, timeout=30, check=True,
            )  # fmt: skip
            snap = json.loads(status.stdout)
            assert snap["armed"] is False and snap["feed"]["messages"] > 0
            live.send_signal(signal.SIGTERM)
            assert live.wait(timeout=20) == 0
            # written to a temporary file and renamed over the old one, never in place
            assert report.stat().st_ino != before
            assert [p.name for p in Path(tmp).iterdir() if ".part-" in p.name] == []
            rep = json.loads(report.read_text())
            assert live.stdout is not None and json.loads(live.stdout.read()) == rep
            # [fees] of --config is the session's schedule (it was ignored)
            assert rep["fees"]["schedule"] == {
                "remove_per_share": 30,
                "add_per_share": -20,
                "add_hidden_per_share": 0,
            }
            assert rep["pnl"] == rep["pnl_gross"] - rep["fees"]["total_e4"]
            assert rep["orders"]["open"] == []
            assert rep["ouch"]["unacked"] == 0
            assert rep["ouch"]["skipped"] == 0
            assert not ctl.exists()
        finally:
            ex.send_signal(signal.SIGINT)
            ex.wait(timeout=20)
            if live.poll() is None:
                live.kill()
        xs = json.loads(stats.read_text())
        assert "logout" in xs["ouch_closed"]  # the engine logged out, not just dropped
        assert xs["ouch50"]["entered"] == rep["orders"]["sent"]
        pos = {k: v for k, v in rep["positions"].items() if v}
        assert {k: v for k, v in xs["ouch50"]["positions"].items() if v} == pos


def test_live_command_without_control_is_a_usage_error() -> None:
    bad = subprocess.run(
        [*ENGINE, "live", "--command", "kill"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "--control" in bad.stderr


def test_live_dashboard_without_rich_is_a_usage_error() -> None:
    """Without the `dashboard` extra, `live --dashboard` says what to install, before it
    connects anywhere (the feed and OUCH addresses here have nothing behind them)."""
    code = (
        "import sys; sys.modules['rich'] = None\n"
        "from tickwire.engine.cli import main\n"
        "sys.exit(main(['live', '--feed', '127.0.0.1:9', '--ouch', '127.0.0.1:9', '--dashboard']))"
    )
    bad = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2, bad.stderr
    assert "tickwire-engine[dashboard]" in bad.stderr


def test_live_xdp_mirror_without_tickwire_xdp_is_a_usage_error() -> None:
    """The engine does not depend on tickwire-xdp: without it, `live --xdp-mirror` says
    what to install, before it opens any socket."""
    code = (
        "import sys; sys.modules['tickwire.xdp'] = None\n"
        "from tickwire.engine.cli import main\n"
        "sys.exit(main(['live', '--feed', '127.0.0.1:9', '--ouch', '127.0.0.1:9',"
        " '--xdp-mirror', 'eth9']))"
    )
    bad = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2, bad.stderr
    assert (
        "tickwire-engine live: error: --xdp-mirror eth9: the XDP mirror of eth9 needs tickwire-xdp"
        in bad.stderr
    )
    assert "pip install tickwire-xdp" in bad.stderr


def test_live_config_with_a_bad_fees_table_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``[fees]`` of ``live --config`` is checked as a backtest's is, before anything
    connects (nothing listens at the addresses given)."""
    from tickwire.engine.cli import main

    config = tmp_path / "fees.toml"
    config.write_text("[fees]\nremove_per_share = 0.003\n")
    argv = ["live", "--feed", "127.0.0.1:9", "--ouch", "127.0.0.1:9", "--config", str(config)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "fees.remove_per_share: must be an integer" in err and "\n" not in err


def test_live_report_is_the_deprecated_name_of_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--report PATH`` (before 0.3) is read as ``--json PATH`` with a warning; both at
    once is a usage error. Nothing listens at the OUCH address, so the session fails to
    start (exit 2, one line) and no report is written."""
    from tickwire.engine.cli import main

    report = tmp_path / "report.json"
    base = ["live", "--feed", "127.0.0.1:0", "--ouch", "127.0.0.1:9"]
    both = ["--report", str(report), "--json", str(tmp_path / "other.json")]
    assert main([*base, *both]) == 2
    err = capsys.readouterr().err
    assert "error: --report is the old name of --json: give --json only" in err
    assert main([*base, "--report", str(report)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "warning: --report PATH is deprecated: use --json PATH", lines
    assert len(lines) == 2 and lines[1].startswith("tickwire-engine live: error: "), lines
    assert not report.exists()


def test_live_never_takes_a_control_path_that_is_not_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--control`` naming a file that is not a socket, or a socket another engine
    listens on, is refused before anything is opened, and the file or socket stays. The
    engine unlinked whatever was there: a typo deleted a data file, and a second engine
    took the first one's control socket (its kill and stop no longer reachable)."""
    from tickwire.engine.cli import main
    from tickwire.engine.live import ControlError
    from tickwire.engine.live.engine import check_control_path

    data = tmp_path / "day.itch"
    data.write_bytes(b"a day")
    argv = ["live", "--feed", "127.0.0.1:9", "--ouch", "127.0.0.1:9", "--control"]
    assert main([*argv, str(data)]) == 2
    assert "exists and is not a socket" in capsys.readouterr().err
    assert data.read_bytes() == b"a day"

    short = tempfile.TemporaryDirectory(prefix="tw-ctl-", dir="/tmp")  # sun_path is short
    sock_path = str(Path(short.name) / "c.sock")
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        live.bind(sock_path)
        live.listen(1)
        assert main([*argv, sock_path]) == 2
        assert "another engine is listening on it" in capsys.readouterr().err
        assert Path(sock_path).exists()
    finally:
        live.close()
    # Nobody listens now: a stale socket, which the engine may take.
    with pytest.raises(ControlError):
        check_control_path(str(data))
    check_control_path(sock_path)
    assert Path(sock_path).exists()
    check_control_path(sock_path, remove_stale=True)
    assert not Path(sock_path).exists()
    short.cleanup()


def test_strategy_log_lines_on_stderr_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    """``live`` without the dashboard writes the strategy's lines on stderr: a line
    carrying a feed symbol with ESC [ 2 J (or the 8-bit CSI) is written escaped. On the
    old code it went to the terminal raw."""
    import logging

    from tickwire.engine.cli_live import _strategy_log_to_stderr
    from tickwire.engine.strategy.live import StrategyLog

    log = logging.getLogger("tickwire.engine.strategy")
    saved = (list(log.handlers), log.level, log.propagate)
    log.handlers.clear()
    try:
        _strategy_log_to_stderr()
        StrategyLog().append("123 bought \x1b[2J\x9bH")
    finally:
        log.handlers[:], log.level, log.propagate = saved[0], saved[1], saved[2]
    assert capsys.readouterr().err == "strategy: 123 bought \\x1b[2J\\x9bH\n"


def test_live_exits_1_when_orders_are_left_open_at_the_stop() -> None:
    """An OUCH session with a previous run's order resting: the engine inherits it and
    cancels it, and the exchange (a hand-written one) never answers the cancel. Stopped
    (SIGTERM), the engine waits for the answer, logs out and prints its report with the
    order open and the cancel unanswered, then one ``live: error:`` line naming them,
    exit 1. Before, it exited 0 with the order still resting at the exchange, said only
    inside the report's JSON."""
    import asyncio
    import contextlib
    import threading

    from tickwire.ouch import v50
    from tickwire.soupbintcp.packets import (
        LoginAccepted,
        LoginRequest,
        SequencedData,
        build_packet,
        parse_client_packet,
    )

    accepted = v50.OrderAccepted(1, 4, "B", 300, "AAPL", 1_500_000, "0", "Y", 9, "P", "N", "N",
                                 "L", "X", ())  # fmt: skip
    ready = threading.Event()
    port: list[int] = []
    stop: list[Any] = []

    async def read_packet(reader: asyncio.StreamReader) -> object:
        size = int.from_bytes(await reader.readexactly(2), "big")
        return parse_client_packet(await reader.readexactly(size))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:  # closed on every path (an unclosed writer warns when collected later)
            with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                login = await read_packet(reader)
                assert isinstance(login, LoginRequest)
                if login.requested_sequence_number == 0:  # the probe: one message of history
                    writer.write(build_packet(LoginAccepted("OUCH01", 2)))
                    await read_packet(reader)
                    return
                writer.write(build_packet(LoginAccepted("OUCH01", 1)))
                writer.write(build_packet(SequencedData(v50.encode(accepted))))
                while True:  # answers the Account Query, never the cancel
                    packet = await read_packet(reader)
                    data = getattr(packet, "message", None)
                    if data and isinstance(v50.decode_inbound(data), v50.AccountQueryRequest):
                        response = v50.encode(v50.AccountQueryResponse(2, 5))
                        writer.write(build_packet(SequencedData(response)))
        finally:
            writer.close()

    def serve() -> None:
        async def main() -> None:
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            port.append(server.sockets[0].getsockname()[1])
            done = asyncio.Event()
            stop.append((asyncio.get_running_loop(), done))
            ready.set()
            await done.wait()
            server.close()

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    with tempfile.TemporaryDirectory() as tmp:
        ctl = Path(tmp, "ctl.sock")
        live = subprocess.Popen(
            [*ENGINE, "live", "--feed", f"127.0.0.1:{_free_udp_port()}",
             "--ouch", f"127.0.0.1:{port[0]}", "--control", str(ctl)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            _wait_for(ctl)
            for _ in range(100):  # the inheriting ended: the cancel went out (bounded: 10 s)
                status = subprocess.run(
                    [*ENGINE, "live", "--control", str(ctl), "--command", "status"],
                    capture_output=True, text=True, timeout=30, check=True,
                )  # fmt: skip
                if json.loads(status.stdout)["inherited"] is not None:
                    break
                time.sleep(0.1)
            live.send_signal(signal.SIGTERM)
            out, err = live.communicate(timeout=30)
        finally:
            if live.poll() is None:
                live.kill()
            loop, done = stop[0]
            loop.call_soon_threadsafe(done.set)
            thread.join(10)
    rep = json.loads(out)
    assert len(rep["orders"]["open"]) == 1 and rep["ouch"]["unacked"] == 1
    assert live.returncode == 1, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].endswith(
        "live: error: stopped with 1 orders still open and 1 requests unanswered (no "
        "answer in 2 s): the exchange may still hold them; reconcile with it (the report's "
        "orders.open, ouch.unacked)"
    ), err
