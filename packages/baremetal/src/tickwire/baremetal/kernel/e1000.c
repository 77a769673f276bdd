/* Intel 8254x (QEMU "e1000", 8086:100E) driver: legacy descriptors, no interrupts.
 *
 * Register numbers and bits are from the PCI/PCI-X Family of Gigabit Ethernet
 * Controllers Software Developer's Manual (8254x), sections 13 (registers) and 14
 * (initialisation). The receive ring starts with RDH = 0 and RDT = N - 1: the NIC owns
 * every descriptor but the one "behind the head", so head == tail never means "full".
 * Buffers are 2048 bytes (RCTL.BSIZE = 00, BSEX = 0); RCTL.LPE lets frames up to 16 KiB
 * in, spread over several descriptors, which this driver gathers. */
#include "hw.h"
#include "io.h"

#define REG_CTRL 0x0000
#define REG_STATUS 0x0008
#define REG_IMC 0x00D8
#define REG_RCTL 0x0100
#define REG_TCTL 0x0400
#define REG_TIPG 0x0410
#define REG_RDBAL 0x2800
#define REG_RDBAH 0x2804
#define REG_RDLEN 0x2808
#define REG_RDH 0x2810
#define REG_RDT 0x2818
#define REG_TDBAL 0x3800
#define REG_TDBAH 0x3804
#define REG_TDLEN 0x3808
#define REG_TDH 0x3810
#define REG_TDT 0x3818
#define REG_MTA 0x5200
#define REG_RAL0 0x5400
#define REG_RAH0 0x5404

#define CTRL_ASDE (1u << 5)
#define CTRL_SLU (1u << 6)
#define CTRL_RST (1u << 26)
#define CTRL_VME (1u << 30) /* off: 802.1Q tags stay in the buffer, as the contract needs */

#define RCTL_EN (1u << 1)
#define RCTL_UPE (1u << 3) /* unicast promiscuous: the contract ignores the destination MAC */
#define RCTL_MPE (1u << 4)
#define RCTL_LPE (1u << 5)
#define RCTL_BAM (1u << 15)
#define RCTL_SECRC (1u << 26) /* strip the FCS: descriptor lengths are frame lengths */

#define TCTL_EN (1u << 1)
#define TCTL_PSP (1u << 3)
#define TCTL_CT_SHIFT 4
#define TCTL_COLD_SHIFT 12

#define TXD_CMD_EOP 0x01
#define TXD_CMD_IFCS 0x02
#define TXD_CMD_RS 0x08
#define TXD_STAT_DD 0x01

static uintptr_t base;
static struct e1000_rx_desc rx_ring[E1000_RX_RING] __attribute__((aligned(128)));
static struct e1000_tx_desc tx_ring[E1000_TX_RING] __attribute__((aligned(128)));
static u8 rx_buf[E1000_RX_RING][E1000_BUF] __attribute__((aligned(16)));
static u8 tx_buf[E1000_TX_RING][E1000_BUF] __attribute__((aligned(16)));
static u8 gather[E1000_MAX_FRAME];
static u32 rx_cur, rx_last, rx_tail, tx_cur; /* rx_tail shadows RDT: no MMIO read */
u64 e1000_tx_stalls, e1000_rx_frames, e1000_tx_frames, e1000_rx_oversize;

static u32 rd(u32 reg) { return mmio_read32(base + reg); }
static void wr(u32 reg, u32 v) { mmio_write32(base + reg, v); }

void e1000_mac(u8 mac[6]) {
    u32 lo = rd(REG_RAL0), hi = rd(REG_RAH0);
    for (int i = 0; i < 4; i++) mac[i] = (u8)(lo >> (8 * i));
    mac[4] = (u8)hi;
    mac[5] = (u8)(hi >> 8);
}

