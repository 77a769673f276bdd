/* The control channel's commands and its length checks (kmain.c obeys the commands; the
 * hosted tests compile this header alone, without QEMU).
 *
 * A control packet, after the 14-byte Ethernet header (EtherType 0x88B5): "TWCT", the
 * 16-byte shared secret, seq (u32), command (u8), body length (u16), body; integers
 * little-endian (tickwire.baremetal.layout.CONTROL). The body length is explicit because
 * the NIC pads a frame shorter than 60 bytes with zeros: without it the kernel cannot
 * tell a body from padding, and an ARM with no body at all read a padding zero and
 * disarmed.
 *
 * tw_ctl_check() runs before a command touches anything, and answers RES_BAD_LENGTH
 * unless
 *   1. the declared body lies inside the frame, and the frame ends with it, or carries
 *      after it only the padding of a frame of at most 60 bytes; and
 *   2. the body is exactly as long as its command's: none for SYNC, STATS and
 *      HIST_RESET; 1 byte for ARM, ACK and EXIT; 4 for MAX_ORDERS; 22 for LIMITS;
 *      48 + 46 * count for CONFIG (count read from the body); 2 + length for FRAME.
 * An unknown command is RES_UNKNOWN. So a short, long or truncated command is answered
 * with an error and changes nothing. */
#ifndef TW_CONTROL_H
#define TW_CONTROL_H
#include "parse.h"
#include "strategy.h"

#define TW_ETH_HDR 14u
#define TW_ETH_ZLEN 60u /* the shortest Ethernet frame (no FCS): shorter ones are padded */
#define TW_CTL_HDR 27u  /* magic 4, secret 16, seq 4, command 1, body length 2 */
#define TW_CTL_LIMITS 22u

enum {
    CMD_SYNC = 1,
    CMD_STATS = 2,
    CMD_CONFIG = 3,
    CMD_ARM = 4,
    CMD_MAX_ORDERS = 5,
    CMD_LIMITS = 6,
    CMD_EXIT = 7,
    CMD_FRAME = 8,
    CMD_ACK = 9,
    CMD_HIST_RESET = 10,
};
enum { RES_OK = 0, RES_BAD_LENGTH = 1, RES_BAD_VALUE = 2, RES_UNKNOWN = 3 };

/* The body of command `cmd` must be `blen` bytes long: RES_OK, RES_BAD_LENGTH or
 * RES_UNKNOWN. */
static inline u32 tw_ctl_size(u32 cmd, const u8 *body, u32 blen) {
    u32 v, want;
    switch (cmd) {
    case CMD_SYNC:
    case CMD_STATS:
    case CMD_HIST_RESET:
        want = 0;
        break;
    case CMD_ARM:
    case CMD_ACK:
    case CMD_EXIT:
        want = 1;
        break;
    case CMD_MAX_ORDERS:
        want = 4;
        break;
    case CMD_LIMITS:
        want = TW_CTL_LIMITS;
        break;
    case CMD_CONFIG:
        if (tw_le16(body, blen, 46, &v)) return RES_BAD_LENGTH;
        want = TW_CFG_HEADER + v * TW_CFG_INSTRUMENT; /* v < 2^16: no overflow */
        break;
    case CMD_FRAME:
        if (tw_le16(body, blen, 0, &v)) return RES_BAD_LENGTH;
        want = 2 + v;
        break;
    default:
        return RES_UNKNOWN;
    }
    return blen == want ? RES_OK : RES_BAD_LENGTH;
}

/* Check an authenticated control frame `f` of `n` bytes; on RES_OK, `*body` and `*blen`
 * are its body and the body's declared (and checked) length. */
static inline u32 tw_ctl_check(const u8 *f, u32 n, const u8 **body, u32 *blen) {
    const u32 off = TW_ETH_HDR + TW_CTL_HDR;
    u32 len;
    if (!tw_has(n, 0, off) || tw_le16(f, n, off - 2, &len)) return RES_BAD_LENGTH;
    if (!tw_has(n, off, len)) return RES_BAD_LENGTH;        /* body past the frame */
    if (n - off != len && n > TW_ETH_ZLEN) return RES_BAD_LENGTH; /* bytes after it */
    *body = f + off;
    *blen = len;
    return tw_ctl_size(f[off - 3], *body, len);
}
#endif
