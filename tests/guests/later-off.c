/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Says it is up, powers off 3 s later (by the generic counter): a VM that
 * ends on its own while no daemon runs (test_adoption.py). */

#include "lib/guest.h"

#define SYSREG_R(r) ({ uint64_t _v; __asm__ volatile("mrs %0, " r : "=r"(_v) : : "memory"); _v; })

void guest_main(void) {
        uint64_t end = SYSREG_R("cntvct_el0") + 3 * SYSREG_R("cntfrq_el0");

        uart_puts("later-off: up, powering off in 3 s\n");
        while (SYSREG_R("cntvct_el0") < end)
                ;
        uart_puts("later-off: bye\n");
        psci_system_off();
}
