"""The simulated core against the reference: back-to-back frames, register timing, the bus.

The cross-backend harness (``tests/test_threshold_harness.py``) already runs the ``fpga``
backend frame by frame (idle cycles between frames). These tests add what is particular
to hardware: frames on consecutive cycles with no idle beat (so a frame's decision and
order overlap the next frame's parsing), register writes landing in the middle of a
frame, and the register bus itself.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tickwire.fpga import regs
from tickwire.fpga.backend import FpgaBackend
from tickwire.fpga.control import instrument_writes, set_instrument
from tickwire.fpga.core import LATENCY_CYCLES
from tickwire.fpga.sim import CoreSim, frame_beats
from tickwire.fpga.wire import IP_MIN_IHL, L3_UNTAGGED, UDP_LENGTH
from tickwire.itch import OrderDelete, encode
from tickwire.threshold import ThresholdEngine
from tickwire.threshold.config import InstrumentConfig, ThresholdConfig
from tickwire.threshold.harness import FrameSpec, configs, frame_sequences
from tickwire.threshold.testing import add_order, feed_frame

FEED_PORT = 26477
FILLER = encode(OrderDelete(13, 0, 0, 42))

CONFIG = ThresholdConfig(
    armed=True,
    max_orders=1000,
    first_user_ref_num=99_999_990,
    feed_port=FEED_PORT,
    order_port=26400,
    order_session="TWORDERS01",
    instruments=(
        InstrumentConfig(13, "AAPL", 1_500_000, 100, 100, 100, 1000, 5000, 500_000_000_000),
        InstrumentConfig(14, "MSFT", 4_000_000, 10, 3, 7, 999_999, 2**62, 2**62),
    ),
)


def _reference(config: ThresholdConfig, frames: list[bytes]) -> tuple[list[list[bytes]], str]:
    engine = ThresholdEngine(config)
    out = [engine.feed(f) for f in frames]
    return out, engine.stats().to_json()


def _check(fpga: FpgaBackend, config: ThresholdConfig, frames: list[bytes]) -> None:
    want_out, want_stats = _reference(config, frames)
    fpga.configure(config)
    got_out = fpga.feed_many(frames)
    assert got_out == want_out
    assert fpga.stats().to_json() == want_stats


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(config=configs(), batches=st.lists(frame_sequences, min_size=1, max_size=4))
def test_back_to_back_frames_match_the_reference(
    fpga: FpgaBackend, config: ThresholdConfig, batches: list[list[FrameSpec]]
) -> None:
    """Random frames of every kind (damaged, truncated, VLAN, options, fragments, > 64
    blocks, limit edges) on consecutive cycles, no idle beat in between."""
    _check(fpga, config, [s.build() for batch in batches for s in batch])


def test_a_beat_every_cycle_under_minimum_size_frames(fpga: FpgaBackend) -> None:
    """60-byte frames (heartbeats, other ports, runts) back to back with trigger frames:
    every beat is taken on its cycle (the RX port has no ready), every frame is counted
    and every order is the reference's."""
    cut = feed_frame([], padding=10)[:60]  # a heartbeat cut inside its MoldUDP64 header
    other = feed_frame([FILLER], dst_port=1)[:60]
    trigger = feed_frame([add_order(13, "S", 1_499_900)])
    frames = [cut, other, trigger, b"", cut[:14]] * 12 + [trigger] * 8
    assert all(len(f) <= 60 for f in frames if f != trigger)
    _check(fpga, CONFIG, frames)
    assert fpga.stats().frames == len(frames)
    assert fpga.stats().parse_errors == 12
    assert fpga.stats().orders == 20


def _two_trigger_frames() -> tuple[bytes, bytes]:
    a = feed_frame([FILLER] * 4 + [add_order(13, "S", 1_499_900)])
    b = feed_frame([add_order(13, "S", 1_499_800)])
    return a, b


