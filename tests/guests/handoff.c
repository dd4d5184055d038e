/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One console line written by two vCPUs: the boot CPU starts it, a second
 * CPU ends it, then the boot CPU writes one more line. On a real PL011 the
 * bytes leave in the order they were written, whichever CPU wrote them:
 *   handoff: begun by cpu 0, ended by cpu 1
 *   handoff: done
 * (tests/integration/test_lifecycle.py). Needs 2 vCPUs. */

#include "lib/guest.h"

static volatile uint64_t ended;

void guest_secondary_main(uint64_t context) {
        uart_puts("ended by cpu 1\n");
        store_release(&ended, 1);
        guest_park();
}

void guest_main(void) {
        uint64_t cpus[GUEST_MAX_CPUS], self = guest_mpidr();
        unsigned n = guest_dtb ? fdt_cpus(guest_dtb, cpus, GUEST_MAX_CPUS) : 0;

        uart_puts("handoff: begun by cpu 0, ");
        for (unsigned i = 0; i < n; i++)
                if (cpus[i] != self && psci_cpu_on(cpus[i], 1) == PSCI_SUCCESS) {
                        while (!load_acquire(&ended))
                                ;
                        break;
                }
        uart_puts("handoff: done\n");
        psci_system_off();
}
