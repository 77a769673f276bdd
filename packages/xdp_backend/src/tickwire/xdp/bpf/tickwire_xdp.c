// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * tickwire_xdp.c: the threshold strategy of docs/threshold.md in the XDP hook.
 *
 * Reads Ethernet (up to two VLAN tags, QinQ) / IPv4 (any IHL) / UDP frames carrying
 * MoldUDP64 packets of ITCH 5.0 messages, decides on Add Orders (A, F) exactly as the
 * reference engine (tickwire.threshold.reference) does, and turns the frame into a
 * MoldUDP64-framed OUCH 5.0 Enter Order in place, sent back with XDP_TX. Everything it
 * does not act on is XDP_PASS, so the kernel stack (and the userspace engine) still gets
 * it; frames turned into orders are first copied into a ring buffer for userspace.
 *
 * Style: xdp-tutorial's parsing_helpers.h. Every read goes through a helper that checks
 * the bound against data_end before the access. Two kinds of bound are kept apart:
 *  - the *contract* bound E (end of the UDP payload, section 2 of docs/threshold.md),
 *    checked on plain integer offsets, which decides parse errors;
 *  - the *memory* bound data_end, checked on pointers, which is what the verifier needs.
 * The first always implies the second (E <= frame length), so the second never changes
 * an outcome; it only proves memory safety.
 *
 * Build: clang -O2 -g -target bpf -c tickwire_xdp.c (tickwire.xdp.build does it).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "tickwire_xdp.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* ---- maps --------------------------------------------------------------------------- */

/* The global configuration: one entry, written by userspace, read on every frame, so a
 * change (the kill switch above all) takes effect on the next frame. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_config);
} tw_config SEC(".maps");

/* The watched instruments, by ITCH stock locate (host order). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TW_MAX_INSTRUMENTS);
	__type(key, __u32);
	__type(value, struct tw_instrument);
} tw_instruments SEC(".maps");

/* The locates in tw_instruments, as a bitmap (see struct tw_watched). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_watched);
} tw_watched SEC(".maps");

/* The strategy's mutable state (orders sent, position and notional per instrument slot),
 * shared by every CPU and changed only under its spin lock: limits are global, so two
 * CPUs must not both spend the last share of a position. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_state);
} tw_state SEC(".maps");

/* Counters, per CPU (no atomics on the hot path); userspace sums the CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tw_stats);
} tw_stats SEC(".maps");

/* Copies of market data frames for userspace (see tw_config.mirror). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TW_MIRROR_RING_BYTES);
} tw_mirror SEC(".maps");

/* Ring buffers carry no value type, so without this the record's layout would be missing
 * from the object's BTF, which the tests compare with tickwire.xdp.layout. */
struct tw_mirror_record *tw_mirror_record_btf __attribute__((unused));

/* ---- what this file assumes of the generated layouts ---------------------------------- */

/* The scanner reads A and F at A's offsets, with these widths; the order frame writes
 * the Enter Order's fields with these widths and copies the feed's symbol into it. */
_Static_assert(TW_ITCH_F_STOCK_LOCATE_OFF == TW_ITCH_A_STOCK_LOCATE_OFF &&
	       TW_ITCH_F_BUY_SELL_INDICATOR_OFF == TW_ITCH_A_BUY_SELL_INDICATOR_OFF &&
	       TW_ITCH_F_PRICE_OFF == TW_ITCH_A_PRICE_OFF, "A and F share the fields read");
_Static_assert(TW_ITCH_A_STOCK_LOCATE_LEN == 2 && TW_ITCH_A_PRICE_LEN == 4 &&
	       TW_ITCH_A_BUY_SELL_INDICATOR_LEN == 1, "rd16 locate, rd32 price, one side byte");
_Static_assert(TW_ETH_ETHERTYPE_LEN == 2 && TW_VLAN_ETHERTYPE_LEN == 2 &&
	       TW_IPV4_TOTAL_LENGTH_LEN == 2 && TW_IPV4_FLAGS_FRAGMENT_LEN == 2 &&
	       TW_IPV4_CHECKSUM_LEN == 2 && TW_IPV4_SRC_LEN == 4 && TW_IPV4_DST_LEN == 4 &&
	       TW_UDP_DST_PORT_LEN == 2 && TW_UDP_LENGTH_LEN == 2 && TW_MOLD_COUNT_LEN == 2 &&
	       TW_MOLD_SEQUENCE_LEN == 8 && TW_MOLD_BLOCK_PREFIX_LEN == 2,
	       "the widths the frame is read and written with");
