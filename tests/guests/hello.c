/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The smallest guest: one console line, then PSCI SYSTEM_OFF (exit type 1). */

#include "lib/guest.h"

void guest_main(void) {
        uart_puts("hello: Hello from gunyah guest\n");
        psci_system_off();
}
