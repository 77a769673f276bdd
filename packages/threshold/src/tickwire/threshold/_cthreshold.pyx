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
Every offset and length of the frames read and written comes from ``tickwire_layout.h``,
the C header :mod:`tickwire.threshold.cheader` generates from the Python tables (the copy
next to this file is checked by the tests), as in the XDP and bare-metal C.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

cdef extern from "tickwire_layout.h":
    enum:
        TW_MAX_INSTRUMENTS
        TW_MAX_SCANNED
        TW_ETH_P_IPV4
        TW_ETH_P_8021Q
        TW_ETH_P_8021AD
        TW_MAX_TAGS
        TW_IPPROTO_UDP
        TW_IP_DF
        TW_MOLD_END_OF_SESSION
        TW_ITCH_A_TYPE
        TW_ITCH_F_TYPE
        TW_OUCH_ENTER_ORDER_TYPE
        TW_ETH_DST_OFF
        TW_ETH_DST_LEN
        TW_ETH_SRC_OFF
        TW_ETH_SRC_LEN
        TW_ETH_ETHERTYPE_OFF
        TW_ETH_ETHERTYPE_LEN
        TW_ETH_LEN
        TW_VLAN_TCI_OFF
        TW_VLAN_TCI_LEN
        TW_VLAN_ETHERTYPE_OFF
        TW_VLAN_LEN
        TW_IPV4_VERSION_IHL_OFF
        TW_IPV4_TOS_OFF
        TW_IPV4_TOTAL_LENGTH_OFF
        TW_IPV4_IDENTIFICATION_OFF
        TW_IPV4_FLAGS_FRAGMENT_OFF
        TW_IPV4_TTL_OFF
        TW_IPV4_PROTOCOL_OFF
        TW_IPV4_CHECKSUM_OFF
        TW_IPV4_SRC_OFF
        TW_IPV4_DST_OFF
        TW_IPV4_LEN
        TW_UDP_SRC_PORT_OFF
        TW_UDP_DST_PORT_OFF
        TW_UDP_LENGTH_OFF
        TW_UDP_CHECKSUM_OFF
        TW_UDP_LEN
        TW_MOLD_SESSION_OFF
        TW_MOLD_SESSION_LEN
        TW_MOLD_SEQUENCE_OFF
        TW_MOLD_COUNT_OFF
        TW_MOLD_LEN
        TW_MOLD_BLOCK_PREFIX_LEN
        TW_OUCH_ENTER_ORDER_MESSAGE_TYPE_OFF
        TW_OUCH_ENTER_ORDER_USER_REF_NUM_OFF
        TW_OUCH_ENTER_ORDER_SIDE_OFF
        TW_OUCH_ENTER_ORDER_QUANTITY_OFF
        TW_OUCH_ENTER_ORDER_SYMBOL_OFF
        TW_OUCH_ENTER_ORDER_SYMBOL_LEN
        TW_OUCH_ENTER_ORDER_PRICE_OFF
        TW_OUCH_ENTER_ORDER_TIME_IN_FORCE_OFF
        TW_OUCH_ENTER_ORDER_DISPLAY_OFF
        TW_OUCH_ENTER_ORDER_CAPACITY_OFF
        TW_OUCH_ENTER_ORDER_INTERMARKET_SWEEP_ELIGIBILITY_OFF
        TW_OUCH_ENTER_ORDER_CROSS_TYPE_OFF
        TW_OUCH_ENTER_ORDER_CL_ORD_ID_OFF
        TW_OUCH_ENTER_ORDER_APPENDAGES_LENGTH_OFF
        TW_OUCH_ENTER_ORDER_LEN
        TW_ORDER_IP_LEN
        TW_ORDER_UDP_LEN

