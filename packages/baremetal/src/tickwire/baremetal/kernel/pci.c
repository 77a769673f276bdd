#include "hw.h"
#include "io.h"

static u32 pci_addr(u32 bus, u32 slot, u32 func, u32 off) {
    return 0x80000000u | (bus << 16) | (slot << 11) | (func << 8) | (off & 0xFCu);
}
u32 pci_read32(u32 bus, u32 slot, u32 func, u32 off) {
    outl(0xCF8, pci_addr(bus, slot, func, off));
    return inl(0xCFC);
}
void pci_write32(u32 bus, u32 slot, u32 func, u32 off, u32 v) {
    outl(0xCF8, pci_addr(bus, slot, func, off));
    outl(0xCFC, v);
}

int pci_find(u16 vendor, u16 device, u32 *bus, u32 *slot, u32 *func) {
    for (u32 b = 0; b < 256; b++)
        for (u32 s = 0; s < 32; s++)
            for (u32 f = 0; f < 8; f++) {
                u32 id = pci_read32(b, s, f, 0);
                if ((id & 0xFFFFu) == 0xFFFFu) {
                    if (f == 0) break; /* no device in this slot */
                    continue;
                }
                if ((id & 0xFFFFu) == vendor && (id >> 16) == device) {
                    *bus = b;
                    *slot = s;
                    *func = f;
                    return 1;
                }
                /* single-function device: skip functions 1..7 */
                if (f == 0 && !(pci_read32(b, s, 0, 0x0C) & 0x00800000u)) break;
            }
    return 0;
}
