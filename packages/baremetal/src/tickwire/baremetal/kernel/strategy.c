/* The threshold strategy (docs/threshold.md sections 2-5) over raw frames.
 *
 * Every read of the frame goes through the bounded helpers of parse.h. The arithmetic
 * follows the contract's bounds: (limit - p) / tick is a 32-bit division (both operands
 * are u32, so no libgcc 64-bit division is needed in this 32-bit kernel), step * that is
 * below 2^52, and position/notional stay below 2^62, so signed 64-bit math never wraps. */
#include "strategy.h"
#include "parse.h"

/* What this file assumes of the generated layouts (tickwire_layout.h): A and F are read
 * at A's offsets; the widths of what is read and written; the order frame's symbol is
 * the instrument's; the config fields are read with these widths. */
_Static_assert(TW_ITCH_F_STOCK_LOCATE_OFF == TW_ITCH_A_STOCK_LOCATE_OFF &&
                   TW_ITCH_F_BUY_SELL_INDICATOR_OFF == TW_ITCH_A_BUY_SELL_INDICATOR_OFF &&
                   TW_ITCH_F_PRICE_OFF == TW_ITCH_A_PRICE_OFF,
               "A and F share the fields read");
_Static_assert(TW_ITCH_A_STOCK_LOCATE_LEN == 2 && TW_ITCH_A_PRICE_LEN == 4 &&
                   TW_ETH_ETHERTYPE_LEN == 2 && TW_VLAN_TCI_LEN == 2 &&
                   TW_VLAN_ETHERTYPE_LEN == 2 && TW_IPV4_FLAGS_FRAGMENT_LEN == 2 &&
                   TW_IPV4_SRC_LEN == 4 && TW_IPV4_DST_LEN == 4 && TW_UDP_DST_PORT_LEN == 2 &&
                   TW_UDP_LENGTH_LEN == 2 && TW_MOLD_COUNT_LEN == 2 &&
                   TW_MOLD_SEQUENCE_LEN == 8 && TW_MOLD_BLOCK_PREFIX_LEN == 2,
               "the widths the frame is read and written with");
_Static_assert(TW_ETH_ETHERTYPE_OFF + TW_ETH_ETHERTYPE_LEN == TW_ETH_LEN &&
                   TW_VLAN_ETHERTYPE_OFF + TW_VLAN_ETHERTYPE_LEN == TW_VLAN_LEN,
               "an EtherType ends the Ethernet header and each tag: the tags are one run");
_Static_assert(TW_OUCH_ENTER_ORDER_USER_REF_NUM_LEN == 4 &&
                   TW_OUCH_ENTER_ORDER_QUANTITY_LEN == 4 && TW_OUCH_ENTER_ORDER_PRICE_LEN == 8 &&
                   TW_OUCH_ENTER_ORDER_CL_ORD_ID_LEN == 2 + 12 &&
                   TW_OUCH_ENTER_ORDER_APPENDAGES_LENGTH_LEN == 2 &&
                   TW_OUCH_ENTER_ORDER_SYMBOL_LEN == TW_CFG_INSTRUMENT_SYMBOL_LEN &&
                   TW_MOLD_SESSION_LEN == TW_CFG_ORDER_SESSION_LEN,
               "the Enter Order as build_order writes it");
_Static_assert(TW_CFG_VERSION_LEN == 2 && TW_CFG_FLAGS_LEN == 2 && TW_CFG_MAX_ORDERS_LEN == 4 &&
                   TW_CFG_FIRST_USER_REF_NUM_LEN == 4 && TW_CFG_FEED_PORT_LEN == 2 &&
                   TW_CFG_ORDER_PORT_LEN == 2 && TW_CFG_SECRET_LEN == TW_SECRET_LEN &&
                   TW_CFG_COUNT_LEN == 2 && TW_CFG_INSTRUMENT_LOCATE_LEN == 2 &&
                   TW_CFG_INSTRUMENT_LIMIT_PRICE_LEN == 4 && TW_CFG_INSTRUMENT_BASE_QTY_LEN == 4 &&
                   TW_CFG_INSTRUMENT_STEP_QTY_LEN == 4 && TW_CFG_INSTRUMENT_TICK_LEN == 4 &&
                   TW_CFG_INSTRUMENT_MAX_ORDER_QTY_LEN == 4 &&
                   TW_CFG_INSTRUMENT_MAX_POSITION_LEN == 8 &&
                   TW_CFG_INSTRUMENT_MAX_NOTIONAL_LEN == 8,
               "the config blob as tw_load_config reads it");
TW_CHECK_COUNTERS(tw_stats); /* the contract's counters, in its order */

