"""``python -m tickwire.xdp``: attach, arm, disarm, set, mirror, stats, detach.

Every command talks to the kernel through libbpf (no bpftool, no shelling out). ``attach``
loads the program, installs the config, pins the maps and program under
``/sys/fs/bpf/tickwire/IFACE/`` (root only) and attaches; the other commands reopen the
pins, so they work from any process, and the running program sees each change on its
next frame. Exit status: 0 success, 1 the operation failed, 2 a usage or config error.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext

from tickwire.cli import (
    UsageError,
    add_json_option,
    existing_file,
    int_range,
    json_output,
    json_to_stdout,
    non_negative_int,
    positive_float,
    run_cli,
    stock_symbol,
)
from tickwire.threshold.cli import load_config_argument
from tickwire.threshold.config import ConfigError, InstrumentConfig

from . import layout
from .build import BuildError
from .libbpf import LibbpfError
from .program import RawStats, XdpError, XdpProgram, ensure_bpffs, pin_dir, pin_status
from .rtnl import native_veth_warning

__all__ = ["main"]

_LIMIT_FIELDS = (
    "limit_price",
    "base_qty",
    "step_qty",
    "tick",
    "max_order_qty",
    "max_position",
    "max_notional",
)


class _UsageError(UsageError):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tickwire-xdp",
        description="The XDP threshold program: attach, arm, disarm, set, mirror, stats, detach.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("attach", help="load, configure, pin and attach the program")
    a.add_argument("iface")
    a.add_argument(
        "--config",
        type=existing_file,
        required=True,
        help="threshold strategy TOML (docs/threshold.md)",
    )
    a.add_argument(
        "--mode", choices=("native", "generic"), default="native", help="XDP attach mode"
    )
    a.add_argument(
        "--mirror",
        choices=tuple(layout.MIRROR_MODES),
        default="orders",
        help="frames copied to the ring buffer: those turned into orders, all feed frames, none",
    )

    for name, text in (
        ("arm", "let triggers send orders"),
        ("disarm", "the kill switch: refuse every trigger"),
    ):
        c = sub.add_parser(name, help=text)
        c.add_argument("iface")

    s = sub.add_parser("set", help="change an instrument's limits, or add one")
    s.add_argument("iface")
    s.add_argument("--locate", type=int_range(1, 65535, what="locate"), required=True)
    s.add_argument("--symbol", type=stock_symbol, help="the instrument's ITCH stock symbol")
    for field in _LIMIT_FIELDS:
        s.add_argument("--" + field.replace("_", "-"), dest=field, type=int)

    m = sub.add_parser("mirror", help="change which frames are copied to the ring buffer")
    m.add_argument("iface")
    m.add_argument(
        "mode",
        choices=tuple(layout.MIRROR_MODES),
        help="orders: the frames turned into orders; all: every feed frame; none",
    )

    st = sub.add_parser("stats", help="counts, shares and notional committed")
    st.add_argument("iface")
    add_json_option(st, "the contract's STATS.json object (one per view)")
    st.add_argument("--watch", type=positive_float, metavar="SECONDS", help="refresh every SECONDS")
    st.add_argument(
        "--count",
        type=non_negative_int,
        default=0,
        help="with --watch: stop after N views (0: until ^C)",
    )

    d = sub.add_parser(
        "detach",
        help="detach the program and remove its pins (only the pins when its interface is gone)",
    )
    d.add_argument("iface")
    return p


def _attach(args: argparse.Namespace) -> int:
    config = load_config_argument(args.config)
    if ensure_bpffs():
        print("mounted the BPF filesystem at /sys/fs/bpf", file=sys.stderr)
    status = pin_status(args.iface)
    if status.state in ("live", "elsewhere"):
        raise XdpError(
            f"{status.reason}: detach it first (`python -m tickwire.xdp detach {args.iface}`)"
        )
    prog = XdpProgram.load()
    try:
        prog.configure(config, mirror=layout.MIRROR_MODES[args.mirror])
        base = prog.pin(args.iface)  # replaces stale pins
        if status.state == "stale":
            print(f"replaced stale pins in {base}: {status.reason}", file=sys.stderr)
        try:
            prog.attach(args.iface, args.mode)
        except Exception:
            XdpProgram.unpin(args.iface)
            raise
    finally:
        prog.close()
    state = "armed" if config.armed else "DISARMED"
    print(f"attached to {args.iface} ({args.mode}), {state}, maps pinned in {base}")
    if args.mode == "native" and (warning := native_veth_warning(args.iface)):
        print(warning, file=sys.stderr)
    return 0


def _detach(args: argparse.Namespace) -> int:
    status = pin_status(args.iface)
    if status.state == "stale":
        XdpProgram.unpin(args.iface)
        print(f"{status.reason}: removed its stale pins from {pin_dir(args.iface)}")
        return 0
    if status.state == "elsewhere":
        raise XdpError(f"{status.reason}: run detach in that network namespace")
    with XdpProgram.open_pinned(args.iface) as prog:
        mode = prog.detach(args.iface)
    XdpProgram.unpin(args.iface)
    print(f"detached from {args.iface} ({mode})")
    return 0


def _set(args: argparse.Namespace) -> int:
    with XdpProgram.open_pinned(args.iface) as prog:
        current = prog.instruments().get(args.locate)
        changes = {f: getattr(args, f) for f in _LIMIT_FIELDS if getattr(args, f) is not None}
        if args.symbol is not None:
            changes["symbol"] = args.symbol
        if current is None:
            missing = [f for f in ("symbol", *_LIMIT_FIELDS) if f not in changes]
            if missing:
                flags = ", ".join("--" + m.replace("_", "-") for m in missing)
                raise _UsageError(
                    f"locate {args.locate} is not watched yet: a new instrument needs {flags}"
                )
            inst = InstrumentConfig(locate=args.locate, **changes)  # type: ignore[arg-type]
        else:
            if not changes:
                raise _UsageError("nothing to change: give at least one limit")
            inst = dataclasses.replace(current[1], **changes)
        slot = prog.set_instrument(inst)
    print(f"locate {inst.locate} ({inst.symbol}) set in slot {slot}")
    return 0


def _format(raw: RawStats, armed: bool) -> str:
    lines = [
        f"armed {'yes' if armed else 'NO (killed)'}",
        f"frames {raw.frames}  messages {raw.messages_scanned}  triggers {raw.triggers}  "
        f"orders {raw.orders}  suppressed {raw.suppressed}  parse errors {raw.parse_errors}",
        "refused " + "  ".join(f"{k} {v}" for k, v in raw.refused.items()),
        f"mirrored {raw.mirrored}  mirror dropped {raw.mirror_dropped}  tx errors {raw.tx_errors}",
        f"{'locate':>6} {'shares':>12} {'notional ($)':>18}",
    ]
    for locate, s in sorted(raw.instruments.items()):
        lines.append(f"{locate:>6} {s.shares:>12} {s.notional / 10_000:>18,.4f}")
    return "\n".join(lines)


def _stats(args: argparse.Namespace) -> int:
    text = not json_to_stdout(args.json)
    with (
        XdpProgram.open_pinned(args.iface) as prog,
        json_output(args.json) if args.json is not None else nullcontext(None) as as_json,
    ):
        shown = 0
        while True:
            raw = prog.raw_stats()
            if as_json is not None:
                as_json.write(raw.threshold_stats().to_json())
                as_json.flush()
            if text:
                print(_format(raw, bool(prog.read_config().armed)), flush=True)
            shown += 1
            if args.watch is None or (args.count and shown >= args.count):
                return 0
            try:
                time.sleep(args.watch)
            except KeyboardInterrupt:  # the way to end `--watch` without --count: not 130
                return 0
            if text:
                print()


def _run(args: argparse.Namespace) -> int:
    if args.command == "attach":
        return _attach(args)
    if args.command in ("arm", "disarm"):
        with XdpProgram.open_pinned(args.iface) as prog:
            prog.set_armed(args.command == "arm")
        print(f"{args.iface}: {args.command}ed")
        return 0
    if args.command == "set":
        return _set(args)
    if args.command == "mirror":
        with XdpProgram.open_pinned(args.iface) as prog:
            prog.set_mirror(layout.MIRROR_MODES[args.mode])
        print(f"{args.iface}: mirror {args.mode}")
        return 0
    if args.command == "stats":
        return _stats(args)
    return _detach(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docs), with one
    ``error:`` line on stderr and never a traceback for bad input."""
    return run_cli(
        _parser(),
        argv,
        _run,
        usage_errors=(ConfigError,),
        data_errors=(XdpError, LibbpfError, BuildError),
        dist="tickwire-xdp",
    )


if __name__ == "__main__":
    raise SystemExit(main())
