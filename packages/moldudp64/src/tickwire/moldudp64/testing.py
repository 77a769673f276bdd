"""Helpers for tests that run MoldUDP64 over real sockets (this package's and the engine's).

:func:`run_in_multicast_netns` runs a Python script in a private network namespace whose
only interface is its loopback, addressed 198.18.0.1/32 (RFC 2544's test range) and
routed for multicast (224.0.0.0/4), so nothing the script sends can leave it; the
namespace is removed afterwards whatever happens. It needs root and iproute2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

__all__ = ["NETNS_ADDRESS", "NamespaceUnavailable", "run_in_multicast_netns"]

#: The namespace's one address (on its loopback).
NETNS_ADDRESS = "198.18.0.1"


class NamespaceUnavailable(RuntimeError):
    """The namespace cannot be created here (no root, no iproute2, a sandbox): skip."""


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
