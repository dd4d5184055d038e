/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Console input: echoes every byte received until Ctrl-D (0x04). */

#include "lib/guest.h"

#define SENTINEL 0x04

void guest_main(void) {
        char c;

        uart_puts("echo: ready\n");
        while ((c = uart_getc()) != SENTINEL)
                uart_putc(c);
        uart_puts("echo: bye\n");
        psci_system_off();
}
