"""Running Wireshark's ``soupbintcp`` and ``ouch`` dissectors (tshark) on captures
the tests write, shared by the capture and interop tests.

The tests need tshark only for these checks: they skip with a clear reason when it
is not installed (scripts/setup.sh installs it, so CI runs them) and never otherwise.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def tshark(path: Path, port: int, *args: str) -> str:
    """tshark's stdout for a capture whose TCP port ``port`` carries SoupBinTCP."""
    cmd = ["tshark", "-r", str(path), "-d", f"tcp.port=={port},soupbintcp", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout


def assert_not_malformed(path: Path, port: int) -> None:
    assert tshark(path, port, "-Y", "_ws.malformed").strip() == "", (
        "Wireshark found malformed packets"
    )


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a dissected protocol, as PDML gives it."""

    name: str
    show: str  # the value (FT_STRING: the text; numbers: decimal; FT_CHAR: quoted)
    showname: str  # the whole tree line, with the dissector's own formatting
    pos: int  # offset in the packet's data source (frame or reassembled PDU)
    size: int
    value: str  # the field's bytes, hex ("" when the field has none)


@dataclass(frozen=True, slots=True)
class Proto:
    """One protocol layer of one dissected PDU (a SoupBinTCP packet, an OUCH message)."""

    name: str
    showname: str
    pos: int
    size: int
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field:
        [f] = [f for f in self.fields if f.name == name]
        return f


def dissect(path: Path, port: int, protos: tuple[str, ...] = ("soupbintcp", "ouch")) -> list[Proto]:
    """Every layer named in ``protos``, in capture order, as Wireshark's dissectors
    read them (``tshark -T pdml``: value, display text, offset and size of each
    field in one run). Fails on any malformed packet."""
    pdml = tshark(path, port, "-T", "pdml")
    out: list[Proto] = []
    for packet in ET.fromstring(pdml).iter("packet"):
        for proto in packet.iter("proto"):
            name = proto.get("name", "")
            assert name != "_ws.malformed", f"malformed packet: {proto.get('showname')}"
            if name not in protos:
                continue
            fields = tuple(
                Field(
                    f.get("name", ""),
                    f.get("show", ""),
                    f.get("showname", ""),
                    int(f.get("pos", "0")),
                    int(f.get("size", "0")),
                    f.get("value", ""),
                )
                for f in proto.findall("field")
            )
            out.append(
                Proto(
                    name,
                    proto.get("showname", ""),
                    int(proto.get("pos", "0")),
                    int(proto.get("size", "0")),
                    fields,
                )
            )
    return out
