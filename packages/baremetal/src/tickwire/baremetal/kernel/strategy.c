/* The threshold strategy (docs/threshold.md sections 2-5) over raw frames.
 *
 * Every read of the frame goes through the bounded helpers of parse.h. The arithmetic
 * follows the contract's bounds: (limit - p) / tick is a 32-bit division (both operands
 * are u32, so no libgcc 64-bit division is needed in this 32-bit kernel), step * that is
 * below 2^52, and position/notional stay below 2^62, so signed 64-bit math never wraps. */
#include "strategy.h"
#include "parse.h"

#define ETH_P_8021Q 0x8100u
#define ETH_P_IPV4 0x0800u
#define IPPROTO_UDP 17u
#define ITCH_ADD 0x41u      /* 'A' */
#define ITCH_ADD_MPID 0x46u /* 'F' */
#define ITCH_ADD_LEN 36u
#define ITCH_ADD_MPID_LEN 40u
#define ITCH_OFF_LOCATE 1u
#define ITCH_OFF_SIDE 19u
#define ITCH_OFF_PRICE 32u
#define MOLD_HEADER 20u

u32 tw_state_size(void) { return (u32)sizeof(struct tw_state); }

static int printable(u8 c, u8 lo) { return c >= lo && c <= 0x7E; }

/* A space-padded text field: 1..max characters in [lo, 0x7E], then only spaces.
 * The Python side pads with spaces, and a symbol may not contain one (lo = 0x21). */
static int check_padded(const u8 *p, u32 width, u8 lo) {
    u32 used = width;
    while (used > 0 && p[used - 1] == ' ') used--;
    if (used == 0) return 0;
    for (u32 i = 0; i < used; i++)
        if (!printable(p[i], lo)) return 0;
    return 1;
}

