"""The command-line tools: itch2pcap, pcap2itch and replay (loopback only, bounded)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import cast

import pytest
from tickwire.moldudp64 import DownstreamPacket, parse_downstream
from tickwire.moldudp64.capture import MoldCapture
from tickwire.moldudp64.cli import main, pack_binaryfile
from tickwire.net import PcapWriter, build_udp_frame

itch = pytest.importorskip("tickwire.itch")


def test_itch2pcap_pcap2itch_round_trip(tmp_path: Path, itch_file: Path) -> None:
    pcap = tmp_path / "day.pcap"
    back = tmp_path / "back.itch"
    assert main(["itch2pcap", str(itch_file), str(pcap), "--max-payload", "500"]) == 0
    cap = MoldCapture(pcap)
    seq = 1
    for mf in cap:
        assert len(mf.udp.payload) <= 500
        if mf.packet.messages:
            assert mf.packet.sequence == seq
            seq = mf.packet.next_sequence
    assert cap.stats.messages == 12012 and seq == 12013
    assert main(["pcap2itch", str(pcap), str(back)]) == 0
    original = [m for _, m in itch.iter_raw(itch_file)]
    assert [m for _, m in itch.iter_raw(back)] == original


def test_pcap2itch_on_real_captures(
    tmp_path: Path, real_captures: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for path in real_captures:
        out = tmp_path / (path.stem + ".itch")
        # A sample of two packets 4,244,620 messages apart: lost messages, said in one
        # error line, exit 1, the output written all the same (docs/cli.md, "Captures").
        gap = path.name == "Multiple.Packets.pcap"
        assert main(["pcap2itch", str(path), str(out)]) == (1 if gap else 0)
        err = capsys.readouterr().err
        assert ("error: " in err) == gap and "Traceback" not in err
        if gap:
            assert (
                err.strip()
                .splitlines()[-1]
                .endswith(
                    f"1 sequence gaps (4,244,620 messages missing); {out} is written all the same"
                )
            )
        msgs = list(itch.read(out))
        raw = [m for mf in MoldCapture(path) for m in mf.packet.messages]
        assert [itch.encode(m) for m in msgs] == raw
        if path.name == "Multiple.Packets.pcap":
            assert len(msgs) == 39
            assert sum(isinstance(m, itch.AddOrder | itch.AddOrderMPID) for m in msgs) >= 30
        if path.name == "OrderDeleteMessage.pcap":
            assert isinstance(msgs[0], itch.OrderDelete)


def test_pcap2itch_drops_duplicates_and_counts_gaps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pcap = tmp_path / "ab.pcap"
    from tickwire.itch.generator import generate_day

    msgs = [itch.encode(m) for m in generate_day(40, 3, 1)]
    packets = [DownstreamPacket("AB", 1 + i * 4, tuple(msgs[i * 4 : i * 4 + 4])) for i in range(10)]
    order = [0, 0, 1, 2, 1, 4, 3, 5, 6, 8, 9, 9]  # A/B copies, 3 late (in time), 7 lost
    with PcapWriter(pcap) as w:
        for i in order:
            w.write(
                build_udp_frame(
                    packets[i].build(),
                    src_ip="198.18.0.1",
                    dst_ip="198.18.0.2",
                    src_port=1,
                    dst_port=2,
                )
            )
    out = tmp_path / "ab.itch"
    assert main(["pcap2itch", str(pcap), str(out)]) == 1  # 7 lost: written, not whole
    summary_line, error = capsys.readouterr().err.strip().splitlines()
    summary = json.loads(summary_line)
    assert error.endswith(f"1 sequence gaps (4 messages missing); {out} is written all the same")
    got = [m for _, m in itch.iter_raw(out)]
    assert got == msgs[:28] + msgs[32:]
    assert summary["missing"] == 4 and summary["gaps"] == 1
    assert summary["duplicates"] == 3 * 4
    assert summary["messages_written"] == 36
    # --keep-duplicates: every packet's messages, in capture order.
    assert main(["pcap2itch", "--keep-duplicates", str(pcap), str(out)]) == 0  # no sequencing
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert [m for _, m in itch.iter_raw(out)] == [m for i in order for m in packets[i].messages]
    assert summary["messages_written"] == 4 * len(order)


class Listener:
    """A loopback UDP sink counting what it gets (bounded by a timeout)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Room for every datagram a test sends, even if this thread is slow to run: as root
        # SO_RCVBUFFORCE goes past net.core.rmem_max.
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 8 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        # The first datagram may be late (the sender starts up on a loaded machine); after
        # it, a second without one means the sender is done.
        self.sock.settimeout(60.0)
        self.port = self.sock.getsockname()[1]
        self.got: list[bytes] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                self.got.append(self.sock.recv(65535))
                self.sock.settimeout(1.0)
        except TimeoutError:
            pass
        finally:
            self.sock.close()

    def wait(self) -> list[bytes]:
        self.thread.join(70)
        return self.got


