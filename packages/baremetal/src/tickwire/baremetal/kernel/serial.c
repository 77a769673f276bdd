#include "serial.h"
#include "io.h"

#define COM1 0x3F8

void serial_init(void) {
    outb(COM1 + 1, 0x00); /* no interrupts: the kernel only polls */
    outb(COM1 + 3, 0x80); /* DLAB on to set the divisor */
    outb(COM1 + 0, 0x01); /* 115200 baud (divisor 1) */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8 bits, no parity, one stop bit */
    outb(COM1 + 2, 0xC7); /* FIFO on, cleared */
    outb(COM1 + 4, 0x03); /* DTR, RTS */
}

void serial_putc(char c) {
    /* Bounded wait for the transmit holding register; QEMU's UART is always ready,
     * real hardware within microseconds. A stuck UART must not hang the trading loop. */
    for (u32 i = 0; i < 100000u && !(inb(COM1 + 5) & 0x20); i++) cpu_relax();
    outb(COM1, (u8)c);
}

void serial_puts(const char *s) {
    while (*s) serial_putc(*s++);
}

void serial_u64(u64 v) {
    static const u64 pow10[20] = {
        10000000000000000000ull, 1000000000000000000ull, 100000000000000000ull,
        10000000000000000ull, 1000000000000000ull, 100000000000000ull, 10000000000000ull,
        1000000000000ull, 100000000000ull, 10000000000ull, 1000000000ull, 100000000ull,
        10000000ull, 1000000ull, 100000ull, 10000ull, 1000ull, 100ull, 10ull, 1ull};
    int started = 0;
    for (int i = 0; i < 20; i++) {
        char d = '0';
        while (v >= pow10[i]) { /* repeated subtraction: at most 9 per digit */
            v -= pow10[i];
            d++;
        }
        if (d != '0' || started || i == 19) {
            serial_putc(d);
            started = 1;
        }
    }
}

void serial_hex(u64 v, int digits) {
    for (int i = digits - 1; i >= 0; i--) serial_putc("0123456789abcdef"[(v >> (4 * i)) & 0xF]);
}

void serial_kv(const char *key, u64 v) {
    serial_putc(' ');
    serial_puts(key);
    serial_putc('=');
    serial_u64(v);
}
