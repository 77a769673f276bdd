"""``python -m tickwire.threshold`` (console script ``tickwire-threshold``).

    python -m tickwire.threshold run --backend NAME --config FILE CAPTURE \\
        --orders ORDERS.pcap --json STATS.json
    python -m tickwire.threshold backends

``run`` feeds every frame of a pcap/pcapng capture of Ethernet frames to one registered
backend (``docs/threshold.md``), writes the order frames to ``--orders`` with the
timestamp of the frame that caused each, and the statistics (STATS.json, section 6) to
``--json`` (``-`` or no value for stdout; a file is written whole or not at all, and so
is the orders pcap). ``--orders`` was ``--out`` before 0.2 (still read, with a warning,
until 0.3: ``--out`` is a folder in every other command). ``backends`` lists the
registered backends, ``reference`` first. ``python -m tickwire.engine threshold`` is the
same command (:func:`add_run_arguments` and :func:`run_command` serve both).

Exit status: 0 on success, 1 when the capture cannot be read (or is not Ethernet), 2 on a
usage or configuration error or an unknown or unavailable backend; one ``PROG: error:``
line, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tickwire.cli import (
    Progress,
    UsageError,
    add_json_option,
    atomic_path,
    config_file,
    existing_file,
    json_output,
    one_line,
    output_file,
    run_cli,
)
from tickwire.itch import DecodeError
from tickwire.moldudp64 import MoldError
from tickwire.net import LINKTYPE_ETHERNET, PcapWriter, linktype_name, read_pcap
from tickwire.threshold.backends import (
    BackendNotFound,
    BackendUnavailable,
    available_backends,
    load_backend,
)
from tickwire.threshold.config import ConfigError, ThresholdConfig, load_config

__all__ = [
    "USAGE_ERRORS",
    "UsageError",
    "add_run_arguments",
    "backends_command",
    "load_config_argument",
    "main",
    "run_command",
]

#: The exceptions the command line reports as usage errors (exit 2).
USAGE_ERRORS: tuple[type[BaseException], ...] = (ConfigError, BackendNotFound, BackendUnavailable)


def load_config_argument(path: str | Path) -> ThresholdConfig:
    """:func:`~tickwire.threshold.config.load_config` for a command line's ``--config``
    (this one's and every backend's): a bad file is one :class:`UsageError` line naming
    the file, then the key (``cfg.toml: instrument[0].tick: must be between 1 and
    4294967295, got 0``), which ``run_cli`` prints with exit status 2."""
    try:
        return load_config(path)
    except ConfigError as exc:
        text = str(exc)  # the file once: load_config's "not UTF-8" line already names it
        raise UsageError(text if text.startswith(f"{path}: ") else f"{path}: {text}") from None


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``run`` (and of ``python -m tickwire.engine threshold``)."""
    parser.add_argument("--backend", required=True, help="registered backend name, e.g. reference")
    parser.add_argument(
        "--config", type=config_file, required=True, help="TOML configuration (docs/threshold.md)"
    )
    parser.add_argument("capture", type=existing_file, help="input pcap/pcapng of Ethernet frames")
    parser.add_argument(
        "--orders",
        metavar="FILE",
        type=output_file,
        help="pcap the order frames are written to (required), whole or not at all",
    )
    # Before 0.2 the orders pcap was --out, which every other command uses for a folder.
    parser.add_argument(
        "--out", dest="out_deprecated", metavar="FILE", type=output_file, help=argparse.SUPPRESS
    )
    add_json_option(parser, "the statistics (STATS.json)", required=True)


def _orders_path(args: argparse.Namespace) -> str:
    """``--orders``, or the deprecated ``--out`` with a warning on stderr."""
    old = getattr(args, "out_deprecated", None)
    if args.orders is not None and old is not None:
        raise UsageError("--out is the old name of --orders: give --orders only")
    if old is not None:
        print("warning: --out FILE is deprecated: use --orders FILE", file=sys.stderr)
        return str(old)
    if args.orders is None:
        raise UsageError("the following arguments are required: --orders")
    return str(args.orders)


def run_command(args: argparse.Namespace) -> int:
    """Run one backend over a capture (the arguments of :func:`add_run_arguments`).

    The configuration and the backend are checked before any output is created; the
    order pcap is written as frames are fed to a temporary file beside it, renamed when
    the run succeeds; the statistics are written at the end.
    """
    orders = _orders_path(args)
    try:
        config = load_config_argument(args.config)
    except OSError as exc:
        raise UsageError(one_line(exc)) from None
    backend = load_backend(args.backend)
    try:
        backend.configure(config)
        capture = Path(args.capture)
        with (
            atomic_path(orders) as tmp,
            PcapWriter(tmp) as writer,
            Progress(capture.stat().st_size, f"threshold {args.backend}") as bar,
        ):
            for n, record in enumerate(read_pcap(capture), 1):
                if record.linktype != LINKTYPE_ETHERNET:
                    raise MoldError(
                        f"{capture}: link type {linktype_name(record.linktype)} is not "
                        "Ethernet; the strategy takes Ethernet frames"
                    )
                try:
                    orders_out = backend.feed(record.frame)
                except ValueError as exc:  # a frame this backend cannot take (e.g. too long)
                    raise MoldError(
                        f"{capture}: frame {n} ({len(record.frame)} bytes): {exc}"
                    ) from exc
                for order in orders_out:
                    writer.write(order, timestamp_ns=record.timestamp_ns)
                bar.update(len(record.frame) + 16)
        text = backend.stats().to_json()
    except BackendUnavailable as exc:
        raise UsageError(f"backend {args.backend!r} unavailable: {exc}") from None
    finally:
        backend.close()
    with json_output(args.json) as out:  # the canonical STATS.json text, as it is
        out.write(text)
    return 0


def backends_command(args: argparse.Namespace) -> int:
    """Print the registered backend names, one a line, ``reference`` first."""
    for name in available_backends():
        print(name)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tickwire-threshold",
        description="the threshold strategy: run a backend over a capture, list backends.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a threshold backend over a capture")
    add_run_arguments(run)
    run.set_defaults(func=run_command)
    be = sub.add_parser("backends", help="list the registered backends")
    be.set_defaults(func=backends_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status, never a traceback for bad input."""
    return run_cli(
        build_parser(),
        argv,
        lambda args: int(args.func(args)),
        usage_errors=USAGE_ERRORS,
        data_errors=(DecodeError, MoldError),
        dist="tickwire-threshold",
    )
