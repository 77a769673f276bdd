"""The threshold strategy as hardware: an Amaranth HDL design of ``docs/threshold.md``.

:class:`ThresholdCore` takes an RX stream of Ethernet frames (64-bit beats, byte ``i`` of
a beat in bits ``8i..8i+7``, ``rx_be`` a contiguous run of low lanes, ``rx_last`` on the
last beat; no backpressure: a beat may come every cycle, which is 10GbE line rate at
156.25 MHz) and gives a TX stream of order frames (same beat format) and a register bus
(:mod:`tickwire.fpga.regs`).

The pipeline
------------
``R`` (input register)
    The beat is registered, and beats 0..11 of the frame are written into a 96-byte
    header buffer. The scanner then sees, in the same cycle, a beat and a buffer that
    already holds it, so header fields are read from the buffer by offset (every offset
    from the one wire table, :mod:`tickwire.fpga.wire`). Decoded from the incoming beat
    and registered with it: the byte count so far, the valid lanes, and each lane read
    as a block length's low byte (below).
Scanner (the cycle after ``R``; "cycle T" below for the beat that ends a message)
    *Header*: once the bytes received reach ``L4 + 8`` (``L3`` from the EtherType,
    ``L4 = L3 + 4 * IHL``), the frame is decided for the feed port or ignored, with the
    checks of section 2 in one cycle; ``P = L4 + 8`` and the UDP end ``L4 + UL`` are
    kept for the frame. The fields before the UDP header (bytes 0..27) are decoded every
    cycle and registered, ``L4`` also one-hot over its 17 possible values; for each
    candidate ``L4`` the compares on the later fields (the destination port with the
    feed's, the UDP length with 8 and with the count's end, the bytes received with
    ``L4 + 8``) and the end ``L4 + UL`` are made a cycle ahead from the buffer as the
    incoming beat will leave it, so the decision cycle only selects them by ``L4``.
    *MoldUDP64*, by block-start pointer jumping: every lane is read, in parallel, as
    the low byte of a block length field (its high byte is the lane before, or the
    previous beat's last byte), giving that block's length ``n``, the lane where it
    would end (``lane + n``, when in this beat) and the lane of the next length field's
    low byte (``lane + n + 2``, one-hot), and whether its type byte makes it a short
    ``A``/``F`` (an error); all of it is decoded a cycle ahead from the incoming beat
    and registered. So is every check the scanner's cycle would otherwise make on a
    lane's 16-bit value: too short for an A or an F (kept with an open block, so its
    type check in a later beat is an AND of registered bits and lane 0's type compare,
    also made a cycle ahead), and, read as the MoldUDP64 count, nonzero and not 0xFFFF,
    each of 1..4 and ``min(count, 64)``: the count's lane selects them instead of
    comparing its bytes in the cycle that starts the hops. The only chain within a beat
    follows that one-hot pointer from the registered start (one-hot too): at most four
    hops (a zero-length block is two bytes), where a hop either ends its block in the
    beat, errs or leaves its block open. The walk itself is not gated: a lane has a
    successor only when its block completes, so it stops by itself at an open or short
    block. Nor does it stop when the scan ends: the block limit (``min(count, 64)``
    blocks, counted down), DONE and ERR are the *tally*'s, a cycle after the walk, from
    its outcomes registered (the count after a beat is selected by how many blocks it
    completes among values made before it). So the walk's loop holds only where the
    next beat's walk starts; what the walk reads after the scan ended is gated by the
    tally's phase, and a trigger by that phase in S1. Where the walk is one, two, three
    and four hops after each lane depends on the beat alone (its bytes and its scanned
    lanes), so these four tables are made a cycle ahead from the incoming beat and
    registered. From them, and beside the state
    rather than after it, the scanner's cycle makes what the walk from each of the eight
    lanes does: each hop's completion and error, the lane where it opens a block and
    every open-block register's value from that lane. The state then only picks one
    start's outcomes, by one AND-OR select (the start: after the count in HDR, else
    sc_dn one-hot); no hop position is selected first. The tally gates the completions
    and errors by the block limit; the open block's registers are not gated by it,
    since a beat that reaches it ends the scan (DONE), where they are not read. An
    open block is registered (its body start, length, where it ends; positions relative
    to the next beat, so no subtract comes before the hops and no adder after them) and
    ended in a later beat by comparing the registered end with the lanes; its fields are
    taken by fixed offsets from the registered body start (type at 0, locate at 1..2,
    side at 19, price at 32..35). The count is read at ``P + 18`` the same way. Only an
    open block can be a trigger (an A/F block is at least 38 bytes), so the candidate
    never waits for the hops, and at most one ends in a beat. A frame that ends (or
    whose UDP length ends) before DONE has one parse error. State resets at every last
    beat. The header decision is made in the beat with byte ``L4 + 7``; the first byte
    the scanner reads (``P + 18``) is at least 19 bytes later, so it reads the decision
    from registers.
*Locate lookup*
    The locate of the message being scanned goes into two registers of the CAM's own
    (complemented and XORed with 0x5555, each driving half of the compares) as the
    scanner takes it, is compared with the 64 slot locates (a CAM) the cycle after, the
    compares registered; their priority encoder is registered the cycle after, and the
    registered slot addresses the two memories (the slot's configuration and its
    position) the cycle after that; the price's last byte comes 33 bytes (at least four
    beats) after the locate's, so both are read by cycle T.
``S1`` (T + 1), ``S1M`` (T + 2), ``S1A`` (T + 3), ``S1S`` (T + 4)
    ``0 < p <= limit`` in a scan that had not ended before the beat (the tally's
    phase, now past that beat: a trigger) and ``limit - p``; its product with the
    reciprocal ``m`` as four partial products (one 18x18 multiplier each, registered
    with no adder after them); their sum (carry-save, one carry chain); the sum shifted
    right by ``s`` (the division by ``tick`` as a multiply by the host-computed reciprocal,
    :mod:`tickwire.fpga.recip`). Each multiply has a stage of its own with a register
    after it (the ECP5's 18x18 multipliers, the routing to and from them and the adders
    that join them take more than a 6.4 ns cycle).
``S2M`` (T + 5), ``S2`` (T + 6)
    ``step * improvement`` (three parts, each registered: the step's low 18 bits by
    each 16-bit half on a multiplier, its top 2 bits by selects and an adder) and the
    rooms ``max_position - shares`` and ``max_notional - notional``; ``base +`` the
    parts (carry-save; only the product's low 20 bits and whether it reaches 2**20
    matter), capped at ``max_order_qty`` (its compare beside the sum), the rooms
    saturated (quantities are below 2**20, costs below 2**52: the config's ranges). The
    order's IPv4 header checksum (it covers only constants and the two addresses) is
    summed in S1S and folded in S2M and S2.
``S3Q`` (T + 7), ``S3P`` (T + 8)
    The quantity ``q = min(.., room)`` and, beside the compare, both candidates' costs
    (``room * p`` and ``.. * p``, each as three parts like the step's, registered: ``q *
    p`` is the smaller since ``p > 0``); the chosen candidate's parts joined into the
    cost (carry-save), and each rule's condition below decided and registered (the
    notional one carry-save from the parts), so S3 only takes the first that holds.
``S3`` (T + 9): the decision
    The contract's rules in order: suppressed (an order was sent for this frame: the
    event carries its frame number), killed, max orders, position (``q = min(..,
    max_position - shares) <= 0``), notional (``q * p`` above the notional room); else the order is sent: counters, the
    slot's shares and notional are updated and an order descriptor is written to the TX
    FIFO. Decisions read the state they update in the same stage, and an event carries
    the configuration it was read with, so a config change between frames never applies
    to half of a frame's events.
TX
    The FIFO's head (first word fall through) is turned into the 111/115/119-byte frame (no
    tag, one, QinQ) and
    sent a beat a cycle from T + 10 on; frames queue back to back. The ClOrdID's decimal
    UserRefNum comes from a BCD counter kept beside the binary one (set by double dabble
    at RESET, incremented in BCD per order), so no binary-to-decimal conversion sits in
    the order path.

Why one trigger decision never races another: state only changes when an order is
sent, a sent order suppresses every later trigger of its frame, and the first trigger
of the next frame ends at least 100 bytes (12 beats) later, after ``S3`` (T + 9) has
written the position it reads.
"""

from __future__ import annotations

from typing import Any

from amaranth import Array, C, Cat, Const, Elaboratable, Module, Mux, Signal
from amaranth.lib import data, fifo, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from tickwire.net import frames as net
from tickwire.threshold.cheader import WIRE
from tickwire.threshold.scan import A_LOCATE, A_PRICE, A_SIDE, MAX_SCANNED, min_add_lengths

from . import regs
from .recip import RECIP_BITS
from .wire import (
    BLOCK_PREFIX,
    COUNT_LO,
    ETHERTYPE,
    INNER_ETHERTYPE,
    IP_DST,
    IP_FRAG,
    IP_MIN_IHL,
    IP_PROTO,
    IP_SRC,
    IP_TTL,
    IP_VERSION,
    IP_VIHL,
    L3_QINQ,
    L3_TAGGED,
    L3_UNTAGGED,
    ORDER_BLOCK_LEN,
    ORDER_FRAME_BEATS,
    ORDER_IP_LEN,
    ORDER_LAST_BE,
    ORDER_UDP_LEN,
    TAGS_LEN,
    THIRD_ETHERTYPE,
    UDP_DPORT,
    UDP_HEADER,
    UDP_LENGTH,
)

__all__ = ["DESC", "INST", "LATENCY_CYCLES", "ORDER_FRAME_BEATS", "POS", "ThresholdCore"]

_LEN_A, _LEN_F = min_add_lengths()
_TYPE_A, _TYPE_F, _SELL = 0x41, 0x46, 0x53
_S_HDR, _S_BLK, _S_DONE, _S_ERR = range(4)
_HDR_BEATS = 12  # the header buffer: P <= 22 + 60 + 8 = 90 bytes (checked below)
_FRAGMENT = 0x3FFF  # MF and the fragment offset: a fragment is not scanned
_ETH_DST = WIRE["ETH"].field("dst").offset
_ETH_SRC = WIRE["ETH"].field("src").offset
# The header decision reads bytes before P from the buffer; the largest P has two tags
# and 40 bytes of IPv4 options.
assert L3_QINQ + 15 * 4 + UDP_HEADER <= 8 * _HDR_BEATS
# The fields decoded before the decision (up to the IPv4 protocol, and the fragment word
# before it) are in beats 0..3 whatever the tags: registered from beat 4 on.
assert L3_QINQ + IP_PROTO < 32 and L3_QINQ + IP_FRAG + 1 < 32
_LEFT_EQ = 5  # sc_left's values 1..5 kept one-hot: the hops' gates read them
_POS = 18  # bits of a byte position (frames and UDP ends up to 256 KiB)
TX_FIFO_DEPTH = 8
LATENCY_CYCLES = 11
"""Cycles from the RX beat that completes a trigger message to its order's first TX beat:
the input register, the scanner (T), S1, S1M, S1A, S1S, S2M, S2, S3Q, S3P, S3 (the FIFO
write)."""
QTY_BITS = 20
"""Bits of a quantity: max_order_qty is at most 999,999 (``docs/threshold.md``)."""
COST_BITS = QTY_BITS + 32
"""Bits of a cost ``q * p`` (a price is below 2**32)."""
IP_VIHL_TOS = (((IP_VERSION << 4) | IP_MIN_IHL) << 8) | 0
"""The first 16-bit word of an order's IPv4 header: version 4, no options, TOS 0."""

INST = data.StructLayout(
    {
        "symbol": 64,
        "limit": 32,
        "base": 20,
        "step": 20,
        "recip": RECIP_BITS,
        "shift": 7,
        "maxq": 20,
        "maxpos": 63,
        "maxnot": 63,
    }
)
"""One instrument slot's configuration, as stored in the configuration memory."""

POS = data.StructLayout({"shares": 63, "notional": 63})
"""One instrument slot's position, as stored in the position memory."""

# An event travelling S1..S3: everything the decision and the order frame need, read at T.
_EVT = data.StructLayout(
    {
        "frame": 32,
        "price": 32,
        "idx": 6,
        "armed": 1,
        "maxo": 32,
        "inst": INST,
        "pos": POS,
        "dmac": 48,  # wire order (byte k in bits 8k..8k+7), like every address below
        "smac": 48,
        "ntags": 2,  # VLAN tags of the input (0..2) ...
        "tags": 8 * TAGS_LEN,  # ... and its bytes from the EtherType on: TPIDs and TCIs
        "sip": 32,
        "dip": 32,
        "fport": 16,
        "oport": 16,
        "session": 96,
    }
)

