/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The boot vCPU CPU_ONs every other CPU again and again; each secondary
 * powers itself off at once: an endless storm of power-state changes. */

#include "malicious.h"

void guest_secondary_main(uint64_t context) {
        (void) psci_call(PSCI_CPU_OFF, 0, 0, 0);
        guest_park();
}

void guest_main(void) {
        uint64_t cpus[GUEST_MAX_CPUS], self = guest_mpidr();
        unsigned n = guest_dtb ? fdt_cpus(guest_dtb, cpus, GUEST_MAX_CPUS) : 1;

        uart_puts("cpu-on-storm: ");
        uart_put_dec(n);
        uart_puts(" cpus\n");
        for (;;)
                for (unsigned i = 0; i < n; i++)
                        if (cpus[i] != self)
                                (void) psci_cpu_on(cpus[i], i);
}
