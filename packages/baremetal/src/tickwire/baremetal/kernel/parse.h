/* Bounded parse helpers, in the style of xdp-tutorial's parsing_helpers.h.
 *
 * Every read names the buffer length and the offset; a read that would run past the end
 * fails instead of touching memory. Callers check the return value before using the
 * output, so a truncated or hostile frame can only ever produce "not ours" or a counted
 * parse error, never an out-of-bounds read. Offsets are u32 and compared by subtraction
 * (len - off) after checking off <= len, so no sum can wrap around. */
#ifndef TW_PARSE_H
#define TW_PARSE_H
#include "types.h"

/* 1 when `need` bytes starting at `off` lie inside a buffer of `len` bytes. */
static inline int tw_has(u32 len, u32 off, u32 need) { return off <= len && len - off >= need; }

static inline int tw_be16(const u8 *b, u32 len, u32 off, u32 *out) {
    if (!tw_has(len, off, 2)) return -1;
    *out = ((u32)b[off] << 8) | b[off + 1];
    return 0;
}
static inline int tw_be32(const u8 *b, u32 len, u32 off, u32 *out) {
    if (!tw_has(len, off, 4)) return -1;
    *out = ((u32)b[off] << 24) | ((u32)b[off + 1] << 16) | ((u32)b[off + 2] << 8) | b[off + 3];
    return 0;
}
/* Little-endian readers for tickwire's own binary config and control layouts. */
static inline int tw_le16(const u8 *b, u32 len, u32 off, u32 *out) {
    if (!tw_has(len, off, 2)) return -1;
    *out = (u32)b[off] | ((u32)b[off + 1] << 8);
    return 0;
}
static inline int tw_le32(const u8 *b, u32 len, u32 off, u32 *out) {
    if (!tw_has(len, off, 4)) return -1;
    *out = (u32)b[off] | ((u32)b[off + 1] << 8) | ((u32)b[off + 2] << 16) | ((u32)b[off + 3] << 24);
    return 0;
}
static inline int tw_le64(const u8 *b, u32 len, u32 off, u64 *out) {
    u32 lo, hi;
    if (tw_le32(b, len, off, &lo) || tw_le32(b, len, off + 4, &hi)) return -1;
    *out = ((u64)hi << 32) | lo;
    return 0;
}

static inline void tw_put_be16(u8 *b, u32 v) { b[0] = (u8)(v >> 8); b[1] = (u8)v; }
static inline void tw_put_be32(u8 *b, u32 v) {
    b[0] = (u8)(v >> 24); b[1] = (u8)(v >> 16); b[2] = (u8)(v >> 8); b[3] = (u8)v;
}
static inline void tw_put_be64(u8 *b, u64 v) { tw_put_be32(b, (u32)(v >> 32)); tw_put_be32(b + 4, (u32)v); }
static inline void tw_put_le32(u8 *b, u32 v) {
    b[0] = (u8)v; b[1] = (u8)(v >> 8); b[2] = (u8)(v >> 16); b[3] = (u8)(v >> 24);
}
#endif
