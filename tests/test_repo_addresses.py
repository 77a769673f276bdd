"""No IPv4 address outside loopback and 198.18.0.0/15 anywhere in the project.

The rule (docs/CONTRIBUTING.md, docs/robustness.md): code, tests, benchmarks and docs
use 127.0.0.0/8 and the benchmarking range 198.18.0.0/15 (RFC 2544) only, even in frames
that are only built in memory or stay inside QEMU, so that nothing ever names, let alone
sends to, a real network or a real feed's address. This module reads every text file of
the checkout (not ``data/``: vendored real captures keep their real addresses) and fails
on any other dotted quad, except the few below, each for a reason no test address can
serve.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("198.18.0.0/15"))
ANY = ipaddress.ip_address("0.0.0.0")

#: (file, address) -> why it stays.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("packages/engine/tests/test_engine_cli.py", "206.200.127.138"): (
        "the destination read back from a vendored real capture in data/"
    ),
    ("packages/moldudp64/tests/test_moldudp64_multicast.py", "239.192.0.1"): (
        "a multicast group (none is in 198.18.0.0/15), organization-local, joined on lo "
        "inside the test's own network namespace"
    ),
    ("packages/moldudp64/src/tickwire/moldudp64/testing.py", "224.0.0.0"): (
        "the multicast route of the tests' namespace's lo (run_in_multicast_netns)"
    ),
    ("packages/engine/tests/test_engine_live_multicast.py", "239.192.0.1"): (
        "the same group, joined by the live engine inside the test's own namespace"
    ),
    ("packages/net/tests/test_net_frames.py", "239.192.0.1"): (
        "a multicast group, to check the MAC derived from it; the frame is never sent"
    ),
    ("packages/itch/src/tickwire/itch/messages.py", "4.2.5.1"): "an ITCH spec section number",
    ("packages/itch/src/tickwire/itch/messages.py", "4.2.5.2"): "an ITCH spec section number",
}

_QUAD = re.compile(r"(?<![\w.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\w.])")
# "site": mkdocs build's output, made from the docs and docstrings checked here
_SKIP_DIRS = {".git", ".venv", "build", "dist", "out", "backtest-out", "node_modules", "data"}
_SKIP_DIRS |= {"site"}
_SUFFIXES = {".py", ".pyx", ".pxd", ".md", ".sh", ".toml", ".c", ".h", ".asm", ".ld", ".txt"}
_SUFFIXES |= {".yml", ".yaml", ".json", ".cfg", ".ini", ".bpf", ""}


def _text_files() -> list[Path]:
    out = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [
            d
            for d in dirs
            if d not in _SKIP_DIRS
            and not d.endswith(".egg-info")
            and (d == ".ci" or not d.startswith("."))
        ]
        out += [Path(folder) / n for n in files if Path(n).suffix in _SUFFIXES]
    return out


def _outside(text: str) -> bool:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return False  # not an address (a version, a quad past 255)
    return addr != ANY and not any(addr in net for net in ALLOWED)


def test_every_address_is_loopback_or_in_198_18_0_0_15() -> None:
    offenders = []
    seen = set()
    for path in _text_files():
        if path == Path(__file__).resolve():
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        rel = path.relative_to(ROOT).as_posix()
        for match in _QUAD.finditer(text):
            quad = match.group(1)
            if not _outside(quad):
                continue
            if (rel, quad) in EXCEPTIONS:
                seen.add((rel, quad))
                continue
            line = text.count("\n", 0, match.start()) + 1
            offenders.append(f"{rel}:{line}: {quad}")
    assert offenders == [], "use 198.18.0.0/15 or loopback:\n" + "\n".join(offenders)
    # an exception that no longer matches anything is stale: drop it
    assert seen == set(EXCEPTIONS), f"stale exceptions: {sorted(set(EXCEPTIONS) - seen)}"


def test_the_check_finds_what_it_should() -> None:
    def dots(*parts: int) -> str:  # built from pieces: this file names no address
        return ".".join(map(str, parts))

    assert _outside(dots(233, 54, 12, 111)) and _outside(dots(10, 0, 0, 1))
    assert _outside(dots(192, 0, 2, 1))
    assert not _outside("198.19.255.255") and not _outside("127.0.0.1")
    assert not _outside("0.0.0.0") and not _outside(dots(999, 1, 2, 3))
    text = f"v{dots(1, 2, 3, 4, 5)} x 198.18.0.1:26477 ({dots(1, 2, 3, 4)})"
    assert _QUAD.findall(text) == ["198.18.0.1", dots(1, 2, 3, 4)]
