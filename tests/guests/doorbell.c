/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes to a doorbell address (an ioeventfd, where the VMM registered one)
 * as a virtio driver writes QueueNotify, then touches it in the ways the
 * kernel must still turn into MMIO exits.
 *
 * Bootargs: ring=ADDR (default 0x0a000050, 8-byte aligned), count=N
 * (default 1000), match=ADDR2 (default 0: skipped).
 *   1. N writes to ADDR, cycling 1-, 2- and 4-byte stores of i;
 *   2. one 4-byte read of ADDR, one 8-byte write of 0x1122334455667788 to
 *      ADDR (unicorn 2.0.1 splits it: 4 bytes at ADDR, then 4 at ADDR + 4),
 *      one 4-byte write of 0x5a to ADDR + 8;
 *   3. if match: 4-byte writes of 1 then 2, a 2-byte write of 1 to ADDR2
 *      (a DATAMATCH handler for 4 bytes of 1 takes only the first).
 * Console: "doorbell: ringing N times\n", "doorbell: read 0x…\n",
 * "doorbell: done\n". */

#include "lib/guest.h"

static void ring(uint64_t addr, uint64_t i) {
        switch (i % 3) {
        case 0:
                *(volatile uint8_t *) (uintptr_t) addr = (uint8_t) i;
                break;
        case 1:
                *(volatile uint16_t *) (uintptr_t) addr = (uint16_t) i;
                break;
        default:
                *(volatile uint32_t *) (uintptr_t) addr = (uint32_t) i;
                break;
        }
}

void guest_main(void) {
        uint64_t addr = fdt_bootarg(guest_dtb, "ring", 0x0a000050);
        uint64_t n = fdt_bootarg(guest_dtb, "count", 1000);
        uint64_t match = fdt_bootarg(guest_dtb, "match", 0);
        uint32_t v;

        uart_puts("doorbell: ringing ");
        uart_put_dec((int64_t) n);
        uart_puts(" times\n");
        for (uint64_t i = 0; i < n; i++)
                ring(addr, i);

        v = *(volatile uint32_t *) (uintptr_t) addr;
        *(volatile uint64_t *) (uintptr_t) addr = 0x1122334455667788ULL;
        *(volatile uint32_t *) (uintptr_t) (addr + 8) = 0x5a;
        uart_puts("doorbell: read ");
        uart_put_hex(v);
        uart_putc('\n');

        if (match) {
                *(volatile uint32_t *) (uintptr_t) match = 1;
                *(volatile uint32_t *) (uintptr_t) match = 2;
                *(volatile uint16_t *) (uintptr_t) match = 1;
        }
        uart_puts("doorbell: done\n");
}
