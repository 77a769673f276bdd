/* tickwire bare-metal kernel: boot, find the e1000, load the config from fw_cfg, then
 * spin-poll the receive ring forever, running the threshold strategy on every frame.
 *
 * Control packets (EtherType 0x88B5, "TWCT" + the 16-byte shared secret from the boot
 * config) change the kill switch and limits, reload the config, request statistics,
 * deliver a frame with its true length (QEMU's e1000 pads frames shorter than 60 bytes)
 * and end the run. A 0x88B5 frame without the right secret is an ordinary input frame to
 * the strategy (which ignores it) and is counted as rejected. An authenticated command
 * whose body is not exactly its command's length is answered RES_BAD_LENGTH and changes
 * nothing (control.h). */
#include "control.h"
#include "hw.h"
#include "io.h"
#include "parse.h"
#include "serial.h"
#include "strategy.h"

#define ETH_P_TWCTL 0x88B5u /* IEEE 802 local experimental EtherType 1 */
#define CTL_MAGIC "TWCT"
#define ACK_MAGIC "TWAK"
#define CFG_MAX (TW_CFG_HEADER + TW_MAX_INSTRUMENTS * TW_CFG_INSTRUMENT)

enum { ACK_FRAME = 1, ACK_DONE = 2 };

/* Log-linear latency histogram: exact below 16 cycles, then 16 sub-buckets per power of
 * two (under 6.25 % relative width), 32-bit cycle counts. tickwire.baremetal.stats
 * decodes the same indices. */
#define HIST_BUCKETS 464
static u64 hist[HIST_BUCKETS];
static u64 hist_count, hist_sum, hist_min, hist_max;

static struct tw_state state;
static u8 cfg_blob[CFG_MAX];
static u8 order[TW_ORDER_MAX];
static u8 mac[6];
static const char *accel = "unknown";
static u64 ctl_ok, ctl_rejected, ctl_errors;

static u32 hist_index(u32 c) {
    if (c < 16) return c;
    u32 msb = 31u - (u32)__builtin_clz(c);
    return 16u + (msb - 4u) * 16u + ((c >> (msb - 4u)) & 0xFu);
}
static void hist_add(u64 cycles) {
    u32 c = cycles > 0xFFFFFFFFull ? 0xFFFFFFFFu : (u32)cycles;
    hist[hist_index(c)]++;
    hist_count++;
    hist_sum += c;
    if (hist_count == 1 || c < hist_min) hist_min = c;
    if (c > hist_max) hist_max = c;
}
static void hist_reset(void) {
    memset(hist, 0, sizeof hist);
    hist_count = hist_sum = hist_min = hist_max = 0;
}

static void dump_stats(u32 seq, const char *why) {
    const struct tw_stats *st = &state.st;
    serial_puts("STATS");
    serial_kv("seq", seq);
    serial_puts(" why=");
    serial_puts(why);
    serial_puts(" accel=");
    serial_puts(accel);
    serial_kv("frames", st->frames);
    serial_kv("messages_scanned", st->messages_scanned);
    serial_kv("triggers", st->triggers);
    serial_kv("orders", st->orders);
    serial_kv("suppressed", st->suppressed);
    serial_kv("parse_errors", st->parse_errors);
    serial_kv("killed", st->refused_killed);
    serial_kv("max_orders", st->refused_max_orders);
    serial_kv("position", st->refused_position);
    serial_kv("notional", st->refused_notional);
    serial_kv("armed", state.cfg.armed);
    serial_kv("ctl_ok", ctl_ok);
    serial_kv("ctl_rejected", ctl_rejected);
    serial_kv("ctl_errors", ctl_errors);
    serial_kv("rx_frames", e1000_rx_frames);
    serial_kv("tx_frames", e1000_tx_frames);
    serial_kv("tx_stalls", e1000_tx_stalls);
    serial_kv("rx_oversize", e1000_rx_oversize);
    serial_putc('\n');
    for (u32 i = 0; i < state.cfg.count; i++) {
        serial_puts("INST");
        serial_kv("locate", state.cfg.inst[i].locate);
        serial_kv("shares", state.cfg.inst[i].position);
        serial_kv("notional", state.cfg.inst[i].notional);
        serial_putc('\n');
    }
    serial_puts("HIST");
    serial_kv("count", hist_count);
    serial_kv("sum", hist_sum);
    serial_kv("min", hist_min);
    serial_kv("max", hist_max);
    serial_putc('\n');
    for (u32 i = 0; i < HIST_BUCKETS; i++)
        if (hist[i]) {
            serial_puts("B");
            serial_kv("i", i);
            serial_kv("n", hist[i]);
            serial_putc('\n');
        }
    serial_puts("END");
    serial_kv("seq", seq);
    serial_putc('\n');
}