int e1000_init(uintptr_t mmio) {
    base = mmio;
    wr(REG_IMC, 0xFFFFFFFFu); /* no interrupts: the kernel spin-polls */
    wr(REG_CTRL, rd(REG_CTRL) | CTRL_RST);
    for (u32 i = 0; i < 1000000u && (rd(REG_CTRL) & CTRL_RST); i++) cpu_relax();
    if (rd(REG_CTRL) & CTRL_RST) return -1;
    wr(REG_IMC, 0xFFFFFFFFu);
    wr(REG_CTRL, (rd(REG_CTRL) | CTRL_SLU | CTRL_ASDE) & ~CTRL_VME);
    for (u32 i = 0; i < 128; i++) wr(REG_MTA + 4 * i, 0);

    for (u32 i = 0; i < E1000_RX_RING; i++) {
        rx_ring[i].addr = (u64)(uintptr_t)rx_buf[i];
        rx_ring[i].status = 0;
    }
    wr(REG_RDBAL, (u32)(uintptr_t)rx_ring);
    wr(REG_RDBAH, 0);
    wr(REG_RDLEN, (u32)sizeof rx_ring);
    wr(REG_RDH, 0);
    wr(REG_RDT, E1000_RX_RING - 1);
    rx_tail = E1000_RX_RING - 1;
    rx_cur = 0;
    wr(REG_RCTL, RCTL_EN | RCTL_UPE | RCTL_MPE | RCTL_LPE | RCTL_BAM | RCTL_SECRC);

    for (u32 i = 0; i < E1000_TX_RING; i++) {
        tx_ring[i].addr = (u64)(uintptr_t)tx_buf[i];
        tx_ring[i].cmd = 0;
        tx_ring[i].status = TXD_STAT_DD; /* free */
    }
    wr(REG_TDBAL, (u32)(uintptr_t)tx_ring);
    wr(REG_TDBAH, 0);
    wr(REG_TDLEN, (u32)sizeof tx_ring);
    wr(REG_TDH, 0);
    wr(REG_TDT, 0);
    tx_cur = 0;
    wr(REG_TCTL, TCTL_EN | TCTL_PSP | (0x0Fu << TCTL_CT_SHIFT) | (0x40u << TCTL_COLD_SHIFT));
    wr(REG_TIPG, 0x0060200Au); /* IPGT 10, IPGR1 8, IPGR2 6 (manual, 13.4.34) */
    return (rd(REG_STATUS) & 0x2u) ? 0 : 1; /* 1: link not (yet) up, not fatal */
}

const u8 *e1000_rx_poll(u32 *len, u64 *t_done) {
    struct e1000_rx_desc *d = &rx_ring[rx_cur];
    if (!(d->status & RXD_STAT_DD)) return 0;
    *t_done = rdtsc(); /* the latency histogram starts when descriptor-done is seen */
    compiler_barrier();
    if (d->status & RXD_STAT_EOP) { /* the common case: one descriptor, read in place */
        *len = d->length;
        rx_last = rx_cur;
        rx_cur = (rx_cur + 1) % E1000_RX_RING;
        e1000_rx_frames++;
        return rx_buf[rx_last];
    }
    /* A frame over several descriptors: QEMU writes them back in order within one
     * receive call, so the rest follow; wait for each, bounded. */
    u32 total = 0, i = rx_cur;
    for (u32 used = 0; used < E1000_RX_RING - 1; used++) {
        struct e1000_rx_desc *x = &rx_ring[i];
        u32 spins = 0;
        while (!(x->status & RXD_STAT_DD) && spins++ < 100000000u) cpu_relax();
        compiler_barrier();
        u32 l = x->length;
        if (total + l <= E1000_MAX_FRAME) memcpy(gather + total, rx_buf[i], l);
        else e1000_rx_oversize++;
        total += l;
        u8 st = x->status;
        rx_last = i;
        i = (i + 1) % E1000_RX_RING;
        if (st & RXD_STAT_EOP) break;
    }
    rx_cur = i;
    e1000_rx_frames++;
    *len = total > E1000_MAX_FRAME ? E1000_MAX_FRAME : total;
    return gather;
}

void e1000_rx_release(void) {
    /* Every descriptor from the previous tail up to rx_last goes back to the NIC. */
    u32 i = rx_tail;
    do {
        i = (i + 1) % E1000_RX_RING;
        rx_ring[i].status = 0;
    } while (i != rx_last);
    compiler_barrier();
    rx_tail = rx_last;
    wr(REG_RDT, rx_last);
}

int e1000_tx(const u8 *frame, u32 len, u64 *t_tail) {
    struct e1000_tx_desc *d = &tx_ring[tx_cur];
    u32 spins = 0;
    while (!(d->status & TXD_STAT_DD)) {
        if (spins++ > 10000000u) {
            e1000_tx_stalls++;
            return -1;
        }
        cpu_relax();
    }
    if (len > E1000_BUF) len = E1000_BUF;
    memcpy(tx_buf[tx_cur], frame, len);
    d->length = (u16)len;
    d->cmd = TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS;
    d->status = 0;
    tx_cur = (tx_cur + 1) % E1000_TX_RING;
    compiler_barrier();
    if (t_tail) *t_tail = rdtsc();
    wr(REG_TDT, tx_cur);
    e1000_tx_frames++;
    return 0;
}
