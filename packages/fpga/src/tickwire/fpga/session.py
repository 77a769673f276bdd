"""A control-plane session on a simulated core: arm, disarm, set, stats, feed, raw registers.

In the spirit of ``python -m tickwire.xdp arm/disarm/set/stats``, but a simulated core
lives only as long as its process, so the commands are read from a script or stdin, one
per line, and applied in order to one core loaded with ``--config``::

    arm | disarm                       the kill switch, from the next frame
    set LOCATE KEY=VALUE ...           change limits of an instrument (keys as in the
                                       config file); a new locate needs every key and
                                       takes the first free slot
    unset LOCATE                       empty the instrument's slot
    feed CAPTURE [ORDERS.pcap]         stream the capture's frames back to back
    stats                              the statistics JSON (contract section 6)
    read NAME [SLOT]                   a register (64-bit ones read whole), by map name
    write NAME VALUE [SLOT]            a raw register write (config is staged: then
                                       ``write CONTROL 1`` applies it)

Every change goes through the register bus exactly as a host would drive the core
(:mod:`tickwire.fpga.control`). A script is checked whole before its first line is
applied (:meth:`Session.run`): every line is parsed and validated against the slots the
lines before it leave, each ``feed``'s capture must be a file to read and its orders a
file to write, so a bad line 40 is one error line and nothing of lines 1 to 39 happens
(no capture fed, no orders file written). Why: a typo at the end of a long script used
to fail after every earlier feed had run. Typed at a terminal, each line is applied as it
is entered. Test: ``packages/fpga/tests/test_fpga_cli.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
from collections.abc import Callable, Iterable

from tickwire.cli import UsageError, atomic_path, existing_file, output_file
from tickwire.cli.args import input_clash, missing_folder, output_clash
from tickwire.net import PcapWriter, read_pcap
from tickwire.threshold.config import ConfigError, InstrumentConfig, ThresholdConfig

from . import control, regs
from .sim import CoreSim
from .vsim import VerilatorSim

__all__ = ["Session", "SessionError"]

_INT_KEYS = {
    f.name for f in dataclasses.fields(InstrumentConfig) if f.name not in ("locate", "symbol")
}


class SessionError(ValueError):
    """A command line of a session is wrong (the message says which and why)."""


class Session:
    """A core loaded with ``config`` and the commands that change and inspect it."""

    def __init__(
        self,
        config: ThresholdConfig,
        sim: CoreSim | VerilatorSim,
        out: Callable[[str], None] = print,
    ) -> None:
        self.sim = sim
        self.out = out
        self.config = config
        self.slots: list[InstrumentConfig | None] = list(config.instruments)
        self.slots += [None] * (regs.INST_SLOTS - len(self.slots))
        self._dry = False  # checking a script: validate and track slots, touch nothing
        self._orders_named: dict[str, str] = {}  # the dry run's feed outputs, by real path
        control.load_config(sim, config)

    def run(self, lines: Iterable[str], *, check_first: bool = True) -> None:
        """Apply every command; raise :class:`SessionError` on the first bad one.

        With ``check_first`` (a script), every line is checked before the first is
        applied (the module docs); without it (a terminal), each is applied as read."""
        if check_first:
            lines = list(lines)
            slots = list(self.slots)
            self._dry = True
            try:
                self._run(lines)
            finally:
                self._dry = False
                self.slots = slots
                self._orders_named.clear()
        self._run(lines)

    def _run(self, lines: Iterable[str]) -> None:
        for number, line in enumerate(lines, 1):
            try:
                words = shlex.split(line, comments=True)
            except ValueError as exc:  # an unclosed quote: shlex names no line
                raise SessionError(f"line {number}: {exc}") from None
            if not words:
                continue
            try:
                self.command(words)
            except SessionError as exc:
                raise SessionError(f"line {number}: {exc}") from None

    def command(self, words: list[str]) -> None:
        """Apply one command (its words)."""
        name, args = words[0], words[1:]
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            raise SessionError(f"unknown command {name!r}")
        handler(args)

    # -- commands -----------------------------------------------------------------------
    def _cmd_arm(self, args: list[str]) -> None:
        self._no_args("arm", args)
        if self._dry:
            return
        control.set_armed(self.sim, True)
        self.out("armed (from the next frame)")

    def _cmd_disarm(self, args: list[str]) -> None:
        self._no_args("disarm", args)
        if self._dry:
            return
        control.set_armed(self.sim, False)
        self.out("disarmed (from the next frame)")

    def _cmd_set(self, args: list[str]) -> None:
        if len(args) < 2:
            raise SessionError("usage: set LOCATE KEY=VALUE ...")
        locate = self._int("LOCATE", args[0])
        changes: dict[str, object] = {}
        for pair in args[1:]:
            key, sep, value = pair.partition("=")
            if not sep:
                raise SessionError(f"{pair!r} is not KEY=VALUE")
            if key in changes:  # the last was applied without a word, as TOML refuses it
                raise SessionError(f"{key} is given twice")
            if key == "symbol":
                changes[key] = value
            elif key in _INT_KEYS:
                changes[key] = self._int(key, value)
            else:
                raise SessionError(f"unknown instrument key {key!r}")
        slot = self._slot_of(locate)
        if slot is None:
            free = [i for i, s in enumerate(self.slots) if s is None]
            if not free:
                raise SessionError(f"no free slot for locate {locate}")
            slot = free[0]
            try:
                inst = InstrumentConfig(locate=locate, **changes)  # type: ignore[arg-type]
            except TypeError:
                raise SessionError(f"a new locate {locate} needs every instrument key") from None
            except ConfigError as exc:
                raise SessionError(str(exc)) from None
        else:
            current = self.slots[slot]
            assert current is not None
            try:
                inst = dataclasses.replace(current, **changes)  # type: ignore[arg-type]
            except ConfigError as exc:
                raise SessionError(str(exc)) from None
        self._validate(inst)
        self.slots[slot] = inst
        if self._dry:
            return
        control.set_instrument(self.sim, slot, inst)
        self.out(f"slot {slot}: locate {locate} set (from the next frame)")

    def _cmd_unset(self, args: list[str]) -> None:
        if len(args) != 1:
            raise SessionError("usage: unset LOCATE")
        locate = self._int("LOCATE", args[0])
        slot = self._slot_of(locate)
        if slot is None:
            raise SessionError(f"no instrument has locate {locate}")
        self.slots[slot] = None
        if self._dry:
            return
        control.set_instrument(self.sim, slot, None)
        self.out(f"slot {slot}: emptied (from the next frame)")

    def _cmd_feed(self, args: list[str]) -> None:
        if len(args) not in (1, 2):
            raise SessionError("usage: feed CAPTURE [ORDERS.pcap]")
        self._check_feed(*args)
        if self._dry:
            return
        try:
            records = list(read_pcap(args[0]))
        except (OSError, ValueError) as exc:
            raise SessionError(f"cannot read {args[0]}: {exc}") from None
        outputs = self.sim.stream([r.frame for r in records])
        orders = sum(len(o) for o in outputs)
        if len(args) == 2:
            try:
                with atomic_path(args[1]) as tmp, PcapWriter(tmp) as writer:
                    for record, out in zip(records, outputs, strict=True):
                        for frame in out:
                            writer.write(frame, timestamp_ns=record.timestamp_ns)
            except UsageError as exc:  # another output of the session named the file
                raise SessionError(str(exc)) from None
        self.out(f"fed {len(records)} frames, {orders} orders")

    def _check_feed(self, capture: str, orders: str | None = None) -> None:
        """What ``feed`` would refuse or fail on, found before any line is applied: a
        capture that is not a file to read, an orders file that could not be written
        (a folder, a missing folder), that is one of the session's inputs or that an
        earlier ``feed`` writes too."""
        try:
            existing_file(capture)  # noted as an input of the command, as --config is
            if orders is not None:
                output_file(orders)
        except argparse.ArgumentTypeError as exc:
            raise SessionError(str(exc)) from None
        if orders is None or (os.path.exists(orders) and not os.path.isfile(orders)):
            return  # no file, or a device or FIFO: written in place
        clash = missing_folder(orders) or input_clash(orders)
        key = os.path.realpath(orders)
        if clash is None and key in self._orders_named:
            clash = output_clash(orders, self._orders_named[key])
        if clash is not None:
            raise SessionError(clash)
        self._orders_named[key] = orders

    def _cmd_stats(self, args: list[str]) -> None:
        self._no_args("stats", args)
        if self._dry:
            return
        slots = [(i, s.locate) for i, s in enumerate(self.slots) if s is not None]
        self.out(control.read_stats(self.sim, slots).to_json().rstrip("\n"))

    def _cmd_read(self, args: list[str]) -> None:
        reg, slot = self._reg(args, 1)
        if self._dry:
            return
        base = regs.addr(reg.name, slot)
        words = self.sim.read_many([base + w for w in range(reg.words)])
        value = sum(w << (32 * i) for i, w in enumerate(words))
        self.out(f"{reg.name}[{slot}] = {value} ({value:#x})")

    def _cmd_write(self, args: list[str]) -> None:
        reg, slot = self._reg(args, 2)
        value = self._int("VALUE", args[1])
        if not 0 <= value < 1 << (32 * reg.words) or reg.access in ("RO", "STAT"):
            raise SessionError(f"{reg.name} is {reg.access}, {reg.words * 32} bits")
        if self._dry:
            return
        base = regs.addr(reg.name, slot)
        self.sim.write_many([(base + w, value >> (32 * w)) for w in range(reg.words)])
        self.out(f"{reg.name}[{slot}] <- {value:#x}")

    # -- helpers ------------------------------------------------------------------------
    def _slot_of(self, locate: int) -> int | None:
        for i, s in enumerate(self.slots):
            if s is not None and s.locate == locate:
                return i
        return None

    def _validate(self, inst: InstrumentConfig) -> None:
        """The config file's rules, by building a one-instrument config and checking it."""
        from tickwire.threshold.config import parse_config

        fields = dataclasses.asdict(inst)
        body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in fields.items())
        text = (
            "armed = true\nmax_orders = 0\nfirst_user_ref_num = 0\nfeed_port = 1\n"
            f'order_port = 1\norder_session = "X"\n[[instrument]]\n{body}\n'
        )
        try:
            parse_config(text)
        except ConfigError as exc:
            raise SessionError(str(exc)) from None

    @staticmethod
    def _int(what: str, text: str) -> int:
        try:
            return int(text, 0)
        except ValueError:
            raise SessionError(f"{what} must be an integer, got {text!r}") from None

    @staticmethod
    def _no_args(name: str, args: list[str]) -> None:
        if args:
            raise SessionError(f"{name} takes no arguments")

    def _reg(self, args: list[str], needed: int) -> tuple[regs.Register, int]:
        if len(args) not in (needed, needed + 1):
            raise SessionError("usage: read NAME [SLOT] | write NAME VALUE [SLOT]")
        try:
            reg = regs.reg(args[0].upper())
        except KeyError:
            raise SessionError(f"no register {args[0]!r}") from None
        slot = self._int("SLOT", args[needed]) if len(args) > needed else 0
        if not 0 <= slot < reg.slots:
            raise SessionError(f"{reg.name} has {reg.slots} slot(s)")
        return reg, slot