_Static_assert(TW_OUCH_ENTER_ORDER_USER_REF_NUM_LEN == 4 && TW_OUCH_ENTER_ORDER_QUANTITY_LEN == 4 &&
	       TW_OUCH_ENTER_ORDER_PRICE_LEN == 8 &&
	       TW_OUCH_ENTER_ORDER_CL_ORD_ID_LEN == 2 + 12 &&
	       TW_OUCH_ENTER_ORDER_APPENDAGES_LENGTH_LEN == 2 &&
	       TW_OUCH_ENTER_ORDER_SYMBOL_LEN == TW_ITCH_A_STOCK_LEN,
	       "the Enter Order as tw_emit writes it");
_Static_assert(TW_ETH_DST_LEN + TW_ETH_SRC_LEN == TW_ETH_ETHERTYPE_OFF, "macs[] holds both");
/* Section 2 rule 1 reads up to two tags (two nested reads below), and the order keeps the
 * input's tags where they are: from the EtherType at 12 to L3 - 2, since each tag's TPID
 * is the EtherType before it and an EtherType ends the Ethernet header and each tag. */
_Static_assert(TW_MAX_TAGS == 2, "the program reads exactly two tags");
_Static_assert(TW_ETH_ETHERTYPE_OFF + 2 == TW_ETH_LEN && TW_VLAN_ETHERTYPE_OFF + 2 == TW_VLAN_LEN,
	       "an EtherType ends the Ethernet header and each tag");

/* Version 4, a header without options: the first byte of every IPv4 header written. */
#define TW_IPV4_VIHL (0x40 | (TW_IPV4_LEN / 4))
/* The TTL of an order (docs/threshold.md section 5). */
#define TW_ORDER_TTL 64

/* The packed wire structs of tickwire_layout.h, referenced so the object's BTF carries
 * them: the tests compare their offsets with the Python tables. */
struct tw_wire_eth *tw_wire_eth_btf __attribute__((unused));
struct tw_wire_vlan *tw_wire_vlan_btf __attribute__((unused));
struct tw_wire_ipv4 *tw_wire_ipv4_btf __attribute__((unused));
struct tw_wire_udp *tw_wire_udp_btf __attribute__((unused));
struct tw_wire_mold *tw_wire_mold_btf __attribute__((unused));
struct tw_wire_itch_a *tw_wire_itch_a_btf __attribute__((unused));
struct tw_wire_itch_f *tw_wire_itch_f_btf __attribute__((unused));
struct tw_wire_ouch_enter_order *tw_wire_ouch_enter_order_btf __attribute__((unused));

/* ---- parsing helpers ---------------------------------------------------------------- */

/* A pointer to len bytes at offset off of the frame, or NULL when they are not all inside
 * it. The mask bounds the offset for the verifier, which only tracks packet ranges below
 * 64 KiB; a linear XDP buffer is one page, so for any frame XDP can see the mask is a
 * no-op (TW_MAX_FRAME). Callers have already checked off + len against the contract
 * bound, which never exceeds the frame. */
static __always_inline __u8 *pkt_at(void *data, void *data_end, __u64 off, __u32 len)
{
	__u8 *ptr = (__u8 *)data + (off & (TW_MAX_FRAME - 1));

	if ((void *)(ptr + len) > data_end)
		return NULL;
	return ptr;
}

/* Big-endian loads: one load and a byte swap each, where byte-wise loads take up to four
 * loads and six shifts and ors. Packet offsets here are often odd: the verifier allows
 * unaligned packet access where the CPU handles it well (x86-64, arm64: where XDP runs
 * natively). */
static __always_inline __u16 rd16(const __u8 *p)
{
	return bpf_ntohs(*(const __u16 *)p);
}

static __always_inline __u32 rd32(const __u8 *p)
{
	return bpf_ntohl(*(const __u32 *)p);
}

