/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every vCPU does back-to-back MMIO reads and writes to an address no device
 * answers: one exit to its worker per access, forever. */

#include "malicious.h"

static void storm(void) {
        for (uint32_t i = 0;; i++) {
                mal_mmio_write32(MAL_UNBACKED_MMIO + (i & 0xff) * 4, i);
                (void) mal_mmio_read32(MAL_UNBACKED_MMIO + (i & 0xff) * 4);
        }
}

void guest_secondary_main(uint64_t context) {
        storm();
}

void guest_main(void) {
        unsigned n = mal_start_secondaries();

        uart_puts("mmio-storm: ");
        uart_put_dec(n);
        uart_puts(" cpus storming\n");
        storm();
}
