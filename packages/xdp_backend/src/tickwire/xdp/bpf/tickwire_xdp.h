/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * tickwire_xdp.h: the layouts shared by the XDP program and its userspace control plane.
 *
 * tickwire.xdp.layout mirrors every struct here with ctypes. The generated header carries
 * their offsets and sizes (checked below at compile time) and tests/test_xdp_program.py
 * compares the BTF that clang emits for the object with them too, so a field added here
 * without its Python twin fails the build instead of silently shifting the others.
 * All fields are host byte order; wire values are converted when read or written.
 */
#ifndef TICKWIRE_XDP_H
#define TICKWIRE_XDP_H

#include <linux/types.h>
#include <linux/bpf.h>

/* Every wire offset and length (ITCH, MoldUDP64, OUCH 5.0, Ethernet/802.1Q/IPv4/UDP),
 * the threshold contract's constants and the program's own (TW_MAX_FRAME, TW_MIRROR_*)
 * are generated from the Python tables into tickwire_layout.h (tickwire.threshold.cheader
 * with the layouts of tickwire.xdp.layout); the TW_CHECK_ macros at the end hold each
 * struct here to its ctypes twin at compile time. */
#include "tickwire_layout.h"

struct tw_config {
	__u32 armed; /* the kill switch: 0 refuses every trigger as "killed" */
	__u32 mirror;
	__u64 max_orders;
	__u64 first_user_ref_num;
	__u16 feed_port;
	__u16 order_port;
	__u8 order_session[TW_MOLD_SESSION_LEN]; /* space padded */
	__u8 _pad[2];
};

struct tw_instrument {
	__u32 slot; /* index into tw_state.position / notional, < TW_MAX_INSTRUMENTS */
	__u8 symbol[TW_ITCH_A_STOCK_LEN]; /* space padded */
	__u32 _pad;
	__u64 limit_price;
	__u64 base_qty;
	__u64 step_qty;
	__u64 tick;
	__u64 max_order_qty;
	__u64 max_position;
	__u64 max_notional;
};

/* One bit per ITCH stock locate: set when the locate is in tw_instruments. A filter in
 * front of the hash: a failed hash lookup costs far more than this test, and most Add
 * Orders on a feed are for instruments nobody watches. Set after the hash entry is
 * written, cleared before it is deleted, so the filter never hides a watched locate. */
struct tw_watched {
	__u64 bits[65536 / 64];
};

struct tw_state {
	struct bpf_spin_lock lock;
	__u32 _pad;
	__u64 orders; /* orders sent: the next MoldUDP64 sequence number is orders + 1 */
	__u64 position[TW_MAX_INSTRUMENTS];
	__u64 notional[TW_MAX_INSTRUMENTS];
};

struct tw_stats {
	__u64 frames;
	__u64 messages_scanned;
	__u64 triggers;
	__u64 orders;
	__u64 suppressed;
	__u64 parse_errors;
	__u64 refused_killed;
	__u64 refused_max_orders;
	__u64 refused_position;
	__u64 refused_notional;
	__u64 mirrored;       /* frames copied to the ring buffer */
	__u64 mirror_dropped; /* frames not copied: the ring buffer was full */
	__u64 tx_errors;      /* orders decided but not sent: no tailroom to build the frame */
};

struct tw_mirror_record {
	__u32 frame_len;  /* length of the frame as received */
	__u32 copied_len; /* bytes of it in data (at most TW_MIRROR_MAX) */
	__u32 ordered;    /* 1 when the frame was turned into an order */
	__u32 _pad;
	__u8 data[TW_MIRROR_MAX];
};

TW_CHECK_XDP_CONFIG(tw_config);
TW_CHECK_XDP_INSTRUMENT(tw_instrument);
TW_CHECK_XDP_STATE(tw_state);
TW_CHECK_XDP_WATCHED(tw_watched);
TW_CHECK_XDP_STATS(tw_stats);
TW_CHECK_XDP_MIRROR_RECORD(tw_mirror_record);
TW_CHECK_COUNTERS(tw_stats); /* the contract's counters first, in its order */

#endif