/* Version 4, a header without options; the TTL of an order (docs/threshold.md section 5). */
#define TW_IPV4_VIHL (0x40u | (TW_IPV4_LEN / 4u))
#define TW_ORDER_TTL 64u

u32 tw_state_size(void) { return (u32)sizeof(struct tw_state); }

static int printable(u8 c, u8 lo) { return c >= lo && c <= 0x7E; }

/* A space-padded text field: 1..max characters in [lo, 0x7E], then only spaces.
 * The Python side pads with spaces, and a symbol may not contain one (lo = 0x21). Where a
 * space is a character (the order session, lo = 0x20), a field of spaces alone is " "
 * padded, which the config accepts: refusing it refused a config every other backend
 * runs. Test: test_baremetal_cstrategy.py::test_an_order_session_of_spaces_is_loaded. */
static int check_padded(const u8 *p, u32 width, u8 lo) {
    u32 used = width;
    while (used > 0 && p[used - 1] == ' ') used--;
    if (used == 0) return lo <= ' ';
    for (u32 i = 0; i < used; i++)
        if (!printable(p[i], lo)) return 0;
    return 1;
}

int tw_load_config(struct tw_state *s, const u8 *b, u32 len) {
    static struct tw_config cfg; /* parsed aside so an invalid blob changes nothing */
    u32 version, flags, count, v;
    if (!tw_has(len, 0, TW_CFG_LEN)) return TW_CFG_SHORT;
    if (memcmp(b + TW_CFG_MAGIC_OFF, TW_CFG_MAGIC, TW_CFG_MAGIC_LEN) != 0) return TW_CFG_BAD_MAGIC;
    tw_le16(b, len, TW_CFG_VERSION_OFF, &version);
    if (version != TW_CFG_VERSION) return TW_CFG_BAD_VERSION;
    memset(&cfg, 0, sizeof cfg);
    tw_le16(b, len, TW_CFG_FLAGS_OFF, &flags);
    cfg.armed = (flags & TW_CFG_FLAG_ARMED) != 0;
    cfg.ack_frames = (flags & TW_CFG_FLAG_ACK) != 0;
    tw_le32(b, len, TW_CFG_MAX_ORDERS_OFF, &cfg.max_orders);
    tw_le32(b, len, TW_CFG_FIRST_USER_REF_NUM_OFF, &cfg.first_user_ref_num);
    tw_le16(b, len, TW_CFG_FEED_PORT_OFF, &cfg.feed_port);
    tw_le16(b, len, TW_CFG_ORDER_PORT_OFF, &cfg.order_port);
    memcpy(cfg.order_session, b + TW_CFG_ORDER_SESSION_OFF, TW_CFG_ORDER_SESSION_LEN);
    memcpy(cfg.secret, b + TW_CFG_SECRET_OFF, TW_CFG_SECRET_LEN);
    tw_le16(b, len, TW_CFG_COUNT_OFF, &count);
    /* first_user_ref_num + max_orders - 1 must fit in the 4-byte UserRefNum. */
    if (cfg.max_orders > 0 && cfg.max_orders - 1 > 0xFFFFFFFFu - cfg.first_user_ref_num)
        return TW_CFG_BAD_VALUE;
    if (cfg.feed_port == 0 || cfg.order_port == 0) return TW_CFG_BAD_VALUE;
    if (!check_padded(cfg.order_session, TW_CFG_ORDER_SESSION_LEN, 0x20)) return TW_CFG_BAD_VALUE;
    if (count > TW_MAX_INSTRUMENTS) return TW_CFG_TOO_MANY;
    if (len != TW_CFG_LEN + count * TW_CFG_INSTRUMENT_LEN) return TW_CFG_LENGTH;
    cfg.count = count;
    for (u32 i = 0; i < count; i++) {
        struct tw_instrument *in = &cfg.inst[i];
        u32 o = TW_CFG_LEN + i * TW_CFG_INSTRUMENT_LEN;
        tw_le16(b, len, o + TW_CFG_INSTRUMENT_LOCATE_OFF, &in->locate);
        memcpy(in->symbol, b + o + TW_CFG_INSTRUMENT_SYMBOL_OFF, TW_CFG_INSTRUMENT_SYMBOL_LEN);
        tw_le32(b, len, o + TW_CFG_INSTRUMENT_LIMIT_PRICE_OFF, &in->limit_price);
        tw_le32(b, len, o + TW_CFG_INSTRUMENT_BASE_QTY_OFF, &in->base_qty);
        tw_le32(b, len, o + TW_CFG_INSTRUMENT_STEP_QTY_OFF, &in->step_qty);
        tw_le32(b, len, o + TW_CFG_INSTRUMENT_TICK_OFF, &in->tick);
        tw_le32(b, len, o + TW_CFG_INSTRUMENT_MAX_ORDER_QTY_OFF, &in->max_order_qty);
        tw_le64(b, len, o + TW_CFG_INSTRUMENT_MAX_POSITION_OFF, &in->max_position);
        tw_le64(b, len, o + TW_CFG_INSTRUMENT_MAX_NOTIONAL_OFF, &in->max_notional);
        if (in->locate == 0 || !check_padded(in->symbol, TW_CFG_INSTRUMENT_SYMBOL_LEN, 0x21))
            return TW_CFG_BAD_VALUE;
        if (in->limit_price == 0 || in->tick == 0) return TW_CFG_BAD_VALUE;
        if (in->base_qty > 999999u || in->step_qty > 999999u) return TW_CFG_BAD_VALUE;
        if (in->max_order_qty == 0 || in->max_order_qty > 999999u) return TW_CFG_BAD_VALUE;
        if (in->max_position > (1ull << 62) || in->max_notional > (1ull << 62)) return TW_CFG_BAD_VALUE;
        for (u32 j = 0; j < i; j++)
            if (cfg.inst[j].locate == in->locate) return TW_CFG_DUP_LOCATE;
    }
    (void)v;
    memcpy(&s->cfg, &cfg, sizeof cfg);
    memset(&s->st, 0, sizeof s->st);
    memset(s->loc_index, 0, sizeof s->loc_index);
    for (u32 i = 0; i < count; i++) s->loc_index[s->cfg.inst[i].locate] = (u8)(i + 1);
    return TW_CFG_OK;
}

