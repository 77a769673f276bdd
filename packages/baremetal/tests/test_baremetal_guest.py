"""The kernel under QEMU: differential runs against the reference, fault injection,
run-time control, the latency histogram and a clean exit.

One guest (session fixture) serves every test here: each test reconfigures it over a
control packet, which resets it, exactly as the backend does between cases.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest
from _baremetal_helpers import BASE_CONFIG, tools_missing
from tickwire.baremetal import Guest, default_accel
from tickwire.baremetal.layout import Command, CommandResult, build_control
from tickwire.baremetal.stats import bucket_bounds
from tickwire.baremetal.traffic import (
    FAULT_KINDS,
    FeedAddresses,
    capture_frames,
    feed_frames,
    generated_messages,
    inject_faults,
    threshold_config_for,
)
from tickwire.threshold.config import ThresholdConfig
from tickwire.threshold.reference import ThresholdEngine

PCAPS = Path(__file__).resolve().parents[3] / "data" / "pcap" / "nasdaq-itch50"
MESSAGES = list(generated_messages(8000, 20, 9))
CONFIG = threshold_config_for(MESSAGES, instruments=6, max_orders=200)
FRAMES = list(feed_frames(MESSAGES, max_blocks=16))


def sell_add(locate: int, price: int, shares: int = 100) -> bytes:
    return struct.pack(
        ">cHH6sQcI8sI", b"A", locate, 0, b"\0" * 6, 1, b"S", shares, b"AAPL    ", price
    )


def reference(
    config: ThresholdConfig, frames: list[bytes]
) -> tuple[list[list[bytes]], ThresholdEngine]:
    ref = ThresholdEngine(config)
    return [ref.feed(f) for f in frames], ref


def test_boot_reports_accelerator(guest: Guest) -> None:
    assert guest.running
    assert guest.accel in ("kvm", "tcg")
    assert any(line.startswith("READY") and "link_up=1" in line for line in guest.serial_log)


def test_generated_day_matches_reference(guest: Guest) -> None:
    guest.reconfigure(CONFIG)
    want, ref = reference(CONFIG, FRAMES)
    assert guest.process(FRAMES) == want
    report = guest.report()
    assert report.threshold_stats().to_json() == ref.stats().to_json()
    assert ref.stats().orders > 20
    # One latency sample per order sent, from descriptor-done to the TX tail write.
    hist = report.histogram
    assert hist.count == ref.stats().orders == sum(hist.buckets.values())
    assert 0 < hist.minimum <= hist.percentile(50) <= hist.percentile(99) <= hist.maximum
    low, high = bucket_bounds(max(hist.buckets))
    assert low <= hist.maximum < high


def test_fault_injection_keeps_kernel_alive_and_equal(guest: Guest) -> None:
    """Corrupt, truncated, oversize (up to 9,000 bytes: several RX descriptors), runt and
    malformed-MoldUDP64 frames mixed with valid ones: same orders, same statistics."""
    guest.reconfigure(CONFIG)
    labelled = list(inject_faults(FRAMES, rate=0.8, seed=17))
    kinds = {k for k, _ in labelled}
    assert kinds == {"valid", *FAULT_KINDS}
    mixed = [f for _, f in labelled]
    assert max(map(len, mixed)) > 2048 and min(map(len, mixed)) < 60
    want, ref = reference(CONFIG, mixed)
    assert guest.process(mixed) == want
    stats = guest.report()
    assert stats.threshold_stats().to_json() == ref.stats().to_json()
    assert ref.stats().parse_errors > 50
    assert stats.counters["tx_stalls"] == 0 and stats.counters["rx_oversize"] == 0
    # Still alive and answering after all of it.
    assert guest.running
    assert guest.sync() == len(mixed)


def test_real_captures_match_reference(guest: Guest) -> None:
    frames = [f for p in sorted(PCAPS.glob("*.pcap")) for f in capture_frames(p)] * 3
    assert frames, f"no captures in {PCAPS}"
    config = dataclasses.replace(
        BASE_CONFIG,
        max_orders=5,
        instruments=(dataclasses.replace(BASE_CONFIG.instruments[0], locate=6514, symbol="META", limit_price=3_600_000, base_qty=10, step_qty=1, max_order_qty=500),),
    )  # fmt: skip
    guest.reconfigure(config)
    want, ref = reference(config, frames)
    assert guest.process(frames) == want
    assert guest.report().threshold_stats().to_json() == ref.stats().to_json()
    assert ref.stats().orders == 3


def test_vlan_tagged_and_runt_frames(guest: Guest) -> None:
    tagged = list(feed_frames(MESSAGES[:3000], FeedAddresses(vlan_tci=0xE07B), max_blocks=7))
    runts = [f[:n] for f in tagged[:20] for n in (0, 13, 17, 30, 41, 45, 59)]
    frames = tagged + runts
    guest.reconfigure(CONFIG)
    want, ref = reference(CONFIG, frames)
    assert guest.process(frames) == want
    assert guest.report().threshold_stats().to_json() == ref.stats().to_json()


def test_wrong_secret_is_ignored_and_counted(guest: Guest) -> None:
    guest.reconfigure(BASE_CONFIG)
    trigger = next(iter(feed_frames([sell_add(13, 1_400_000)])))
    pad = b"\x00" * 24  # 64-byte frames: they reach the NIC as they are, not wrapped
    forged = [
        build_control(b"\x00" * 16, 1, Command.ARM, b"\x00" + pad),  # would disarm
        build_control(b"\x00" * 16, 2, Command.EXIT, b"\x05" + pad),  # would stop the kernel
        build_control(
            guest.secret[:15] + bytes([guest.secret[15] ^ 1]), 3, Command.MAX_ORDERS, bytes(4) + pad
        ),
        # A runt travels wrapped in a FRAME command; even with the right secret the
        # wrapped frame is only data, never a command.
        build_control(guest.secret, 4, Command.ARM, b"\x00"),
    ]
    assert [len(f) >= 60 for f in forged] == [True, True, True, False]
    want, ref = reference(BASE_CONFIG, [*forged, trigger])
    assert guest.process([*forged, trigger]) == want
    assert want[-1]  # still armed: the trigger sent its order
    report = guest.report()
    assert report.counters["ctl_rejected"] == 4
    assert report.threshold_stats().to_json() == ref.stats().to_json()  # forged = 4 frames
    assert guest.running


def test_kill_switch_and_limits_at_run_time(guest: Guest) -> None:
    guest.reconfigure(BASE_CONFIG)
    trig = next(iter(feed_frames([sell_add(13, 1_490_000)])))  # q = 100 + 100 * 100 -> 1000
    assert len(guest.process([trig])[0]) == 1
    assert guest.set_armed(False) == CommandResult.OK
    assert guest.process([trig]) == [[]]
    assert guest.set_armed(True) == CommandResult.OK
    assert len(guest.process([trig])[0]) == 1
    inst = dataclasses.replace(BASE_CONFIG.instruments[0], max_order_qty=7, max_position=2005)
    assert guest.set_limits(inst) == CommandResult.OK
    (order,) = guest.process([trig])[0]
    assert int.from_bytes(order[70:74], "big") == 5  # room left under the new max position
    assert guest.process([trig]) == [[]]  # position full
    assert guest.set_max_orders(3) == CommandResult.OK
    assert guest.set_limits(BASE_CONFIG.instruments[0]) == CommandResult.OK
    assert guest.process([trig]) == [[]]  # 3 orders sent already
    s = guest.report().threshold_stats()
    assert (s.orders, s.triggers) == (3, 6)
    assert s.refused == {"killed": 1, "max_orders": 1, "position": 1, "notional": 0}
    assert s.instruments[13].shares == 2005
    # Bad values are refused and change nothing.
    bad = dataclasses.replace(BASE_CONFIG.instruments[0], locate=99)
    assert guest.set_limits(bad) == CommandResult.BAD_VALUE  # not a configured locate
    assert guest.command(Command.LIMITS, b"\x0d\x00") == CommandResult.BAD_LENGTH
    assert guest.command(Command.ARM, b"\x02") == CommandResult.BAD_VALUE
    assert guest.command(Command(3), b"TWCF") == CommandResult.BAD_LENGTH  # short config
    assert guest.report().threshold_stats() == s
    assert guest.command(Command(10), b"") == CommandResult.OK  # histogram reset
    assert guest.report().histogram.count == 0


def test_commands_of_the_wrong_length_are_refused_and_change_nothing(guest: Guest) -> None:
    """Short or long bodies get BAD_LENGTH; before, an ARM without a body read the NIC's
    zero padding and disarmed, and an EXIT without one ended the run."""
    guest.reconfigure(BASE_CONFIG)
    errors = guest.report().counters["ctl_errors"]  # not reset by a reconfigure
    trig = next(iter(feed_frames([sell_add(13, 1_490_000)])))
    wrong = [
        (Command.ARM, b""),
        (Command.ARM, b"\x00\x00"),
        (Command.ACK, b""),
        (Command.MAX_ORDERS, b"\x00"),
        (Command.MAX_ORDERS, bytes(5)),
        (Command.LIMITS, bytes(21)),
        (Command.SYNC, b"\x00"),
        (Command.EXIT, b""),
    ]
    for command, body in wrong:
        assert guest.command(command, body) == CommandResult.BAD_LENGTH, (command, body)
    assert guest.running
    assert len(guest.process([trig])[0]) == 1  # still armed, still acking, same limits
    report = guest.report()
    assert report.counters["ctl_errors"] == errors + len(wrong)
    assert report.threshold_stats().orders == 1


def test_clean_exit_with_final_report() -> None:
    missing = tools_missing()
    if missing:
        pytest.skip(f"missing {', '.join(missing)}")
    with Guest(BASE_CONFIG, accel=default_accel()) as g:
        out = g.process(list(feed_frames([sell_add(13, 1_450_000)] * 3, max_blocks=1)))
        assert [len(o) for o in out] == [1, 1, 1]
        report = g.exit(3)
        assert g.exit_status == (3 << 1) | 1  # isa-debug-exit
        assert report.why == "exit"
        assert report.threshold_stats().orders == 3
        assert not g.running


def test_threshold_command_line_runs_the_backend(tmp_path: Path) -> None:
    """``python -m tickwire.threshold run --backend baremetal`` writes what the
    reference writes, byte for byte (orders pcap and statistics JSON)."""
    import subprocess
    import sys

    missing = tools_missing()
    if missing:
        pytest.skip(f"missing {', '.join(missing)}")
    config = dataclasses.replace(
        BASE_CONFIG,
        instruments=(
            dataclasses.replace(
                BASE_CONFIG.instruments[0], locate=6514, symbol="META", limit_price=3_600_000
            ),
        ),
    )
    cfg = tmp_path / "config.toml"
    cfg.write_text(config.to_toml())
    capture = PCAPS / "Multiple.Packets.pcap"
    outputs = {}
    for name in ("reference", "baremetal"):
        proc = subprocess.run(
            [sys.executable, "-m", "tickwire.threshold", "run", "--backend", name, "--config", str(cfg),
             str(capture), "--orders", str(tmp_path / f"{name}.pcap"), "--json", str(tmp_path / f"{name}.json")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        outputs[name] = (
            (tmp_path / f"{name}.pcap").read_bytes(),
            (tmp_path / f"{name}.json").read_text(),
        )
    assert outputs["baremetal"] == outputs["reference"]
    assert '"orders": 1' in outputs["reference"][1]


def test_run_time_limits_keep_the_user_ref_num_in_four_bytes(guest: Guest) -> None:
    high = dataclasses.replace(BASE_CONFIG, first_user_ref_num=2**32 - 10, max_orders=5)
    guest.reconfigure(high)
    assert guest.set_max_orders(10) == CommandResult.OK  # last URN 2^32 - 1
    assert guest.set_max_orders(11) == CommandResult.BAD_VALUE
    trig = next(iter(feed_frames([sell_add(13, 1_499_900)])))
    (order,) = guest.process([trig])[0]
    want = ThresholdEngine(dataclasses.replace(high, max_orders=10)).feed(trig)
    assert [order] == want and order[95:109] == b"TW004294967286"


def test_oversize_beyond_the_nic_is_refused(guest: Guest) -> None:
    with pytest.raises(ValueError, match="16384"):
        guest.process([b"\x00" * 16385])
    guest.reconfigure(BASE_CONFIG)
    small = next(iter(feed_frames([sell_add(13, 1_400_000)])))
    big = small + b"\xaa" * (16384 - len(small))  # the largest frame: 8 RX descriptors
    want, ref = reference(BASE_CONFIG, [big])
    assert guest.process([big]) == want and want[0]
    assert guest.report().threshold_stats() == ref.stats()


def test_traffic_plan_measures_round_trips(guest: Guest) -> None:
    from tickwire.baremetal.traffic import TrafficPlan, run_plan

    guest.reconfigure(CONFIG)
    plan = TrafficPlan(warmup=5, bursts=2, burst_size=20, burst_gap=0.001, jitter=0.0002, seed=3)
    result = run_plan(guest, FRAMES, plan)
    want, ref = reference(CONFIG, FRAMES[:45])
    assert result.sent == 40
    assert result.orders == sum(len(o) for o in want[5:45])
    assert len(result.round_trip_ns) == result.orders and all(t > 0 for t in result.round_trip_ns)
    assert guest.report().threshold_stats() == ref.stats()


def test_traffic_plan_sends_the_stream_once_unless_asked(guest: Guest) -> None:
    """A 2-frame stream under the default plan (100 warm-up, 10 bursts of 100) goes out
    twice, not 1,100 times; ``repeat`` sends it N times over, ``loop`` up to the plan's
    count, and ``max_seconds`` bounds a loop in time."""
    from tickwire.baremetal.traffic import TrafficPlan, run_plan

    two = FRAMES[:2]
    guest.reconfigure(CONFIG)
    result = run_plan(guest, two, TrafficPlan(burst_gap=0))
    assert guest.report().threshold_stats().frames == 2  # 1,100 before
    assert (result.frames_sent, result.warmup_sent, result.sent) == (2, 2, 0)
    assert result.stopped == "stream"

    guest.reconfigure(CONFIG)
    result = run_plan(guest, two, TrafficPlan(warmup=1, bursts=2, burst_size=5, repeat=3))
    assert (result.frames_sent, result.sent, result.stopped) == (6, 5, "stream")
    want, _ = reference(CONFIG, [*two, *two, *two])
    assert result.orders == sum(len(o) for o in want[1:])
    assert guest.report().threshold_stats().frames == 6

    guest.reconfigure(CONFIG)
    plan = TrafficPlan(warmup=1, bursts=2, burst_size=5, burst_gap=0, loop=True)
    result = run_plan(guest, two, plan)
    assert (result.frames_sent, result.stopped) == (plan.frames, "plan") == (11, "plan")

    guest.reconfigure(CONFIG)
    plan = TrafficPlan(warmup=0, bursts=10**6, burst_size=10, loop=True, max_seconds=0.3)
    result = run_plan(guest, two, plan)
    assert result.stopped == "time" and 0 < result.frames_sent < plan.frames
    assert result.elapsed_s < 5
    assert guest.report().threshold_stats().frames == result.frames_sent

    with pytest.raises(ValueError, match="repeat"):
        TrafficPlan(repeat=2, loop=True)


def test_traffic_command_line_sends_a_capture_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``traffic --capture`` of a 2-frame capture sends 2 frames and says so (it sent
    1,100: the default plan cycled the capture); ``--repeat 3`` sends 6."""
    import json

    from tickwire.baremetal.__main__ import main
    from tickwire.net import PcapWriter

    missing = tools_missing()
    if missing:
        pytest.skip(f"missing {', '.join(missing)}")
    capture = tmp_path / "two.pcap"
    with PcapWriter(capture) as w:
        for frame in FRAMES[:2]:
            w.write(frame)
    assert main(["traffic", "--capture", str(capture), "--burst-gap", "0"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["stats"]["frames"] == 2  # 1,100 before
    assert out["stream_frames"] == 2 and out["frames_sent"] == 2 and out["stopped"] == "stream"
    assert "the stream ended after 2 of the plan's 1100 frames" in captured.err
    assert main(["traffic", "--capture", str(capture), "--repeat", "3", "--warmup", "0",
                 "--bursts", "1", "--burst-size", "4"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert (out["frames_sent"], out["stats"]["frames"], out["stopped"]) == (4, 4, "plan")


def test_traffic_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from tickwire.baremetal.__main__ import main

    missing = tools_missing()
    if missing:
        pytest.skip(f"missing {', '.join(missing)}")
    rc = main(["traffic", "--generate", "3000", "--symbols", "10", "--faults", "0.2",
               "--warmup", "3", "--bursts", "2", "--burst-size", "10", "--burst-gap", "0"])  # fmt: skip
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frames_sent"] == 23 and out["stats"]["frames"] == 23
    assert out["warmup_frames_sent"] == 3 and out["stopped"] == "plan"
    assert out["accel"] in ("kvm", "tcg")


def test_boot_retries_when_the_port_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from tickwire.baremetal import qemu

    missing = tools_missing()
    if missing:
        pytest.skip(f"missing {', '.join(missing)}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        taken = squatter.getsockname()[1]
        real = qemu._free_udp_port
        ports = iter([taken])
        monkeypatch.setattr(qemu, "_free_udp_port", lambda: next(ports, None) or real())
        with Guest(BASE_CONFIG, accel=default_accel()) as g:
            assert g._guest_port != taken
            assert g.process([b"\x00" * 64]) == [[]]


@pytest.mark.tshark
def test_wireshark_reads_the_kernels_orders(guest: Guest, tmp_path: Path) -> None:
    """Independent check: Wireshark's MoldUDP64 dissector and IPv4 checksum validation
    read the kernel's order frames as a MoldUDP64 session counting 1, 2, 3, ..."""
    import shutil
    import subprocess

    from tickwire.net import PcapWriter

    if shutil.which("tshark") is None:
        pytest.skip("tshark missing (scripts/setup.sh installs it)")
    guest.reconfigure(CONFIG)
    orders = [o for out in guest.process(FRAMES) for o in out]
    assert len(orders) > 20
    path = tmp_path / "orders.pcap"
    with PcapWriter(path) as w:
        for i, frame in enumerate(orders):
            w.write(frame, timestamp_ns=i * 1000)
    fields = ["moldudp64.session", "moldudp64.sequence", "moldudp64.count", "moldudp64.msglen"]
    proc = subprocess.run(
        ["tshark", "-r", str(path), "-o", "ip.check_checksum:TRUE", "-d",
         f"udp.port=={CONFIG.order_port},moldudp64", "-T", "fields",
         *(a for f in [*fields, "ip.checksum.status"] for a in ("-e", f))],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert rows == [["TWORDERS01", str(i + 1), "1", "47", "1"] for i in range(len(orders))]


def test_a_reply_from_another_local_socket_is_not_the_kernels(guest: Guest) -> None:
    """Another process on the host sends a forged DONE reply (result OK) for the next
    command to the host's UDP port before the kernel answers: it is not taken. The
    replies are not authenticated, so on the old code, whose socket took datagrams from
    anyone, ``command`` returned the forged OK for an ARM the kernel refused."""
    import socket

    from tickwire.baremetal.layout import ACK_KIND_DONE, build_ack, control_seq

    guest.reconfigure(BASE_CONFIG)
    host = guest._sock.getsockname() if guest._sock is not None else None
    assert host is not None
    following = control_seq(guest._control(Command.SYNC)) + 1  # the next command's seq
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as forger:
        forger.sendto(build_ack(ACK_KIND_DONE, following, int(CommandResult.OK), 0), host)
        assert guest.command(Command.ARM, b"\x02") == CommandResult.BAD_VALUE
    assert guest.running and guest.process([b"\x00" * 64]) == [[]]
