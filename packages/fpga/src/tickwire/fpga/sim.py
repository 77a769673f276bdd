"""Cycle-accurate simulation of :class:`~tickwire.fpga.core.ThresholdCore` (Amaranth pysim).

:class:`CoreSim` keeps one simulator alive for as many runs as wanted (building it costs
about two seconds): a testbench coroutine takes jobs from a queue (bus writes, bus reads,
streams of frames) and the host advances the simulation until the job is done, so the
simulated time only moves while there is work. :meth:`CoreSim.close` hands the built
simulator, reset, to the next CoreSim made in the same process.

How frames are driven and orders attributed
-------------------------------------------
:meth:`CoreSim.stream` sends frames as RX beats on consecutive cycles (``gap`` idle
cycles between frames, 0 by default: back to back, no idle beat; ``beat_gap`` idle cycles
after each beat of a frame but its last, 0 by default), then lets the core run
until ``traffic`` falls. Every cycle it samples the TX stream (reassembling frames from
the byte enables) and ``dbg_push``/``dbg_push_frame`` (the frame number, since RESET, of
each order queued). Orders leave the TX FIFO in the order they were queued, so the
``k``-th order frame belongs to the ``k``-th push, and so to an input frame. For each
order it also records the cycle of the first RX beat of its frame and of its first TX
beat (:attr:`CoreSim.latencies`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from amaranth.sim import Simulator

from . import regs
from .core import ThresholdCore

__all__ = ["CLOCK_HZ", "CoreSim", "Latency", "frame_beats"]

CLOCK_HZ = 156_250_000
"""The RX clock: 10GbE line rate with 64-bit beats."""


def frame_beats(frame: bytes) -> list[tuple[int, int, bool]]:
    """(data, byte enables, last) per beat; an empty frame is one beat with no bytes."""
    if not frame:
        return [(0, 0, True)]
    out = []
    for i in range(0, len(frame), 8):
        chunk = frame[i : i + 8]
        out.append((int.from_bytes(chunk, "little"), (1 << len(chunk)) - 1, i + 8 >= len(frame)))
    return out


@dataclass(frozen=True, slots=True)
class Latency:
    """Cycles of one order: first RX beat of its frame and first TX beat of the order."""

    frame: int
    first_rx: int
    first_tx: int


@dataclass
class _Job:
    fn: Callable[[Any], Awaitable[Any]]
    done: bool = False
    result: Any = None


@dataclass
class _Compiled:
    """One compiled simulation of the core, run by one :class:`CoreSim` at a time."""

    dut: ThresholdCore
    sim: Simulator
    owner: CoreSim | None = None
    ran: bool = False  # advanced since it was built or reset


#: Compiled simulations closed CoreSims gave back (at most ``_IDLE_MAX``); reset when taken.
_idle: list[_Compiled] = []
_IDLE_MAX = 2


def _compiled() -> _Compiled:
    """An idle compiled simulation, or a new one (about 2.4 s: elaborating the core and
    Amaranth's compiling it to Python is nearly all of a new CoreSim's cost)."""
    if _idle:
        compiled = _idle.pop()
        if compiled.ran:  # only then: a reset makes the testbench a new coroutine, and
            compiled.sim.reset()  # Python warns of one never run when it is collected
            compiled.ran = False
        return compiled
    dut = ThresholdCore()
    compiled = _Compiled(dut, Simulator(dut))
    compiled.sim.add_clock(1 / CLOCK_HZ)

    async def bench(ctx: Any) -> None:  # (re)started with the simulation: its owner's
        assert compiled.owner is not None, "a closed CoreSim's simulation was run"
        await compiled.owner._bench(ctx)

    compiled.sim.add_testbench(bench, background=True)
    return compiled


class CoreSim:
    """One simulated core driven through its RX, TX and register bus.

    :meth:`close` gives the compiled simulation to the next CoreSim made in this process,
    reset by Amaranth's ``Simulator.reset()`` (every signal and memory to its initial
    value, the clock and the testbench restarted), so it starts as a new one would:
    ``packages/fpga/tests/test_fpga_sim.py`` holds the two to each other, cycle for cycle.
    Why: making one is about 2.4 s of CPU, most of it Amaranth compiling the core to
    Python, and a test suite or a notebook makes many. One whose run raised is not kept.
    """

    def __init__(self) -> None:
        self._compiled: _Compiled | None = _compiled()
        self._compiled.owner = self
        self.dut = self._compiled.dut
        self.sim = self._compiled.sim
        self.cycle = 0
        self.frames_since_reset = 0
        self.latencies: list[Latency] = []
        self._jobs: deque[_Job] = deque()

    def close(self) -> None:
        """End this simulation (its compiled form is kept for the next CoreSim unless a run
        of this one raised); a closed CoreSim raises ``RuntimeError`` when used. Closing
        twice does nothing."""
        compiled, self._compiled = self._compiled, None
        if compiled is None:
            return
        compiled.owner = None
        # A job left in the queue raised out of the simulation (a bad value on the bus,
        # an interrupt): Amaranth's state is not known good, so that one is not kept.
        if not self._jobs and len(_idle) < _IDLE_MAX:
            _idle.append(compiled)

    async def _bench(self, ctx: Any) -> None:
        while True:
            if self._jobs:
                job = self._jobs[0]
                job.result = await job.fn(ctx)
                self._jobs.popleft()
                job.done = True
            else:
                await self._tick(ctx)

    async def _tick(self, ctx: Any) -> None:
        await ctx.tick()
        self.cycle += 1

    def _run(self, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        if self._compiled is None:
            raise RuntimeError("this CoreSim is closed")
        job = _Job(fn)
        self._jobs.append(job)
        self._compiled.ran = True
        while not job.done:
            self.sim.advance()
        return job.result

    # -- the bus (tickwire.fpga.control.Bus) --------------------------------------------
    def write_many(self, writes: Sequence[tuple[int, int]]) -> None:
        """One bus write a cycle."""
        dut = self.dut

        async def job(ctx: Any) -> None:
            for address, value in writes:
                ctx.set(dut.bus_addr, address)
                ctx.set(dut.bus_w_data, value & 0xFFFFFFFF)
                ctx.set(dut.bus_w_en, 1)
                await self._tick(ctx)
                if address == regs.addr("CONTROL") and value & regs.CONTROL_RESET:
                    self.frames_since_reset = 0
                    self.latencies.clear()
            ctx.set(dut.bus_w_en, 0)

        self._run(job)

    def read_many(self, addresses: Sequence[int]) -> list[int]:
        """One bus read a cycle; each word is on ``bus_r_data`` the cycle after."""
        dut = self.dut

        async def job(ctx: Any) -> list[int]:
            out = []
            for address in addresses:
                ctx.set(dut.bus_addr, address)
                ctx.set(dut.bus_r_en, 1)
                await self._tick(ctx)
                out.append(int(ctx.get(dut.bus_r_data)))
            ctx.set(dut.bus_r_en, 0)
            return out

        return list(self._run(job))

    def settle(self) -> None:
        """Run until no APPLY is pending and no RESET is running."""
        while self.read_many([regs.addr("STATUS")])[0] & (
            regs.STATUS_BUSY | regs.STATUS_APPLY_PENDING
        ):
            pass

    # -- frames -------------------------------------------------------------------------
    def stream(
        self,
        frames: Sequence[bytes],
        gap: int = 0,
        writes: Sequence[tuple[int, int, int]] = (),
        beat_gap: int = 0,
    ) -> list[list[bytes]]:
        """Send ``frames`` (``gap`` idle cycles between them, ``beat_gap`` idle cycles
        inside a frame after each beat but its last: ``rx_valid`` low mid-frame, which
        a MAC may do); the order frames of each.

        ``writes`` are bus writes ``(cycle, address, value)`` made while streaming: each
        at the first free bus cycle at or after ``cycle`` (counted from the stream's first
        beat), one a cycle, so a test can change a register in the middle of a frame.
        """
        dut = self.dut
        pending = deque(sorted(writes))
        first = self.frames_since_reset
        outputs: list[list[bytes]] = [[] for _ in frames]

        async def job(ctx: Any) -> None:
            pushes: list[int] = []
            rx_cycles: list[int] = []
            tx_bytes = bytearray()
            tx_first = 0
            sent = 0

            start = self.cycle

            def sample() -> None:
                nonlocal tx_bytes, tx_first, sent
                if pending and pending[0][0] <= self.cycle - start:
                    _, address, value = pending.popleft()
                    ctx.set(dut.bus_addr, address)
                    ctx.set(dut.bus_w_data, value)
                    ctx.set(dut.bus_w_en, 1)
                else:
                    ctx.set(dut.bus_w_en, 0)
                if ctx.get(dut.dbg_push):
                    pushes.append(int(ctx.get(dut.dbg_push_frame)))
                if ctx.get(dut.tx_valid):
                    if not tx_bytes:
                        tx_first = self.cycle
                    be = int(ctx.get(dut.tx_be))
                    chunk = int(ctx.get(dut.tx_data)).to_bytes(8, "little")
                    tx_bytes += chunk[: be.bit_count()]
                    if ctx.get(dut.tx_last):
                        index = (pushes[sent] - first) % (1 << 32)
                        outputs[index].append(bytes(tx_bytes))
                        self.latencies.append(Latency(index, rx_cycles[index], tx_first))
                        sent += 1
                        tx_bytes = bytearray()

            for frame in frames:
                rx_cycles.append(self.cycle)
                for data, be, last in frame_beats(frame):
                    ctx.set(dut.rx_valid, 1)
                    ctx.set(dut.rx_data, data)
                    ctx.set(dut.rx_be, be)
                    ctx.set(dut.rx_last, last)
                    sample()
                    await self._tick(ctx)
                    if beat_gap and not last:
                        ctx.set(dut.rx_valid, 0)
                        for _ in range(beat_gap):
                            sample()
                            await self._tick(ctx)
                if gap:
                    ctx.set(dut.rx_valid, 0)
                    for _ in range(gap):
                        sample()
                        await self._tick(ctx)
            ctx.set(dut.rx_valid, 0)
            ctx.set(dut.rx_last, 0)
            while ctx.get(dut.traffic) or pending:
                sample()
                await self._tick(ctx)
            ctx.set(dut.bus_w_en, 0)
            if sent != len(pushes) or tx_bytes:
                raise AssertionError(f"{len(pushes)} orders queued but {sent} sent")

        self._run(job)
        self.frames_since_reset += len(frames)
        return outputs