DESC = data.StructLayout(
    {
        "dmac": 48,
        "smac": 48,
        "ntags": 2,
        "tags": 8 * TAGS_LEN,
        "sip": 32,
        "dip": 32,
        "csum": 16,
        "fport": 16,
        "oport": 16,
        "session": 96,
        "seq": 33,
        "uref": 32,
        "qty": 20,
        "symbol": 64,
        "price": 32,
        "bcd": 40,
    }
)
"""One order in the TX FIFO (the frame is built from it beat by beat)."""


def _be_bytes(value: Any, n: int) -> list[Any]:
    """The ``n`` bytes of ``value`` in network order (most significant first)."""
    return [value[8 * (n - 1 - k) : 8 * (n - k)] for k in range(n)]


def _wire_bytes(value: Any, n: int) -> list[Any]:
    """The ``n`` bytes of a wire-order value (byte k in bits 8k..8k+7)."""
    return [value[8 * k : 8 * k + 8] for k in range(n)]


def _word_bytes(value: Any, n: int) -> list[Any]:
    """The first ``n`` bytes of big-endian 32-bit words packed low word first."""
    words = (n + 3) // 4
    out: list[Any] = []
    for w in range(words):
        out += _be_bytes(value[32 * w : 32 * w + 32], 4)
    return out[:n]


def _ascii(text: str) -> list[Any]:
    return [C(ord(ch), 8) for ch in text]


def order_frame_bytes(d: Any, ntags: int) -> list[Any]:
    """The order frame of ``docs/threshold.md`` section 5 as a list of byte values, for
    an input with ``ntags`` VLAN tags (0..2): they go back as they came, TPIDs and TCIs
    (``d.tags``, the input's bytes from the EtherType on), QinQ included. Test:
    ``packages/fpga/tests/test_fpga_core.py::test_qinq_feed_frames_match_the_reference``."""
    out: list[Any] = []
    out += _wire_bytes(d.dmac, 6) + _wire_bytes(d.smac, 6)
    out += _wire_bytes(d.tags, 4 * ntags)
    out += [C(v, 8) for v in net.ETHERTYPE_IPV4.to_bytes(2, "big")]
    out += [C(v, 8) for v in IP_VIHL_TOS.to_bytes(2, "big") + ORDER_IP_LEN.to_bytes(2, "big")]
    out += [C(v, 8) for v in bytes(2) + net.IP_DF.to_bytes(2, "big")]
    out += [C(IP_TTL, 8), C(net.IPPROTO_UDP, 8)]
    out += _be_bytes(d.csum, 2) + _wire_bytes(d.sip, 4) + _wire_bytes(d.dip, 4)
    out += _be_bytes(d.fport, 2) + _be_bytes(d.oport, 2)
    out += [C(v, 8) for v in ORDER_UDP_LEN.to_bytes(2, "big") + bytes(2)]  # no UDP checksum
    out += _word_bytes(d.session, 10)
    out += [C(0, 8)] * 3 + _be_bytes(Cat(d.seq, C(0, 7)), 5)
    out += [C(v, 8) for v in (1).to_bytes(2, "big") + ORDER_BLOCK_LEN.to_bytes(2, "big")]
    out += _ascii("O") + _be_bytes(d.uref, 4) + _ascii("B")
    out += _be_bytes(Cat(d.qty, C(0, 12)), 4)
    out += _word_bytes(d.symbol, 8)
    out += [C(0, 8)] * 4 + _be_bytes(d.price, 4)
    out += _ascii("3YPNNTW00")
    out += [Cat(d.bcd[4 * k : 4 * k + 4], C(3, 4)) for k in reversed(range(10))]
    out += [C(0, 8), C(0, 8)]
    return out


def _bcd_carries(nines: list[Any]) -> list[Any]:
    """Carry k of a BCD increment: every digit below k is 9 (digit 0 always takes it)."""
    return [Cat(Const(1, 1), *nines[:k]).all() for k in range(len(nines))]


def _bcd_increment(bcd: Any, nines: Any, carries: Any) -> tuple[Any, list[Any]]:
    """``bcd + 1`` for a 10-digit BCD value (digit 0 in the low nibble), from its digits'
    ``== 9`` (``nines``) and carries (``_bcd_carries``) kept in registers beside it, and
    the new value's nines.

    Digit k is incremented when the carry reaches it, and wraps to 0 when it is 9: no
    digit's compare or carry is made in the cycle that increments. The new digit is 9
    when it was 8 and incremented, or 9 and not."""
    digits: list[Any] = []
    new_nines: list[Any] = []
    for k in range(10):
        d = bcd[4 * k : 4 * k + 4]
        digits.append(Mux(carries[k], Mux(nines[k], 0, d + 1), d)[0:4])
        new_nines.append(Mux(carries[k], d == 8, nines[k]))
    return Cat(*digits), new_nines


