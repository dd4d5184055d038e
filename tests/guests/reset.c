/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PSCI SYSTEM_RESET: exit type 2 (reboot). */

#include "lib/guest.h"

void guest_main(void) {
        uart_puts("reset: requesting SYSTEM_RESET\n");
        int64_t r = psci_call(PSCI_SYSTEM_RESET, 0, 0, 0);
        /* A VMM that returns from SYSTEM_RESET is broken: say so and stop. */
        uart_puts("reset: SYSTEM_RESET returned ");
        uart_put_dec(r);
        uart_putc('\n');
        guest_park();
}
