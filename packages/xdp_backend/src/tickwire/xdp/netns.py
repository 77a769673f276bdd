"""Throw-away hosts for tests and benchmarks: two network namespaces joined by a veth pair.

``veth_pair()`` creates namespaces and a veth pair addressed inside 198.18.0.0/15 (the
benchmarking range), yields their names, addresses and MACs, and removes everything on
exit, whatever happened. ``in_netns()`` runs a block in one of the namespaces (sockets
made there stay there). Needs root and iproute2; nothing here touches any other
interface or address.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["VethPair", "in_netns", "veth_pair"]

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run the block (in this thread) inside network namespace ``name``."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/run/netns/{name}", os.O_RDONLY)
        try:
            if _libc.setns(target, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns({name}) failed")
            try:
                yield
            finally:
                if _libc.setns(own, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back to the original namespace failed")
        finally:
            os.close(target)
    finally:
        os.close(own)


def _ip(*args: str) -> str:
    return subprocess.run(
        ["ip", *args], check=True, capture_output=True, text=True, timeout=20
    ).stdout


def _mac(ns: str, iface: str) -> bytes:
    fields = _ip("-n", ns, "-br", "link", "show", iface).split()
    return bytes.fromhex(fields[2].replace(":", ""))


@dataclass(frozen=True, slots=True)
class VethPair:
    """``ns_xdp`` holds ``if_xdp`` (198.18.0.1); ``ns_peer`` holds ``if_peer`` (198.18.0.2)."""

    ns_xdp: str
    ns_peer: str
    if_xdp: str
    if_peer: str
    mac_xdp: bytes
    mac_peer: bytes
    ip_xdp: str = "198.18.0.1"
    ip_peer: str = "198.18.0.2"


@contextlib.contextmanager
def veth_pair(tag: str | None = None) -> Iterator[VethPair]:
    """Two fresh namespaces joined by a veth pair; removed on exit.

    For XDP_TX in native mode the peer needs an XDP program of its own (see
    ``tickwire_pass`` in the C source): a veth hands XDP_TX frames only to a peer whose
    NAPI runs.
    """
    tag = tag or str(os.getpid() % 100000)
    ns_xdp, ns_peer = f"twxdp{tag}a", f"twxdp{tag}b"
    if_xdp, if_peer = f"twx{tag}a", f"twx{tag}b"
    try:
        _ip("netns", "add", ns_xdp)
        _ip("netns", "add", ns_peer)
        _ip(
            "link",
            "add",
            if_xdp,
            "netns",
            ns_xdp,
            "type",
            "veth",
            "peer",
            "name",
            if_peer,
            "netns",
            ns_peer,
        )
        for ns, iface, addr in (
            (ns_xdp, if_xdp, "198.18.0.1/24"),
            (ns_peer, if_peer, "198.18.0.2/24"),
        ):
            _ip("-n", ns, "addr", "add", addr, "dev", iface)
            _ip("-n", ns, "link", "set", iface, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield VethPair(
            ns_xdp, ns_peer, if_xdp, if_peer, _mac(ns_xdp, if_xdp), _mac(ns_peer, if_peer)
        )
    finally:
        for ns in (ns_xdp, ns_peer):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
