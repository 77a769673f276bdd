/* PCI, the e1000 NIC, QEMU fw_cfg and isa-debug-exit. */
#ifndef TW_HW_H
#define TW_HW_H
#include "types.h"

/* PCI configuration mechanism #1 (ports 0xCF8/0xCFC). Finds vendor:device on any
 * bus/slot/function; returns 1 and the location when found. */
int pci_find(u16 vendor, u16 device, u32 *bus, u32 *slot, u32 *func);
u32 pci_read32(u32 bus, u32 slot, u32 func, u32 off);
void pci_write32(u32 bus, u32 slot, u32 func, u32 off, u32 v);

#define E1000_RX_RING 256 /* multiple of 8 descriptors: RDLEN must be 128-byte aligned */
#define E1000_TX_RING 64
#define E1000_BUF 2048
#define E1000_MAX_FRAME 16384 /* RCTL.LPE: QEMU's e1000 accepts up to 16 KiB */

struct e1000_rx_desc {
    volatile u64 addr;
    volatile u16 length;
    volatile u16 csum;
    volatile u8 status;
    volatile u8 errors;
    volatile u16 special;
} __attribute__((packed));

struct e1000_tx_desc {
    volatile u64 addr;
    volatile u16 length;
    volatile u8 cso;
    volatile u8 cmd;
    volatile u8 status;
    volatile u8 css;
    volatile u16 special;
} __attribute__((packed));

#define RXD_STAT_DD 0x01
#define RXD_STAT_EOP 0x02

int e1000_init(uintptr_t mmio);
/* The next received frame, or NULL. A frame spanning several 2048-byte descriptors
 * (RCTL.LPE) is gathered into a static buffer; *len is its length without FCS and
 * *t_done the rdtsc taken when its first descriptor was seen done. */
const u8 *e1000_rx_poll(u32 *len, u64 *t_done);
/* Hand the descriptors of the frame returned last back to the NIC (RDT one behind). */
void e1000_rx_release(void);
/* Queue one frame; `t_tail` (may be NULL) receives rdtsc just before the TDT write.
 * Returns 0, or -1 when the ring stayed full (the frame is dropped and counted). */
int e1000_tx(const u8 *frame, u32 len, u64 *t_tail);
void e1000_mac(u8 mac[6]);
extern u64 e1000_tx_stalls, e1000_rx_frames, e1000_tx_frames, e1000_rx_oversize;

/* fw_cfg: copies the named file into buf (at most cap bytes). Returns its size, or -1
 * when fw_cfg is absent, -2 when the file is missing, -3 when it is larger than cap. */
int fwcfg_read_file(const char *name, u8 *buf, u32 cap);

/* isa-debug-exit at 0xF4: QEMU exits with status (code << 1) | 1. */
void qemu_exit(u8 code) __attribute__((noreturn));
#endif