static __always_inline void wr16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static __always_inline void wr32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static __always_inline void wr64(__u8 *p, __u64 v)
{
	wr32(p, v >> 32);
	wr32(p + 4, (__u32)v);
}

/* The outcome of one trigger (docs/threshold.md section 4). */
enum tw_verdict {
	TW_SENT = 0,
	TW_KILLED,
	TW_MAX_ORDERS,
	TW_POSITION,
	TW_NOTIONAL,
};

/* What the order frame needs, captured at the moment the order is decided. */
struct tw_order {
	__u64 seq_index; /* orders sent before this one */
	__u64 qty;
	__u64 price;
	__u8 symbol[TW_ITCH_A_STOCK_LEN];
};

/* Rules 2-6 of section 4 for one trigger. Rule 1 (suppressed) is the caller's. */
static __always_inline int tw_decide(struct tw_config *cfg, struct tw_instrument *inst,
				     struct tw_state *state, __u64 price, struct tw_order *out)
{
	__u64 qty, room, pos, slot;
	int verdict;

	if (!cfg->armed)
		return TW_KILLED;
	/* The part of the quantity that does not depend on the state, outside the lock.
	 * tick >= 1 is validated by userspace; BPF division by zero yields 0 anyway. */
	qty = inst->base_qty + inst->step_qty * ((inst->limit_price - price) / inst->tick);
	if (qty > inst->max_order_qty)
		qty = inst->max_order_qty;
	slot = inst->slot & (TW_MAX_INSTRUMENTS - 1);

	bpf_spin_lock(&state->lock);
	if (state->orders >= cfg->max_orders) {
		verdict = TW_MAX_ORDERS;
	} else {
		pos = state->position[slot];
		room = inst->max_position > pos ? inst->max_position - pos : 0;
		if (qty > room)
			qty = room;
		if (qty == 0) {
			verdict = TW_POSITION;
		} else if (state->notional[slot] + qty * price > inst->max_notional) {
			verdict = TW_NOTIONAL;
		} else {
			out->seq_index = state->orders;
			state->orders += 1;
			state->position[slot] = pos + qty;
			state->notional[slot] += qty * price;
			verdict = TW_SENT;
		}
	}
	bpf_spin_unlock(&state->lock);
	if (verdict == TW_SENT) {
		out->qty = qty;
		out->price = price;
		__builtin_memcpy(out->symbol, inst->symbol, sizeof(out->symbol));
	}
	return verdict;
}

/* Copy the frame (up to TW_MIRROR_MAX bytes) into the ring buffer, before it is rewritten. */
static __always_inline void tw_mirror_frame(struct xdp_md *ctx, struct tw_stats *st, __u32 n,
					    __u32 ordered)
{
	struct tw_mirror_record *rec;
	__u32 len = n;

	if (len > TW_MIRROR_MAX)
		len = TW_MIRROR_MAX;
	rec = bpf_ringbuf_reserve(&tw_mirror, sizeof(*rec), 0);
	if (!rec) {
		st->mirror_dropped += 1;
		return;
	}
	rec->frame_len = n;
	rec->ordered = ordered;
	rec->copied_len = 0;
	/* len is 1..TW_MIRROR_MAX (a frame has at least 14 bytes); the mask is a no-op that
	 * proves it to the verifier, the empty asm stops clang from folding it away. */
	len -= 1;
	asm volatile("" : "+r"(len));
	len &= TW_MIRROR_MAX - 1;
	if (bpf_xdp_load_bytes(ctx, 0, rec->data, len + 1) == 0)
		rec->copied_len = len + 1;
	bpf_ringbuf_submit(rec, 0);
	st->mirrored += 1;
}

/* Build the order frame of docs/threshold.md section 5 in place and return the verdict.
 *
 * The input's VLAN tags (``tags`` of them, 0..2: TPIDs and TCIs) go back as they came,
 * QinQ included, and they are already where the order needs them: bytes 12 .. L3 - 2 of
 * the frame, which bpf_xdp_adjust_tail leaves alone; only the EtherType after them is
 * written. Test: packages/xdp_backend/tests/test_xdp_differential.py::test_qinq_feed_frames_match_the_reference. */