def test_replay_capture_to_loopback(
    tmp_path: Path, itch_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pcap = tmp_path / "day.pcap"
    assert main(["itch2pcap", str(itch_file), str(pcap)]) == 0
    capsys.readouterr()
    sink = Listener()
    rc = main(
        [
            "replay",
            str(pcap),
            "--to",
            f"127.0.0.1:{sink.port}",
            "--max",
            "300",
            "--rate",
            "5000",
            "--json",
        ]
    )
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["packets"] == 300 and report["destination"] == f"127.0.0.1:{sink.port}"
    assert set(report["timing_error_us"]) == {"p50", "p99", "p99_9", "max"}
    got = sink.wait()
    expected = [mf.udp.payload for mf in MoldCapture(pcap)][:300]
    assert got == expected


def test_replay_binaryfile_packs_on_the_fly(
    itch_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = Listener()
    expected = [p for _, p in pack_binaryfile(str(itch_file), session="ONTHEFLY")][:100]
    rc = main(
        [
            "replay",
            str(itch_file),
            "--to",
            f"127.0.0.1:{sink.port}",
            "--max",
            "100",
            "--rate",
            "5000",
            "--session",
            "ONTHEFLY",
            "--json",
        ]
    )
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["packets"] == 100
    assert sink.wait() == expected


def test_replay_loop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pcap = tmp_path / "small.pcap"
    with PcapWriter(pcap) as w:
        for i in range(21):
            pkt = DownstreamPacket("LOOP", i + 1, (b"x",)).build()
            w.write(
                build_udp_frame(
                    pkt, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2
                ),
                timestamp_ns=i * 1000,
            )
    sink = Listener()
    rc = main(
        ["replay", str(pcap), "--to", f"127.0.0.1:{sink.port}", "--max", "50", "--loop", "--json"]
    )
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["packets"] == 50
    seqs = [parse_downstream(p).sequence for p in sink.wait()]
    assert seqs == list(range(1, 22)) * 2 + list(range(1, 9))


def test_replay_keeps_recorded_timing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pcap = tmp_path / "t.pcap"
    with PcapWriter(pcap) as w:
        for i in range(21):
            pkt = DownstreamPacket("T", i + 1, (b"x",)).build()
            frame = build_udp_frame(
                pkt, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2
            )
            w.write(frame, timestamp_ns=i * 20_000_000)  # 20 ms apart: 0.4 s recorded
    sink = Listener()
    assert (
        main(["replay", str(pcap), "--to", f"127.0.0.1:{sink.port}", "--speed", "2", "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert 0.19 <= report["elapsed_s"] < 0.6  # 0.4 s at 2x: 0.2 s
    assert len(sink.wait()) == 21


def _small_capture(path: Path, n: int, *, cut: int | None = None) -> list[bytes]:
    """A classic pcap of ``n`` MoldUDP64 packets (payloads returned); frame number
    ``cut`` (from 1) captured with its first 60 bytes only, as a snap length of 60 does."""
    import struct

    out = bytearray(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 60 if cut else 65535, 1))
    payloads = []
    for i in range(n):
        pkt = DownstreamPacket("CUT", 1 + i * 2, (b"a" * 30, b"b" * 30)).build()
        frame = build_udp_frame(
            pkt, src_ip="198.18.0.1", dst_ip="198.18.0.2", src_port=1, dst_port=2
        )
        kept = frame[:60] if cut == i + 1 else frame
        out += struct.pack("<IIII", 1, i * 1000, len(kept), len(frame)) + kept
        if cut != i + 1:
            payloads.append(pkt)
    path.write_bytes(bytes(out))
    return payloads


def test_replay_counts_only_the_packets_the_kernel_took() -> None:
    """A send that fails is a send error, not a packet sent: the report's packets,
    messages and bytes are the sends that went out. Every packet was counted as sent
    (``sent 19974 packets ... send errors: 9987``) and the run exited 0."""
    from tickwire.moldudp64.replay import replay

    class Flaky:
        calls = 0

        def getpeername(self) -> tuple[str, int]:
            return ("127.0.0.1", 9)

        def send(self, payload: bytes) -> int:
            self.calls += 1
            if self.calls % 2 == 0:
                raise ConnectionRefusedError(111, "Connection refused")
            return len(payload)

    pkts = [DownstreamPacket("FLAKY", 1 + i, (b"x" * 10,)).build() for i in range(10)]

    def source() -> list[tuple[int, bytes]]:
        return list(enumerate(pkts))

    rep = replay(source, cast(socket.socket, Flaky()), speed=0)
    assert (rep.packets, rep.send_errors, rep.messages) == (5, 5, 5)
    assert rep.bytes == sum(len(p) for p in pkts[::2])
    assert rep.first_send_error == "Connection refused"
    assert rep.text().splitlines()[0].startswith("sent 5 packets (5 messages")
    # --max bounds the sends tried, failed or not (a loop to a dead port ends).
    rep = replay(source, cast(socket.socket, Flaky()), speed=0, max_packets=4, loop=True)
    assert (rep.packets, rep.send_errors) == (2, 2)


def test_replay_send_errors_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Loopback to a port nobody listens on (ICMP port unreachable fails the next send):
    the report counts the failed sends apart, and one error line ends the run, exit 1."""
    pcap = tmp_path / "s.pcap"
    _small_capture(pcap, 20)
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    rc = main(["replay", str(pcap), "--to", f"127.0.0.1:{port}", "--speed", "0", "--json"])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert rc == 1
    assert report["send_errors"] >= 1 and report["packets"] + report["send_errors"] == 20
    (line,) = err.splitlines()
    assert line.startswith("tickwire-moldudp64 replay: error: ")
    assert f"{report['send_errors']} of 20 packets not sent to 127.0.0.1:{port}" in line


def test_replay_reports_a_frame_the_capture_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A frame cut by the snap length is no packet to send: counted, said, exit 1 (it
    was skipped without a word, ``sent 19973 packets``, exit 0)."""
    pcap = tmp_path / "cut.pcap"
    payloads = _small_capture(pcap, 10, cut=5)
    sink = Listener()
    rc = main(["replay", str(pcap), "--to", f"127.0.0.1:{sink.port}", "--speed", "0"])
    out, err = capsys.readouterr()
    assert rc == 1
    assert out.splitlines()[0].startswith("sent 9 packets")
    assert "skipped: 1 frames, not sent (1 frames cut short by the capture's snap length" in out
    (line,) = err.splitlines()
    assert line.startswith("tickwire-moldudp64 replay: error: ")
    assert "1 frames cut short by the capture's snap length" in line
    assert "frame 5: 60 of its" in line
    assert sink.wait() == payloads


@pytest.mark.parametrize("loop", [False, True])
def test_replay_max_counts_only_the_frames_it_covers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], loop: bool
) -> None:
    """``--max N``: the first N packets, and the loss accounting covers only the frames
    up to the Nth. The read-ahead read the whole capture whatever N was: ``--max 4`` of a
    capture whose fifth frame is cut sent 4 packets, then reported the cut frame it was
    never asked to send, exit 1. ``--max 5`` covers it: counted, exit 1."""
    pcap = tmp_path / "cut.pcap"
    payloads = _small_capture(pcap, 10, cut=5)
    looping = ["--loop"] if loop else []
    for n, rc in ((4, 0), (5, 1)):
        sink = Listener()
        argv = ["replay", str(pcap), "--to", f"127.0.0.1:{sink.port}", "--speed", "0"]
        assert main([*argv, "--max", str(n), "--json", *looping]) == rc
        out, err = capsys.readouterr()
        report = json.loads(out)
        assert report["packets"] == n
        assert report["skipped_frames"] == (0 if n == 4 else 1), report
        assert sink.wait() == payloads[:n]
        if rc:
            (line,) = err.splitlines()
            assert "1 frames cut short by the capture's snap length" in line
        else:
            assert err == ""


def test_pcap2itch_writes_its_json_summary_on_stderr_then_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the README promises and docs/cli.md's conventions now say: the summary is one
    JSON line on stderr (the one JSON written without ``--json``, kept for the scripts
    that read it), and the error line, when there is one, comes after it, last. The
    conventions said errors are one line and only ``--json`` writes JSON, and named no
    such summary."""
    pcap = tmp_path / "cut.pcap"
    _small_capture(pcap, 6, cut=3)
    out = tmp_path / "out.itch"
    assert main(["pcap2itch", str(pcap), str(out)]) == 1
    summary, error = capsys.readouterr().err.splitlines()
    assert json.loads(summary)["cut_frames"] == 1
    assert error.startswith("tickwire-moldudp64 pcap2itch: error: ")
    assert error.endswith(f"{out} is written all the same")
    docs = (Path(__file__).resolve().parents[3] / "docs" / "cli.md").read_text()
    conventions = " ".join(docs.split("## The conventions")[1].split("## Captures")[0].split())
    assert "`moldudp64 pcap2itch` prints its summary as one JSON line on stderr" in conventions
    assert "It is the last line on stderr" in conventions


def test_replay_refuses_anything_but_a_literal_address(tmp_path: Path) -> None:
    for bad in ("localhost:9", "127.0.0.1", "127.0.0.1:0", "example.com:80", "::1:80"):
        assert main(["replay", str(tmp_path / "none.pcap"), "--to", bad, "--max", "1"]) == 2


def test_module_entry_point(tmp_path: Path, itch_file: Path) -> None:
    out = tmp_path / "x.pcap"
    res = subprocess.run(
        [sys.executable, "-m", "tickwire.moldudp64", "itch2pcap", str(itch_file), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "wrote" in res.stderr and out.stat().st_size > 0


def test_pcap2itch_refuses_a_capture_of_two_sessions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same rule as the engine's commands: without --session, a packet of a second
    session is a usage error naming both, and nothing is written (both sessions' messages
    were written into one BinaryFILE); --session picks one and counts the other's."""
    pcap = tmp_path / "two.pcap"
    with PcapWriter(pcap) as w:
        for name, seq in (("FEED", 1), ("FEED", 2), ("OTHER", 1), ("FEED", 3)):
            pkt = DownstreamPacket(name, seq, (b"m%d" % seq,)).build()
            w.write(build_udp_frame(pkt, src_ip="198.18.0.1", dst_ip="198.18.0.2",
                                    src_port=1, dst_port=2))  # fmt: skip
    out = tmp_path / "o.itch"
    for extra in ([], ["--keep-duplicates"]):
        assert main(["pcap2itch", str(pcap), str(out), *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "frame 3 is a packet of MoldUDP64 session 'OTHER' and frame 1 one of " in err
        assert "session 'FEED'" in err and "--session NAME" in err
        assert not out.exists()
        assert main(["pcap2itch", str(pcap), str(out), "--session", "FEED", *extra]) == 0
        summary = json.loads(capsys.readouterr().err)
        assert out.read_bytes() == b"\x00\x02m1\x00\x02m2\x00\x02m3"  # BinaryFILE
        assert summary["other_session_packets"] == 1
        out.unlink()
        assert main(["pcap2itch", str(pcap), str(out), "--session", "NONE", *extra]) == 2
        assert "session 'NONE': not one packet of it" in capsys.readouterr().err
        assert not out.exists()


def test_replay_of_a_capture_without_one_moldudp64_packet_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capture of other traffic only (here TCP), or a capture header and no frame, has
    nothing to replay: one line saying so, exit 1, as every command reading a capture
    says it (``faults_text``). It said ``sent 0 packets`` and exited 0."""
    from tickwire.net import build_tcp_frame

    tcp = tmp_path / "tcp.pcap"
    with PcapWriter(tcp) as w:
        for i in range(3):
            frame = build_tcp_frame(
                b"hello",
                src=("198.18.0.1", 40000),
                dst=("198.18.0.2", 15000),
                seq=1 + 5 * i,
                ack=1,
                flags=0x18,
            )
            w.write(frame)
    nothing = tmp_path / "nothing.pcap"
    with PcapWriter(nothing):
        pass
    for path, phrase in (
        (tcp, "not one MoldUDP64 packet in its 3 frames (3 not UDP)"),
        (nothing, "not one MoldUDP64 packet: the capture holds no frame"),
    ):
        assert main(["replay", str(path), "--to", "127.0.0.1:9", "--speed", "0"]) == 1
        out, err = capsys.readouterr()
        assert out.startswith("sent 0 packets")
        (line,) = err.splitlines()
        assert line == f"tickwire-moldudp64 replay: error: {path}: {phrase}"
