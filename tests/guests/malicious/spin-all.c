/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every vCPU spins without ever exiting: only a forced stop ends this VM. */

#include "malicious.h"

static void __noreturn spin(void) {
        for (;;)
                __asm__ volatile("" ::: "memory");
}

void guest_secondary_main(uint64_t context) {
        spin();
}

void guest_main(void) {
        unsigned n = mal_start_secondaries();

        uart_puts("spin-all: ");
        uart_put_dec(n);
        uart_puts(" cpus spinning\n");
        spin();
}