static __always_inline int tw_emit(struct xdp_md *ctx, struct tw_stats *st, struct tw_config *cfg,
				   const struct tw_order *ord, __u32 n, int tags,
				   const __u8 *macs /* dst[6], src[6] of the input */,
				   __u32 saddr, __u32 daddr /* input's, host order */)
{
	__u32 out_len = tags == 2 ? TW_ORDER_FRAME_QINQ_LEN :
			tags == 1 ? TW_ORDER_FRAME_TAGGED_LEN : TW_ORDER_FRAME_LEN;
	void *data, *data_end;
	__u8 *eth, *ip, *udp, *mold, *ouch;
	__u32 sum, ref;
	__u64 v;
	int i;

	if (bpf_xdp_adjust_tail(ctx, (int)out_len - (int)n) != 0) {
		/* No tailroom: the decision stands (it was counted), but no frame can be sent. */
		st->tx_errors += 1;
		return XDP_ABORTED;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + TW_ETH_LEN) > data_end)
		return XDP_ABORTED;
	/* Ethernet: addresses swapped, the tags kept in place, then the IPv4 EtherType. */
	__builtin_memcpy(eth + TW_ETH_DST_OFF, macs + TW_ETH_SRC_OFF, TW_ETH_DST_LEN);
	__builtin_memcpy(eth + TW_ETH_SRC_OFF, macs + TW_ETH_DST_OFF, TW_ETH_SRC_LEN);
	if (tags == 2)
		ip = eth + TW_ETH_LEN + 2 * TW_VLAN_LEN;
	else if (tags == 1)
		ip = eth + TW_ETH_LEN + TW_VLAN_LEN;
	else
		ip = eth + TW_ETH_LEN;
	if ((void *)(ip + TW_ORDER_IP_LEN) > data_end)
		return XDP_ABORTED;
	wr16(ip - TW_ETH_ETHERTYPE_LEN, TW_ETH_P_IPV4);

	/* IPv4: no options, TOS 0, ID 0, DF, TTL 64, UDP, addresses swapped. */
	ip[TW_IPV4_VERSION_IHL_OFF] = TW_IPV4_VIHL;
	ip[TW_IPV4_TOS_OFF] = 0;
	wr16(ip + TW_IPV4_TOTAL_LENGTH_OFF, TW_ORDER_IP_LEN);
	wr16(ip + TW_IPV4_IDENTIFICATION_OFF, 0);
	wr16(ip + TW_IPV4_FLAGS_FRAGMENT_OFF, TW_IP_DF);
	ip[TW_IPV4_TTL_OFF] = TW_ORDER_TTL;
	ip[TW_IPV4_PROTOCOL_OFF] = TW_IPPROTO_UDP;
	wr32(ip + TW_IPV4_SRC_OFF, daddr);
	wr32(ip + TW_IPV4_DST_OFF, saddr);
	/* The header's 16-bit words; the checksum word is zero and the addresses added below. */
	sum = (TW_IPV4_VIHL << 8) + TW_ORDER_IP_LEN + TW_IP_DF + ((TW_ORDER_TTL << 8) | TW_IPPROTO_UDP);
	sum += (daddr >> 16) + (daddr & 0xffff) + (saddr >> 16) + (saddr & 0xffff);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	wr16(ip + TW_IPV4_CHECKSUM_OFF, (__u16)~sum);

	/* UDP: feed port -> order port, no checksum. */
	udp = ip + TW_IPV4_LEN;
	wr16(udp + TW_UDP_SRC_PORT_OFF, cfg->feed_port);
	wr16(udp + TW_UDP_DST_PORT_OFF, cfg->order_port);
	wr16(udp + TW_UDP_LENGTH_OFF, TW_ORDER_UDP_LEN);
	wr16(udp + TW_UDP_CHECKSUM_OFF, 0);

	/* MoldUDP64: the order session, its own sequence number, one block. */
	mold = udp + TW_UDP_LEN;
	__builtin_memcpy(mold + TW_MOLD_SESSION_OFF, cfg->order_session, TW_MOLD_SESSION_LEN);
	wr64(mold + TW_MOLD_SEQUENCE_OFF, ord->seq_index + 1);
	wr16(mold + TW_MOLD_COUNT_OFF, 1);
	wr16(mold + TW_MOLD_LEN, TW_OUCH_ENTER_ORDER_LEN); /* the block's length */

	/* OUCH 5.0 Enter Order. */
	ouch = mold + TW_MOLD_LEN + TW_MOLD_BLOCK_PREFIX_LEN;
	ref = cfg->first_user_ref_num + (__u32)ord->seq_index;
	ouch[TW_OUCH_ENTER_ORDER_MESSAGE_TYPE_OFF] = TW_OUCH_ENTER_ORDER_TYPE;
	wr32(ouch + TW_OUCH_ENTER_ORDER_USER_REF_NUM_OFF, ref);
	ouch[TW_OUCH_ENTER_ORDER_SIDE_OFF] = 'B';
	wr32(ouch + TW_OUCH_ENTER_ORDER_QUANTITY_OFF, (__u32)ord->qty);
	__builtin_memcpy(ouch + TW_OUCH_ENTER_ORDER_SYMBOL_OFF, ord->symbol, TW_OUCH_ENTER_ORDER_SYMBOL_LEN);
	wr64(ouch + TW_OUCH_ENTER_ORDER_PRICE_OFF, ord->price);
	ouch[TW_OUCH_ENTER_ORDER_TIME_IN_FORCE_OFF] = '3'; /* IOC */
	ouch[TW_OUCH_ENTER_ORDER_DISPLAY_OFF] = 'Y';
	ouch[TW_OUCH_ENTER_ORDER_CAPACITY_OFF] = 'P'; /* principal */
	ouch[TW_OUCH_ENTER_ORDER_INTERMARKET_SWEEP_ELIGIBILITY_OFF] = 'N';
	ouch[TW_OUCH_ENTER_ORDER_CROSS_TYPE_OFF] = 'N';
	/* ClOrdID: "TW" + UserRefNum in 12 zero-padded digits */
	ouch[TW_OUCH_ENTER_ORDER_CL_ORD_ID_OFF] = 'T';
	ouch[TW_OUCH_ENTER_ORDER_CL_ORD_ID_OFF + 1] = 'W';
	/* Decimal digits without division (BPF has no multiply-high, so clang would emit a
	 * real divide per digit, ~30 cycles each): for any 32-bit v,
	 * v / 10 == (v * 0xCCCCCCCD) >> 35 exactly. */
	v = ref;
