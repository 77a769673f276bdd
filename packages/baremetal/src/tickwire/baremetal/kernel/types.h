/* Fixed-width types for a freestanding build (no libc; gcc's own <stdint.h> is enough). */
#ifndef TW_TYPES_H
#define TW_TYPES_H
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t i64;

/* The kernel is built without libc; these three are all it needs (freestanding gcc may
 * still emit calls to memcpy/memset for struct copies, so they must exist). */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
