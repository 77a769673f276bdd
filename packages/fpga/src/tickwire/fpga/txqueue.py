"""The TX FIFO under a run of triggering frames: when an order is lost (``TX_OVERFLOW``).

The core takes a beat every cycle and cannot stall its RX side, so an order is queued
whenever the contract sends one; the TX side sends them one frame at a time. An order
frame (111, 115 or 119 bytes with 0, 1 or 2 tags) is 11 bytes longer than the smallest
frame that can trigger (:data:`MIN_TRIGGER_FRAME_LENS`: Ethernet, the tags, IPv4 and
UDP headers, the MoldUDP64 header and one Add Order block, 100, 104 or 108 bytes), so
triggering frames shorter than an order frame, back to back, queue orders faster than
they leave: every such frame adds ``order - frame`` bytes of backlog, whatever the
framing around both (the same on each side), and a long enough run fills the
:data:`~tickwire.fpga.core.TX_FIFO_DEPTH`-deep FIFO. Nothing in the contract bounds the
run: suppression is per frame, and with ``max_orders`` up to 2**32 - 1 and
``max_position``/``max_notional`` up to 2**62 an instrument can be sent an order for
every frame of the run (so no finite depth removes the loss; a deeper FIFO only moves
the bound).

:func:`run_losses` is the queue's model: push ``j`` at ``j * period_in``, each order's
frame starting when the previous one is done (``period_out`` apart) and no earlier than
``start`` after its push, its entry freed ``hold`` after it starts; a push that finds
``depth`` entries is lost. The units are any (bytes of line time, cycles). The tests
hold the simulated core to it (``test_fpga_txqueue.py``: a run one frame short of the
first loss loses nothing, the next frame's order is lost, on the simulated TX, which
sends a beat a cycle with no gap), and :func:`wire_first_loss` applies it to a 10GbE
line (:data:`WIRE_OVERHEAD`: preamble and SFD, FCS, inter-frame gap), the bound
``docs/fpga.md`` states.
"""

from __future__ import annotations

from collections import deque

from tickwire.threshold.cheader import WIRE

from .core import TX_FIFO_DEPTH
from .wire import BLOCK_PREFIX, MAX_TAGS, ORDER_FRAME_LENS

__all__ = [
    "BYTES_PER_CYCLE",
    "MIN_TRIGGER_FRAME_LENS",
    "WIRE_OVERHEAD",
    "run_losses",
    "wire_first_loss",
]

BYTES_PER_CYCLE = 8
"""Line bytes per core cycle: 10 Gb/s at 156.25 MHz, 64-bit beats."""
WIRE_OVERHEAD = 8 + 4 + 12
"""Line bytes a frame takes besides the bytes the core sees: preamble and SFD (8), FCS
(4, stripped and appended by the MAC) and the inter-frame gap (12, its average under
the deficit idle count)."""
MIN_TRIGGER_FRAME_LENS = tuple(
    WIRE["ETH"].size
    + k * WIRE["VLAN"].size
    + WIRE["IPV4"].size
    + WIRE["UDP"].size
    + WIRE["MOLD"].size
    + BLOCK_PREFIX
    + WIRE["ITCH_A"].size
    for k in range(MAX_TAGS + 1)
)
"""Bytes of the smallest frame that can trigger, by its number of tags: one A block."""


def run_losses(
    pushes: int,
    period_in: int,
    period_out: int,
    start: int,
    hold: int,
    depth: int = TX_FIFO_DEPTH,
) -> list[int]:
    """Indexes (0-based) of the orders lost in a run of ``pushes`` orders queued
    ``period_in`` apart (see the module's docstring for the model)."""
    held: deque[int] = deque()  # when each queued entry is freed, oldest first
    lost = []
    last_start = None
    for j in range(pushes):
        now = j * period_in
        while held and held[0] < now:  # freed in an earlier cycle
            held.popleft()
        if len(held) == depth:
            lost.append(j)
            continue
        begin = now + start if last_start is None else max(now + start, last_start + period_out)
        last_start = begin
        held.append(begin + hold)
    return lost


def wire_first_loss(tags: int, frame_len: int | None = None, pushes: int = 10_000) -> int | None:
    """The 0-based index of the first order lost in a run of triggering frames of
    ``frame_len`` bytes (the smallest by default) back to back on a 10GbE line, each
    sending an order, whose orders leave on a 10GbE line (the TX port behind a MAC that
    takes a beat as it sends it); None if ``pushes`` frames lose none.

    An order's frame starts a cycle after its push, its entry is freed when its last
    beat is taken (preamble and all beats before it sent), and frames follow each
    other ``order + WIRE_OVERHEAD`` bytes apart on the line."""
    frame = MIN_TRIGGER_FRAME_LENS[tags] if frame_len is None else frame_len
    order = ORDER_FRAME_LENS[tags]
    last_beat = (order - 1) // BYTES_PER_CYCLE * BYTES_PER_CYCLE
    lost = run_losses(
        pushes,
        period_in=frame + WIRE_OVERHEAD,
        period_out=order + WIRE_OVERHEAD,
        start=BYTES_PER_CYCLE,
        hold=8 + last_beat,
    )
    return lost[0] if lost else None
