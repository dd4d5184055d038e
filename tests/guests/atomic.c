/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every vCPU increments one shared counter K times with LDXR/STXR, all at
 * once; the last to finish prints the total. A VMM that runs vCPUs in
 * parallel without real exclusives (see unicorn notes) loses increments. */

#include "lib/guest.h"

static volatile uint64_t counter, done;
static uint64_t iterations, participants;

static void work(void) {
        for (uint64_t k = 0; k < iterations; k++)
                (void) atomic_inc(&counter);
        if (atomic_inc(&done) != participants)
                return;
        uart_puts("atomic: total=");
        uart_put_dec((int64_t) load_acquire(&counter));
        uart_puts(" expected=");
        uart_put_dec((int64_t) (participants * iterations));
        uart_putc('\n');
        psci_system_off();
}

void guest_secondary_main(uint64_t context) {
        work();
}

void guest_main(void) {
        uint64_t cpus[GUEST_MAX_CPUS], self = guest_mpidr();
        unsigned n = guest_dtb ? fdt_cpus(guest_dtb, cpus, GUEST_MAX_CPUS) : 0;

        iterations = fdt_bootarg(guest_dtb, "count", 100000);
        participants = n ? n : 1;
        uart_puts("atomic: ");
        uart_put_dec((int64_t) participants);
        uart_puts(" cpus count=");
        uart_put_dec((int64_t) iterations);
        uart_putc('\n');
        /* Publish iterations/participants before any other vCPU runs. */
        __asm__ volatile("dsb sy" ::: "memory");

        for (unsigned i = 0; i < n; i++) {
                if (cpus[i] == self)
                        continue;
                int64_t r = psci_cpu_on(cpus[i], i);
                if (r != PSCI_SUCCESS) {
                        uart_puts("atomic: FAIL cpu_on ");
                        uart_put_hex(cpus[i]);
                        uart_puts(" -> ");
                        uart_put_dec(r);
                        uart_putc('\n');
                        psci_system_off();
                }
        }
        work();
        guest_park();
}
