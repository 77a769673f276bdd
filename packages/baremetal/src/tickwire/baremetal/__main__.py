"""Command line of tickwire-baremetal.

    python -m tickwire.baremetal build [--force]
    python -m tickwire.baremetal boot [--accel auto|kvm|tcg]
    python -m tickwire.baremetal traffic [--config FILE] (--capture PCAP | --generate N)
        [--symbols S] [--seed K] [--faults RATE] [--warmup N] [--bursts N]
        [--burst-size N] [--burst-gap S] [--jitter S] [--repeat N | --loop]
        [--max-seconds S] [--accel ...]

``traffic`` boots the kernel, sends the stream with the plan's warm-up, bursts and
jitter (faults mixed in when asked), and prints one JSON object: the frames sent and
why sending stopped, the strategy's statistics, the in-guest cycle percentiles and the
host round-trip percentiles. The stream (the capture's frames or the generated day's)
is sent once unless ``--repeat N`` or ``--loop`` asks for more, and never beyond the
plan's frames or ``--max-seconds``. The
threshold run itself (capture in, orders pcap and STATS.json out) is
``python -m tickwire.threshold run --backend baremetal``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from tickwire.cli import (
    UsageError,
    existing_file,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
    run_cli,
)
from tickwire.net.stats import QUANTILES, percentiles
from tickwire.threshold.cli import load_config_argument
from tickwire.threshold.config import ConfigError

from .backend import default_accel
from .build import BuildError, build_kernel
from .qemu import Guest, GuestError
from .traffic import (
    TrafficPlan,
    capture_frames,
    feed_frames,
    generated_messages,
    inject_faults,
    run_plan,
    threshold_config_for,
)

__all__ = ["build_parser", "main"]


def _cmd_build(args: argparse.Namespace) -> int:
    print(build_kernel(force=args.force))
    return 0


def _cmd_boot(args: argparse.Namespace) -> int:
    config = load_config_argument(args.config) if args.config else threshold_config_for([])
    with Guest(config, accel=args.accel or default_accel()) as guest:
        for line in guest.serial_log:
            if line:
                print(line)
        report = guest.exit(0)
        print(
            f"exit status {guest.exit_status} (isa-debug-exit code 0), frames={report.counters['frames']}"
        )
    return 0


def _cmd_traffic(args: argparse.Namespace) -> int:
    if args.capture:
        frames = capture_frames(args.capture)
        messages: list[bytes] = []
    else:
        try:  # the sizes are checked when the generator starts
            messages = list(generated_messages(args.generate, args.symbols, args.seed))
        except ValueError as exc:
            raise UsageError(f"--generate: {exc}") from None
        frames = list(feed_frames(messages))
    config = load_config_argument(args.config) if args.config else threshold_config_for(messages)
    if args.faults:
        frames = [f for _, f in inject_faults(frames, rate=args.faults, seed=args.seed)]
    plan = TrafficPlan(
        warmup=args.warmup,
        bursts=args.bursts,
        burst_size=args.burst_size,
        burst_gap=args.burst_gap,
        jitter=args.jitter,
        seed=args.seed,
        repeat=args.repeat,
        loop=args.loop,
        max_seconds=args.max_seconds,
    )
    with Guest(config, accel=args.accel or default_accel()) as guest:
        result = run_plan(guest, frames, plan)
        report = guest.report()
        hist = report.histogram
        out = {
            "accel": guest.accel,
            "stream_frames": len(frames),
            "frames_sent": result.frames_sent,
            "warmup_frames_sent": result.warmup_sent,
            "stopped": result.stopped,
            "orders_in_plan": result.orders,
            "elapsed_s": round(result.elapsed_s, 3),
            "stats": report.threshold_stats().to_dict(),
            "guest_cycles": (
                {k: hist.percentile(q * 100) for k, q in QUANTILES.items()}
                | {"min": hist.minimum, "max": hist.maximum, "count": hist.count}
                if hist.count
                else {}
            ),
            "host_round_trip_ns": percentiles(result.round_trip_ns),
        }
    print(json.dumps(out, indent=2))
    if result.stopped == "stream" and result.frames_sent < plan.frames:
        print(
            f"note: the stream ended after {result.frames_sent} of the plan's {plan.frames}"
            " frames (--repeat N or --loop sends it again)",
            file=sys.stderr,
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    p = argparse.ArgumentParser(prog="tickwire-baremetal", description="The bare-metal kernel.")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the kernel image (cached) and print its path")
    b.add_argument("--force", action="store_true", help="rebuild even when cached")
    b.set_defaults(func=_cmd_build)
    boot = sub.add_parser("boot", help="boot the kernel, print its banner, exit cleanly")
    boot.add_argument(
        "--config", type=existing_file, help="threshold TOML (default: no instruments)"
    )
    boot.add_argument(
        "--accel", choices=("auto", "kvm", "tcg"), help="QEMU accelerator (default: auto)"
    )
    boot.set_defaults(func=_cmd_boot)
    t = sub.add_parser("traffic", help="send a timed stream to the kernel and report")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--capture", type=existing_file, help="pcap/pcapng of feed frames")
    src.add_argument(
        "--generate", type=positive_int, metavar="N", help="generate a day of N ITCH messages"
    )
    t.add_argument(
        "--config",
        type=existing_file,
        help="threshold TOML (default: derived from the generated day)",
    )
    t.add_argument("--symbols", type=positive_int, default=50, help="generated day symbols")
    t.add_argument(
        "--seed", type=int, default=1, help="random seed of the day, the faults and the jitter"
    )
    t.add_argument(
        "--faults", type=probability, default=0.0, metavar="RATE", help="fault injection rate 0..1"
    )
    t.add_argument("--warmup", type=non_negative_int, default=100, help="frames sent first")
    t.add_argument("--bursts", type=non_negative_int, default=10, help="bursts sent")
    t.add_argument("--burst-size", type=positive_int, default=100, help="frames per burst")
    t.add_argument(
        "--burst-gap",
        type=non_negative_float,
        default=0.01,
        metavar="SECONDS",
        help="between bursts",
    )
    t.add_argument(
        "--jitter", type=non_negative_float, default=0.0, metavar="SECONDS", help="random delays"
    )
    again = t.add_mutually_exclusive_group()
    again.add_argument(
        "--repeat",
        type=positive_int,
        default=1,
        metavar="N",
        help="send the stream N times over",
    )
    again.add_argument(
        "--loop",
        action="store_true",
        help="cycle the stream until the plan's warm-up and bursts are sent",
    )
    t.add_argument(
        "--max-seconds",
        type=positive_float,
        default=300.0,
        metavar="SECONDS",
        help="stop sending after this long",
    )
    t.add_argument(
        "--accel", choices=("auto", "kvm", "tcg"), help="QEMU accelerator (default: auto)"
    )
    t.set_defaults(func=_cmd_traffic)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; exit status 0 on success, 1 when the capture cannot be read
    or a frame cannot be sent (e.g. longer than the e1000 takes), the build or the guest
    failed, 2 on a usage or config error, 130 interrupted: one ``error:`` line on
    stderr, never a traceback for bad input (:func:`tickwire.cli.run_cli`)."""
    return run_cli(
        build_parser(),
        argv,
        lambda args: int(args.func(args)),
        usage_errors=(ConfigError,),
        data_errors=(BuildError, GuestError),
        dist="tickwire-baremetal",
    )


if __name__ == "__main__":
    sys.exit(main())