/* RFC 791 header checksum over `len` bytes (even). */
static u32 ipv4_checksum(const u8 *h, u32 len) {
    u32 sum = 0;
    for (u32 i = 0; i + 1 < len; i += 2) sum += ((u32)h[i] << 8) | h[i + 1];
    while (sum >> 16) sum = (sum & 0xFFFFu) + (sum >> 16);
    return (~sum) & 0xFFFFu;
}

/* Section 5: the order frame. `f` is the input frame, already known to hold the
 * Ethernet header, its tags (none, one or two) and the IPv4 header at l3. The tags go back
 * as they came, TPIDs and TCIs (QinQ included): they are f[TW_ETH_ETHERTYPE_OFF, l3 - 2),
 * each tag's TPID being the EtherType before it; then the IPv4 EtherType. Test:
 * packages/baremetal/tests/test_baremetal_cstrategy.py::test_qinq_feed_frames_match_the_reference. */
static u32 build_order(const struct tw_state *s, const struct tw_instrument *in, const u8 *f,
                       u32 l3, u32 urn, u64 seq, u32 qty, u32 price, u8 *out) {
    u32 o = l3 - TW_ETH_ETHERTYPE_LEN;
    memcpy(out + TW_ETH_DST_OFF, f + TW_ETH_SRC_OFF, TW_ETH_DST_LEN); /* = input source */
    memcpy(out + TW_ETH_SRC_OFF, f + TW_ETH_DST_OFF, TW_ETH_SRC_LEN); /* = input destination */
    memcpy(out + TW_ETH_ETHERTYPE_OFF, f + TW_ETH_ETHERTYPE_OFF, o - TW_ETH_ETHERTYPE_OFF);
    tw_put_be16(out + o, TW_ETH_P_IPV4);
    o += TW_ETH_ETHERTYPE_LEN;
    u8 *ip = out + o;
    ip[TW_IPV4_VERSION_IHL_OFF] = TW_IPV4_VIHL;
    ip[TW_IPV4_TOS_OFF] = 0;
    tw_put_be16(ip + TW_IPV4_TOTAL_LENGTH_OFF, TW_ORDER_IP_LEN);
    tw_put_be16(ip + TW_IPV4_IDENTIFICATION_OFF, 0);
    tw_put_be16(ip + TW_IPV4_FLAGS_FRAGMENT_OFF, TW_IP_DF);
    ip[TW_IPV4_TTL_OFF] = TW_ORDER_TTL;
    ip[TW_IPV4_PROTOCOL_OFF] = TW_IPPROTO_UDP;
    tw_put_be16(ip + TW_IPV4_CHECKSUM_OFF, 0);
    /* source = input destination IP, destination = input source IP */
    memcpy(ip + TW_IPV4_SRC_OFF, f + l3 + TW_IPV4_DST_OFF, TW_IPV4_SRC_LEN);
    memcpy(ip + TW_IPV4_DST_OFF, f + l3 + TW_IPV4_SRC_OFF, TW_IPV4_DST_LEN);
    tw_put_be16(ip + TW_IPV4_CHECKSUM_OFF, ipv4_checksum(ip, TW_IPV4_LEN));
    u8 *udp = ip + TW_IPV4_LEN;
    tw_put_be16(udp + TW_UDP_SRC_PORT_OFF, s->cfg.feed_port);
    tw_put_be16(udp + TW_UDP_DST_PORT_OFF, s->cfg.order_port);
    tw_put_be16(udp + TW_UDP_LENGTH_OFF, TW_ORDER_UDP_LEN);
    tw_put_be16(udp + TW_UDP_CHECKSUM_OFF, 0);
    u8 *mold = udp + TW_UDP_LEN;
    memcpy(mold + TW_MOLD_SESSION_OFF, s->cfg.order_session, TW_MOLD_SESSION_LEN);
    tw_put_be64(mold + TW_MOLD_SEQUENCE_OFF, seq);
    tw_put_be16(mold + TW_MOLD_COUNT_OFF, 1);
    tw_put_be16(mold + TW_MOLD_LEN, TW_OUCH_ENTER_ORDER_LEN); /* the block's length */
    u8 *ouch = mold + TW_MOLD_LEN + TW_MOLD_BLOCK_PREFIX_LEN; /* OUCH 5.0 Enter Order */
    ouch[TW_OUCH_ENTER_ORDER_MESSAGE_TYPE_OFF] = TW_OUCH_ENTER_ORDER_TYPE;
    tw_put_be32(ouch + TW_OUCH_ENTER_ORDER_USER_REF_NUM_OFF, urn);
    ouch[TW_OUCH_ENTER_ORDER_SIDE_OFF] = 'B';
    tw_put_be32(ouch + TW_OUCH_ENTER_ORDER_QUANTITY_OFF, qty);
    memcpy(ouch + TW_OUCH_ENTER_ORDER_SYMBOL_OFF, in->symbol, TW_OUCH_ENTER_ORDER_SYMBOL_LEN);
    tw_put_be64(ouch + TW_OUCH_ENTER_ORDER_PRICE_OFF, price);
    ouch[TW_OUCH_ENTER_ORDER_TIME_IN_FORCE_OFF] = '3'; /* IOC */
    ouch[TW_OUCH_ENTER_ORDER_DISPLAY_OFF] = 'Y';
    ouch[TW_OUCH_ENTER_ORDER_CAPACITY_OFF] = 'P'; /* principal */
    ouch[TW_OUCH_ENTER_ORDER_INTERMARKET_SWEEP_ELIGIBILITY_OFF] = 'N';
    ouch[TW_OUCH_ENTER_ORDER_CROSS_TYPE_OFF] = 'N';
    u8 *id = ouch + TW_OUCH_ENTER_ORDER_CL_ORD_ID_OFF; /* "TW" + UserRefNum, 12 digits */
    id[0] = 'T';
    id[1] = 'W';
    u32 d = urn;
    for (int i = 11; i >= 0; i--) { /* 12 zero-padded decimal digits, 32-bit division only */
        id[2 + i] = (u8)('0' + d % 10u);
        d /= 10u;
    }
    tw_put_be16(ouch + TW_OUCH_ENTER_ORDER_APPENDAGES_LENGTH_OFF, 0); /* no appendage */
    return o + TW_ORDER_IP_LEN;
}

