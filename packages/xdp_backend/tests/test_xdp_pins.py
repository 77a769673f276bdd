"""Pins on a fresh machine and pins that outlive their interface (issue #14 section 1).

* bpffs not mounted at /sys/fs/bpf (a fresh VM): ``attach`` mounts it when root, and
  says exactly what to run otherwise. These run in a private mount namespace
  (``unshare -m``) where /sys/fs/bpf is unmounted, so the host's pins are untouched.
* The pin directory is named after the interface: ``detach`` cleans the pins of an
  interface that is gone, ``attach`` replaces pins whose interface was recreated, and a
  live attachment (here or in another network namespace) is never unpinned or replaced.
* ``attach --mode native`` on a veth whose peer has no XDP program warns that nothing
  it sends back will arrive.

Every test drives the real CLI (``python -m tickwire.xdp``) in throw-away namespaces and
veth pairs in 198.18.0.0/15.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tickwire.xdp import PIN_ROOT, XdpProgram, pin_status
from tickwire.xdp.netns import VethPair, in_netns, veth_pair
from tickwire.xdp.program import PASS_PROGRAM_NAME
from tickwire.xdp.rtnl import link, native_veth_warning

pytestmark = pytest.mark.network

CONFIG = """
armed = true
max_orders = 10
first_user_ref_num = 1
feed_port = 26477
order_port = 26400
order_session = "TWORDERS01"

