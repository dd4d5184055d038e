/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Never exits and never traps: only a forced stop ends this VM. */

#include "lib/guest.h"

void guest_main(void) {
        uart_puts("spin: spinning\n");
        for (;;)
                __asm__ volatile("" ::: "memory");
}
