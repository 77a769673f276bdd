/* QEMU fw_cfg over the legacy I/O ports: 16-bit selector at 0x510, data at 0x511.
 * The file directory (selector 0x19) is big-endian: u32 count, then 64-byte entries
 * {u32 size, u16 select, u16 reserved, char name[56]}. */
#include "hw.h"
#include "io.h"

#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_FILE_DIR 0x0019

static void fw_read(u8 *buf, u32 n) {
    for (u32 i = 0; i < n; i++) buf[i] = inb(FW_CFG_PORT_DATA);
}
static u32 be32(const u8 *b) { return ((u32)b[0] << 24) | ((u32)b[1] << 16) | ((u32)b[2] << 8) | b[3]; }

int fwcfg_read_file(const char *name, u8 *buf, u32 cap) {
    u8 sig[4], hdr[4], ent[64];
    outw(FW_CFG_PORT_SEL, FW_CFG_SIGNATURE);
    fw_read(sig, 4);
    if (memcmp(sig, "QEMU", 4) != 0) return -1;
    outw(FW_CFG_PORT_SEL, FW_CFG_FILE_DIR);
    fw_read(hdr, 4);
    u32 count = be32(hdr);
    if (count > 4096) return -1; /* a sane bound on a corrupt directory */
    for (u32 i = 0; i < count; i++) {
        fw_read(ent, 64);
        ent[63] = 0;
        u32 k = 0;
        while (name[k] && ent[8 + k] == (u8)name[k]) k++;
        if (name[k] == 0 && ent[8 + k] == 0) {
            u32 size = be32(ent);
            u32 select = ((u32)ent[4] << 8) | ent[5];
            if (size > cap) return -3;
            outw(FW_CFG_PORT_SEL, (u16)select);
            fw_read(buf, size);
            return (int)size;
        }
    }
    return -2;
}

void qemu_exit(u8 code) {
    outb(0xF4, code);
    for (;;) __asm__ volatile("cli; hlt");
}
