"""``python -m tickwire.ouch decode`` under bad input: one ``error:`` line, exit 1 for an
unreadable capture, 2 for a usage error, never a traceback."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from tickwire.ouch.decode import main


def _pcap(linktype: int, frames: list[bytes]) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)
    for frame in frames:
        out += struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame
    return out


def _error_line(err: str) -> str:
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if "error:" in x]
    return line


def test_unknown_link_type_is_an_error_not_an_empty_decode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cap = tmp_path / "usb.pcap"
    cap.write_bytes(_pcap(147, [bytes(60)] * 3))  # LINKTYPE_USER0: nothing we can read
    assert main(["decode", str(cap), "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "link type 147 cannot be read" in _error_line(captured.err)


@pytest.mark.parametrize(
    ("name", "data", "status", "needle"),
    [
        ("random.pcap", bytes(range(256)) * 4, 1, "not a pcap or pcapng file"),
        ("cut.pcap", _pcap(1, [bytes(60)])[:-7], 1, ""),
        ("empty.pcap", b"", 2, "empty file"),
    ],
)
def test_bad_captures(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    data: bytes,
    status: int,
    needle: str,
) -> None:
    cap = tmp_path / name
    cap.write_bytes(data)
    assert main(["decode", str(cap)]) == status
    assert needle in _error_line(capsys.readouterr().err)


def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cap = tmp_path / "ok.pcap"
    cap.write_bytes(_pcap(1, []))
    for argv, needle in (
        (["decode", str(cap), "--port", "99999"], "port 99999 is not in 1..65535"),
        (["decode", str(cap), "--port", "0"], "port 0 is not in 1..65535"),
        (["decode", str(tmp_path / "missing.pcap")], "no such file"),
        (["decode", str(tmp_path)], "is a directory"),
    ):
        assert main(argv) == 2
        assert needle in _error_line(capsys.readouterr().err)


def _tcp_capture(path: Path, segments: list[tuple[bool, bytes]]) -> None:
    """One connection, client 198.18.0.1:40000 to server 198.18.0.2:26400; each segment
    (from the server?, bytes) in order, sequence numbers following on."""
    from tickwire.net import PcapWriter
    from tickwire.net.frames import build_tcp_frame

    client, server = ("198.18.0.1", 40000), ("198.18.0.2", 26400)
    seq = {client: 1000, server: 5000}
    with PcapWriter(path) as w:
        for from_server, data in segments:
            src, dst = (server, client) if from_server else (client, server)
            w.write(build_tcp_frame(data, src=src, dst=dst, seq=seq[src], ack=seq[dst], flags=0x18))
            seq[src] += len(data)


def test_packets_before_a_bad_header_are_decoded_and_undecoded_bytes_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A good packet and a zero length in one segment: the packet is decoded, then the
    error record; the capture's end inside a packet is a ``cut`` record; bytes left
    undecoded exit 1 with the totals. The framer dropped the good packet, a cut packet
    went unsaid, and a capture of random bytes printed nothing with exit 0."""
    from tickwire.soupbintcp.packets import ServerHeartbeat, build_packet

    beat = build_packet(ServerHeartbeat())
    cap = tmp_path / "c.pcap"
    _tcp_capture(cap, [(True, beat + b"\x00\x00" + b"rest"), (False, b"\x00\x30" + b"x" * 10)])
    assert main(["decode", str(cap)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert "ServerHeartbeat" in lines[0]
    assert "ERROR not SoupBinTCP: packet length 0" in lines[1]
    assert lines[2].endswith("CUT 12 bytes of a packet the capture ends inside")
    assert "18 bytes not decoded" in _one_line(err)  # 00 00 "rest" + the cut 12

    rnd = tmp_path / "r.pcap"
    _tcp_capture(rnd, [(False, bytes(range(7, 207)))])
    assert main(["decode", str(rnd), "--json"]) == 1
    out, err = capsys.readouterr()
    assert out and "200 bytes not decoded" in _one_line(err)


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    (line,) = err.splitlines()
    return line


def test_the_handshake_says_which_side_is_the_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A client that sends a server-only packet type (End of Session) first: with the
    handshake in the capture, the SYN's destination is the server and every record keeps
    its direction. The first side-specific packet decided, so the client was taken for
    the server and every record of the connection had its direction swapped."""
    import json

    from tickwire.net import PcapWriter
    from tickwire.net.frames import build_tcp_frame
    from tickwire.soupbintcp.packets import EndOfSession, SequencedData, build_packet

    client, server = ("198.18.0.1", 40000), ("198.18.0.2", 26400)
    cap = tmp_path / "h.pcap"
    with PcapWriter(cap) as w:
        for src, dst, seq, ack, flags, data in (
            (client, server, 999, 0, 0x02, b""),  # SYN
            (server, client, 4999, 1000, 0x12, b""),  # SYN-ACK
            (client, server, 1000, 5000, 0x18, build_packet(EndOfSession())),
            (server, client, 5000, 1003, 0x18, build_packet(SequencedData(b"x"))),
        ):
            w.write(build_tcp_frame(data, src=src, dst=dst, seq=seq, ack=ack, flags=flags))
    main(["decode", str(cap), "--json"])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["src"], r["direction"]) for r in records] == [
        ("198.18.0.1:40000", "client_to_server"),
        ("198.18.0.2:26400", "server_to_client"),
    ]
    assert "not sent by a client" in records[0]["error"]


def test_records_that_do_not_decode_exit_1_with_their_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """OUCH that does not decode inside valid SoupBinTCP framing: each record keeps its
    ``ouch_error`` line and one ``error:`` line counts them, exit 1 (it exited 0)."""
    import json

    from tickwire.soupbintcp.packets import SequencedData, ServerHeartbeat, build_packet

    bad = build_packet(SequencedData(b"S" + b"x" * 10))
    cap = tmp_path / "bad.pcap"
    _tcp_capture(cap, [(True, build_packet(ServerHeartbeat()) + bad + bad)])
    assert main(["decode", str(cap)]) == 1
    out, err = capsys.readouterr()
    assert sum("ouch_error=" in line for line in out.splitlines()) == 2
    line = _error_line(err)
    assert len(err.splitlines()) == 1
    assert line.startswith("tickwire-ouch decode: error: ")
    assert "2 records not decoded" in line and "3 packets decoded" in line
    assert main(["decode", str(cap), "--json"]) == 1
    out, err = capsys.readouterr()
    assert sum("ouch_error" in json.loads(x) for x in out.splitlines()) == 2
    assert "2 records not decoded" in _error_line(err)


def test_a_capture_without_soupbintcp_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capture of UDP only printed nothing and exited 0, as if the session were quiet:
    one line says no SoupBinTCP stream was found, exit 1 (nothing could be decoded)."""
    from tickwire.net import PcapWriter, build_udp_frame

    cap = tmp_path / "udp.pcap"
    with PcapWriter(cap) as w:
        for _ in range(3):
            w.write(build_udp_frame(b"x" * 30, src_ip="198.18.0.1", dst_ip="198.18.0.2",
                                    src_port=1, dst_port=2))  # fmt: skip
    assert main(["decode", str(cap)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    line = _one_line(err)
    assert line.startswith("tickwire-ouch decode: error: ")
    assert "no SoupBinTCP stream found" in line and "0 TCP segments" in line


def test_text_output_shows_control_characters_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Debug packet and an OUCH symbol carrying ESC sequences (clear the screen, set the
    window title) are printed escaped; on the old code they went to the terminal raw."""
    from tickwire.ouch import v50
    from tickwire.soupbintcp.packets import Debug, UnsequencedData, build_packet

    enter = v50.EnterOrder(
        1, "B", 100, "\x1b[2J", 1_000_000, "0", "Y", "A", "N", "N", "\x1b[Hclord"
    )
    cap = tmp_path / "e.pcap"
    _tcp_capture(
        cap,
        [
            (True, build_packet(Debug("\x1b]0;pwned\x07\x1b[2J"))),
            (False, build_packet(UnsequencedData(v50.encode(enter)))),
        ],
    )
    main(["decode", str(cap)])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in out and "\\x1b[2J" in out