[[instrument]]
locate = 13
symbol = "AAPL"
limit_price = 1500000
base_qty = 100
step_qty = 100
tick = 100
max_order_qty = 1000
max_position = 5000
max_notional = 500000000000
"""


def _cli(ns: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in network namespace ``ns`` (None: this one); nsenter keeps /sys/fs/bpf."""
    enter = ["nsenter", f"--net=/run/netns/{ns}"] if ns else []
    return subprocess.run(
        [*enter, sys.executable, "-m", "tickwire.xdp", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "threshold.toml"
    path.write_text(CONFIG)
    return str(path)


def _tag(letter: str) -> str:
    return f"{os.getpid() % 100000}{letter}"


@pytest.fixture
def net() -> Iterator[VethPair]:
    with veth_pair(_tag("p")) as pair:
        try:
            yield pair
        finally:
            XdpProgram.unpin(pair.if_xdp)


# -- bpffs missing ------------------------------------------------------------------------

#: Runs in a private mount namespace without bpffs at /sys/fs/bpf.
_WITHOUT_BPFFS = (
    "umount -l /sys/fs/bpf 2>/dev/null; ! grep -q ' /sys/fs/bpf bpf ' /proc/self/mounts && "
)


def _host_bpffs() -> str:
    return "".join(
        line for line in Path("/proc/self/mounts").read_text().splitlines(True) if " bpf " in line
    )


def test_attach_mounts_bpffs_when_it_is_missing(net: VethPair, config: str) -> None:
    host = _host_bpffs()
    cli = f"nsenter --net=/run/netns/{net.ns_xdp} {sys.executable} -m tickwire.xdp"
    script = (
        _WITHOUT_BPFFS
        + f"{cli} attach {net.if_xdp} --config {config} --mode generic && "
        + f"{cli} stats {net.if_xdp} && "
        + "grep ' /sys/fs/bpf bpf ' /proc/self/mounts && "
        + f"{cli} detach {net.if_xdp}"
    )
    proc = subprocess.run(
        # A new PID namespace too: its init (the shell) shares the new mount namespace,
        # as on a fresh machine, where bpffs is missing in the system's namespace.
        [
            "unshare",
            "-m",
            "-p",
            "-f",
            "--mount-proc",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mounted the BPF filesystem at /sys/fs/bpf" in proc.stderr
    assert f"attached to {net.if_xdp} (generic)" in proc.stdout
    assert "armed yes" in proc.stdout  # stats read the pins it made
    assert f"detached from {net.if_xdp} (generic)" in proc.stdout
    assert _host_bpffs() == host  # the host's mounts are untouched


def test_without_bpffs_and_not_root_the_error_says_what_to_run() -> None:
    # Imports as root, then drops to nobody, in a mount namespace without bpffs.
    code = (
        "import os\n"
        "from tickwire.xdp import XdpError, ensure_bpffs\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "try:\n"
        "    ensure_bpffs()\n"
        "except XdpError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('no error')\n"
    )
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         _WITHOUT_BPFFS + f'{sys.executable} -c "$0"', code],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not mounted at /sys/fs/bpf" in proc.stdout
    assert "run `sudo mount -t bpf bpf /sys/fs/bpf`" in proc.stdout


def test_under_ip_netns_exec_attach_refuses_to_pin_where_pins_would_vanish(
    net: VethPair, config: str
) -> None:
    # `ip netns exec` gives the command a mount namespace of its own with a new /sys: a
    # bpffs mounted there would vanish when it exits, leaving the program attached and
    # unreachable. So nothing is mounted and nothing is attached.
    proc = subprocess.run(
        ["ip", "netns", "exec", net.ns_xdp, sys.executable, "-m", "tickwire.xdp",
         "attach", net.if_xdp, "--config", config, "--mode", "generic"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "not the system's (as under `ip netns exec`" in proc.stderr
    assert "nsenter --net=/run/netns/NAME" in proc.stderr
    with in_netns(net.ns_xdp):
        assert not link(net.if_xdp).xdp_attached


# -- pins that outlive their interface -----------------------------------------------------


def test_detach_cleans_the_pins_of_a_vanished_interface(net: VethPair, config: str) -> None:
    proc = _cli(net.ns_xdp, "attach", net.if_xdp, "--config", config, "--mode", "generic")
    assert proc.returncode == 0, proc.stderr
    subprocess.run(["ip", "-n", net.ns_xdp, "link", "del", net.if_xdp], check=True, timeout=20)
    proc = _cli(net.ns_xdp, "detach", net.if_xdp)
    assert proc.returncode == 0, proc.stderr
    assert f"{net.if_xdp} no longer exists" in proc.stdout
    assert "removed its stale pins" in proc.stdout
    assert not (PIN_ROOT / net.if_xdp).exists()


def test_detach_cleans_the_pins_of_an_interface_whose_namespace_is_gone(config: str) -> None:
    with veth_pair(_tag("g")) as net:
        proc = _cli(net.ns_xdp, "attach", net.if_xdp, "--config", config, "--mode", "generic")
        assert proc.returncode == 0, proc.stderr
    try:
        assert pin_status(net.if_xdp).state == "stale"
        proc = _cli(None, "detach", net.if_xdp)  # from here: the namespace is gone
        assert proc.returncode == 0, proc.stderr
        assert "network namespace is gone" in proc.stdout
        assert not (PIN_ROOT / net.if_xdp).exists()
    finally:
        XdpProgram.unpin(net.if_xdp)


def test_attach_replaces_the_stale_pins_of_a_recreated_interface(config: str) -> None:
    tag = _tag("r")
    with veth_pair(tag) as first:
        proc = _cli(first.ns_xdp, "attach", first.if_xdp, "--config", config, "--mode", "generic")
        assert proc.returncode == 0, proc.stderr
    try:
        with veth_pair(tag) as again:  # the same names, a new interface
            assert again.if_xdp == first.if_xdp
            proc = _cli(
                again.ns_xdp, "attach", again.if_xdp, "--config", config, "--mode", "generic"
            )
            assert proc.returncode == 0, proc.stderr
            assert "replaced stale pins" in proc.stderr
            with in_netns(again.ns_xdp):
                assert pin_status(again.if_xdp).state == "live"
            proc = _cli(again.ns_xdp, "detach", again.if_xdp)
            assert proc.returncode == 0, proc.stderr
            assert f"detached from {again.if_xdp} (generic)" in proc.stdout
    finally:
        XdpProgram.unpin(first.if_xdp)


def test_a_live_attachment_is_never_replaced_or_unpinned(net: VethPair, config: str) -> None:
    proc = _cli(net.ns_xdp, "attach", net.if_xdp, "--config", config, "--mode", "generic")
    assert proc.returncode == 0, proc.stderr
    # attach again, in the same namespace: refused, the running program keeps its pins
    proc = _cli(net.ns_xdp, "attach", net.if_xdp, "--config", config, "--mode", "generic")
    assert proc.returncode == 1
    assert f"is attached to {net.if_xdp}: detach it first" in proc.stderr
    # from another network namespace (the name means nothing here): refused both ways
    for args in (("detach", net.if_xdp), ("attach", net.if_xdp, "--config", config)):
        proc = _cli(None, *args)
        assert proc.returncode == 1, proc.stdout
        assert "in another network namespace" in proc.stderr
    assert _cli(net.ns_xdp, "disarm", net.if_xdp).returncode == 0  # the pins still work
    proc = _cli(net.ns_xdp, "detach", net.if_xdp)
    assert proc.returncode == 0, proc.stderr
    assert f"detached from {net.if_xdp} (generic)" in proc.stdout


# -- native mode on a veth -----------------------------------------------------------------


def test_native_attach_on_a_veth_warns_when_the_peer_has_no_xdp_program(
    net: VethPair, config: str
) -> None:
    with in_netns(net.ns_xdp):
        here = link(net.if_xdp)
        peer = link(here.peer_ifindex, here.peer_netnsid)
    assert (here.kind, peer.name, peer.xdp_attached) == ("veth", net.if_peer, False)

    proc = _cli(net.ns_xdp, "attach", net.if_xdp, "--config", config, "--mode", "native")
    assert proc.returncode == 0, proc.stderr
    assert f"its peer {net.if_peer} has no XDP program" in proc.stderr
    assert "--mode generic" in proc.stderr
    assert _cli(net.ns_xdp, "detach", net.if_xdp).returncode == 0

    # With a program on the peer, native mode works and nothing is said.
    peer_pass = XdpProgram.load(program=PASS_PROGRAM_NAME)
    try:
        with in_netns(net.ns_peer):
            peer_pass.attach(net.if_peer, "native")
        with in_netns(net.ns_xdp):
            assert native_veth_warning(net.if_xdp) is None
        proc = _cli(net.ns_xdp, "attach", net.if_xdp, "--config", config, "--mode", "native")
        assert proc.returncode == 0, proc.stderr
        assert "warning" not in proc.stderr
        assert _cli(net.ns_xdp, "detach", net.if_xdp).returncode == 0
    finally:
        peer_pass.close()


def test_no_warning_for_an_interface_that_is_not_a_veth(net: VethPair) -> None:
    with in_netns(net.ns_xdp):
        assert native_veth_warning("lo") is None
        assert link("lo").kind == ""


def test_pins_of_an_interrupted_attach_are_stale_and_replaced(program: XdpProgram) -> None:
    name = f"twxcut{os.getpid() % 100000}"
    base = program.pin(name)
    try:
        (base / "prog").unlink()  # as if attach died between pinning the maps and the program
        status = pin_status(name)
        assert (status.state, status.reason) == (
            "stale",
            f"{base} holds no program (an interrupted attach)",
        )
        assert program.pin(name) == base
        assert (base / "prog").exists()
    finally:
        XdpProgram.unpin(name)
    assert pin_status(name).state == "none"