/* A small reply frame to the host: "TWAK", kind, then two u32 and one u64 (LE). */
static void send_ack(u32 kind, u32 a, u32 b, u64 c) {
    static u8 f[60];
    memset(f, 0, sizeof f);
    memset(f, 0xFF, 6);
    memcpy(f + 6, mac, 6);
    tw_put_be16(f + 12, ETH_P_TWCTL);
    memcpy(f + 14, ACK_MAGIC, 4);
    f[18] = (u8)kind;
    tw_put_le32(f + 20, a);
    tw_put_le32(f + 24, b);
    tw_put_le32(f + 28, (u32)c);
    tw_put_le32(f + 32, (u32)(c >> 32));
    e1000_tx(f, sizeof f, 0);
}

static void strategy_frame(const u8 *f, u32 n, u64 t_done) {
    u64 t_tail = 0;
    u32 olen = tw_process(&state, f, n, order);
    if (olen && e1000_tx(order, olen, &t_tail) == 0) hist_add(t_tail - t_done);
    if (state.cfg.ack_frames)
        send_ack(ACK_FRAME, (u32)state.st.frames, (u32)state.st.orders, olen ? 1 : 0);
}

/* Constant-time compare: the secret must not leak through timing. */
static int secret_ok(const u8 *p) {
    u8 diff = 0;
    for (u32 i = 0; i < TW_SECRET_LEN; i++) diff |= (u8)(p[i] ^ state.cfg.secret[i]);
    return diff == 0;
}

static u32 control(const u8 *f, u32 n, u32 seq, u32 cmd, u64 t_done) {
    const u8 *body;
    u32 blen, v, loc;
    u64 pos, notional;
    u32 res = tw_ctl_check(f, n, &body, &blen); /* exact lengths, before anything changes */
    if (res != RES_OK) return res;
    switch (cmd) {
    case CMD_SYNC:
        return RES_OK;
    case CMD_STATS:
        dump_stats(seq, "request");
        return RES_OK;
    case CMD_CONFIG: {
        u8 secret[TW_SECRET_LEN];
        memcpy(secret, state.cfg.secret, TW_SECRET_LEN);
        /* The reloaded blob's secret field is ignored: the boot secret stays. */
        if (tw_load_config(&state, body, blen) != TW_CFG_OK) return RES_BAD_VALUE;
        memcpy(state.cfg.secret, secret, TW_SECRET_LEN);
        hist_reset();
        return RES_OK;
    }
    case CMD_ARM:
        if (blen < 1 || body[0] > 1) return RES_BAD_VALUE;
        state.cfg.armed = body[0];
        return RES_OK;
    case CMD_MAX_ORDERS:
        if (tw_le32(body, blen, 0, &v)) return RES_BAD_LENGTH;
        if (v > 0 && v - 1 > 0xFFFFFFFFu - state.cfg.first_user_ref_num) return RES_BAD_VALUE;
        state.cfg.max_orders = v;
        return RES_OK;
    case CMD_LIMITS:
        if (tw_le16(body, blen, 0, &loc) || tw_le32(body, blen, 2, &v) ||
            tw_le64(body, blen, 6, &pos) || tw_le64(body, blen, 14, &notional))
            return RES_BAD_LENGTH;
        if (!state.loc_index[loc] || v == 0 || v > 999999u || pos > (1ull << 62) ||
            notional > (1ull << 62))
            return RES_BAD_VALUE;
        {
            struct tw_instrument *in = &state.cfg.inst[state.loc_index[loc] - 1];
            in->max_order_qty = v;
            in->max_position = pos;
            in->max_notional = notional;
        }
        return RES_OK;
    case CMD_EXIT:
        dump_stats(seq, "exit");
        qemu_exit(blen >= 1 ? body[0] : 0);
    case CMD_FRAME: {
        u32 inner_type;
        if (tw_le16(body, blen, 0, &v) || !tw_has(blen, 2, v)) return RES_BAD_LENGTH;
        /* A wrapped frame is never executed as a control packet (no nesting). */
        if (tw_be16(body + 2, v, 12, &inner_type) == 0 && inner_type == ETH_P_TWCTL) ctl_rejected++;
        strategy_frame(body + 2, v, t_done);
        return RES_OK;
    }
    case CMD_ACK:
        if (blen < 1 || body[0] > 1) return RES_BAD_VALUE;
        state.cfg.ack_frames = body[0];
        return RES_OK;
    case CMD_HIST_RESET:
        hist_reset();
        return RES_OK;
    default:
        return RES_UNKNOWN;
    }
}

