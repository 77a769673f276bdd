/* COM1 (16550 UART at 0x3F8): the kernel's only text channel to the host. */
#ifndef TW_SERIAL_H
#define TW_SERIAL_H
#include "types.h"
void serial_init(void);
void serial_putc(char c);
void serial_puts(const char *s);
void serial_u64(u64 v);          /* decimal, no 64-bit division needed */
void serial_hex(u64 v, int digits);
void serial_kv(const char *key, u64 v); /* " key=value" */
#endif
