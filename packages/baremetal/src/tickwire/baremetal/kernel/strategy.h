/* The threshold strategy of docs/threshold.md, in freestanding C.
 *
 * Nothing here touches hardware: tw_process() takes one Ethernet frame and may write one
 * order frame, so the same file builds into the kernel and, hosted, into a shared library
 * the test-suite drives directly against the Python reference. */
#ifndef TW_STRATEGY_H
#define TW_STRATEGY_H
#include "types.h"
/* Generated from the Python tables (tickwire.threshold.cheader with the layouts of
 * tickwire.baremetal.layout): every wire offset and length, the threshold contract's
 * constants (TW_MAX_INSTRUMENTS, TW_MAX_SCANNED, TW_ORDER_*), and the layouts of the
 * config blob (TW_CFG_*, TW_CFG_INSTRUMENT_*), control packets and replies. */
#include "tickwire_layout.h"

#define TW_ORDER_MAX TW_ORDER_FRAME_QINQ_LEN /* room for the longest order frame (QinQ) */

/* Binary configuration blob (little-endian), built by tickwire.baremetal.layout.CONFIG:
 * a TW_CFG_LEN-byte header, then `count` instruments of TW_CFG_INSTRUMENT_LEN bytes. */

struct tw_instrument {
    u32 locate;
    u8 symbol[TW_CFG_INSTRUMENT_SYMBOL_LEN]; /* space-padded */
    u32 limit_price, base_qty, step_qty, tick, max_order_qty;
    u64 max_position, max_notional;
    u64 position, notional; /* run state: shares and Price(4) x shares committed */
};

struct tw_config {
    u32 armed;
    u32 ack_frames; /* host transport option, not part of the strategy */
    u32 max_orders;
    u32 first_user_ref_num;
    u32 feed_port, order_port;
    u8 order_session[TW_CFG_ORDER_SESSION_LEN];
    u8 secret[TW_SECRET_LEN];
    u32 count;
    struct tw_instrument inst[TW_MAX_INSTRUMENTS];
};

struct tw_stats {
    u64 frames, messages_scanned, triggers, orders, suppressed, parse_errors;
    u64 refused_killed, refused_max_orders, refused_position, refused_notional;
};

struct tw_state {
    struct tw_config cfg;
    struct tw_stats st;
    u8 loc_index[65536]; /* locate -> instrument index + 1, 0 = not watched */
};

/* Errors of tw_load_config (negative); 0 is success. */
enum {
    TW_CFG_OK = 0,
    TW_CFG_SHORT = -1,
    TW_CFG_BAD_MAGIC = -2,
    TW_CFG_BAD_VERSION = -3,
    TW_CFG_BAD_VALUE = -4,
    TW_CFG_TOO_MANY = -5,
    TW_CFG_DUP_LOCATE = -6,
    TW_CFG_LENGTH = -7,
};

/* Parse and validate a config blob into `s` and reset all run state and statistics.
 * On error `s` is left untouched. */
int tw_load_config(struct tw_state *s, const u8 *blob, u32 len);

/* Feed one frame of `n` bytes. Returns the order frame length written to `out`
 * (TW_ORDER_MAX bytes of room) or 0 when the frame sends no order. */
u32 tw_process(struct tw_state *s, const u8 *frame, u32 n, u8 *out);

/* Size of struct tw_state, for hosted callers that allocate it. */
u32 tw_state_size(void);
#endif