def test_disarm_in_the_middle_of_a_frame_takes_effect_from_the_next(fpga: FpgaBackend) -> None:
    a, b = _two_trigger_frames()
    fpga.configure(CONFIG)
    assert fpga.sim is not None
    writes = [
        (2, regs.addr("ARMED"), 0),
        (3, regs.addr("CONTROL"), regs.CONTROL_APPLY),
    ]
    out = fpga.sim.stream([a, b], writes=writes)
    want_a = ThresholdEngine(CONFIG).feed(a)
    assert out == [want_a, []] and want_a
    stats = fpga.stats()
    assert stats.orders == 1 and stats.refused["killed"] == 1


def test_arm_in_the_middle_of_a_frame_takes_effect_from_the_next(fpga: FpgaBackend) -> None:
    a, b = _two_trigger_frames()
    fpga.configure(dataclasses.replace(CONFIG, armed=False))
    assert fpga.sim is not None
    writes = [(2, regs.addr("ARMED"), 1), (3, regs.addr("CONTROL"), regs.CONTROL_APPLY)]
    out = fpga.sim.stream([a, b], writes=writes)
    stats = fpga.stats()
    assert out[0] == [] and stats.refused["killed"] == 1
    assert len(out[1]) == 1 and stats.orders == 1
    assert out[1] == ThresholdEngine(CONFIG).feed(b)


def test_set_instrument_in_the_middle_of_a_frame_takes_effect_from_the_next(
    fpga: FpgaBackend,
) -> None:
    """Both frames trigger under the old limit; the new one (below both prices) is
    written, slot and all, while frame a is on the wire: a still orders, b does not."""
    a, b = _two_trigger_frames()
    fpga.configure(CONFIG)
    assert fpga.sim is not None
    lower = dataclasses.replace(CONFIG.instruments[0], limit_price=1_000_000)
    writes = [(1 + i, addr, value) for i, (addr, value) in enumerate(instrument_writes(0, lower))]
    writes.append((len(writes) + 1, regs.addr("CONTROL"), regs.CONTROL_APPLY))
    assert len(writes) < len(frame_beats(a)) - 2  # all written before a's trigger ends
    out = fpga.sim.stream([a, b], writes=writes)
    assert out == [ThresholdEngine(CONFIG).feed(a), []]
    stats = fpga.stats()
    assert stats.triggers == 1 and stats.orders == 1
    engine = ThresholdEngine(CONFIG)
    engine.feed(a)
    assert stats.instruments == engine.stats().instruments  # kept across the change


def test_registers_read_back(fpga: FpgaBackend) -> None:
    fpga.configure(CONFIG)
    assert fpga.sim is not None
    got = fpga.sim.read_many(
        [regs.addr("ID"), regs.addr("MAX_ORDERS"), regs.addr("FEED_PORT"), regs.addr("STATUS")]
    )
    assert got == [regs.CORE_ID, 1000, FEED_PORT, 0]
    session = fpga.sim.read_many([regs.addr("ORDER_SESSION", i) for i in range(3)])
    raw = b"".join(w.to_bytes(4, "big") for w in session)[:10]
    assert raw == b"TWORDERS01"


def test_clord_id_digits_follow_the_bcd_counter_across_a_decade(fpga: FpgaBackend) -> None:
    """first_user_ref_num 99_999_990: the UserRefNum and its 12 decimal digits cross
    99_999_999 -> 100_000_000 within the run (the BCD counter's longest carry)."""
    frames = [feed_frame([add_order(14, "S", 3_999_990 - i)]) for i in range(14)]
    _check(fpga, CONFIG, frames)


