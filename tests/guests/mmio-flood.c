/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* N back-to-back MMIO writes (no FR polling in between), N from bootargs
 * "flood=N" (default 1000): a load test for the MMIO exit path. */

#include "lib/guest.h"

void guest_main(void) {
        uint64_t n = fdt_bootarg(guest_dtb, "flood", 1000);

        uart_puts("flood: writing ");
        uart_put_dec((int64_t) n);
        uart_puts(" bytes\n");
        for (uint64_t i = 0; i < n; i++)
                uart_write_raw((char) ('a' + i % 26));
        uart_puts("\nflood: done ");
        uart_put_dec((int64_t) n);
        uart_putc('\n');
        psci_system_off();
}