#pragma unroll
	for (i = 11; i >= 0; i--) {
		__u64 q = (v * 0xCCCCCCCDULL) >> 35;

		ouch[TW_OUCH_ENTER_ORDER_CL_ORD_ID_OFF + 2 + i] = '0' + (__u8)(v - q * 10);
		v = q;
	}
	wr16(ouch + TW_OUCH_ENTER_ORDER_APPENDAGES_LENGTH_OFF, 0); /* no appendage */
	return XDP_TX;
}

/* ---- the program -------------------------------------------------------------------- */

SEC("xdp")
int tickwire_threshold(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tw_config *cfg;
	struct tw_state *state;
	struct tw_stats *st;
	struct tw_instrument *inst, *last_inst = NULL;
	struct tw_watched *watched;
	struct tw_order ord = {};
	__u8 macs[TW_ETH_DST_LEN + TW_ETH_SRC_LEN];
	__u8 *p8;
	__u32 zero = 0, n, l3, l4, ihl, ulen, count, locate, last_locate = 0;
	__u64 p, e, q, msg, len, i = 0;
	__u32 saddr, daddr;
	__u16 ethertype;
	__u64 price;
	int tags = 0, sent = 0, verdict;

	cfg = bpf_map_lookup_elem(&tw_config, &zero);
	state = bpf_map_lookup_elem(&tw_state, &zero);
	st = bpf_map_lookup_elem(&tw_stats, &zero);
	watched = bpf_map_lookup_elem(&tw_watched, &zero);
	if (!cfg || !state || !st || !watched)
		return XDP_PASS;
	st->frames += 1;
	n = (__u32)(data_end - data);
	if (n >= TW_MAX_FRAME) /* cannot happen without multi-buffer XDP, which we do not ask for */
		return XDP_PASS;

	/* Section 2: is this a frame for the feed port? Any "no" is XDP_PASS, uncounted. */
	p8 = pkt_at(data, data_end, 0, TW_ETH_LEN);
	if (!p8)
		return XDP_PASS;
	__builtin_memcpy(macs, p8, sizeof(macs));
	l3 = TW_ETH_LEN;
	ethertype = rd16(p8 + TW_ETH_ETHERTYPE_OFF);
	/* Up to two tags, 0x8100 or 0x88A8 at either depth (QinQ); a third leaves its TPID
	 * where IPv4 is expected: "not IPv4". */
	if (ethertype == TW_ETH_P_8021Q || ethertype == TW_ETH_P_8021AD) {
		p8 = pkt_at(data, data_end, 0, TW_ETH_LEN + TW_VLAN_LEN);
		if (!p8)
			return XDP_PASS;
		ethertype = rd16(p8 + TW_ETH_LEN + TW_VLAN_ETHERTYPE_OFF);
		tags = 1;
		l3 = TW_ETH_LEN + TW_VLAN_LEN;
		if (ethertype == TW_ETH_P_8021Q || ethertype == TW_ETH_P_8021AD) {
			p8 = pkt_at(data, data_end, 0, TW_ETH_LEN + 2 * TW_VLAN_LEN);
			if (!p8)
				return XDP_PASS;
			ethertype = rd16(p8 + TW_ETH_LEN + TW_VLAN_LEN + TW_VLAN_ETHERTYPE_OFF);
			tags = 2;
			l3 = TW_ETH_LEN + 2 * TW_VLAN_LEN;
		}
	}
	if (ethertype != TW_ETH_P_IPV4)
		return XDP_PASS;
	p8 = pkt_at(data, data_end, l3, TW_IPV4_LEN);
	if (!p8)
		return XDP_PASS;
	ihl = p8[TW_IPV4_VERSION_IHL_OFF] & 0x0f;
	if ((p8[TW_IPV4_VERSION_IHL_OFF] >> 4) != 4 || ihl < TW_IPV4_LEN / 4)
		return XDP_PASS;
	if (p8[TW_IPV4_PROTOCOL_OFF] != TW_IPPROTO_UDP)
		return XDP_PASS;
	if (rd16(p8 + TW_IPV4_FLAGS_FRAGMENT_OFF) & 0x3fff) /* More Fragments, or an offset */
		return XDP_PASS;
	saddr = rd32(p8 + TW_IPV4_SRC_OFF);
	daddr = rd32(p8 + TW_IPV4_DST_OFF);
	l4 = l3 + 4 * ihl;
	if (l4 > n) /* the options run past the end */
		return XDP_PASS;
	p8 = pkt_at(data, data_end, l4, TW_UDP_LEN);
	if (!p8)
		return XDP_PASS;
	if (rd16(p8 + TW_UDP_DST_PORT_OFF) != cfg->feed_port)
		return XDP_PASS;
	ulen = rd16(p8 + TW_UDP_LENGTH_OFF);
	if (ulen < TW_UDP_LEN) {
		st->parse_errors += 1;
		goto done;
	}
	p = l4 + TW_UDP_LEN;
	e = l4 + ulen;
	if (e > n)
		e = n;

	/* Section 3: the MoldUDP64 header and at most TW_MAX_SCANNED blocks. */
	if (e - p < TW_MOLD_LEN) {
		st->parse_errors += 1;
		goto done;
	}
	p8 = pkt_at(data, data_end, p, TW_MOLD_LEN);
	if (!p8) {
		st->parse_errors += 1;
		goto done;
	}
	count = rd16(p8 + TW_MOLD_COUNT_OFF);
	if (count == 0 || count == TW_MOLD_END_OF_SESSION)
		goto done;
	q = p + TW_MOLD_LEN;
	for (i = 0; i < TW_MAX_SCANNED; i++) {
		if (i >= count)
			break;
		/* One memory check for the length field and the bytes an Add Order needs.
		 * When it fails this is one of the last blocks: if it is a valid block at all
		 * (q + 2 + len <= E <= N) it is shorter than an Add Order. */
		p8 = pkt_at(data, data_end, q, TW_MOLD_BLOCK_PREFIX_LEN + TW_ITCH_A_LEN);
		if (!p8) {
			p8 = pkt_at(data, data_end, q, TW_MOLD_BLOCK_PREFIX_LEN);
			if (!p8) /* q + 2 > N >= E */
				goto bad_block;
			len = rd16(p8);
			msg = q + TW_MOLD_BLOCK_PREFIX_LEN;
			q = msg + len;
			if (q > e)
				goto bad_block;
			if (len) {
				p8 = pkt_at(data, data_end, msg, 1);
				if (!p8 || p8[0] == TW_ITCH_A_TYPE || p8[0] == TW_ITCH_F_TYPE)
					goto bad_block;
			}
			continue;
		}
		len = rd16(p8);
		q += TW_MOLD_BLOCK_PREFIX_LEN + len;
		/* The block runs past the end (a length field past E gives this too). */
		if (q > e)
			goto bad_block;
		p8 += TW_MOLD_BLOCK_PREFIX_LEN;
		if (len < TW_ITCH_A_LEN) {
			/* Too short for an Add Order: scanned, unless it claims to be one. */
			if (len && (p8[0] == TW_ITCH_A_TYPE || p8[0] == TW_ITCH_F_TYPE))
				goto bad_block;
			continue;
		}
		if (p8[0] == TW_ITCH_F_TYPE && len < TW_ITCH_F_LEN)
			goto bad_block;
		/* Section 4: a trigger is a sell Add Order for a watched locate, 0 < p <= limit.
		 * A and F share these offsets (asserted above). */
		if ((p8[0] != TW_ITCH_A_TYPE && p8[0] != TW_ITCH_F_TYPE) ||
		    p8[TW_ITCH_A_BUY_SELL_INDICATOR_OFF] != 'S')
			continue;
		price = rd32(p8 + TW_ITCH_A_PRICE_OFF);
		if (price == 0)
			continue;
		locate = rd16(p8 + TW_ITCH_A_STOCK_LOCATE_OFF);
		if (!((watched->bits[(locate >> 6) & 1023] >> (locate & 63)) & 1))
			continue;
		/* Feeds send runs of one instrument; remember the last lookup of this frame.
		 * (Locate 0 is never watched, so the initial last_locate never matches.) */
		if (locate == last_locate) {
			inst = last_inst;
		} else {
			inst = bpf_map_lookup_elem(&tw_instruments, &locate);
			last_locate = locate;
			last_inst = inst;
		}
		if (!inst || price > inst->limit_price)
			continue;
		st->triggers += 1;
		if (sent) {
			st->suppressed += 1;
			continue;
		}
		verdict = tw_decide(cfg, inst, state, price, &ord);
		switch (verdict) {
		case TW_SENT:
			st->orders += 1;
			sent = 1;
			break;
		case TW_KILLED:
			st->refused_killed += 1;
			break;
		case TW_MAX_ORDERS:
			st->refused_max_orders += 1;
			break;
		case TW_POSITION:
			st->refused_position += 1;
			break;
		default:
			st->refused_notional += 1;
			break;
		}
	}
	goto scanned_all;
bad_block:
	/* A frame counts one parse error; the blocks before the bad one keep their effects. */
	st->parse_errors += 1;
scanned_all:
	/* Every block before a bad one is scanned, so the block index is the count; stored
	 * once: one map write per frame, not per message. */
	st->messages_scanned += i;

done:
	if (cfg->mirror == TW_MIRROR_ALL || (sent && cfg->mirror == TW_MIRROR_ORDERS))
		tw_mirror_frame(ctx, st, n, sent);
	if (!sent)
		return XDP_PASS;
	return tw_emit(ctx, st, cfg, &ord, n, tags, macs, saddr, daddr);
}

/* Passes everything. Attached natively to the *peer* of a veth that runs
 * tickwire_threshold: a veth delivers XDP_TX frames only to a peer whose NAPI runs, and an
 * XDP program on the peer is what turns it on. Loaded on its own (the loader disables
 * autoload of the other program), so it costs no verification of the strategy. */
SEC("xdp")
int tickwire_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
