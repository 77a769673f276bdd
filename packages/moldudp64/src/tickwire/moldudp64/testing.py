"""Helpers for tests of MoldUDP64 readers (this package's, the engine's, the exchange's, itch's).

:func:`write_capture` writes a pcap of MoldUDP64 packets of chosen sessions and sequence
numbers, one message each (gaps, second sessions, A/B copies and forged copies are then a
list to write). :func:`run_in_multicast_netns` runs a Python script in a private network namespace whose
only interface is its loopback, addressed 198.18.0.1/32 (RFC 2544's test range) and
routed for multicast (224.0.0.0/4), so nothing the script sends can leave it; the
namespace is removed afterwards whatever happens. It needs root and iproute2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tickwire.net import PcapWriter, build_udp_frame

from .codec import DownstreamPacket

__all__ = ["NETNS_ADDRESS", "NamespaceUnavailable", "run_in_multicast_netns", "write_capture"]

#: The namespace's one address (on its loopback).
NETNS_ADDRESS = "198.18.0.1"


class NamespaceUnavailable(RuntimeError):
    """The namespace cannot be created here (no root, no iproute2, a sandbox): skip."""


def write_capture(
    path: Path,
    packets: Iterable[tuple[str, int]],
    messages: Sequence[bytes],
    *,
    forged: int = 0,
    dst_port: int = 26477,
) -> Path:
    """Write ``path``: a UDP frame (198.18.0.1 to 198.18.0.2) per ``(session, sequence)``
    of ``packets``, a MoldUDP64 packet of that session carrying ``messages[sequence - 1]``.
    The first packet of sequence number ``forged`` carries a made-up message instead (the
    last byte changed), as a forged copy ahead of the real one."""
    with PcapWriter(path) as w:
        for session, seq in packets:
            msg = messages[seq - 1]
            if seq == forged:
                msg, forged = msg[:-1] + bytes([msg[-1] ^ 1]), 0
            pkt = DownstreamPacket(session, seq, (msg,)).build()
            w.write(build_udp_frame(pkt, src_ip="198.18.0.1", dst_ip="198.18.0.2",
                                    src_port=1, dst_port=dst_port))  # fmt: skip
    return path


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def run_in_multicast_netns(prefix: str, script: str, *, timeout: float) -> Any:
    """Run ``python -c script`` in a new namespace named ``prefix`` and this process's id,
    and return the JSON document its last line of stdout holds. Raises
    :class:`NamespaceUnavailable` when the namespace cannot be made, and
    :class:`AssertionError` (with the script's stderr) when the script fails."""
    ns = f"{prefix}{os.getpid()}"
    try:
        _ip("netns", "add", ns)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise NamespaceUnavailable(f"cannot create a network namespace: {exc}") from None
    try:
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "link", "set", "lo", "multicast", "on")
        _ip("-n", ns, "addr", "add", f"{NETNS_ADDRESS}/32", "dev", "lo")
        _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "lo")
        res = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