def test_step_times_improvement_across_the_halves_of_its_multiply(fpga: FpgaBackend) -> None:
    """``step * improvement`` is made as three parts joined in S2 (the step's low 18 bits
    by each 16-bit half of the improvement, its top 2 bits by the improvement):
    improvements of 2**16 ticks and more (tick 1) with small steps put the high half
    under 2**20 into the quantity (steps 1 and 3), reach max_order_qty (10), and carry
    into 2**20 when the parts are added (11: the product 1,100,000 is capped, its low 20
    bits are not); steps of 2**18 and more with improvements of 1 and 3 ticks put the
    top part into the quantity (fails without it)."""
    steps = (1, 3, 10, 11, 2**18, 2**18 + 3, 3 * 2**18 - 1, 999_999)
    insts = tuple(
        InstrumentConfig(13 + k, f"S{k}", 1_500_000, 100, step, 1, 999_999, 2**62, 2**62)
        for k, step in enumerate(steps)
    )
    config = dataclasses.replace(CONFIG, instruments=insts)
    frames = [
        feed_frame([add_order(13 + k, "S", price)])
        for k in range(len(steps))
        for price in (1_430_000, 1_400_000, 1_434_464, 1_499_999, 1_499_997)
    ]
    _check(fpga, config, frames)


def test_improvement_across_the_halves_of_the_reciprocal_multiply(
    fpga: FpgaBackend,
) -> None:
    """``(limit - price) * recip`` is made as four partial products (the difference's low
    18 and high 14 bits by the reciprocal's low 18 and high 16 bits) summed in S1A before
    the shift: differences with bits in both 16-bit and both 18-bit parts, at ``a * tick
    - 1`` and ``a * tick`` (the floor's edges, where the product is just above an integer
    after the shift: any partial product left out or misaligned moves it below), with
    base and step 1 so the quantity is the improvement plus 1 (fails without any one of
    the four partial products, and failed with the earlier split as two 32 x 17 halves
    without the low half, or as four 16 x 17 products less ``diff[16:] * recip[:17]``)."""
    limit = 4_000_000_000
    cases = {
        1: (65_535, 65_536, 0x1FFFF, 999_998, 0x3FFFF, 0x40000),
        3: (89_999, 90_000),
        7: (864_191, 864_192, 7 * 2**18 - 1, 7 * 2**18),
        1_000: (499_999, 500_000, 998_999, 999_000),
        65_537: (6_553_699, 6_553_700, 2_621_479_999, 2_621_480_000),
    }
    insts = tuple(
        InstrumentConfig(13 + k, f"S{k}", limit, 1, 1, tick, 999_999, 2**62, 2**62)
        for k, tick in enumerate(cases)
    )
    config = dataclasses.replace(CONFIG, instruments=insts)
    frames = [
        feed_frame([add_order(13 + k, "S", limit - d)])
        for k, diffs in enumerate(cases.values())
        for d in diffs
    ]
    _check(fpga, config, frames)