int tw_load_config(struct tw_state *s, const u8 *b, u32 len) {
    static struct tw_config cfg; /* parsed aside so an invalid blob changes nothing */
    u32 version, flags, count, v;
    if (!tw_has(len, 0, TW_CFG_HEADER)) return TW_CFG_SHORT;
    if (memcmp(b, TW_CFG_MAGIC, 4) != 0) return TW_CFG_BAD_MAGIC;
    tw_le16(b, len, 4, &version);
    if (version != TW_CFG_VERSION) return TW_CFG_BAD_VERSION;
    memset(&cfg, 0, sizeof cfg);
    tw_le16(b, len, 6, &flags);
    cfg.armed = (flags & TW_CFG_FLAG_ARMED) != 0;
    cfg.ack_frames = (flags & TW_CFG_FLAG_ACK) != 0;
    tw_le32(b, len, 8, &cfg.max_orders);
    tw_le32(b, len, 12, &cfg.first_user_ref_num);
    tw_le16(b, len, 16, &cfg.feed_port);
    tw_le16(b, len, 18, &cfg.order_port);
    memcpy(cfg.order_session, b + 20, 10);
    memcpy(cfg.secret, b + 30, TW_SECRET_LEN);
    tw_le16(b, len, 46, &count);
    /* first_user_ref_num + max_orders - 1 must fit in the 4-byte UserRefNum. */
    if (cfg.max_orders > 0 && cfg.max_orders - 1 > 0xFFFFFFFFu - cfg.first_user_ref_num)
        return TW_CFG_BAD_VALUE;
    if (cfg.feed_port == 0 || cfg.order_port == 0) return TW_CFG_BAD_VALUE;
    if (!check_padded(cfg.order_session, 10, 0x20)) return TW_CFG_BAD_VALUE;
    if (count > TW_MAX_INSTRUMENTS) return TW_CFG_TOO_MANY;
    if (len != TW_CFG_HEADER + count * TW_CFG_INSTRUMENT) return TW_CFG_LENGTH;
    cfg.count = count;
    for (u32 i = 0; i < count; i++) {
        struct tw_instrument *in = &cfg.inst[i];
        u32 o = TW_CFG_HEADER + i * TW_CFG_INSTRUMENT;
        tw_le16(b, len, o, &in->locate);
        memcpy(in->symbol, b + o + 2, 8);
        tw_le32(b, len, o + 10, &in->limit_price);
        tw_le32(b, len, o + 14, &in->base_qty);
        tw_le32(b, len, o + 18, &in->step_qty);
        tw_le32(b, len, o + 22, &in->tick);
        tw_le32(b, len, o + 26, &in->max_order_qty);
        tw_le64(b, len, o + 30, &in->max_position);
        tw_le64(b, len, o + 38, &in->max_notional);
        if (in->locate == 0 || !check_padded(in->symbol, 8, 0x21)) return TW_CFG_BAD_VALUE;
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
 * Ethernet header, the tag (when `tagged`) and the IPv4 addresses at l3 + 12 .. l3 + 20. */
static u32 build_order(const struct tw_state *s, const struct tw_instrument *in, const u8 *f,
                       int tagged, u32 l3, u32 urn, u64 seq, u32 qty, u32 price, u8 *out) {
    u32 o = 0;
    memcpy(out, f + 6, 6);     /* destination = input source */
    memcpy(out + 6, f, 6);     /* source = input destination */
    o = 12;
    if (tagged) {
        tw_put_be16(out + 12, ETH_P_8021Q);
        out[14] = f[14];
        out[15] = f[15];
        o = 16;
    }
    tw_put_be16(out + o, ETH_P_IPV4);
    o += 2;
    u8 *ip = out + o;
    ip[0] = 0x45;
    ip[1] = 0;
    tw_put_be16(ip + 2, 97);
    tw_put_be16(ip + 4, 0);
    tw_put_be16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    ip[10] = ip[11] = 0;
    memcpy(ip + 12, f + l3 + 16, 4); /* source = input destination IP */
    memcpy(ip + 16, f + l3 + 12, 4); /* destination = input source IP */
    tw_put_be16(ip + 10, ipv4_checksum(ip, 20));
    u8 *udp = ip + 20;
    tw_put_be16(udp, s->cfg.feed_port);
    tw_put_be16(udp + 2, s->cfg.order_port);
    tw_put_be16(udp + 4, 77);
    tw_put_be16(udp + 6, 0);
    u8 *mold = udp + 8;
    memcpy(mold, s->cfg.order_session, 10);
    tw_put_be64(mold + 10, seq);
    tw_put_be16(mold + 18, 1);
    tw_put_be16(mold + 20, 47);
    u8 *ouch = mold + 22; /* OUCH 5.0 Enter Order, 47 bytes */
    ouch[0] = 'O';
    tw_put_be32(ouch + 1, urn);
    ouch[5] = 'B';
    tw_put_be32(ouch + 6, qty);
    memcpy(ouch + 10, in->symbol, 8);
    tw_put_be64(ouch + 18, price);
    ouch[26] = '3';
    ouch[27] = 'Y';
    ouch[28] = 'P';
    ouch[29] = 'N';
    ouch[30] = 'N';
    ouch[31] = 'T';
    ouch[32] = 'W';
    u32 d = urn;
    for (int i = 11; i >= 0; i--) { /* 12 zero-padded decimal digits, 32-bit division only */
        ouch[33 + i] = (u8)('0' + d % 10u);
        d /= 10u;
    }
    tw_put_be16(ouch + 45, 0); /* no appendage */
    return o + 20 + 8 + 22 + 47;
}

/* Section 4 for one A/F trigger candidate. Returns the order length or 0. */
static u32 evaluate(struct tw_state *s, const u8 *m, u32 l, const u8 *f, int tagged, u32 l3,
                    int *sent, u8 *out) {
    u32 locate, price;
    if (l == 0 || (m[0] != ITCH_ADD && m[0] != ITCH_ADD_MPID)) return 0;
    if (tw_be16(m, l, ITCH_OFF_LOCATE, &locate) || tw_be32(m, l, ITCH_OFF_PRICE, &price) ||
        !tw_has(l, ITCH_OFF_SIDE, 1))
        return 0; /* unreachable: the caller checked the A/F length */
    u32 idx = s->loc_index[locate & 0xFFFFu];
    if (idx == 0 || m[ITCH_OFF_SIDE] != 'S') return 0;
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
    return build_order(s, in, f, tagged, l3, urn, s->st.orders, (u32)q, price, out);
}

u32 tw_process(struct tw_state *s, const u8 *f, u32 n, u8 *out) {
    u32 type, tci, l3 = 14, vihl, frag, dport, ulen, count;
    int tagged = 0;
    s->st.frames++;
    /* Section 2: is this a frame for the feed port? Any failure: ignored. */
    if (tw_be16(f, n, 12, &type)) return 0;
    if (type == ETH_P_8021Q) {
        if (tw_be16(f, n, 14, &tci) || tw_be16(f, n, 16, &type)) return 0;
        tagged = 1;
        l3 = 18;
    }
    if (type != ETH_P_IPV4 || !tw_has(n, l3, 20)) return 0;
    vihl = f[l3];
    if ((vihl >> 4) != 4 || (vihl & 0xFu) < 5) return 0;
    u32 l4 = l3 + 4u * (vihl & 0xFu);
    if (!tw_has(n, l3, 4u * (vihl & 0xFu)) || f[l3 + 9] != IPPROTO_UDP) return 0;
    tw_be16(f, n, l3 + 6, &frag);
    if (frag & 0x3FFFu) return 0; /* More Fragments or a fragment offset */
    if (!tw_has(n, l4, 8)) return 0;
    tw_be16(f, n, l4 + 2, &dport);
    if (dport != s->cfg.feed_port) return 0;
    tw_be16(f, n, l4 + 4, &ulen);
    if (ulen < 8) { s->st.parse_errors++; return 0; }
    u32 p = l4 + 8;
    u32 e = (n - l4 < ulen) ? n : l4 + ulen; /* min(L4 + UL, N) without overflow */
    /* Section 3: the MoldUDP64 packet in f[p:e]. */
    if (e - p < MOLD_HEADER) { s->st.parse_errors++; return 0; }
    tw_be16(f, e, p + 18, &count);
    if (count == 0 || count == 0xFFFFu) return 0;
    u32 q = p + MOLD_HEADER, olen = 0;
    int sent = 0;
    for (u32 i = 0; i < count && i < TW_MAX_SCANNED; i++) {
        u32 l;
        if (tw_be16(f, e, q, &l)) { s->st.parse_errors++; break; }
        q += 2;
        if (!tw_has(e, q, l)) { s->st.parse_errors++; break; }
        const u8 *m = f + q;
        if (l >= 1 && ((m[0] == ITCH_ADD && l < ITCH_ADD_LEN) ||
                       (m[0] == ITCH_ADD_MPID && l < ITCH_ADD_MPID_LEN))) {
            s->st.parse_errors++;
            break;
        }
        s->st.messages_scanned++;
        u32 r = evaluate(s, m, l, f, tagged, l3, &sent, out);
        if (r) olen = r;
        q += l;
    }
    return olen;
}