static void handle(const u8 *f, u32 n, u64 t_done) {
    u32 type, seq, cmd;
    if (tw_be16(f, n, 12, &type) == 0 && type == ETH_P_TWCTL) {
        if (tw_has(n, 14, TW_CTL_HDR) && memcmp(f + 14, CTL_MAGIC, 4) == 0 && secret_ok(f + 18)) {
            tw_le32(f, n, 34, &seq);
            cmd = f[38];
            u32 res = control(f, n, seq, cmd, t_done);
            if (res == RES_OK) ctl_ok++;
            else ctl_errors++;
            /* FRAME is answered by its frame's ack, unless it was refused. */
            if (cmd != CMD_FRAME || res != RES_OK) send_ack(ACK_DONE, seq, res, state.st.frames);
            return;
        }
        ctl_rejected++; /* and, like any frame, it goes to the strategy */
    }
    strategy_frame(f, n, t_done);
}

static void detect_accel(void) {
    u32 a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    if (!(c & (1u << 31))) { /* no hypervisor bit */
        accel = "none";
        return;
    }
    cpuid(0x40000000u, &a, &b, &c, &d);
    char sig[13];
    memcpy(sig, &b, 4);
    memcpy(sig + 4, &c, 4);
    memcpy(sig + 8, &d, 4);
    sig[12] = 0;
    if (memcmp(sig, "KVMKVMKVM", 9) == 0) accel = "kvm";
    else if (memcmp(sig, "TCGTCGTCGTCG", 12) == 0) accel = "tcg";
    else accel = "other";
}

static void fatal(const char *what, u8 code) {
    serial_puts("FATAL ");
    serial_puts(what);
    serial_putc('\n');
    qemu_exit(code);
}

void kmain(u32 magic, u32 mbi) {
    (void)mbi;
    serial_init();
    serial_puts("\nTICKWIRE BOOT");
    serial_kv("multiboot", magic == 0x2BADB002u);
    serial_putc('\n');
    detect_accel();

    int size = fwcfg_read_file("opt/tickwire/config", cfg_blob, sizeof cfg_blob);
    if (size < 0) fatal("config missing from fw_cfg (opt/tickwire/config)", 0x10);
    int rc = tw_load_config(&state, cfg_blob, (u32)size);
    if (rc != TW_CFG_OK) fatal("config invalid", 0x11);
    serial_puts("CONFIG");
    serial_kv("instruments", state.cfg.count);
    serial_kv("feed_port", state.cfg.feed_port);
    serial_putc('\n');

    u32 bus, slot, func;
    if (!pci_find(0x8086, 0x100E, &bus, &slot, &func)) fatal("no e1000 (8086:100E) on PCI", 0x12);
    u32 bar0 = pci_read32(bus, slot, func, 0x10);
    if (bar0 & 1u) fatal("e1000 BAR0 is not memory-mapped", 0x13);
    /* Command register: memory space (bit 1) and bus mastering (bit 2) for DMA. */
    u32 cmdreg = pci_read32(bus, slot, func, 0x04);
    pci_write32(bus, slot, func, 0x04, (cmdreg & 0xFFFFu) | 0x6u);
    rc = e1000_init(bar0 & ~0xFu);
    if (rc < 0) fatal("e1000 reset did not complete", 0x14);
    e1000_mac(mac);
    serial_puts("READY accel=");
    serial_puts(accel);
    serial_puts(" mac=");
    for (int i = 0; i < 6; i++) {
        serial_hex(mac[i], 2);
        if (i < 5) serial_putc(':');
    }
    serial_kv("pci_slot", slot);
    serial_kv("link_up", rc == 0);
    serial_putc('\n');

    for (;;) {
        u32 n;
        u64 t_done;
        const u8 *f = e1000_rx_poll(&n, &t_done);
        if (!f) {
            cpu_relax();
            continue;
        }
        handle(f, n, t_done);
        e1000_rx_release();
    }
}
