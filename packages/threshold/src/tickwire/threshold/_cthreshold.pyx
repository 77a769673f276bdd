# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled threshold strategy: the ``cython`` backend's core (``docs/threshold.md``).

The same decisions as :class:`tickwire.threshold.reference.ThresholdEngine`, taken on the
raw frame bytes with C integers and no Python object per message: Ethernet (one optional
802.1Q tag) / IPv4 (any IHL, no fragments) / UDP to the feed port / MoldUDP64, at most
64 blocks, the A/F length rule, then the trigger and the risk checks. The ITCH field
offsets (stock locate, side, price) are not restated here: :mod:`tickwire.threshold.cbackend`
passes the ones :mod:`tickwire.threshold.scan` reads from the ITCH construct table.

Arithmetic fits in int64 by the configuration's bounds (``config.py``): quantities are
below 10**6, prices and ticks below 2**32, positions and notionals at most 2**62, so
``notional + qty * price`` < 2**62 + 2**52.

The order frame is written byte by byte (like the XDP and bare-metal programs); the
differential harness holds it to the reference, which builds it with the project codecs.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

DEF MAX_INST = 64
DEF MAX_SCANNED = 64
DEF OUCH_LEN = 47           # OUCH 5.0 Enter Order with no appendage
DEF ORDER_IP_LEN = 20 + 8 + 20 + 2 + OUCH_LEN


cdef struct Inst:
    uint32_t locate
    int64_t limit_price
    int64_t base_qty
    int64_t step_qty
    int64_t tick
    int64_t max_order_qty
    int64_t max_position
    int64_t max_notional
    int64_t shares
    int64_t notional
    uint8_t symbol[8]


cdef inline uint32_t rd16(const uint8_t* p) nogil:
    return (<uint32_t>p[0] << 8) | p[1]


cdef inline uint32_t rd32(const uint8_t* p) nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef inline void wr16(uint8_t* p, uint32_t v) nogil:
    p[0] = <uint8_t>(v >> 8)
    p[1] = <uint8_t>v


cdef inline void wr32(uint8_t* p, uint32_t v) nogil:
    p[0] = <uint8_t>(v >> 24)
    p[1] = <uint8_t>(v >> 16)
    p[2] = <uint8_t>(v >> 8)
    p[3] = <uint8_t>v


cdef inline void wr64(uint8_t* p, uint64_t v) nogil:
    cdef int i
    for i in range(8):
        p[7 - i] = <uint8_t>(v >> (8 * i))