def test_order_leaves_a_fixed_number_of_cycles_after_the_trigger_message_ends(
    fpga: FpgaBackend,
) -> None:
    """At every byte alignment, A and F, with and without a tag or IPv4 options: the
    order's first TX beat is exactly LATENCY_CYCLES (11) after the RX beat holding the
    trigger message's last byte (the TX port idle: frames 40 idle cycles apart), and so
    11 or 12 after the last price byte's beat (an F message's 4 attribution bytes may
    end a beat later), within the 12 of the target."""
    assert LATENCY_CYCLES == 11
    frames, ends = [], []
    for pad in range(8):
        for mpid in (None, "GSCO"):
            for vlan, options in ((None, b""), (7, b""), (None, b"\x01" * 8)):
                trigger = add_order(13, "S", 1_499_900, mpid=mpid)
                filler = b"X" * pad  # a message type that never triggers
                frames.append(feed_frame([filler, trigger], vlan_tci=vlan, options=options))
                start = 14 + (4 if vlan is not None else 0) + 20 + len(options) + 8 + 20
                ends.append(start + 2 + pad + 2 + len(trigger) - 1)
    roomy = dataclasses.replace(CONFIG.instruments[0], max_position=2**62, max_notional=2**62)
    fpga.configure(dataclasses.replace(CONFIG, instruments=(roomy,)))
    assert fpga.sim is not None
    out = fpga.sim.stream(frames, gap=40)
    assert all(len(o) == 1 for o in out)
    got = {x.frame: x.first_tx - x.first_rx - ends[x.frame] // 8 for x in fpga.sim.latencies}
    assert got == dict.fromkeys(range(len(frames)), LATENCY_CYCLES)


def test_a_block_cut_by_the_udp_length_before_the_frame_ends(fpga: FpgaBackend) -> None:
    """A trigger message whose block runs past the UDP datagram's end while the frame goes
    on (bytes after the datagram, as Ethernet padding or a damaged length leaves): the
    contract does not scan it (one parse error, no order). At every byte alignment and
    every cut within the last 10 bytes, so the datagram ends in the beat where the
    pending block would complete or the one before; each followed by an intact trigger.
    The scanner decides whether the open block completes in the incoming beat a beat
    ahead, from that beat's lanes before the datagram's end (fails when those lanes are
    taken one beat late)."""
    l4 = L3_UNTAGGED + 4 * IP_MIN_IHL
    frames = []
    for pad in range(8):
        for cut in range(1, 11):
            trigger = add_order(13, "S", 1_499_900)
            frame = bytearray(feed_frame([b"X" * pad, trigger]))
            udp_len = int.from_bytes(frame[l4 + UDP_LENGTH : l4 + UDP_LENGTH + 2], "big")
            frame[l4 + UDP_LENGTH : l4 + UDP_LENGTH + 2] = (udp_len - cut).to_bytes(2, "big")
            frames += [bytes(frame), feed_frame([add_order(14, "S", 3_999_990)])]
    _check(fpga, CONFIG, frames)


def test_blocks_after_the_counts_last_one_are_not_scanned(fpga: FpgaBackend) -> None:
    """Blocks after the last one the MoldUDP64 count promises are not scanned: not
    counted, not a parse error when short, not a trigger. The last counted block ends at
    every lane and the frame is tagged or not, so in some frames the block limit is
    reached in the beat where the walk's next lane would open a block, which then
    completes or errs in the next beat. The open block's registers are not gated by the
    block limit (the scan is DONE, where they are not read), so the pending block's
    completion and error are read only with the tally's BLK (fails when the block count
    or the phase reads ``pend_comp`` or ``pend_err`` alone). The walk goes on after the
    scan is DONE, so the trigger after the limit is refused in S1 by the tally's phase
    (fails when S1 does not read it)."""
    strays = [b"XYZ", b"A" * 6, add_order(13, "S", 1_499_900)]  # 3 bytes, a short A, a trigger
    frames = []
    for stray in strays:
        block = len(stray).to_bytes(2, "big") + stray
        for vlan in (None, 7):
            for pad in range(8):
                frames.append(feed_frame([b"X" * pad], trailing=block, vlan_tci=vlan))
                frames.append(feed_frame([add_order(14, "S", 3_999_990)], vlan_tci=vlan))
    _check(fpga, CONFIG, frames)
    assert fpga.stats().orders == len(frames) // 2
    assert fpga.stats().parse_errors == 0


def test_no_trigger_after_a_short_block_in_its_frame(fpga: FpgaBackend) -> None:
    """A short A or F block ends the scan of its frame (one parse error); blocks after it
    in the same frame are not counted and a trigger after it is not sent, while one
    before it is. The short block starts at every lane, tagged and untagged, and the
    next frame's trigger is sent. The walk does not stop at the error (the tally a
    cycle later does): the blocks it completes after a short block whose type byte opens
    a beat are not counted (fails when the tally counts a beat's hops after the pending
    block's error), and the trigger after it is refused in S1 by the tally's phase
    (fails when S1 does not read it)."""
    frames = []
    for short in (b"A", b"A" * 6, b"F" * 6):
        for vlan in (None, 7):
            for pad in range(8):
                for before in ((), (add_order(14, "S", 3_999_990),)):
                    after = [b"", b"Z", add_order(13, "S", 1_499_900)]
                    blocks = [b"X" * pad, *before, short, *after]
                    frames.append(feed_frame(blocks, vlan_tci=vlan))
                    frames.append(feed_frame([add_order(14, "S", 3_999_990)], vlan_tci=vlan))
    _check(fpga, CONFIG, frames)
    assert fpga.stats().orders == len(frames) // 2 + len(frames) // 4
    assert fpga.stats().parse_errors == len(frames) // 2


def test_notional_rule_at_its_edge(fpga: FpgaBackend) -> None:
    """The notional rule refuses ``notional + q * p > max_notional``: costs exactly at the
    room (sent) and one above it (refused), with the cost's 16-bit halves both nonzero,
    the largest cost the config allows (999,999 shares at 2**32 - 1), the quantity
    capped by the position room (``room * p``, below and above 2**18 shares), and a
    second order on an instrument that already holds notional. The compare is made a
    stage before the decision, carry-save (fails when it refuses a cost equal to the
    room, or without the cost's part from the quantity's top 2 bits)."""
    big_p = 2**32 - 1
    cases = [  # (base, price, max_position, max_notional offsets from the cost(s))
        (100, 1_499_900, 2**62, (0, -1, 1)),
        (999_999, big_p, 2**62, (0, -1)),
        (1000, 0x1_0001, 7, (0, -1)),  # q = 7, the position room
        (500_000, 3 * 0x1_0001, 300_001, (0, -1)),  # q = 300,001 >= 2**18, the room
    ]
    insts, frames = [], []
    locate = 13
    for base, price, max_pos, offsets in cases:
        q = min(base, max_pos)
        for off in offsets:
            insts.append(
                InstrumentConfig(
                    locate, f"S{locate}", price, base, 1, 1, 999_999, max_pos, q * price + off
                )
            )
            frames.append(feed_frame([add_order(locate, "S", price)]))
            locate += 1
    # Two orders on one instrument: the second's room is what the first left.
    first, second = 1_234_567, 2_345_678
    for off in (0, -1):
        insts.append(
            InstrumentConfig(
                locate,
                f"S{locate}",
                second,
                300,
                1,
                1,
                999_999,
                2**62,
                300 * (first + second) + off,
            )
        )
        frames += [feed_frame([add_order(locate, "S", p)]) for p in (first, second)]
        locate += 1
    config = dataclasses.replace(CONFIG, instruments=tuple(insts))
    _check(fpga, config, frames)


def _slot_instrument(slot: int) -> InstrumentConfig:
    return InstrumentConfig(
        100 + slot, f"S{slot:03d}", 1_500_000 + slot, 100, 10, 1, 1000, 5000, 10**12
    )


def test_every_cam_slot_finds_its_instrument(fpga: FpgaBackend) -> None:
    """A trigger for the instrument of each of the 64 slots (highest first), back to
    back: the CAM (its compares registered by groups of eight, the upper half from the
    complemented locate, an encoder per memory) finds each slot, whose limits are the
    ones used and whose position is the one updated (the stats are read per slot)."""
    config = dataclasses.replace(
        CONFIG, instruments=tuple(_slot_instrument(s) for s in range(regs.INST_SLOTS))
    )
    frames = [
        feed_frame([FILLER] * 3 + [add_order(100 + s, "S", 1_400_000 + 7 * s)])
        for s in reversed(range(regs.INST_SLOTS))
    ]
    _check(fpga, config, frames)


def test_the_lowest_slot_wins_when_two_hold_the_same_locate(fpga: FpgaBackend) -> None:
    """``set_instrument`` can put a locate in a second slot (a config cannot): the CAM
    takes the lowest slot holding it. Slot 40 (another group, the complemented half)
    gets locate 13 with a limit below the trigger's price: slot 0's limits still
    decide; once slot 0 is emptied, slot 40's refuse (no trigger)."""
    frame = feed_frame([FILLER, add_order(13, "S", 1_499_900)])
    fpga.configure(CONFIG)
    assert fpga.sim is not None
    shadow = dataclasses.replace(CONFIG.instruments[0], limit_price=1_000_000)
    set_instrument(fpga.sim, 40, shadow)
    want = ThresholdEngine(CONFIG).feed(frame)
    assert want and fpga.feed(frame) == want
    set_instrument(fpga.sim, 0, None)
    assert fpga.feed(frame) == []
    assert fpga.stats().triggers == 1


def _with_udp_length(frame: bytes, l4: int, udp_len: int) -> bytes:
    out = bytearray(frame)
    out[l4 + UDP_LENGTH : l4 + UDP_LENGTH + 2] = udp_len.to_bytes(2, "big")
    return bytes(out)


def test_the_header_decision_at_its_edges(fpga: FpgaBackend) -> None:
    """The header decision's compares, made a cycle ahead for each candidate L4, at
    their edges, untagged, tagged and with IPv4 options (other L4s), back to back, each
    frame followed by an intact trigger: the UDP length from 0 to 9 (below 8 is one
    parse error) and around the MoldUDP64 count's end (26 to 28, a heartbeat's 28 and
    27), and the frame ending
    one byte before, at and after the UDP header's end (the decision is made once the
    bytes up to ``L4 + 8`` have arrived). Each fails when its compare is off by one."""
    frames = []
    for vlan, options in ((None, b""), (7, b""), (None, bytes(12)), (7, bytes(40))):
        l4 = (L3_UNTAGGED + 4 if vlan is not None else L3_UNTAGGED) + 20 + len(options)
        base = feed_frame([add_order(13, "S", 1_499_900)], vlan_tci=vlan, options=options)
        intact = feed_frame([add_order(14, "S", 3_999_990)], vlan_tci=vlan, options=options)
        for udp_len in (*range(10), 26, 27, 28):
            frames += [_with_udp_length(base, l4, udp_len), intact]
        # A heartbeat (count 0) is a 28-byte datagram: valid, and one byte less cuts
        # its count (the count's low byte is read only when the datagram holds it).
        heartbeat = feed_frame([], vlan_tci=vlan, options=options)
        frames += [heartbeat, intact, _with_udp_length(heartbeat, l4, 27), intact]
        for end in (l4 + 7, l4 + 8, l4 + 9):
            frames += [base[:end], intact]
    _check(fpga, CONFIG, frames)


@pytest.mark.parametrize("outer", [0x88A8, 0x8100])
def test_qinq_feed_frames_match_the_reference(fpga: FpgaBackend, outer: int) -> None:
    """QinQ (docs/threshold.md section 2 rule 1): two tags, either TPID at either depth,
    are read (L3 = 22, so L4 up to 82 with 40 bytes of options, the 18th candidate L4)
    and the order carries both back (119 bytes, 15 beats); a third tag, or a frame cut
    inside the second, is ignored; the header decision at its edges with two tags.
    Back to back, each followed by an intact trigger. Before, the core ignored QinQ."""
    frames = []
    for tags, options in (
        (((outer, 0xE00D), (0x8100, 0x0123)), b""),
        (((outer, 5), (0x88A8, 6)), bytes(40)),
        (((0x88A8, 7),), bytes(12)),
    ):
        l4 = L3_UNTAGGED + 4 * len(tags) + 20 + len(options)
        base = feed_frame([add_order(13, "S", 1_499_900)], vlan_tags=tags, options=options)
        intact = feed_frame([add_order(14, "S", 3_999_990)], vlan_tags=tags, options=options)
        frames += [base, intact, base[: 14 + 4 * len(tags) - 1], intact]
        for udp_len in (7, 8, 27, 28):
            frames += [_with_udp_length(base, l4, udp_len), intact]
        for end in (l4 + 7, l4 + 8, l4 + 9):
            frames += [base[:end], intact]
    three = ((outer, 1), (0x8100, 2), (0x8100, 3))
    frames += [feed_frame([add_order(13, "S", 1_499_900)], vlan_tags=three)]
    want, _ = _reference(CONFIG, frames[:1])
    assert len(want[0][0]) == 119 and want[0][0][12:22] == frames[0][12:20] + b"\x08\x00"
    _check(fpga, CONFIG, frames)


@pytest.mark.parametrize("beat_gap", [0, 1])
def test_the_datagram_ending_in_the_beats_after_the_decision(
    fpga: FpgaBackend, beat_gap: int
) -> None:
    """The scanned lanes of the beats right after the header decision's (``b``, the
    beat with byte ``L4 + 7``), where the datagram's end ``f_end`` has just been set:
    the datagram (zero-length blocks, whose count promises more than a cut datagram
    holds) ending at every lane of beats ``b + 1`` to ``b + 3``, zero padding after it
    (which would complete the blocks if scanned), with L4 at both alignments to the beat
    (the count and the first block in beat ``b + 2`` or later), back to back, each frame
    followed by an intact trigger; with no idle cycle inside a frame (beat ``b + 2``
    arrives in the cycle after the decision) and with one after every beat (``b + 1``
    does: ``CoreSim.stream``'s ``beat_gap``). Fails when the lanes' compare with the end
    is off by one or reads ``f_end`` a cycle early (the pending block's fate's
    registered compare used for the walk's lanes too); on the tried step that made the
    compare a cycle ahead for every beat (docs/fpga.md's timing table) also when a
    per-candidate compare was off by one, beat ``b + 2`` took beat ``b + 1``'s, or the
    decision's own lanes were left out. (Beat ``b + 1``'s lanes are not observable: it
    holds only MoldUDP64 header bytes before the count.)"""
    frames = []
    for vlan, options in ((None, b""), (7, b""), (None, bytes(8)), (7, bytes(4))):
        l4 = (L3_UNTAGGED + 4 if vlan is not None else L3_UNTAGGED) + 20 + len(options)
        b = (l4 + 7) // 8
        intact = feed_frame([add_order(14, "S", 3_999_980)], vlan_tci=vlan, options=options)
        for blocks in ([b""], [b""] * 3, [FILLER, b""]):
            # The datagram's end is L4 + 8 + cut: every lane of beats b + 1 .. b + 3.
            for cut in range((b + 1) * 8 - l4 - 8, (b + 4) * 8 - l4 - 8 + 1):
                cut_frame = feed_frame(blocks, vlan_tci=vlan, options=options, cut=cut, padding=16)
                frames += [cut_frame, intact]
    want_out, want_stats = _reference(CONFIG, frames)
    fpga.configure(CONFIG)
    assert isinstance(fpga.sim, CoreSim)
    assert fpga.sim.stream(frames, beat_gap=beat_gap) == want_out
    assert fpga.stats().to_json() == want_stats


def test_blocks_longer_than_255_bytes_at_every_alignment(fpga: FpgaBackend) -> None:
    """A and F blocks whose length is above 255 with a low byte that alone would make
    them short (10, 0) or end them in the beat: the scanner's compares on a length below
    256 are the high byte's "is zero" and the low byte's compare (lane 0's from a
    register), so these are full-length triggers, not short ones. At every alignment
    (lane 0 gets the length's low byte when the high byte ends the beat before)."""
    frames = []
    for pad in range(8):
        for extra in (256 + 10 - 36, 256 - 36, 512 + 3 - 40):
            mpid = "MPID" if extra == 512 + 3 - 40 else None
            long = add_order(13, "S", 1_499_900, mpid=mpid) + bytes(extra)
            frames += [
                feed_frame([b"X" * pad, long, add_order(14, "S", 3_999_990)]),
                feed_frame([b"X" * pad, add_order(14, "S", 3_999_980)]),
            ]
    _check(fpga, CONFIG, frames)