# The widths this file reads and writes with (rd16 / rd32 / wr16 / wr32 / wr64, 12 digits)
# are held to the header by the C compiler.
cdef extern from *:
    """
    _Static_assert(TW_ITCH_A_STOCK_LOCATE_LEN == 2 && TW_ITCH_A_PRICE_LEN == 4 &&
                   TW_ETH_ETHERTYPE_LEN == 2 && TW_VLAN_ETHERTYPE_LEN == 2 &&
                   TW_IPV4_FLAGS_FRAGMENT_LEN == 2 && TW_IPV4_SRC_LEN == 4 &&
                   TW_IPV4_DST_LEN == 4 && TW_UDP_DST_PORT_LEN == 2 &&
                   TW_UDP_LENGTH_LEN == 2 && TW_MOLD_COUNT_LEN == 2 &&
                   TW_MOLD_SEQUENCE_LEN == 8 && TW_MOLD_BLOCK_PREFIX_LEN == 2 &&
                   TW_OUCH_ENTER_ORDER_USER_REF_NUM_LEN == 4 &&
                   TW_OUCH_ENTER_ORDER_QUANTITY_LEN == 4 && TW_OUCH_ENTER_ORDER_PRICE_LEN == 8 &&
                   TW_OUCH_ENTER_ORDER_CL_ORD_ID_LEN == 2 + 12 &&
                   TW_OUCH_ENTER_ORDER_APPENDAGES_LENGTH_LEN == 2,
                   "the widths _cthreshold.pyx reads and writes with");
    /* The order copies the input's tags as one run of bytes from the EtherType at 12 to
       L3 - 2: each tag's TPID is the EtherType before it, so both EtherTypes end their
       header. */
    _Static_assert(TW_ETH_ETHERTYPE_OFF + TW_ETH_ETHERTYPE_LEN == TW_ETH_LEN &&
                   TW_VLAN_ETHERTYPE_OFF + TW_VLAN_ETHERTYPE_LEN == TW_VLAN_LEN &&
                   TW_ETH_ETHERTYPE_LEN == TW_VLAN_ETHERTYPE_LEN,
                   "an EtherType ends the Ethernet header and each tag");
    """