cdef class ThresholdCore:
    """One run of the threshold strategy; see :class:`tickwire.threshold.cbackend.CythonBackend`."""

    cdef Inst inst[MAX_INST]
    cdef int n_inst
    cdef signed char slot[65536]   # locate -> instrument index, -1 when not watched
    cdef bint armed
    cdef int64_t max_orders
    cdef uint32_t first_user_ref_num
    cdef uint32_t feed_port
    cdef uint32_t order_port
    cdef uint8_t session[10]
    cdef Py_ssize_t off_locate, off_side, off_price, len_a, len_f
    # statistics
    cdef public int64_t frames, messages_scanned, triggers, orders, suppressed, parse_errors
    cdef public int64_t refused_killed, refused_max_orders, refused_position, refused_notional

    def __init__(
        self,
        bint armed,
        int64_t max_orders,
        uint32_t first_user_ref_num,
        uint32_t feed_port,
        uint32_t order_port,
        bytes session,
        list instruments,
        Py_ssize_t off_locate,
        Py_ssize_t off_side,
        Py_ssize_t off_price,
        Py_ssize_t len_a,
        Py_ssize_t len_f,
    ):
        """``instruments``: (locate, symbol bytes (8, space padded), limit_price, base_qty,
        step_qty, tick, max_order_qty, max_position, max_notional) tuples."""
        cdef int i
        if len(session) != 10:
            raise ValueError("session must be 10 bytes (space padded)")
        if len(instruments) > MAX_INST:
            raise ValueError(f"at most {MAX_INST} instruments")
        if off_price + 4 > len_a or off_side >= len_a or off_locate + 2 > len_a:
            raise ValueError("A/F field offsets outside the message")
        self.armed = armed
        self.max_orders = max_orders
        self.first_user_ref_num = first_user_ref_num
        self.feed_port = feed_port
        self.order_port = order_port
        memcpy(self.session, PyBytes_AS_STRING(session), 10)
        self.off_locate = off_locate
        self.off_side = off_side
        self.off_price = off_price
        self.len_a = len_a
        self.len_f = len_f
        memset(self.slot, -1, sizeof(self.slot))
        self.n_inst = len(instruments)
        for i in range(self.n_inst):
            locate, symbol, limit, base, step, tick, max_qty, max_pos, max_not = instruments[i]
            if len(symbol) != 8:
                raise ValueError("symbol must be 8 bytes (space padded)")
            self.inst[i].locate = locate
            self.inst[i].limit_price = limit
            self.inst[i].base_qty = base
            self.inst[i].step_qty = step
            self.inst[i].tick = tick
            self.inst[i].max_order_qty = max_qty
            self.inst[i].max_position = max_pos
            self.inst[i].max_notional = max_not
            self.inst[i].shares = 0
            self.inst[i].notional = 0
            memcpy(self.inst[i].symbol, PyBytes_AS_STRING(symbol), 8)
            self.slot[<uint16_t>locate] = <signed char>i
        self.frames = self.messages_scanned = self.triggers = self.orders = 0
        self.suppressed = self.parse_errors = 0
        self.refused_killed = self.refused_max_orders = 0
        self.refused_position = self.refused_notional = 0

    def position(self, int i):
        """(shares, notional) committed for the i-th configured instrument."""
        if not 0 <= i < self.n_inst:
            raise IndexError(i)
        return self.inst[i].shares, self.inst[i].notional

    def feed(self, bytes frame not None):
        """Process one Ethernet frame; return the order frames it caused (zero or one)."""
        cdef const uint8_t* f = <const uint8_t*>PyBytes_AS_STRING(frame)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(frame)
        cdef uint32_t ethertype, vihl, ihl, udp_len, count, length
        cdef Py_ssize_t l3, l4, start, end, q, k, limit
        cdef bint tagged = False, error = False, sent = False
        cdef const uint8_t* msg
        cdef int idx
        cdef int64_t price, qty, room
        cdef Inst* ins
        cdef Py_ssize_t order_at = -1
        cdef int64_t order_qty = 0, order_price = 0
        cdef int order_inst = -1
        self.frames += 1
        if n < 14:
            return []
        ethertype = rd16(f + 12)
        l3 = 14
        if ethertype == 0x8100:
            if n < 18:
                return []
            tagged = True
            ethertype = rd16(f + 16)
            l3 = 18
        if ethertype != 0x0800 or n < l3 + 20:
            return []
        vihl = f[l3]
        ihl = vihl & 0x0F
        if (vihl >> 4) != 4 or ihl < 5:
            return []
        l4 = l3 + 4 * ihl
        if n < l4 or f[l3 + 9] != 17:
            return []
        if rd16(f + l3 + 6) & 0x3FFF:
            return []  # MF set or a non-zero fragment offset
        if n < l4 + 8:
            return []
        if rd16(f + l4 + 2) != self.feed_port:
            return []
        udp_len = rd16(f + l4 + 4)
        if udp_len < 8:
            self.parse_errors += 1
            return []
        start = l4 + 8
        end = l4 + udp_len
        if end > n:
            end = n
        if end - start < 20:
            self.parse_errors += 1
            return []
        count = rd16(f + start + 18)
        if count == 0 or count == 0xFFFF:
            return []
        limit = count if count < MAX_SCANNED else MAX_SCANNED
        q = start + 20
        for k in range(limit):
            if q + 2 > end:
                error = True
                break
            length = rd16(f + q)
            q += 2
            if q + length > end:
                error = True
                break
            msg = f + q
            q += length
            if length == 0:
                self.messages_scanned += 1
                continue
            if msg[0] == 0x41:
                if length < self.len_a:
                    error = True
                    break
            elif msg[0] == 0x46:
                if length < self.len_f:
                    error = True
                    break
            else:
                self.messages_scanned += 1
                continue
            self.messages_scanned += 1
            # An A/F block, long enough: the trigger rule.
            if msg[self.off_side] != 0x53:
                continue
            idx = self.slot[rd16(msg + self.off_locate)]
            if idx < 0:
                continue
            ins = &self.inst[idx]
            price = rd32(msg + self.off_price)
            if price <= 0 or price > ins.limit_price:
                continue
            self.triggers += 1
            if sent:
                self.suppressed += 1
                continue
            if not self.armed:
                self.refused_killed += 1
                continue
            if self.orders >= self.max_orders:
                self.refused_max_orders += 1
                continue
            qty = ins.base_qty + ins.step_qty * ((ins.limit_price - price) // ins.tick)
            if ins.max_order_qty < qty:
                qty = ins.max_order_qty
            room = ins.max_position - ins.shares
            if room < qty:
                qty = room
            if qty <= 0:
                self.refused_position += 1
                continue
            if ins.notional + qty * price > ins.max_notional:
                self.refused_notional += 1
                continue
            self.orders += 1
            ins.shares += qty
            ins.notional += qty * price
            sent = True
            order_inst = idx
            order_qty = qty
            order_price = price
        if error:
            self.parse_errors += 1
        if not sent:
            return []
        return [self._order_frame(f, tagged, l3, order_inst, order_qty, order_price)]

    cdef bytes _order_frame(
        self, const uint8_t* f, bint tagged, Py_ssize_t l3, int idx, int64_t qty, int64_t price
    ):
        """The order frame of docs/threshold.md section 5 (``self.orders`` already counts it)."""
        cdef Py_ssize_t total = (18 if tagged else 14) + ORDER_IP_LEN
        cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
        cdef uint8_t* o = <uint8_t*>PyBytes_AS_STRING(out)
        cdef uint8_t* ip
        cdef uint8_t* udp
        cdef uint8_t* mold
        cdef uint8_t* ouch
        cdef uint32_t sum, saddr, daddr, ref
        cdef uint64_t v
        cdef int i
        # Ethernet: addresses swapped, an 802.1Q tag kept.
        memcpy(o, f + 6, 6)
        memcpy(o + 6, f, 6)
        if tagged:
            o[12] = 0x81
            o[13] = 0x00
            o[14] = f[14]
            o[15] = f[15]
            o[16] = 0x08
            o[17] = 0x00
            ip = o + 18
        else:
            o[12] = 0x08
            o[13] = 0x00
            ip = o + 14
        # IPv4: no options, TOS 0, ID 0, DF, TTL 64, UDP, addresses swapped.
        saddr = rd32(f + l3 + 12)
        daddr = rd32(f + l3 + 16)
        ip[0] = 0x45
        ip[1] = 0
        wr16(ip + 2, ORDER_IP_LEN)
        wr16(ip + 4, 0)
        wr16(ip + 6, 0x4000)
        ip[8] = 64
        ip[9] = 17
        wr32(ip + 12, daddr)
        wr32(ip + 16, saddr)
        sum = 0x4500 + ORDER_IP_LEN + 0x4000 + ((64 << 8) | 17)
        sum += (daddr >> 16) + (daddr & 0xFFFF) + (saddr >> 16) + (saddr & 0xFFFF)
        sum = (sum & 0xFFFF) + (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16)
        wr16(ip + 10, (~sum) & 0xFFFF)
        # UDP: feed port -> order port, checksum 0.
        udp = ip + 20
        wr16(udp, self.feed_port)
        wr16(udp + 2, self.order_port)
        wr16(udp + 4, ORDER_IP_LEN - 20)
        wr16(udp + 6, 0)
        # MoldUDP64: the order session, the order's own sequence number, one block.
        mold = udp + 8
        memcpy(mold, self.session, 10)
        wr64(mold + 10, <uint64_t>self.orders)
        wr16(mold + 18, 1)
        wr16(mold + 20, OUCH_LEN)
        # OUCH 5.0 Enter Order.
        ouch = mold + 22
        ref = self.first_user_ref_num + <uint32_t>(self.orders - 1)
        ouch[0] = 0x4F  # 'O'
        wr32(ouch + 1, ref)
        ouch[5] = 0x42  # Side 'B'
        wr32(ouch + 6, <uint32_t>qty)
        memcpy(ouch + 10, self.inst[idx].symbol, 8)
        wr64(ouch + 18, <uint64_t>price)
        ouch[26] = 0x33  # Time In Force '3' (IOC)
        ouch[27] = 0x59  # Display 'Y'
        ouch[28] = 0x50  # Capacity 'P'
        ouch[29] = 0x4E  # Intermarket Sweep Eligibility 'N'
        ouch[30] = 0x4E  # Cross Type 'N'
        ouch[31] = 0x54  # ClOrdID: "TW" + UserRefNum in 12 zero-padded digits
        ouch[32] = 0x57
        v = ref
        for i in range(11, -1, -1):
            ouch[33 + i] = <uint8_t>(0x30 + v % 10)
            v //= 10
        wr16(ouch + 45, 0)  # Appendage Length
        return out