class ThresholdCore(wiring.Component):
    """The threshold strategy core: RX beats in, order frames out, a register bus.

    ``dbg_push`` / ``dbg_push_frame`` show when an order is queued and for which frame
    (the count of frames since RESET): simulation uses them to give each order frame to
    its input frame; they are not needed in hardware.
    """

    def __init__(self) -> None:
        super().__init__(
            {
                "rx_valid": In(1),
                "rx_data": In(64),
                "rx_be": In(8),
                "rx_last": In(1),
                "tx_valid": Out(1),
                "tx_data": Out(64),
                "tx_be": Out(8),
                "tx_last": Out(1),
                "bus_addr": In(regs.ADDR_WIDTH),
                "bus_w_en": In(1),
                "bus_w_data": In(32),
                "bus_r_en": In(1),
                "bus_r_data": Out(32),
                "traffic": Out(1),
                "dbg_push": Out(1),
                "dbg_push_frame": Out(32),
            }
        )

    def elaborate(self, platform: Any) -> Module:
        m = Module()

        # ------------------------------------------------------------------ registers
        st_armed = Signal()
        st_maxo = Signal(32)
        st_first = Signal(32)
        st_fport = Signal(16)
        st_oport = Signal(16)
        st_session = Signal(96)
        st_slot = Signal(32)
        st_loc = Signal(16)
        st_tick = Signal(32)
        st_inst = Signal(INST)
        act_armed = Signal()
        act_maxo = Signal(32)
        act_first = Signal(32)
        act_fport = Signal(16)
        act_oport = Signal(16)
        act_session = Signal(96)
        act_loc = Array(Signal(16, name=f"slot_locate_{i}") for i in range(regs.INST_SLOTS))
        apply_pending = Signal()

        cfg_mem = Memory(shape=INST, depth=regs.INST_SLOTS, init=[])
        pos_mem = Memory(shape=POS, depth=regs.INST_SLOTS, init=[])
        m.submodules.cfg_mem = cfg_mem
        m.submodules.pos_mem = pos_mem
        cfg_wr = cfg_mem.write_port()
        cfg_rd = cfg_mem.read_port()
        pos_wr = pos_mem.write_port()
        pos_rd = pos_mem.read_port()
        pos_bus = pos_mem.read_port()

        names = [
            "frames",
            "scanned",
            "triggers",
            "orders",
            "suppressed",
            "parse_errors",
            "killed",
            "max_orders",
            "position",
            "notional",
            "tx_overflow",
        ]
        ctr = {n: Signal(64, name=f"stat_{n}") for n in names}

        # ------------------------------------------------------------------ stage R
        in_beat = Signal(14)
        r_valid = Signal()
        r_data = Signal(64)
        r_be = Signal(8)
        r_last = Signal()
        r_beat = Signal(14)
        hdr = Signal(8 * 8 * _HDR_BEATS)
        m.d.sync += [r_valid.eq(self.rx_valid), r_data.eq(self.rx_data)]
        m.d.sync += [r_be.eq(self.rx_be), r_last.eq(self.rx_last), r_beat.eq(in_beat)]
        # Saturating: past 16,383 beats (131 KB, beyond any UDP datagram's end) every
        # beat keeps the last position, so nothing is read twice.
        at_max = in_beat == (1 << len(in_beat)) - 1
        in_beat_next = Signal(14)
        m.d.comb += in_beat_next.eq(
            Mux(self.rx_valid, Mux(self.rx_last, 0, Mux(at_max, in_beat, in_beat + 1)), in_beat)
        )
        m.d.sync += in_beat.eq(in_beat_next)
        with m.If(self.rx_valid), m.If(in_beat < _HDR_BEATS):
            m.d.sync += hdr.word_select(in_beat[0:4], 64).eq(self.rx_data)

        # Combinational logic lives in submodules by stage: the Python simulator re-runs a
        # module's whole combinational part whenever one of its inputs changes.
        # And a process reads the *committed* values of what it drives itself, so a chain
        # inside one module re-runs once per link: each scanner lane is its own module.
        hm, sm, cm, d1, d2, d3, tm = (Module() for _ in range(7))
        m.submodules.header = _Wrap(hm)
        m.submodules.scanner = _Wrap(sm)
        m.submodules.cam = _Wrap(cm)
        m.submodules.decide1 = _Wrap(d1)
        m.submodules.decide2 = _Wrap(d2)
        m.submodules.decide3 = _Wrap(d3)
        m.submodules.framer = _Wrap(tm)

        # ------------------------------------------------------------------ header
        def byte(offset: Any) -> Any:
            return (
                hdr.bit_select(offset * 8, 8)
                if not isinstance(offset, int)
                else hdr[8 * offset : 8 * offset + 8]
            )

        def u16(offset: Any) -> Any:
            return Cat(byte(offset + 1), byte(offset))

        # Bytes received so far, counted a cycle ahead from the incoming beat.
        nrx = Signal(_POS)
        m.d.sync += nrx.eq(in_beat * 8 + sum(self.rx_be[i] for i in range(8)))

        # The header fields up to the IPv4 protocol (bytes 0..27, in beats 0..3) are
        # decoded every cycle from the buffer and registered: from beat 4 on they are
        # the frame's, and no frame for the feed decides before beat 5 (L4 + 8 >= 42).
        # L4 is one of 18 offsets (14 + 4k): it is kept one-hot, so the UDP port and
        # length are read by 18 comparisons and an 18-way select instead of a shifter.
        # Up to two VLAN tags, 0x8100 or 0x88A8 at either depth (QinQ, docs/threshold.md
        # section 2 rule 1); a third leaves its TPID where IPv4 is expected.
        def is_tag(et: Any) -> Any:
            return (et == net.ETHERTYPE_VLAN) | (et == net.ETHERTYPE_QINQ)

        ethertype = u16(ETHERTYPE)
        c_tag1, c_tag2 = Signal(), Signal()
        hm.d.comb += [
            c_tag1.eq(is_tag(ethertype)),
            c_tag2.eq(c_tag1 & is_tag(u16(INNER_ETHERTYPE))),
        ]

        def at_l3(offset: int, read: Any) -> Any:
            """``read`` of the field at ``offset`` from L3, whichever L3 the tags give."""
            return Mux(
                c_tag2,
                read(L3_QINQ + offset),
                Mux(c_tag1, read(L3_TAGGED + offset), read(L3_UNTAGGED + offset)),
            )

        l3type = Mux(c_tag2, u16(THIRD_ETHERTYPE), Mux(c_tag1, u16(INNER_ETHERTYPE), ethertype))
        vihl = at_l3(IP_VIHL, byte)
        ihl = vihl[0:4]
        c_l4 = Signal(7)
        hm.d.comb += c_l4.eq(Mux(c_tag2, L3_QINQ, Mux(c_tag1, L3_TAGGED, L3_UNTAGGED)) + (ihl << 2))
        frag = at_l3(IP_FRAG, u16)
        proto = at_l3(IP_PROTO, byte)
        l4_at = [L3_UNTAGGED + 4 * k for k in range((L3_QINQ + 60 - L3_UNTAGGED) // 4 + 1)]
        cnt_at = [at + UDP_HEADER + COUNT_LO for at in l4_at]  # the count's low byte per L4
        ntags = Signal(2)
        l4 = Signal(7)
        l4_oh = Signal(len(l4_at))
        ip_ok = Signal()
        m.d.sync += [
            ntags.eq(Mux(c_tag2, 2, c_tag1)),
            l4.eq(c_l4),
            l4_oh.eq(Cat(*[c_l4 == at for at in l4_at])),
            ip_ok.eq(
                (l3type == net.ETHERTYPE_IPV4)
                & (vihl[4:8] == IP_VERSION)
                & (ihl >= IP_MIN_IHL)
                & (proto == net.IPPROTO_UDP)
                & ((frag & _FRAGMENT) == 0)
            ),
        ]

        # Every compare of the decision on a field after L4 (the destination port with
        # the feed's, the UDP length with 8 and with the count's end, the bytes received
        # with L4 + 8) and the datagram's end ``L4 + UL`` are made a cycle ahead for each
        # of the 18 candidate L4s, from the buffer as it will be (the incoming beat
        # written into it) and registered; the decision cycle selects them by ``l4_oh``.
        # Exact: the buffer then holds what the compare read, and the feed port cannot
        # change between the two cycles (APPLY needs no frame in flight, and this frame
        # has had four beats).
        def arriving(offset: int) -> Any:
            """The byte at ``offset`` is in the incoming beat."""
            return self.rx_valid & (in_beat == offset // 8)

        def byte_next_is(offset: int, test: Any) -> Any:
            """``test`` of the byte at ``offset`` in the buffer as the incoming beat will
            leave it, made on both of its candidates (the incoming beat's lane and the
            buffer's byte) and selected after: the select is the compare's last LUT, not
            in front of it."""
            incoming = test(self.rx_data.word_select(offset % 8, 8))
            return Mux(arriving(offset), incoming, test(byte(offset)))

        # The compares with constants are on bytes (big-endian: the high byte first).
        assert UDP_HEADER < 256 and UDP_HEADER + COUNT_LO < 256
        nrx_next = in_beat * 8 + sum(self.rx_be[i] for i in range(8))
        c_port = [Signal(name=f"c_port_{at}") for at in l4_at]
        c_short = [Signal(name=f"c_short_{at}") for at in l4_at]
        c_cnt = [Signal(name=f"c_cnt_{at}") for at in l4_at]
        c_l4in = [Signal(name=f"c_l4in_{at}") for at in l4_at]
        c_end = [Signal(_POS, name=f"c_end_{at}") for at in l4_at]
        for k, l4_k in enumerate(l4_at):
            port_at, ul_at = l4_k + UDP_DPORT, l4_k + UDP_LENGTH
            # ``L4 + UL`` summed on both candidates of the UDP length (the incoming
            # beat's lanes, the buffer's bytes: one beat holds both bytes at every
            # candidate L4) and selected after, so no select is before the carry chain.
            assert ul_at // 8 == (ul_at + 1) // 8
            ul_in = Cat(
                self.rx_data.word_select((ul_at + 1) % 8, 8), self.rx_data.word_select(ul_at % 8, 8)
            )
            ul_buf = Cat(byte(ul_at + 1), byte(ul_at))
            m.d.sync += [
                c_port[k].eq(
                    byte_next_is(port_at, lambda b: b == act_fport[8:16])
                    & byte_next_is(port_at + 1, lambda b: b == act_fport[0:8])
                ),
                c_short[k].eq(
                    byte_next_is(ul_at, lambda b: b == 0)
                    & byte_next_is(ul_at + 1, lambda b: b < UDP_HEADER)
                ),
                c_cnt[k].eq(
                    byte_next_is(ul_at, lambda b: b != 0)
                    | byte_next_is(ul_at + 1, lambda b: b > UDP_HEADER + COUNT_LO)
                ),
                c_l4in[k].eq(nrx_next >= l4_k + UDP_HEADER),
                c_end[k].eq(Mux(arriving(ul_at), l4_k + ul_in, l4_k + ul_buf)),
            ]

        def at_l4(flags: list[Any]) -> Any:
            return _or_all([l4_oh[k] & flag for k, flag in enumerate(flags)])

        dport_ok = Signal()
        udp_short = Signal()  # the UDP length is below 8
        l4_in = Signal()  # the bytes up to L4 + 8 have arrived
        hm.d.comb += [
            dport_ok.eq(at_l4(c_port)),
            udp_short.eq(at_l4(c_short)),
            l4_in.eq(at_l4(c_l4in)),
        ]
        f_done = Signal()  # the header decision is made for this frame
        f_scan = Signal()  # ... and the MoldUDP64 packet is being scanned
        f_uerr = Signal()  # ... and the UDP length was below 8 (one parse error)
        f_p = Signal(_POS)
        f_cbeat = Signal(_POS - 3)  # the MoldUDP64 count's low byte: its beat ...
        f_clane = Signal(8)  # ... and its lane, one-hot (set with f_p)
        f_end = Signal(_POS)
        f_cnt_in = Signal()  # ... and the MoldUDP64 count's low byte is in the datagram
        decide = Signal()
        feed_ok = Signal()
        hm.d.comb += decide.eq(r_valid & ~f_done & (r_beat >= 4) & l4_in)
        hm.d.comb += feed_ok.eq(ip_ok & dport_ok)
        scan_now = Signal()
        uerr_now = Signal()
        p_now = Signal(_POS)
        end_now = Signal(_POS)
        hm.d.comb += [
            scan_now.eq(f_scan | (decide & feed_ok & ~udp_short)),
            uerr_now.eq(f_uerr | (decide & feed_ok & udp_short)),
            p_now.eq(Mux(f_done, f_p, l4 + UDP_HEADER)),
            end_now.eq(
                Mux(f_done, f_end, _or_all([Mux(l4_oh[k], c_end[k], 0) for k in range(len(l4_at))]))
            ),
        ]

        # ------------------------------------------------------------------ scanner
        # Block-start pointer jumping (see the module docstring): every lane is read in
        # parallel as the low byte of a block length field (its high byte is the lane
        # before, or the previous beat's last byte), and the only chain within a beat is
        # at most four hops of an 8-bit one-hot "next length field ends here" vector.
        cand_any = Signal()
        ev_price = Signal(32)
        sc_phase = Signal(2)
        sc_left = Signal(7)  # blocks still to scan before DONE (count, at most 64)
        sc_left_eq = Signal(_LEFT_EQ)  # bit k: sc_left == k + 1 (its small values)
        # Positions are kept relative to the next beat, so the hops start from registers.
        sc_dn = Signal(_POS)  # the next block's length low byte - the next beat's first
        sc_pend = Signal()  # a block is open: it completes at sc_dn - 2 (in that beat)
        sc_lhi = Signal(8)  # the previous beat's last byte
        # The next beat's first byte - the open block's body (type), counting up by 8 a
        # beat and holding once at 64 or more: the fields are at body offsets 0..35, so
        # a lane matches none past 63, and no wider adder is in the open block's update.
        sc_db = Signal(7)
        assert A_PRICE + 3 < 64
        sc_blen = Signal(16)
        sc_mtype = Signal(8)
        sc_mloc = Signal(16)
        sc_mside = Signal(8)
        sc_mprice = Signal(32)
        # sc_db == 0, and the open block too short for an A or an F (a nonzero length
        # below the minimum): registered beside sc_db and sc_blen, off the hops' path.
        sc_db0 = Signal(init=1)
        sc_short_a = Signal()
        sc_short_f = Signal()
        state_regs = [sc_dn, sc_pend, sc_lhi, sc_db, sc_blen]
        state_regs += [sc_mtype, sc_mloc, sc_mside, sc_mprice, sc_db0, sc_short_a, sc_short_f]

        pm = Module()  # everything below that does not depend on the hops
        m.submodules.scan_lanes = _Wrap(pm)
        lb = [r_data[8 * i : 8 * i + 8] for i in range(8)]
        # The lanes of the beat that hold scanned bytes, a register: decided a cycle ahead
        # from the incoming beat (the beat after the header decision never holds one).
        v = Signal(8)
        v_in = Cat(*[self.rx_be[i] & (in_beat * 8 + i < f_end) for i in range(8)])
        v_gate = Signal()
        m.d.comb += v_gate.eq(self.rx_valid & f_scan & ~(r_valid & r_last))
        v_next = Signal(8)
        m.d.comb += v_next.eq(Mux(v_gate, v_in, 0))
        m.d.sync += v.eq(v_next)
        # The same lanes for the pending block's fate (below), with the datagram-end
        # compare and the gate's registers (``f_scan``, the beat after a last one) taken
        # a cycle ahead of the incoming beat (``in_beat_next``) and registered, so the
        # fate waits for neither. It reads ``f_end`` and ``f_scan`` a cycle early: wrong
        # only in the cycle after the header decision sets them or a frame's last beat
        # resets them, when the fate is 0 whatever the lanes (the phase is HDR and no
        # block can open: the count's low byte is at least 19 bytes after the decision's
        # last byte, never in the next beat).
        # The compare is made for both beats the incoming one may be (the same beat when
        # no beat comes, else the next: ``in_beat + 1`` is a register of its own,
        # ``in_beat_inc``) and selected after, so no adder is before its carry chain
        # (after a last beat the gate is 0; past 16,383 beats both compares are false).
        in_beat_inc = Signal(len(in_beat) + 1, init=1)
        m.d.sync += in_beat_inc.eq(in_beat_next + 1)
        v_end_pre = Signal(8)
        for i in range(8):
            same = Cat(C(i, 3), in_beat) < f_end
            inc = Cat(C(i, 3), in_beat_inc) < f_end
            m.d.sync += v_end_pre[i].eq(
                f_scan & ~(self.rx_valid & self.rx_last) & Mux(self.rx_valid, inc, same)
            )
        vf_next = Signal(8)
        m.d.comb += vf_next.eq(Mux(self.rx_valid, self.rx_be & v_end_pre, 0))
        # The walk's phase: HDR until the beat with the count's low byte, then BLK until
        # the frame's last beat. It never stops at DONE or ERR: those are the tally's
        # (below, a cycle later), so no block count or error is in the walk's loop. After
        # the scan ends the walk goes on reading whatever follows; nothing reads it then
        # (the tally's phase gates every outcome, and the trigger in S1).
        blk = Signal()
        hdrp = Signal(init=1)

        # Per lane i as a length field's low byte, decoded a cycle ahead from the incoming
        # beat (the hops then start from registers): the lane where the block would end
        # in the beat, one-hot (``pre_end``: n == e - i, which also gives the next length
        # field's low byte, at e + 2), whether its type byte makes it a short A/F
        # (``pre_short``; both go into the walk's tables below), and the next low byte's
        # position relative to the next beat when it is past this one (``lane_adv``, and
        # one-hot over 0..9 in ``lane_adv_oh``). The lane-0 high byte is the beat
        # before's last.
        xm = Module()
        m.submodules.scan_decode = _Wrap(xm)
        xb = [self.rx_data[8 * i : 8 * i + 8] for i in range(8)]
        pre_hi = Signal(8)
        xm.d.comb += pre_hi.eq(Mux(r_valid, Mux(r_last, 0, r_data[56:64]), sc_lhi))
        x_hi = [pre_hi, *xb[:7]]
        # Every compare that feeds the walk's tables is on a length below 256 (a block
        # end in the beat, a short A/F, the next length field a beat ahead), so it is
        # the high byte's "is zero" and a compare of the low byte. Lane 0's high byte is
        # the beat before's last (``r_data`` or ``sc_lhi``): its "is zero" is kept in
        # registers beside them (``r_top_zero`` from the incoming beat; ``sc_lhi_zero``
        # updated as ``sc_lhi`` is), so lane 0's decode starts one LUT from them instead
        # of an 8-bit compare after a select.
        r_top_zero = Signal()
        sc_lhi_zero = Signal(init=1)
        m.d.sync += r_top_zero.eq(self.rx_data[56:64] == 0)
        with m.If(r_valid):
            m.d.sync += sc_lhi_zero.eq(r_last | r_top_zero)
        pre_hz = Signal()
        xm.d.comb += pre_hz.eq(Mux(r_valid, r_last | r_top_zero, sc_lhi_zero))
        x_hz = [pre_hz, *[b == 0 for b in xb[:7]]]
        assert max(_LEN_A, _LEN_F, 16) <= 256
        end_c: list[Any] = []
        short_c: list[Any] = []
        adv_l: list[Any] = []
        adv_oh: list[Any] = []
        adv_ge8: list[Any] = []
        adv_later: list[Any] = []
        # Also per lane, for the open block's and the count's checks in the scanner's
        # cycle: the length too short for an A or an F (``lane_short_a``/``_f``), and,
        # when the lane holds the count's low byte (``c19_x``), the count's checks:
        # neither 0 nor 0xFFFF (``pre_cnt_ok``), each of 1..9 (``pre_cnt_is``, one-hot),
        # and the block limit min(n, 64) - j (``pre_cnt_left``), selected and registered below.
        short_a_l: list[Any] = []
        short_f_l: list[Any] = []
        cnt_ok_l: list[Any] = []
        cnt_is_l: list[Any] = []
        cnt_left_l: list[list[Any]] = []
        # The lane of the count's low byte (P + COUNT_LO) when it is one of the next
        # beat's scanned lanes (its bit of ``v_next``), decided a cycle ahead from the
        # incoming beat's position (the count is at least two beats after the header
        # decision, so ``f_cbeat`` and ``f_clane`` are set by then). It is before the
        # datagram's end when the datagram holds it (``f_cnt_in``, from the UDP length at
        # the decision), so the position compare on ``f_end`` is not in its path. The
        # count's position is a constant per candidate L4, so its beat and its lane
        # (one-hot) are selected by ``l4_oh`` at the decision, and the incoming beat's
        # test is one equality with no adder or carry chain: ``in_beat * 8 + i == P +
        # COUNT_LO`` exactly when ``in_beat`` is that beat and ``i`` that lane.
        c19_x = Signal(8)
        xm.d.comb += c19_x.eq(
            Cat(
                *[
                    (in_beat == f_cbeat) & f_clane[i] & self.rx_be[i] & f_cnt_in & v_gate
                    for i in range(8)
                ]
            )
        )
        for i in range(8):
            n_x = Signal(16, name=f"pre{i}_len")
            xm.d.comb += n_x.eq(Cat(xb[i], x_hi[i]))
            sa_r = Signal(name=f"lane{i}_short_a")
            sf_r = Signal(name=f"lane{i}_short_f")
            ok_r = Signal(name=f"pre{i}_cnt_ok")
            is_r = Signal(_LEFT_EQ + 4, name=f"pre{i}_cnt_is")
            min_r = [Signal(7, name=f"pre{i}_cnt_left{j}") for j in range(5)]
            lo, hz = xb[i], x_hz[i]
            m.d.sync += [
                sa_r.eq(hz & (lo != 0) & (lo < _LEN_A)),
                sf_r.eq(hz & (lo != 0) & (lo < _LEN_F)),
            ]
            xm.d.comb += [
                ok_r.eq(c19_x[i] & (n_x != 0) & (n_x != 0xFFFF)),
                is_r.eq(Mux(c19_x[i], Cat(*[n_x == k + 1 for k in range(len(is_r))]), 0)),
            ]
            xm.d.comb += [
                min_r[j].eq(Mux(c19_x[i], Mux(n_x < MAX_SCANNED, n_x, MAX_SCANNED) - j, 0))
                for j in range(5)
            ]
            short_a_l.append(sa_r)
            short_f_l.append(sf_r)
            cnt_ok_l.append(ok_r)
            cnt_is_l.append(is_r)
            cnt_left_l.append(min_r)
            e_c = Signal(8, name=f"pre{i}_end")
            xm.d.comb += e_c.eq(Cat(*[hz & (lo == e - i) if e >= i else C(0, 1) for e in range(8)]))
            sh_c = Signal(name=f"pre{i}_short")
            if i < 7:
                t = xb[i + 1]
                xm.d.comb += sh_c.eq(
                    hz
                    & (lo != 0)
                    & (((t == _TYPE_A) & (lo < _LEN_A)) | ((t == _TYPE_F) & (lo < _LEN_F)))
                )
            adv_c = Signal(_POS, name=f"pre{i}_adv")
            xm.d.comb += adv_c.eq(n_x + (i + BLOCK_PREFIX - 8))
            aoh_c = Signal(10, name=f"pre{i}_adv_oh")
            xm.d.comb += aoh_c.eq(
                Cat(
                    *[
                        hz & (lo == k) if (k := j + 8 - i - BLOCK_PREFIX) >= 0 else C(0, 1)
                        for j in range(10)
                    ]
                )
            )
            adv_r = Signal(_POS, name=f"lane{i}_adv")
            aoh_r = Signal(10, name=f"lane{i}_adv_oh")
            # The same position a beat later, for ``dn_ge8``/``dn_later`` (below): at
            # least 8 (n >= 16 - i - 2), and one-hot over 0..9 less 8.
            a8_r = Signal(name=f"lane{i}_adv_ge8")
            alo_r = Signal(10, name=f"lane{i}_adv_later")
            m.d.sync += [
                adv_r.eq(adv_c),
                aoh_r.eq(aoh_c),
                a8_r.eq(~hz | (lo >= 16 - i - BLOCK_PREFIX)),
                alo_r.eq(Cat(*[hz & (lo == j + 16 - i - BLOCK_PREFIX) for j in range(10)])),
            ]
            end_c.append(e_c)
            short_c.append(sh_c)
            adv_l.append(adv_r)
            adv_oh.append(aoh_r)
            adv_ge8.append(a8_r)
            adv_later.append(alo_r)

        # Per lane, for the hops: the lane's block completes when its end lane holds a
        # scanned byte and it is not a short A/F (a short one's type byte is then scanned
        # too: lanes hold scanned bytes from lane 0 up); ``lane_next`` (one-hot over
        # 0..9, 8 and 9 the next beat's lanes 0 and 1) is where its successor's length
        # low byte is, when it completes; ``lane_short``: a short A/F whose type byte is
        # scanned; ``lane_open``: neither (a walk that reaches it opens a block there).
        # And the walk's tables: where the walk is two, three and four hops after lane i
        # (``lane_next2``.. ``4``, a successor being a lane's ``lane_next``; ``step``
        # composes them). All are functions of the beat alone (its bytes and its scanned
        # lanes ``v``), so they are made a cycle ahead from the incoming beat
        # (``v_next``) and registered with it: no lane's decode is in the state loop.
        nm = Module()
        m.submodules.scan_next_pre = _Wrap(nm)
        # Position j holds a successor when the block before it ends at lane j - 2, so the
        # walk's tables are made from the beat's bytes alone (``pre_reach``: as if every
        # lane were scanned) and the scanned lanes are applied once, to each table's
        # result: the scanned lanes are a run from lane 0 and a walk's lanes only grow, so
        # a walk reaches j exactly when its unmasked walk does and lane j - 2 is scanned.
        # The datagram-end compare (a carry chain) is then beside the tables, not in
        # front of them.
        ends_scanned = Cat(C(0, BLOCK_PREFIX), v_next[0 : 10 - BLOCK_PREFIX])
        reach_l: list[Any] = []  # per lane, its successor before the scanned lanes apply
        comp_l: list[Any] = []
        short_l: list[Any] = []
        open_l: list[Any] = []
        nx_l: list[Any] = []
        for i in range(8):
            reach_c = Signal(10, name=f"pre{i}_reach")
            nm.d.comb += reach_c.eq(
                Cat(
                    C(0, BLOCK_PREFIX),
                    *[end_c[i][e] & ~short_c[i] for e in range(10 - BLOCK_PREFIX)],
                )
            )
            nx = Signal(10, name=f"pre{i}_next")
            nm.d.comb += nx.eq(reach_c & ends_scanned)
            nx_r = Signal(10, name=f"lane{i}_next")
            comp_r = Signal(name=f"lane{i}_complete")
            sh_r = Signal(name=f"lane{i}_short")
            op_r = Signal(name=f"lane{i}_open")  # neither: a walk that reaches it opens
            sh_c = short_c[i] & v_next[i + 1] if i < 7 else C(0, 1)
            m.d.sync += [
                nx_r.eq(nx),
                comp_r.eq(nx.any()),
                sh_r.eq(sh_c),
                op_r.eq(~nx.any() & ~sh_c),
            ]
            reach_l.append(reach_c)
            comp_l.append(comp_r)
            short_l.append(sh_r)
            open_l.append(op_r)
            nx_l.append(nx_r)

        def step(mod: Module, pos: Any, succ: list[Any], name: str) -> Any:
            """Where a walk at ``pos`` (one-hot over 0..9) is after the hops of ``succ``
            (per lane 0..7; a position 8 or 9 is the next beat's, with no successor)."""
            out = Signal(10, name=name)
            mod.d.comb += out.eq(_or_all([Mux(pos[i], succ[i], 0) for i in range(8)]))
            return out

        tm2 = Module()
        m.submodules.scan_two_pre = _Wrap(tm2)
        two_c = [step(tm2, reach_l[i], reach_l, f"pre{i}_next2") for i in range(8)]
        tm4 = Module()
        m.submodules.scan_four_pre = _Wrap(tm4)
        three_c = [step(tm4, two_c[i], reach_l, f"pre{i}_next3") for i in range(8)]
        four_c = [step(tm4, two_c[i], two_c, f"pre{i}_next4") for i in range(8)]
        hop_tables: list[list[Any]] = [nx_l]
        for k, table in ((2, two_c), (3, three_c), (4, four_c)):
            regs_k = [Signal(10, name=f"lane{i}_next{k}") for i in range(8)]
            m.d.sync += [r.eq(c & ends_scanned) for r, c in zip(regs_k, table, strict=True)]
            hop_tables.append(regs_k)

        hi_b = [sc_lhi, *lb[:7]]
        n_l: list[Any] = []
        for i in range(8):
            n_i = Signal(16, name=f"lane{i}_len")
            pm.d.comb += n_i.eq(Cat(lb[i], hi_b[i]))
            n_l.append(n_i)

        # The count's lane and its checks, selected from the incoming beat and registered
        # (the count's lane is among the scanned ones: ``c19_x``), so in the scanner's
        # cycle the count's checks are one register each, not an 8-lane select after
        # the valid lanes: whether a lane holds it (``cnt_here``), neither 0 nor 0xFFFF
        # (``cnt_ok_r``; per lane ``c19_ok``, the walk's start in HDR), each of 1..9
        # (``cnt_is_r``), and min(count, 64) - j for each number j of blocks the beat may
        # complete (``cnt_left_r``).
        c19_ok = Signal(8)
        cnt_here = Signal()
        cnt_ok_r = Signal()
        cnt_is_r = Signal(_LEFT_EQ + 4)
        cnt_left_r = [Signal(7, name=f"cnt_left{j}") for j in range(5)]
        m.d.sync += [
            c19_ok.eq(Cat(*cnt_ok_l)),
            cnt_here.eq(c19_x.any()),
            cnt_ok_r.eq(_or_all(cnt_ok_l)),
            cnt_is_r.eq(_or_all(cnt_is_l)),
        ]
        m.d.sync += [
            cnt_left_r[j].eq(_or_all([lane[j] for lane in cnt_left_l]))
            for j in range(len(cnt_left_r))
        ]

        # The open block (registered): its type check, its completion, its fields.
        dbs = sc_db  # this beat, relative to the open block's body
        # sc_dn one-hot over 0..9 (a register beside it).
        dn_oh = Signal(10, init=1)
        dn_ge8 = Signal()  # sc_dn >= 8
        dn_later = Signal(10)  # sc_dn - 8 one-hot over 0..9 (when sc_dn >= 8)

        def at(rel: Any, k: int, i: int) -> Any:
            """Lane i is at offset k of what ``rel`` (beat - origin) is relative to."""
            return rel == ((k - i) % (1 << len(rel)))

        # The open block's fate in this beat, decided a beat ahead (``_pending_fate``)
        # and registered: it is a short A/F (``pend_err``: a block opened at lane 7 has
        # its type byte at lane 0 of the next beat, ``sc_db0``), or it completes here
        # (``pend_comp``: its end lane holds a scanned byte). Both lead the tally and the
        # next beat's state, so they start from registers.
        pend_err = Signal()
        pend_comp = Signal()
        # ``pend_comp`` twice: the register above drives the tally and the pending
        # block's next fate (the scanner's loop), its complement ``pend_open`` (a second
        # flip-flop: Yosys merges identical registers, not a register with its
        # complement) the trigger candidate and the open block's own update, so each can
        # sit by its loads.
        pend_open = Signal(init=1)
        pend_comp_b = ~pend_open
        # Where this beat's walk starts (one-hot over 0..9): in HDR after the count (at
        # P + 18, P + 19), when it is neither 0 nor 0xFFFF (``c19_ok``, per lane); in BLK
        # at sc_dn. No gate follows: with a block open, sc_dn is in this beat's lanes only
        # when the block ends here, and then it completes, errs (a short A/F: the tally
        # ERRs and counts none of the beat's hops) or ends past the datagram (whose lanes
        # are the last scanned: no hop from there completes or errs, and nothing does
        # later). So a walk that would not have run changes only a state nothing reads.
        start_go = Signal(10)
        pm.d.comb += start_go.eq(
            Mux(hdrp, Cat(C(0, BLOCK_PREFIX), c19_ok), Cat(dn_oh[0:8], C(0, 2)))
        )
        # The open block's fields, read by offset from its registered body start.
        offsets = {"type": [0], "loc": [A_LOCATE, A_LOCATE + 1], "side": [A_SIDE]}
        offsets["price"] = [A_PRICE + k for k in range(4)]

        def field_byte(k: int) -> tuple[Any, Any]:
            hit = [at(dbs, k, i) & v[i] for i in range(8)]
            return _or_all(hit), _or_all([Mux(hit[i], lb[i], 0) for i in range(8)])

        price_now = Signal(32)
        price_bytes = []
        for k in range(4):
            h, val = field_byte(A_PRICE + k)
            price_bytes.append(Mux(h, val, sc_mprice[8 * (3 - k) : 8 * (4 - k)]))
        pm.d.comb += price_now.eq(Cat(*reversed(price_bytes)))
        side_h, side_v = field_byte(A_SIDE)
        type_h, type_v = field_byte(0)
        lhi_h, lhi_v = field_byte(A_LOCATE)
        llo_h, llo_v = field_byte(A_LOCATE + 1)
        pm.d.comb += [
            cand_any.eq(
                blk
                & pend_comp_b
                & (sc_blen >= min(_LEN_A, _LEN_F))
                & ((sc_mtype == _TYPE_A) | (sc_mtype == _TYPE_F))
                & (sc_mside == _SELL)
            ),
            ev_price.eq(price_now),
        ]

        # The hops: at most four a beat, each at a lane (8, 9: the next beat's). Where the
        # walk from a lane s is after k hops depends on the beat alone: s itself (k = 0)
        # and the registered tables (k = 1..4). So what each hop of the walk from every
        # lane does (completes, errs: ``start{s}_complete``, ``_error``), where it opens a
        # block (``start{s}_open``: the lane it reaches that neither completes nor is
        # short; the walk stops there, so at most one) and whether it passes into the
        # next beat (``start{s}_beyond``) are made from registers, beside the state's
        # start and not after it (``scan_starts``). The scanner's cycle then takes each
        # outcome, and each open-block register's value, by one AND-OR of eight selected
        # by ``start_go`` (the start): no hop position is selected first, and no select
        # by an open lane follows. A table entry is a lane after the one it is from (a
        # block and its length field take at least two bytes), so the lanes before a
        # start are left out.
        sm = Module()
        m.submodules.scan_starts = _Wrap(sm)
        at_hop = [[C(1 << s, 10), *[table[s] for table in hop_tables]] for s in range(8)]

        def reach(s: int, k: int, lanes: list[Any]) -> Any:
            """The walk from lane s is, after k hops, at a lane where ``lanes`` holds."""
            return _or_all([C(0, 1), *[at_hop[s][k][i] & lanes[i] for i in range(s, 8)]])

        st_comp: list[Any] = []
        st_err: list[Any] = []
        st_open: list[Any] = []
        st_opens: list[Any] = []
        st_beyond: list[Any] = []
        for s in range(8):
            comp_s = Signal(4, name=f"start{s}_complete")
            err_s = Signal(4, name=f"start{s}_error")
            open_s = Signal(8, name=f"start{s}_open")
            opens_s = Signal(name=f"start{s}_opens")
            bey_s = Signal(2, name=f"start{s}_beyond")
            sm.d.comb += [
                comp_s.eq(Cat(*[reach(s, k, comp_l) for k in range(4)])),
                err_s.eq(Cat(*[reach(s, k, short_l) for k in range(4)])),
                open_s.eq(
                    Cat(
                        *[
                            _or_all([at_hop[s][k][i] for k in range(4)]) & open_l[i]
                            if i >= s
                            else C(0, 1)
                            for i in range(8)
                        ]
                    )
                ),
                opens_s.eq(open_s.any()),
                bey_s.eq(_or_all([at_hop[s][k][8:10] for k in range(1, 5)])),
            ]
            st_comp.append(comp_s)
            st_err.append(err_s)
            st_open.append(open_s)
            st_opens.append(opens_s)
            st_beyond.append(bey_s)

        wm = Module()
        m.submodules.scan_hops = _Wrap(wm)

        def pick(per_start: list[Any]) -> Any:
            """``per_start[s]`` of the walk's start lane, 0 when it has none."""
            return _or_all([Mux(start_go[s], per_start[s], 0) for s in range(8)])

        hop_comp = Signal(4)
        hop_err = Signal(4)
        wm.d.comb += [hop_comp.eq(pick(st_comp)), hop_err.eq(pick(st_err))]

        fm = Module()  # the state after this beat
        m.submodules.scan_next = _Wrap(fm)
        over = Signal(2)
        fm.d.comb += over.eq(start_go[8:10] | pick(st_beyond))

        def opened(values: list[Any]) -> Any:
            """``values[i]`` of the lane whose block this beat opens (at most one), 0 when
            none does: per start lane, the value at the lane its walk opens at, selected
            by the start (``pick``)."""
            return pick(
                [_or_all([Mux(st_open[s][i], values[i], 0) for i in range(s, 8)]) for s in range(8)]
            )

        any_open = Signal()
        fm.d.comb += any_open.eq(pick(st_opens))
        last_lane = [C(0, 1)] * 7 + [C(1, 1)]
        with m.If(r_valid):  # HDR after the frame's last beat, BLK from the count's beat
            m.d.sync += [
                blk.eq(~r_last & (blk | (hdrp & cnt_here))),
                hdrp.eq(r_last | (hdrp & ~cnt_here)),
            ]
        n_dn = Signal(_POS)
        n_dn_oh = Signal(10)
        # ``sc_dn >= 8`` and ``sc_dn - 8`` one-hot over 0..9 are registers beside sc_dn
        # (``dn_ge8``, ``dn_later``), loaded with it from values made before the hops
        # (the open lane's, per lane, or sc_dn's own compares with 16..25), so the
        # pending block's end (``later``) is one LUT from registers, not a compare of
        # sc_dn (a carry chain) in front of the pending block's fate.
        later = Signal(10)  # sc_dn - 8 one-hot, or sc_dn's own when it is in this beat
        fm.d.comb += later.eq(Mux(dn_ge8, dn_later, dn_oh))
        n_ge8 = Signal()
        n_later = Signal(10)
        with fm.If(any_open):
            fm.d.comb += [
                n_dn.eq(opened(adv_l)),
                n_dn_oh.eq(opened(adv_oh)),
                n_ge8.eq(opened(adv_ge8)),
                n_later.eq(opened(adv_later)),
            ]
        with fm.Elif(over[0]):
            fm.d.comb += [n_dn.eq(0), n_dn_oh.eq(1 << 0)]
        with fm.Elif(over[1]):
            fm.d.comb += [n_dn.eq(1), n_dn_oh.eq(1 << 1)]
        with fm.Else():
            fm.d.comb += [
                n_dn.eq(Mux(dn_ge8, sc_dn - 8, sc_dn)),
                n_dn_oh.eq(later),
                n_ge8.eq(dn_ge8 & (sc_dn >= 16)),
                n_later.eq(Mux(dn_ge8, Cat(*[sc_dn == j + 16 for j in range(10)]), 0)),
            ]
        db_later = Signal(7)  # sc_db a beat later when no block opens
        fm.d.comb += db_later.eq(Mux(sc_db[6], sc_db, sc_db + 8))

        def open_byte(k: int) -> tuple[Any, Any]:
            """Byte k of the body of the block opened in this beat, when it is in it."""
            lanes = range(8)
            hit = opened([v[i + 1 + k] if i + 1 + k < 8 else C(0, 1) for i in lanes])
            return hit, opened([lb[i + 1 + k] if i + 1 + k < 8 else C(0, 8) for i in lanes])

        o_type = open_byte(0)
        o_lhi = open_byte(A_LOCATE)
        o_llo = open_byte(A_LOCATE + 1)

        def take(reg: Any, opened: tuple[Any, Any], pending: tuple[Any, Any]) -> Any:
            return Mux(opened[0], opened[1], Mux(pending[0], pending[1], reg))

        n_state = [
            n_dn,
            any_open | (sc_pend & pend_open),
            lb[7],
            Mux(any_open, opened([C(7 - i, 3) for i in range(8)]), db_later),
            Mux(any_open, opened(n_l), sc_blen),
            take(sc_mtype, o_type, (type_h, type_v)),
            Cat(
                take(sc_mloc[0:8], o_llo, (llo_h, llo_v)),
                take(sc_mloc[8:16], o_lhi, (lhi_h, lhi_v)),
            ),
            Mux(side_h, side_v, sc_mside),
            price_now,
            opened(last_lane),  # db_later is never 0
            Mux(any_open, opened(short_a_l), sc_short_a),
            Mux(any_open, opened(short_f_l), sc_short_f),
        ]

        # ``pend_err`` and ``pend_comp`` of the next beat, from the state it will have and
        # the incoming beat (its scanned lanes ``vf_next``, its lane 0 against the A and F
        # type bytes). Per case of the state update:
        # - idle (no beat in the register): the state holds;
        # - the frame's last beat: the state is reset (nothing is open);
        # - a block opened in this beat (at most one lane, ``opened``; the phase stays
        #   BLK): its registered facts per lane (``adv_oh``, ``short_a_l``...) give both,
        #   per lane beside the hops, selected by ``opened``;
        # - none opened: the open block is still open only if it neither completed nor
        #   was short here (then no hop ran, and the phase is unchanged), its end one beat
        #   nearer (``later``).
        # ``test_fpga_core.py``, ``test_fpga_vsim.py`` and the harness (blocks ending at
        # every lane, short A/F at lane 7, idle beats between beats) hold it to the
        # reference.
        qa = Signal()
        qf = Signal()
        fm.d.comb += [qa.eq(xb[0] == _TYPE_A), qf.eq(xb[0] == _TYPE_F)]

        def fate(phase_blk: Any, pend: Any, ends: Any, db0: Any, sa: Any, sf: Any) -> Any:
            err = phase_blk & pend & db0 & vf_next[0] & ((qa & sa) | (qf & sf))
            end = _or_all([ends[i + BLOCK_PREFIX] & vf_next[i] for i in range(10 - BLOCK_PREFIX)])
            return err, phase_blk & pend & ~err & end

        hold_err, hold_comp = fate(blk, sc_pend, dn_oh, sc_db0, sc_short_a, sc_short_f)
        on_err, on_comp = fate(
            blk & ~pend_err,
            sc_pend & pend_open,
            later,
            C(0, 1),  # sc_db0 after a beat that opens nothing: db_later is never 0
            sc_short_a,
            sc_short_f,
        )
        lane_comp = []
        for i in range(8):
            le, lc = fate(C(1, 1), C(1, 1), adv_oh[i], C(i == 7, 1), short_a_l[i], short_f_l[i])
            lane_comp.append(lc)
            if i == 7:
                open_err = le
        n_err = Signal()
        n_comp = Signal()
        fm.d.comb += [
            n_err.eq(Mux(any_open, opened([C(0, 1)] * 7 + [open_err]), on_err)),
            n_comp.eq(Mux(any_open, opened(lane_comp), on_comp)),
        ]
        comp_next = Signal()
        fm.d.comb += comp_next.eq(Mux(r_valid, Mux(r_last, 0, n_comp), hold_comp))
        m.d.sync += [
            pend_err.eq(Mux(r_valid, Mux(r_last, 0, n_err), hold_err)),
            pend_comp.eq(comp_next),
            pend_open.eq(~comp_next),
        ]

        fcount = Signal(32)
        in_frame = Signal()
        # The scanned count and a frame's parse error reach their counters a cycle later.
        scanned_reg = Signal(4)
        error_reg = Signal()
        m.d.sync += [scanned_reg.eq(0), error_reg.eq(0)]
        m.d.sync += ctr["scanned"].eq(ctr["scanned"] + scanned_reg)
        with m.If(error_reg):
            m.d.sync += ctr["parse_errors"].eq(ctr["parse_errors"] + 1)
        with m.If(r_valid):
            with m.If(r_last):
                m.d.sync += [s.eq(0) for s in state_regs]
                m.d.sync += [dn_oh.eq(1 << 0), sc_db0.eq(1), dn_ge8.eq(0), dn_later.eq(0)]
                m.d.sync += [f_done.eq(0), f_scan.eq(0), f_uerr.eq(0), f_cnt_in.eq(0)]
                m.d.sync += in_frame.eq(0)
                m.d.sync += [ctr["frames"].eq(ctr["frames"] + 1), fcount.eq(fcount + 1)]
            with m.Else():
                m.d.sync += [s.eq(x) for s, x in zip(state_regs, n_state, strict=True)]
                m.d.sync += [dn_oh.eq(n_dn_oh), dn_ge8.eq(n_ge8), dn_later.eq(n_later)]
                m.d.sync += in_frame.eq(1)
                with m.If(decide):
                    m.d.sync += [
                        f_done.eq(1),
                        f_scan.eq(scan_now),
                        f_uerr.eq(uerr_now),
                        f_p.eq(p_now),
                        f_cbeat.eq(
                            _or_all([Mux(l4_oh[k], c >> 3, 0) for k, c in enumerate(cnt_at)])
                        ),
                        f_clane.eq(
                            _or_all([Mux(l4_oh[k], 1 << (c & 7), 0) for k, c in enumerate(cnt_at)])
                        ),
                        f_end.eq(end_now),
                        f_cnt_in.eq(at_l4(c_cnt)),
                    ]

        # ------------------------------------------------------------------ tally
        # The scan's tally, a cycle after the walk: the blocks left (``sc_left``), the
        # phase with DONE and ERR (``sc_phase``), the scanned count and a frame's parse
        # error. It reads each beat's outcomes as the walk left them, registered
        # (``o_*``), so neither the block count nor an error is in the walk's loop. The
        # walk goes on after the scan ends; its outcomes then are gated here by the
        # tally's phase, and a trigger in S1 by ``t_blk``: S1 is the cycle after the
        # trigger's beat, when the tally holds the phase the beats before it left.
        km = Module()
        m.submodules.scan_tally = _Wrap(km)
        o_v = Signal()
        o_last = Signal()
        o_comp = Signal(4)
        o_err = Signal(4)
        o_pcomp = Signal()
        o_perr = Signal()
        o_here = Signal()
        o_cok = Signal()
        o_cis = Signal(len(cnt_is_r))
        o_cleft = [Signal(7, name=f"o_cnt_left{j}") for j in range(len(cnt_left_r))]
        o_uerr = Signal()
        o_scan = Signal()
        m.d.sync += [
            o_v.eq(r_valid),
            o_last.eq(r_last),
            o_comp.eq(hop_comp),
            o_err.eq(hop_err),
            o_pcomp.eq(pend_comp),
            o_perr.eq(pend_err),
            o_here.eq(cnt_here),
            o_cok.eq(cnt_ok_r),
            o_cis.eq(cnt_is_r),
            o_uerr.eq(uerr_now),
            o_scan.eq(scan_now),
        ]
        m.d.sync += [o.eq(c) for o, c in zip(o_cleft, cnt_left_r, strict=True)]
        # The phase's two tests as flip-flops of their own, loaded with it (below): each
        # is one input of the LUTs that read it, not a decode of the two phase bits.
        t_blk = Signal()  # sc_phase == _S_BLK
        t_hdr = Signal(init=1)  # sc_phase == _S_HDR
        c19_any = Signal()
        cnt_ok = Signal()
        km.d.comb += [c19_any.eq(t_hdr & o_here), cnt_ok.eq(t_hdr & o_cok)]
        # The blocks left after the beat, for each number j of blocks it completes
        # (``left_after[j]``): from the count's lane (decoded with the beat, minus j) in
        # HDR, else ``sc_left - j``; the beat's completions then select one, no subtract
        # after them.
        left_after = [Signal(7, name=f"left_after_{j}") for j in range(6)]
        km.d.comb += [
            left_after[j].eq(
                Mux(
                    t_hdr,
                    o_cleft[j] if j < len(o_cleft) else 0,
                    sc_left - j,
                )
            )
            for j in range(6)
        ]
        # Hop k reaches the block limit (``left_is[k]``: the blocks left before it are
        # 1): in HDR the count is k + 1, else sc_left is k + 1, or k + 2 when the pending
        # block completes first. sc_left's small values are kept one-hot beside it
        # (``sc_left_eq``), so the hops' gates read a register, not a compare.
        left_is = [Signal(name=f"left_is_{k + 1}") for k in range(4)]
        km.d.comb += [
            left_is[k].eq(
                Mux(
                    t_hdr,
                    o_cis[k],
                    Mux(o_pcomp, sc_left_eq[k + 1], sc_left_eq[k]),
                )
            )
            for k in range(4)
        ]
        # Hop k counts while the scan runs (HDR, or BLK when the pending block was neither
        # the last nor short) and no earlier hop reached the block limit (left_is is
        # one-hot).
        pend_blk = Signal()  # the pending block completes here, in BLK
        km.d.comb += pend_blk.eq(t_blk & o_pcomp)
        pend_done = pend_blk & sc_left_eq[0]
        hops_run = t_hdr | (t_blk & ~pend_done & ~o_perr)
        below = [hops_run & ~_or_all([C(0, 1), *left_is[:k]]) for k in range(4)]
        comps: list[Any] = [pend_blk]
        dones: list[Any] = [pend_done]
        errs: list[Any] = [t_blk & o_perr]
        for k in range(4):
            c_k = Signal(name=f"hop{k}_complete")
            e_k = Signal(name=f"hop{k}_error")
            km.d.comb += [c_k.eq(o_comp[k] & below[k]), e_k.eq(o_err[k] & below[k])]
            comps.append(c_k)
            dones.append(c_k & left_is[k])
            errs.append(e_k)
        hdr_zero = c19_any & ~cnt_ok
        n_phase = Signal(2)
        with km.If(_or_all(errs)):
            km.d.comb += n_phase.eq(_S_ERR)
        with km.Elif(_or_all(dones) | hdr_zero):
            km.d.comb += n_phase.eq(_S_DONE)
        with km.Elif(c19_any):
            km.d.comb += n_phase.eq(_S_BLK)
        with km.Else():
            km.d.comb += n_phase.eq(sc_phase)
        scanned_now = Signal(4)
        km.d.comb += scanned_now.eq(sum(comps))
        n_left = Signal(7)
        # The hops' completions are a thermometer code (hop k + 1 completes only after
        # hop k), so how many blocks this beat completes is one-hot from them and the
        # pending block's completion.
        hop_n = [~comps[1], *[comps[k] & ~comps[k + 1] for k in range(1, 4)], comps[4]]
        done_n = [
            Mux(o_pcomp, hop_n[j - 1] if j else 0, hop_n[j] if j < 5 else 0) for j in range(6)
        ]
        km.d.comb += n_left.eq(_or_all([Mux(done_n[j], left_after[j], 0) for j in range(6)]))
        # ``n_left == k + 1`` by the same select, each candidate compared before it:
        # ``left_after[j] == k + 1`` is the count's ``== k + 1 + j`` (decoded a cycle
        # ahead) in HDR, else ``sc_left == k + 1 + j``.
        n_left_eq = Signal(_LEFT_EQ)
        left_after_eq = [
            [
                Mux(
                    t_hdr,
                    o_cis[k + j] if j < len(o_cleft) else 0,
                    sc_left == k + 1 + j,
                )
                for k in range(_LEFT_EQ)
            ]
            for j in range(6)
        ]
        km.d.comb += n_left_eq.eq(
            _or_all([Mux(done_n[j], Cat(*left_after_eq[j]), 0) for j in range(6)])
        )
        with m.If(o_v):
            m.d.sync += scanned_reg.eq(scanned_now)
            with m.If(o_last):
                m.d.sync += [sc_phase.eq(_S_HDR), sc_left.eq(0), sc_left_eq.eq(0)]
                m.d.sync += [t_blk.eq(0), t_hdr.eq(1)]
                m.d.sync += error_reg.eq(o_uerr | (o_scan & (n_phase != _S_DONE)))
            with m.Else():
                m.d.sync += [sc_phase.eq(n_phase), sc_left.eq(n_left), sc_left_eq.eq(n_left_eq)]
                m.d.sync += [t_blk.eq(n_phase == _S_BLK), t_hdr.eq(n_phase == _S_HDR)]

        # ------------------------------------------------------------------ locate lookup
        # The locate's low byte (body byte 2) is 33 bytes before the price's last (byte
        # 35), so the scanner sees it at least four beats before T, in its cycle L; the
        # lookup has L + 1 .. L + 3 and the memory read L + 3 -> L + 4, each a register
        # to a register:
        # - L: the locate's next value goes into two copies of the CAM's own, loaded as
        #   sc_mloc is (sc_mloc stays by the scanner); Yosys merges identical flip-flops,
        #   so the copies hold it complemented and XORed with 0x5555, each driving half
        #   of the 64 compares (the slot locates are XORed with the same constant, which
        #   costs no LUT);
        # - L + 1: the compares, registered (the slot locates change only between frames,
        #   so every compare of a frame reads the same ones);
        # - L + 2: the priority encoder, registered (the slot and the hit);
        # - L + 3: the registered slot addresses the memories (a long route to their
        #   block RAMs, alone in its cycle), read at L + 4 for S1 at T >= L + 4.
        # The values hold until the next block's locate is taken (after T).
        half = regs.INST_SLOTS // 2
        cam_keys = (0xFFFF, 0x5555)
        cam_loc = [Signal(16, name=f"cam_loc{k}", init=key) for k, key in enumerate(cam_keys)]
        n_mloc = next(x for r, x in zip(state_regs, n_state, strict=True) if r is sc_mloc)
        with m.If(r_valid):
            m.d.sync += [
                reg.eq(Mux(r_last, key, n_mloc ^ key))
                for reg, key in zip(cam_loc, cam_keys, strict=True)
            ]
        cam_hits = Signal(regs.INST_SLOTS)
        cam_hits_nz = Signal()
        m.d.sync += cam_hits_nz.eq(sc_mloc != 0)
        m.d.sync += [
            cam_hits[i].eq((act_loc[i] ^ cam_keys[i // half]) == cam_loc[i // half])
            for i in range(regs.INST_SLOTS)
        ]
        cam_idx = Signal(6)
        cam_hit = Signal()
        hit_any, idx_expr = _priority(list(cam_hits))
        cm.d.sync += [cam_idx.eq(idx_expr), cam_hit.eq(hit_any & cam_hits_nz)]
        m.d.comb += [cfg_rd.addr.eq(cam_idx), pos_rd.addr.eq(cam_idx)]

        # ------------------------------------------------------------------ S1..S3
        # Each multiply has a stage of its own and its result a register after it (they
        # map to the ECP5's 18x18 multipliers and their adder trees): S1 compares and
        # subtracts, S1M multiplies by the reciprocal, S1S shifts; S2M multiplies by the
        # step, S2 adds and caps; S3Q takes the quantity and multiplies by the price,
        # S3 decides. A stage's event register holds what the later stages need; every
        # stage register loads each cycle and its valid bit says when it holds an event.
        s1 = Signal(_EVT)
        s1_v = Signal()
        hdr_ip = Mux(
            ntags == 2,
            hdr[8 * L3_QINQ :],
            Mux(ntags == 1, hdr[8 * L3_TAGGED :], hdr[8 * L3_UNTAGGED :]),
        )
        m.d.sync += s1_v.eq(r_valid & cand_any & cam_hit)
        m.d.sync += [
            s1.frame.eq(fcount),
            s1.price.eq(ev_price),
            s1.idx.eq(cam_idx),
            s1.armed.eq(act_armed),
            s1.maxo.eq(act_maxo),
            s1.inst.eq(cfg_rd.data),
            s1.pos.eq(pos_rd.data),
            s1.dmac.eq(hdr[8 * _ETH_SRC : 8 * _ETH_SRC + 48]),
            s1.smac.eq(hdr[8 * _ETH_DST : 8 * _ETH_DST + 48]),
            s1.ntags.eq(ntags),
            s1.tags.eq(hdr[8 * ETHERTYPE : 8 * (ETHERTYPE + TAGS_LEN)]),
            s1.sip.eq(hdr_ip[8 * IP_DST : 8 * IP_DST + 32]),
            s1.dip.eq(hdr_ip[8 * IP_SRC : 8 * IP_SRC + 32]),
            s1.fport.eq(act_fport),
            s1.oport.eq(act_oport),
            s1.session.eq(act_session),
        ]

        def stage(prev: Any, go: Any, name: str) -> tuple[Any, Any]:
            """The next stage's event register, loaded from ``prev`` every cycle, and its
            valid, ``go``: no enable fans out to the hundreds of bits of an event (the
            valid says when the register holds one), so no decision sits before them."""
            ev = Signal(_EVT, name=name)
            ev_v = Signal(name=f"{name}_v")
            m.d.sync += ev_v.eq(go)
            m.d.sync += ev.eq(prev)
            return ev, ev_v

        trig = Signal()
        d1.d.comb += trig.eq(s1_v & t_blk & (s1.price != 0) & (s1.price <= s1.inst.limit))
        s1m, s1m_v = stage(s1, trig, "s1m")
        s1m_diff = Signal(32)
        m.d.sync += s1m_diff.eq((s1.inst.limit - s1.price)[0:32])
        # The 32 x 34 multiply as four partial products, one MULT18X18D each (18 and 14
        # bits of the difference by 18 and 16 bits of the reciprocal, unsigned), each
        # registered with no adder after it (S1M); in S1A their sum: the outer two
        # products do not overlap (one concatenation), the middle two are added to it
        # carry-save (a 3:2 step of one LUT level), so the sum is one carry chain; in S1S
        # the shift. Each has a cycle: the multipliers sit where the placer finds them,
        # 2.4 ns of routing from the difference and 2.5 ns to the first adder, which with
        # the multiplier and a 48-bit carry chain in one cycle led the timing report.
        s1a, s1a_v = stage(s1m, s1m_v, "s1a")
        d_parts = (s1m_diff[0:18], s1m_diff[18:32])
        r_parts = (s1m.inst.recip[0:18], s1m.inst.recip[18:RECIP_BITS])
        pp: dict[tuple[int, int], Signal] = {}
        for i, d in enumerate(d_parts):
            for j, r in enumerate(r_parts):
                pp[i, j] = Signal(len(d) + len(r), name=f"s1a_pp{i}{j}")
                m.d.sync += pp[i, j].eq(d * r)
        prod_bits = 32 + RECIP_BITS
        outer = Cat(pp[0, 0], pp[1, 1])  # pp00 < 2**36, pp11 from bit 36
        mid_a = Signal(prod_bits)
        mid_b = Signal(prod_bits)
        d1.d.comb += [mid_a.eq(pp[0, 1] << 18), mid_b.eq(pp[1, 0] << 18)]
        csa_sum = Signal(prod_bits)
        csa_carry = Signal(prod_bits)
        s1a_sum, s1a_maj = _carry_save(outer, mid_a, mid_b)
        d1.d.comb += [csa_sum.eq(s1a_sum), csa_carry.eq(s1a_maj << 1)]
        s1s, s1s_v = stage(s1a, s1a_v, "s1s")
        s1s_prod = Signal(prod_bits)
        m.d.sync += s1s_prod.eq(csa_sum + csa_carry)
        s2m, s2m_v = stage(s1s, s1s_v, "s2m")
        s2m_impr = Signal(32)
        m.d.sync += s2m_impr.eq((s1s_prod >> s1s.inst.shift)[0:32])
        # The order's IPv4 header checksum covers only constants and the event's two
        # addresses, so it is spread over three stages beside the arithmetic: the sum of
        # the header's 16-bit words (S1S), its first fold (S2M), the second fold and the
        # complement (S2). Made in S2 at once, its four carry chains led the report.
        words = [
            IP_VIHL_TOS,
            ORDER_IP_LEN,
            0,
            net.IP_DF,
            (IP_TTL << 8) | net.IPPROTO_UDP,
        ]
        csum_sum = Signal(20)
        m.d.sync += csum_sum.eq(
            sum(words)
            + Cat(s1s.sip[8:16], s1s.sip[0:8])
            + Cat(s1s.sip[24:32], s1s.sip[16:24])
            + Cat(s1s.dip[8:16], s1s.dip[0:8])
            + Cat(s1s.dip[24:32], s1s.dip[16:24])
        )
        csum_fold = Signal(17)
        m.d.sync += csum_fold.eq(csum_sum[0:16] + csum_sum[16:20])
        s2, s2_v = stage(s2m, s2m_v, "s2")
        # ``step * impr`` as three parts with no adder after a multiplier (as the
        # reciprocal's): ``step[0:18]`` by each 16-bit half of ``impr``, one MULT18X18D
        # each, and ``step[18:20] * impr`` as selects and an adder; joined in S2, where
        # only the product's low 20 bits and whether it reaches 2**20 are needed.
        s2_step_lo = Signal(18 + 16)
        s2_step_hi = Signal(18 + 16)
        s2_step_top = Signal(2 + 32)
        # The rooms left under the position and notional limits, subtracted here (their
        # 63-bit carry chains off the quantity's path) and saturated in S2.
        s2_room = Signal(64)
        s2_nroom = Signal(64)
        m.d.sync += [
            s2_step_lo.eq(s2m.inst.step[0:18] * s2m_impr[0:16]),
            s2_step_hi.eq(s2m.inst.step[0:18] * s2m_impr[16:32]),
            s2_step_top.eq(_times_top2(s2m.inst.step[18:20], s2m_impr)),
            s2_room.eq(s2m.inst.maxpos - s2m.pos.shares),
            s2_nroom.eq(s2m.inst.maxnot - s2m.pos.notional),
        ]

        # Narrow widths, exact for the config's ranges (docs/threshold.md): a quantity
        # is below 2**20 (max_order_qty <= 999,999), so ``base + step * impr`` is capped
        # at max_order_qty as soon as the product reaches 2**20, and the rooms saturate
        # at 2**20 - 1 (shares) and 2**53 - 1 (notional: a cost q * p is below 2**52).
        # A negative room (a limit lowered below the position by set_instrument) is 0:
        # every quantity is then refused for position, every cost (at least 1) for
        # notional, as in the reference.
        # step * impr = lo + hi * 2**16 + top * 2**18 reaches 2**20 when lo >= 2**20,
        # hi >= 16 or top >= 4 (``step_over``); else ``amount = base + `` the three low
        # parts is below 2**22, and is capped when it reaches max_order_qty (below
        # 2**20: so a product of 2**20 or more from the low parts is capped too). The
        # four addends are summed carry-save (two 3:2 steps, one carry chain) and, beside
        # that chain, ``amount - maxq`` (a third 3:2 step with ``~maxq``, one chain): the
        # compare does not wait for the sum.
        step_over = Signal()
        d2.d.comb += step_over.eq(
            s2_step_top[2:].any() | s2_step_hi[4:].any() | s2_step_lo[QTY_BITS:].any()
        )
        aw = QTY_BITS + 4  # amount < 2**22, and amount - maxq's sign
        a1_sum, a1_maj = _carry_save(
            Cat(s2.inst.base, C(0, aw - QTY_BITS)),
            Cat(s2_step_lo[0:QTY_BITS], C(0, aw - QTY_BITS)),
            Cat(C(0, 16), s2_step_hi[0:4], C(0, aw - QTY_BITS)),
        )
        a1_carry = Signal(aw)
        d2.d.comb += a1_carry.eq(a1_maj << 1)
        a2_sum, a2_maj = _carry_save(
            a1_sum, a1_carry, Cat(C(0, 18), s2_step_top[0:2], C(0, aw - QTY_BITS))
        )
        a2_carry = Signal(aw)
        d2.d.comb += a2_carry.eq(a2_maj << 1)
        maxq_n = Signal(aw)
        d2.d.comb += maxq_n.eq(~Cat(s2.inst.maxq, C(0, aw - QTY_BITS)))
        a3_sum, a3_maj = _carry_save(a2_sum, a2_carry, maxq_n)
        amount = Signal(aw)
        below = Signal(aw)  # amount - maxq, modulo 2**aw (its sign: amount < maxq)
        d2.d.comb += [
            amount.eq(a2_sum + a2_carry),
            below.eq(a3_sum + Cat(C(1, 1), a3_maj[0 : aw - 1])),
        ]
        csum = Signal(16)
        capped = Signal(QTY_BITS)
        room = Signal(QTY_BITS)
        nroom = Signal(COST_BITS + 1)
        d2.d.comb += [
            csum.eq(~(csum_fold[0:16] + csum_fold[16])[0:16]),
            capped.eq(
                Mux(
                    step_over | ~below[aw - 1],
                    s2.inst.maxq,
                    amount[0:QTY_BITS],
                )
            ),
            room.eq(
                Mux(
                    s2_room[63],
                    0,
                    Mux(s2_room[QTY_BITS:63].any(), (1 << QTY_BITS) - 1, s2_room[0:QTY_BITS]),
                )
            ),
            nroom.eq(
                Mux(
                    s2_nroom[63],
                    0,
                    Mux(
                        s2_nroom[COST_BITS + 1 : 63].any(),
                        (1 << (COST_BITS + 1)) - 1,
                        s2_nroom[0 : COST_BITS + 1],
                    ),
                )
            ),
        ]
        s3q, s3q_v = stage(s2, s2_v, "s3q")
        s3q_ap = Signal(QTY_BITS)
        s3q_room = Signal(QTY_BITS)
        s3q_nroom = Signal(COST_BITS + 1)
        s3q_csum = Signal(16)
        m.d.sync += [
            s3q_ap.eq(capped),
            s3q_room.eq(room),
            s3q_nroom.eq(nroom),
            s3q_csum.eq(csum),
        ]

        # S3Q: the quantity q = min(room, ap), and since p > 0, q * p = min(room * p,
        # ap * p): both candidates' products are made beside the compare, each as three
        # parts with a register after them and no adder after a multiplier (the factor's
        # low 18 bits by each 16-bit half of the price, one MULT18X18D each, and its top
        # 2 bits by the price as selects and an adder); S3P takes the chosen candidate's
        # parts and joins them (a 3:2 step, one carry chain): no multiply waits for the
        # compare, and no product's adder follows its multipliers in one cycle.
        s3p, s3p_v = stage(s3q, s3q_v, "s3p")
        s3p_qty = Signal(QTY_BITS)
        s3p_take_room = Signal()
        s3p_room1 = Signal(COST_BITS + 2)  # the notional room + 1
        s3p_csum = Signal(16)
        s3p_parts = {
            (who, h): Signal(34, name=f"s3p_{who}_{h}")
            for who in ("room", "ap")
            for h in ("lo", "hi", "top")
        }
        take_room = s3q_room < s3q_ap
        m.d.sync += [
            s3p_qty.eq(Mux(take_room, s3q_room, s3q_ap)),
            s3p_take_room.eq(take_room),
            s3p_room1.eq(s3q_nroom + 1),
            s3p_csum.eq(s3q_csum),
        ]
        for who, factor in (("room", s3q_room), ("ap", s3q_ap)):
            m.d.sync += [
                s3p_parts[who, "lo"].eq(factor[0:18] * s3q.price[0:16]),
                s3p_parts[who, "hi"].eq(factor[0:18] * s3q.price[16:32]),
                s3p_parts[who, "top"].eq(_times_top2(factor[18:20], s3q.price)),
            ]
        wide = COST_BITS + 3
        # The chosen candidate's parts at their weights, ``wide`` bits.
        cost_w: dict[str, Signal] = {}
        for h, weight in (("lo", 0), ("hi", 16), ("top", 18)):
            cost_w[h] = Signal(wide, name=f"s3p_cost_{h}")
            d3.d.comb += cost_w[h].eq(
                Mux(s3p_take_room, s3p_parts["room", h], s3p_parts["ap", h]) << weight
            )
        cost_sum, cost_maj = _carry_save(cost_w["lo"], cost_w["hi"], cost_w["top"])
        s3, s3_v = stage(s3p, s3p_v, "s3")
        qty = Signal(QTY_BITS)
        s3_cost = Signal(COST_BITS)
        s3_csum = Signal(16)
        m.d.sync += [
            qty.eq(s3p_qty),
            s3_cost.eq((cost_sum + (cost_maj << 1))[0:COST_BITS]),
            s3_csum.eq(s3p_csum),
        ]
        # The rules' conditions are decided in S3P and registered, so S3 only takes the
        # first that holds: its decision drives the counters, the BCD counter, the FIFO
        # and the position write, and a 53-bit compare before it led the report. Exact
        # because events are at least four cycles apart (an A/F block is at least 38
        # bytes, and the next frame's first trigger 100 bytes later) and the state they
        # read (the orders count, the frame of the last order) changes only when S3
        # sends: nothing changes it between an event's S3P and its S3 (a bus RESET then
        # would be in the middle of traffic, which a run does not do). The notional rule
        # ``cost > room`` is the sign of ``room - cost``, the cost's three parts and the
        # room added carry-save (two LUT levels) then one carry chain, beside the chain
        # that joins the cost.
        sent_v = Signal()
        sent_frame = Signal(32)
        # room - cost = (room + 1) + ~lo + ~hi + ~top + 2 (each ~ in ``wide`` bits is
        # -x - 1): each carry-save carry's free bit 0 takes a + 1.
        room_w = Signal(wide)
        d3.d.comb += room_w.eq(s3p_room1)
        o1_sum, o1_maj = _carry_save(room_w, ~cost_w["lo"], ~cost_w["hi"])
        o1_carry = Signal(wide)
        d3.d.comb += o1_carry.eq(Cat(C(1, 1), o1_maj[0 : wide - 1]))
        o2_sum, o2_maj = _carry_save(o1_sum, o1_carry, ~cost_w["top"])
        over_diff = Signal(wide)  # room - cost, modulo 2**wide
        d3.d.comb += over_diff.eq(o2_sum + Cat(C(1, 1), o2_maj[0 : wide - 1]))
        rule = {n: Signal(name=f"s3_rule_{n}") for n in ("supp", "kill", "maxo", "qzero", "over")}
        m.d.sync += [
            rule["supp"].eq(sent_v & (sent_frame == s3p.frame)),
            rule["kill"].eq(~s3p.armed),
            rule["maxo"].eq(ctr["orders"] == s3p.maxo),
            rule["qzero"].eq(s3p_qty == 0),
            rule["over"].eq(over_diff[wide - 1]),
        ]

        first_ref = Signal(32)
        bcd = Signal(40)
        bcd_nines = Signal(10)  # each digit of bcd == 9
        bcd_carries = Signal(10, init=1)  # _bcd_carries(bcd_nines)

        def bcd_load(value: Any, nines: list[Any]) -> list[Any]:
            """Load ``bcd`` with ``value``, whose digits' ``== 9`` are ``nines``."""
            carries = _bcd_carries(nines)
            return [bcd.eq(value), bcd_nines.eq(Cat(*nines)), bcd_carries.eq(Cat(*carries))]

        shares = s3.pos.shares
        new_notional = Signal(64)
        d3.d.comb += new_notional.eq(s3.pos.notional + s3_cost)
        tx_fifo = fifo.SyncFIFO(width=DESC.size, depth=TX_FIFO_DEPTH)
        m.submodules.tx_fifo = tx_fifo
        desc = data.View(DESC, tx_fifo.w_data)
        send = Signal()
        d3.d.comb += [
            desc.dmac.eq(s3.dmac),
            desc.smac.eq(s3.smac),
            desc.ntags.eq(s3.ntags),
            desc.tags.eq(s3.tags),
            desc.sip.eq(s3.sip),
            desc.dip.eq(s3.dip),
            desc.csum.eq(s3_csum),
            desc.fport.eq(s3.fport),
            desc.oport.eq(s3.oport),
            desc.session.eq(s3.session),
            desc.seq.eq(ctr["orders"] + 1),
            desc.uref.eq(first_ref + ctr["orders"]),
            desc.qty.eq(qty),
            desc.symbol.eq(s3.inst.symbol),
            desc.price.eq(s3.price),
            desc.bcd.eq(bcd),
        ]
        with m.If(s3_v):
            m.d.sync += ctr["triggers"].eq(ctr["triggers"] + 1)
            with m.If(rule["supp"]):
                m.d.sync += ctr["suppressed"].eq(ctr["suppressed"] + 1)
            with m.Elif(rule["kill"]):
                m.d.sync += ctr["killed"].eq(ctr["killed"] + 1)
            with m.Elif(rule["maxo"]):
                m.d.sync += ctr["max_orders"].eq(ctr["max_orders"] + 1)
            with m.Elif(rule["qzero"]):
                m.d.sync += ctr["position"].eq(ctr["position"] + 1)
            with m.Elif(rule["over"]):
                m.d.sync += ctr["notional"].eq(ctr["notional"] + 1)
            with m.Else():
                m.d.comb += send.eq(1)
        m.d.comb += [
            tx_fifo.w_en.eq(send),
            self.dbg_push.eq(send),
            self.dbg_push_frame.eq(s3.frame),
        ]
        with m.If(send):
            m.d.sync += [
                ctr["orders"].eq(ctr["orders"] + 1),
                sent_v.eq(1),
                sent_frame.eq(s3.frame),
                *bcd_load(*_bcd_increment(bcd, bcd_nines, bcd_carries)),
            ]
            with m.If(~tx_fifo.w_rdy):
                m.d.sync += ctr["tx_overflow"].eq(ctr["tx_overflow"] + 1)
            m.d.comb += [
                pos_wr.addr.eq(s3.idx),
                pos_wr.en.eq(1),
                pos_wr.data.shares.eq(shares + qty),
                pos_wr.data.notional.eq(new_notional),
            ]

        # ------------------------------------------------------------------ TX
        head = data.View(DESC, tx_fifo.r_data)
        # One frame per number of tags (none, one, QinQ), the head's picks one.
        frames = [Cat(*order_frame_bytes(head, k)) for k in range(len(ORDER_FRAME_BEATS))]
        vec = Signal(16 * 64)
        assert max(len(f) for f in frames) <= len(vec)
        two, one = head.ntags == 2, head.ntags == 1
        tm.d.comb += vec.eq(Mux(two, frames[2], Mux(one, frames[1], frames[0])))
        tx_beat = Signal(4)
        # ``tx_beat`` at each kind's last beat, registers beside it: the FIFO's head
        # (a LUT RAM read) then picks one, and the FIFO's read enable is one LUT after it.
        at_last = [Signal(name=f"tx_at_last_{k}") for k in range(len(ORDER_FRAME_BEATS))]
        last_be = Mux(two, ORDER_LAST_BE[2], Mux(one, ORDER_LAST_BE[1], ORDER_LAST_BE[0]))
        is_last = Signal()
        tm.d.comb += is_last.eq(Mux(two, at_last[2], Mux(one, at_last[1], at_last[0])))
        m.d.comb += [
            self.tx_valid.eq(tx_fifo.r_rdy),
            self.tx_data.eq(vec.word_select(tx_beat, 64)),
            self.tx_last.eq(tx_fifo.r_rdy & is_last),
            self.tx_be.eq(Mux(is_last, last_be, 0xFF)),
            tx_fifo.r_en.eq(is_last),
        ]
        with m.If(tx_fifo.r_rdy):
            n_beat = Mux(is_last, 0, tx_beat + 1)
            m.d.sync += tx_beat.eq(n_beat)
            m.d.sync += [
                a.eq(n_beat == n - 1) for a, n in zip(at_last, ORDER_FRAME_BEATS, strict=True)
            ]

        # ------------------------------------------------------------------ RESET
        rst_busy = Signal()
        rst_cnt = Signal(7)
        dd_bin = Signal(32)
        dd_cnt = Signal(6)
        with m.If(rst_busy):
            m.d.comb += [
                pos_wr.addr.eq(rst_cnt[0:6]),
                pos_wr.en.eq(1),
                pos_wr.data.shares.eq(0),
                pos_wr.data.notional.eq(0),
            ]
            m.d.sync += rst_cnt.eq(rst_cnt + 1)
            with m.If(rst_cnt == regs.INST_SLOTS - 1):
                m.d.sync += rst_busy.eq(0)
            with m.If(dd_cnt != 32):
                adjusted = Cat(
                    *[
                        Mux(
                            bcd[4 * k : 4 * k + 4] >= 5,
                            bcd[4 * k : 4 * k + 4] + 3,
                            bcd[4 * k : 4 * k + 4],
                        )[0:4]
                        for k in range(10)
                    ]
                )
                shifted = Cat(dd_bin[31], adjusted[0:39])
                m.d.sync += [
                    *bcd_load(shifted, [shifted[4 * k : 4 * k + 4] == 9 for k in range(10)]),
                    dd_bin.eq(dd_bin << 1),
                    dd_cnt.eq(dd_cnt + 1),
                ]

        # ------------------------------------------------------------------ bus
        boundary = ~in_frame
        with m.If(apply_pending & boundary):
            m.d.sync += [
                apply_pending.eq(0),
                act_armed.eq(st_armed),
                act_maxo.eq(st_maxo),
                act_first.eq(st_first),
                act_fport.eq(st_fport),
                act_oport.eq(st_oport),
                act_session.eq(st_session),
            ]
            with m.If(st_slot[31]):
                m.d.sync += [act_loc[st_slot[0:6]].eq(st_loc), st_slot[31].eq(0)]
                m.d.comb += [cfg_wr.addr.eq(st_slot[0:6]), cfg_wr.data.eq(st_inst), cfg_wr.en.eq(1)]

        wd = self.bus_w_data
        cfg_writes: dict[str, list[Any]] = {
            "ARMED": [st_armed],
            "MAX_ORDERS": [st_maxo],
            "FIRST_USER_REF_NUM": [st_first],
            "FEED_PORT": [st_fport],
            "ORDER_PORT": [st_oport],
            "ORDER_SESSION": [st_session[32 * i : 32 * i + 32] for i in range(3)],
            "INST_SLOT": [st_slot],
            "INST_LOCATE": [st_loc],
            "INST_SYMBOL": [st_inst.symbol[0:32], st_inst.symbol[32:64]],
            "INST_LIMIT_PRICE": [st_inst.limit],
            "INST_BASE_QTY": [st_inst.base],
            "INST_STEP_QTY": [st_inst.step],
            "INST_RECIP": [st_inst.recip[0:32], st_inst.recip[32:]],
            "INST_SHIFT": [st_inst.shift],
            "INST_MAX_ORDER_QTY": [st_inst.maxq],
            "INST_MAX_POSITION": [st_inst.maxpos[0:32], st_inst.maxpos[32:]],
            "INST_MAX_NOTIONAL": [st_inst.maxnot[0:32], st_inst.maxnot[32:]],
            "INST_TICK": [st_tick],
        }
        with m.If(self.bus_w_en), m.Switch(self.bus_addr):
            for name, targets in cfg_writes.items():
                for k, target in enumerate(targets):
                    with m.Case(regs.reg(name).address + k):
                        m.d.sync += target.eq(wd[0 : len(target)])
            with m.Case(regs.addr("CONTROL")):
                with m.If(wd & regs.CONTROL_APPLY):
                    m.d.sync += apply_pending.eq(1)
                with m.If(wd & regs.CONTROL_RESET):
                    m.d.sync += [ctr[n].eq(0) for n in names]
                    m.d.sync += [
                        sent_v.eq(0),
                        fcount.eq(0),
                        first_ref.eq(act_first),
                        rst_busy.eq(1),
                        rst_cnt.eq(0),
                        dd_bin.eq(act_first),
                        dd_cnt.eq(0),
                        *bcd_load(C(0, 40), [C(0, 1)] * 10),
                    ]

        stat_regs = {
            "FRAMES": "frames",
            "MESSAGES_SCANNED": "scanned",
            "TRIGGERS": "triggers",
            "ORDERS": "orders",
            "SUPPRESSED": "suppressed",
            "PARSE_ERRORS": "parse_errors",
            "REFUSED_KILLED": "killed",
            "REFUSED_MAX_ORDERS": "max_orders",
            "REFUSED_POSITION": "position",
            "REFUSED_NOTIONAL": "notional",
            "TX_OVERFLOW": "tx_overflow",
        }
        rdata = Signal(32)
        r_inst = Signal()
        r_word = Signal(2)
        m.d.comb += pos_bus.addr.eq((self.bus_addr - regs.INST_STATS_BASE)[2:8])
        with m.If(self.bus_r_en):
            m.d.sync += [
                r_inst.eq(self.bus_addr >= regs.INST_STATS_BASE),
                r_word.eq(self.bus_addr[0:2]),
                rdata.eq(0),
            ]
            with m.Switch(self.bus_addr):
                with m.Case(regs.addr("ID")):
                    m.d.sync += rdata.eq(regs.CORE_ID)
                with m.Case(regs.addr("STATUS")):
                    m.d.sync += rdata.eq(Cat(rst_busy, apply_pending, self.traffic))
                for name, targets in cfg_writes.items():
                    for k, target in enumerate(targets):
                        a = regs.reg(name).address + k
                        with m.Case(a):
                            m.d.sync += rdata.eq(target)
                for name, key in stat_regs.items():
                    with m.Case(regs.addr(name)):
                        m.d.sync += rdata.eq(ctr[key][0:32])
                    with m.Case(regs.addr(name) + 1):
                        m.d.sync += rdata.eq(ctr[key][32:64])
        words4 = Cat(pos_bus.data.shares, C(0, 1), pos_bus.data.notional, C(0, 1))
        m.d.comb += self.bus_r_data.eq(Mux(r_inst, words4.word_select(r_word, 32), rdata))

        m.d.comb += self.traffic.eq(
            self.rx_valid
            | r_valid
            | in_frame
            | o_v
            | s1_v
            | s1m_v
            | s1a_v
            | s1s_v
            | s2m_v
            | s2_v
            | s3q_v
            | s3p_v
            | s3_v
            | tx_fifo.r_rdy
        )
        return m


def _carry_save(x: Any, y: Any, z: Any) -> tuple[Any, Any]:
    """Three addends as two with the same sum (a 3:2 step, one LUT level): the bitwise
    sum and the majority carry, the carry's weight one bit up (``x + y + z == sum + 2 *
    carry``). The caller adds ``sum`` and ``carry`` shifted left in one carry chain."""
    return x ^ y ^ z, (x & y) | (x & z) | (y & z)


def _times_top2(top: Any, value: Any) -> Any:
    """``top * value`` for a 2-bit ``top``, as two selects and an adder (no multiplier):
    the part of a 20-bit factor an 18 x 18 multiplier does not take."""
    return Mux(top[0], value, 0) + Mux(top[1], value << 1, 0)


def _or_all(values: list[Any]) -> Any:
    out = values[0]
    for v in values[1:]:
        out = out | v
    return out


def _priority(hits: list[Any]) -> tuple[Any, Any]:
    """(any hit, index of the lowest hit) as a balanced tree of depth log2(len(hits))."""
    if len(hits) == 1:
        return hits[0], Const(0, 0)
    half = len(hits) // 2
    lo_hit, lo_idx = _priority(hits[:half])
    hi_hit, hi_idx = _priority(hits[half:])
    width = (len(hits) - 1).bit_length()
    idx = Mux(lo_hit, Cat(lo_idx, C(0, width - len(lo_idx))), Cat(hi_idx, C(1, 1)))
    return lo_hit | hi_hit, idx


class _Wrap(Elaboratable):
    """A ready-made module as a submodule (its own process in simulation)."""

    def __init__(self, module: Module) -> None:
        self.module = module

    def elaborate(self, platform: Any) -> Module:
        return self.module