/* Section 4 for one A/F trigger candidate. Returns the order length or 0. */
static u32 evaluate(struct tw_state *s, const u8 *m, u32 l, const u8 *f, u32 l3, int *sent,
                    u8 *out) {
    u32 locate, price;
    if (l == 0 || (m[0] != TW_ITCH_A_TYPE && m[0] != TW_ITCH_F_TYPE)) return 0;
    if (tw_be16(m, l, TW_ITCH_A_STOCK_LOCATE_OFF, &locate) ||
        tw_be32(m, l, TW_ITCH_A_PRICE_OFF, &price) || !tw_has(l, TW_ITCH_A_BUY_SELL_INDICATOR_OFF, 1))
        return 0; /* unreachable: the caller checked the A/F length */
    u32 idx = s->loc_index[locate & 0xFFFFu];
    if (idx == 0 || m[TW_ITCH_A_BUY_SELL_INDICATOR_OFF] != 'S') return 0;
    struct tw_instrument *in = &s->cfg.inst[idx - 1];
    if (price == 0 || price > in->limit_price) return 0;
    s->st.triggers++;
    if (*sent) { s->st.suppressed++; return 0; }
    if (!s->cfg.armed) { s->st.refused_killed++; return 0; }
    if (s->st.orders >= s->cfg.max_orders) { s->st.refused_max_orders++; return 0; }
    i64 q = (i64)in->base_qty + (i64)in->step_qty * (i64)((in->limit_price - price) / in->tick);
    if (q > (i64)in->max_order_qty) q = (i64)in->max_order_qty;
    i64 room = (i64)in->max_position - (i64)in->position; /* < 0 after a runtime limit cut */
    if (q > room) q = room;
    if (q <= 0) { s->st.refused_position++; return 0; }
    u64 cost = (u64)q * price;
    if (in->notional + cost > in->max_notional) { s->st.refused_notional++; return 0; }
    u32 urn = s->cfg.first_user_ref_num + (u32)s->st.orders;
    s->st.orders++;
    in->position += (u64)q;
    in->notional += cost;
    *sent = 1;
    return build_order(s, in, f, l3, urn, s->st.orders, (u32)q, price, out);
}