DEF ORDER_TTL = 64  # the TTL of an order (docs/threshold.md section 5)


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
    uint8_t symbol[TW_OUCH_ENTER_ORDER_SYMBOL_LEN]


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

    cdef Inst inst[TW_MAX_INSTRUMENTS]
    cdef int n_inst
    cdef signed char slot[65536]   # locate -> instrument index, -1 when not watched
    cdef bint armed
    cdef int64_t max_orders
    cdef uint32_t first_user_ref_num
    cdef uint32_t feed_port
    cdef uint32_t order_port
    cdef uint8_t session[TW_MOLD_SESSION_LEN]
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
        if len(session) != TW_MOLD_SESSION_LEN:
            raise ValueError(f"session must be {TW_MOLD_SESSION_LEN} bytes (space padded)")
        if len(instruments) > TW_MAX_INSTRUMENTS:
            raise ValueError(f"at most {TW_MAX_INSTRUMENTS} instruments")
        if off_price + 4 > len_a or off_side >= len_a or off_locate + 2 > len_a:
            raise ValueError("A/F field offsets outside the message")
        self.armed = armed
        self.max_orders = max_orders
        self.first_user_ref_num = first_user_ref_num
        self.feed_port = feed_port
        self.order_port = order_port
        memcpy(self.session, PyBytes_AS_STRING(session), TW_MOLD_SESSION_LEN)
        self.off_locate = off_locate
        self.off_side = off_side
        self.off_price = off_price
        self.len_a = len_a
        self.len_f = len_f
        memset(self.slot, -1, sizeof(self.slot))
        self.n_inst = len(instruments)
        for i in range(self.n_inst):
            locate, symbol, limit, base, step, tick, max_qty, max_pos, max_not = instruments[i]
            if len(symbol) != TW_OUCH_ENTER_ORDER_SYMBOL_LEN:
                raise ValueError(
                    f"symbol must be {TW_OUCH_ENTER_ORDER_SYMBOL_LEN} bytes (space padded)"
                )
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
            memcpy(self.inst[i].symbol, PyBytes_AS_STRING(symbol), TW_OUCH_ENTER_ORDER_SYMBOL_LEN)
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
        cdef bint error = False, sent = False
        cdef int tags = 0
        cdef const uint8_t* msg
        cdef int idx
        cdef int64_t price, qty, room
        cdef Inst* ins
        cdef Py_ssize_t order_at = -1
        cdef int64_t order_qty = 0, order_price = 0
        cdef int order_inst = -1
        self.frames += 1
        if n < TW_ETH_LEN:
            return []
        ethertype = rd16(f + TW_ETH_ETHERTYPE_OFF)
        l3 = TW_ETH_LEN
        # Up to two tags, 0x8100 or 0x88A8 at either depth (docs/threshold.md section 2
        # rule 1); a third leaves its TPID where IPv4 is expected.
        while (ethertype == TW_ETH_P_8021Q or ethertype == TW_ETH_P_8021AD) and tags < TW_MAX_TAGS:
            if n < l3 + TW_VLAN_LEN:
                return []
            ethertype = rd16(f + l3 + TW_VLAN_ETHERTYPE_OFF)
            l3 += TW_VLAN_LEN
            tags += 1
        if ethertype != TW_ETH_P_IPV4 or n < l3 + TW_IPV4_LEN:
            return []
        vihl = f[l3 + TW_IPV4_VERSION_IHL_OFF]
        ihl = vihl & 0x0F
        if (vihl >> 4) != 4 or ihl < TW_IPV4_LEN // 4:
            return []
        l4 = l3 + 4 * ihl
        if n < l4 or f[l3 + TW_IPV4_PROTOCOL_OFF] != TW_IPPROTO_UDP:
            return []
        if rd16(f + l3 + TW_IPV4_FLAGS_FRAGMENT_OFF) & 0x3FFF:
            return []  # MF set or a non-zero fragment offset
        if n < l4 + TW_UDP_LEN:
            return []
        if rd16(f + l4 + TW_UDP_DST_PORT_OFF) != self.feed_port:
            return []
        udp_len = rd16(f + l4 + TW_UDP_LENGTH_OFF)
        if udp_len < TW_UDP_LEN:
            self.parse_errors += 1
            return []
        start = l4 + TW_UDP_LEN
        end = l4 + udp_len
        if end > n:
            end = n
        if end - start < TW_MOLD_LEN:
            self.parse_errors += 1
            return []
        count = rd16(f + start + TW_MOLD_COUNT_OFF)
        if count == 0 or count == TW_MOLD_END_OF_SESSION:
            return []
        limit = count if count < TW_MAX_SCANNED else TW_MAX_SCANNED
        q = start + TW_MOLD_LEN
        for k in range(limit):
            if q + TW_MOLD_BLOCK_PREFIX_LEN > end:
                error = True
                break
            length = rd16(f + q)
            q += TW_MOLD_BLOCK_PREFIX_LEN
            if q + length > end:
                error = True
                break
            msg = f + q
            q += length
            if length == 0:
                self.messages_scanned += 1
                continue
            if msg[0] == TW_ITCH_A_TYPE:
                if length < self.len_a:
                    error = True
                    break
            elif msg[0] == TW_ITCH_F_TYPE:
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
        return [self._order_frame(f, l3, order_inst, order_qty, order_price)]

    cdef bytes _order_frame(
        self, const uint8_t* f, Py_ssize_t l3, int idx, int64_t qty, int64_t price
    ):
        """The order frame of docs/threshold.md section 5 (``self.orders`` already counts it).

        ``l3`` is where the input's IPv4 header starts: its tags (none, one or two) are
        ``f[TW_ETH_ETHERTYPE_OFF : l3 - 2]`` and go back as they came."""
        cdef Py_ssize_t total = l3 + TW_ORDER_IP_LEN
        cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
        cdef uint8_t* o = <uint8_t*>PyBytes_AS_STRING(out)
        cdef uint8_t* ip
        cdef uint8_t* udp
        cdef uint8_t* mold
        cdef uint8_t* ouch
        cdef uint32_t sum, saddr, daddr, ref
        cdef uint64_t v
        cdef int i
        # Ethernet: addresses swapped, the tags kept as they came (TPIDs and TCIs).
        memcpy(o + TW_ETH_DST_OFF, f + TW_ETH_SRC_OFF, TW_ETH_DST_LEN)
        memcpy(o + TW_ETH_SRC_OFF, f + TW_ETH_DST_OFF, TW_ETH_SRC_LEN)
        memcpy(o + TW_ETH_ETHERTYPE_OFF, f + TW_ETH_ETHERTYPE_OFF, l3 - TW_ETH_LEN)
        wr16(o + l3 - TW_ETH_ETHERTYPE_LEN, TW_ETH_P_IPV4)
        ip = o + l3
        # IPv4: no options, TOS 0, ID 0, DF, TTL 64, UDP, addresses swapped.
        saddr = rd32(f + l3 + TW_IPV4_SRC_OFF)
        daddr = rd32(f + l3 + TW_IPV4_DST_OFF)
        ip[TW_IPV4_VERSION_IHL_OFF] = 0x40 | (TW_IPV4_LEN // 4)
        ip[TW_IPV4_TOS_OFF] = 0
        wr16(ip + TW_IPV4_TOTAL_LENGTH_OFF, TW_ORDER_IP_LEN)
        wr16(ip + TW_IPV4_IDENTIFICATION_OFF, 0)
        wr16(ip + TW_IPV4_FLAGS_FRAGMENT_OFF, TW_IP_DF)
        ip[TW_IPV4_TTL_OFF] = ORDER_TTL
        ip[TW_IPV4_PROTOCOL_OFF] = TW_IPPROTO_UDP
        wr32(ip + TW_IPV4_SRC_OFF, daddr)
        wr32(ip + TW_IPV4_DST_OFF, saddr)
        # The header's 16-bit words; the checksum word is zero, the addresses added below.
        sum = ((0x40 | (TW_IPV4_LEN // 4)) << 8) + TW_ORDER_IP_LEN + TW_IP_DF
        sum += (ORDER_TTL << 8) | TW_IPPROTO_UDP
        sum += (daddr >> 16) + (daddr & 0xFFFF) + (saddr >> 16) + (saddr & 0xFFFF)
        sum = (sum & 0xFFFF) + (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16)
        wr16(ip + TW_IPV4_CHECKSUM_OFF, (~sum) & 0xFFFF)
        # UDP: feed port -> order port, checksum 0.
        udp = ip + TW_IPV4_LEN
        wr16(udp + TW_UDP_SRC_PORT_OFF, self.feed_port)
        wr16(udp + TW_UDP_DST_PORT_OFF, self.order_port)
        wr16(udp + TW_UDP_LENGTH_OFF, TW_ORDER_UDP_LEN)
        wr16(udp + TW_UDP_CHECKSUM_OFF, 0)
        # MoldUDP64: the order session, the order's own sequence number, one block.
        mold = udp + TW_UDP_LEN
        memcpy(mold + TW_MOLD_SESSION_OFF, self.session, TW_MOLD_SESSION_LEN)
        wr64(mold + TW_MOLD_SEQUENCE_OFF, <uint64_t>self.orders)
        wr16(mold + TW_MOLD_COUNT_OFF, 1)
        wr16(mold + TW_MOLD_LEN, TW_OUCH_ENTER_ORDER_LEN)  # the block's length
        # OUCH 5.0 Enter Order.
        ouch = mold + TW_MOLD_LEN + TW_MOLD_BLOCK_PREFIX_LEN
        ref = self.first_user_ref_num + <uint32_t>(self.orders - 1)
        ouch[TW_OUCH_ENTER_ORDER_MESSAGE_TYPE_OFF] = TW_OUCH_ENTER_ORDER_TYPE
        wr32(ouch + TW_OUCH_ENTER_ORDER_USER_REF_NUM_OFF, ref)
        ouch[TW_OUCH_ENTER_ORDER_SIDE_OFF] = 0x42  # 'B'
        wr32(ouch + TW_OUCH_ENTER_ORDER_QUANTITY_OFF, <uint32_t>qty)
        memcpy(ouch + TW_OUCH_ENTER_ORDER_SYMBOL_OFF, self.inst[idx].symbol, TW_OUCH_ENTER_ORDER_SYMBOL_LEN)
        wr64(ouch + TW_OUCH_ENTER_ORDER_PRICE_OFF, <uint64_t>price)
        ouch[TW_OUCH_ENTER_ORDER_TIME_IN_FORCE_OFF] = 0x33  # '3' (IOC)
        ouch[TW_OUCH_ENTER_ORDER_DISPLAY_OFF] = 0x59  # 'Y'
        ouch[TW_OUCH_ENTER_ORDER_CAPACITY_OFF] = 0x50  # 'P'
        ouch[TW_OUCH_ENTER_ORDER_INTERMARKET_SWEEP_ELIGIBILITY_OFF] = 0x4E  # 'N'
        ouch[TW_OUCH_ENTER_ORDER_CROSS_TYPE_OFF] = 0x4E  # 'N'
        # ClOrdID: "TW" + UserRefNum in 12 zero-padded digits
        ouch[TW_OUCH_ENTER_ORDER_CL_ORD_ID_OFF] = 0x54
        ouch[TW_OUCH_ENTER_ORDER_CL_ORD_ID_OFF + 1] = 0x57
        v = ref
        for i in range(11, -1, -1):
            ouch[TW_OUCH_ENTER_ORDER_CL_ORD_ID_OFF + 2 + i] = <uint8_t>(0x30 + v % 10)
            v //= 10
        wr16(ouch + TW_OUCH_ENTER_ORDER_APPENDAGES_LENGTH_OFF, 0)  # no appendage
        return out