u32 tw_process(struct tw_state *s, const u8 *f, u32 n, u8 *out) {
    u32 type, l3 = TW_ETH_LEN, vihl, frag, dport, ulen, count;
    s->st.frames++;
    /* Section 2: is this a frame for the feed port? Any failure: ignored. */
    if (tw_be16(f, n, TW_ETH_ETHERTYPE_OFF, &type)) return 0;
    /* Up to two tags, 0x8100 or 0x88A8 at either depth (QinQ); a third leaves its TPID
     * where IPv4 is expected. */
    for (u32 tags = 0; (type == TW_ETH_P_8021Q || type == TW_ETH_P_8021AD) && tags < TW_MAX_TAGS;
         tags++) {
        if (!tw_has(n, l3, TW_VLAN_LEN) || tw_be16(f, n, l3 + TW_VLAN_ETHERTYPE_OFF, &type))
            return 0;
        l3 += TW_VLAN_LEN;
    }
    if (type != TW_ETH_P_IPV4 || !tw_has(n, l3, TW_IPV4_LEN)) return 0;
    vihl = f[l3 + TW_IPV4_VERSION_IHL_OFF];
    if ((vihl >> 4) != 4 || (vihl & 0xFu) < TW_IPV4_LEN / 4u) return 0;
    u32 l4 = l3 + 4u * (vihl & 0xFu);
    if (!tw_has(n, l3, 4u * (vihl & 0xFu)) || f[l3 + TW_IPV4_PROTOCOL_OFF] != TW_IPPROTO_UDP)
        return 0;
    tw_be16(f, n, l3 + TW_IPV4_FLAGS_FRAGMENT_OFF, &frag);
    if (frag & 0x3FFFu) return 0; /* More Fragments or a fragment offset */
    if (!tw_has(n, l4, TW_UDP_LEN)) return 0;
    tw_be16(f, n, l4 + TW_UDP_DST_PORT_OFF, &dport);
    if (dport != s->cfg.feed_port) return 0;
    tw_be16(f, n, l4 + TW_UDP_LENGTH_OFF, &ulen);
    if (ulen < TW_UDP_LEN) { s->st.parse_errors++; return 0; }
    u32 p = l4 + TW_UDP_LEN;
    u32 e = (n - l4 < ulen) ? n : l4 + ulen; /* min(L4 + UL, N) without overflow */
    /* Section 3: the MoldUDP64 packet in f[p:e]. */
    if (e - p < TW_MOLD_LEN) { s->st.parse_errors++; return 0; }
    tw_be16(f, e, p + TW_MOLD_COUNT_OFF, &count);
    if (count == 0 || count == TW_MOLD_END_OF_SESSION) return 0;
    u32 q = p + TW_MOLD_LEN, olen = 0;
    int sent = 0;
    for (u32 i = 0; i < count && i < TW_MAX_SCANNED; i++) {
        u32 l;
        if (tw_be16(f, e, q, &l)) { s->st.parse_errors++; break; }
        q += TW_MOLD_BLOCK_PREFIX_LEN;
        if (!tw_has(e, q, l)) { s->st.parse_errors++; break; }
        const u8 *m = f + q;
        if (l >= 1 && ((m[0] == TW_ITCH_A_TYPE && l < TW_ITCH_A_LEN) ||
                       (m[0] == TW_ITCH_F_TYPE && l < TW_ITCH_F_LEN))) {
            s->st.parse_errors++;
            break;
        }
        s->st.messages_scanned++;
        u32 r = evaluate(s, m, l, f, l3, &sent, out);
        if (r) olen = r;
        q += l;
    }
    return olen;
}
