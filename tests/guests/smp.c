/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PSCI CPU_ON / AFFINITY_INFO exercise. The boot vCPU starts every other
 * CPU of /cpus in MPIDR order and hands each a turn to print, so the console
 * output is the same however the vCPUs are scheduled. The last CPU started
 * powers the system off. */

#include "lib/guest.h"

#define INVALID_MPIDR 0xffULL   /* Aff0 = 255: no such CPU on any test VM */
#define TURN_OFF      (1ULL << 32)
#define NOBODY        (~0ULL)

static volatile uint64_t turn;      /* context id allowed to print, or TURN_OFF */
static volatile uint64_t reported;  /* context id of the last CPU that printed */

static void report(const char *what, uint64_t mpidr, int64_t r) {
        uart_puts("smp: ");
        uart_puts(what);
        uart_putc(' ');
        uart_put_hex(mpidr);
        uart_puts(" -> ");
        uart_put_dec(r);
        uart_putc('\n');
}

void guest_secondary_main(uint64_t context) {
        while (load_acquire(&turn) != context)
                ;
        uart_puts("cpu ");
        uart_put_hex(guest_mpidr());
        uart_puts(" up ctx=");
        uart_put_hex(context);
        uart_putc('\n');
        store_release(&reported, context);
        while (!(load_acquire(&turn) & TURN_OFF))
                ;
        if (load_acquire(&turn) != (TURN_OFF | context))
                guest_park();
        uart_puts("cpu ");
        uart_put_hex(guest_mpidr());
        uart_puts(" system off\n");
        psci_system_off();
}

void guest_main(void) {
        uint64_t cpus[GUEST_MAX_CPUS], self = guest_mpidr();
        unsigned n = guest_dtb ? fdt_cpus(guest_dtb, cpus, GUEST_MAX_CPUS) : 0, last = 0;
        bool started = false;
        int64_t version;

        turn = NOBODY;
        reported = NOBODY;

        uart_puts("smp: ");
        uart_put_dec(n);
        uart_puts(" cpus, boot cpu ");
        uart_put_hex(self);
        uart_putc('\n');
        /* The exact version differs between platforms; the output must not. */
        version = psci_call(PSCI_VERSION, 0, 0, 0);
        uart_puts(version >= 2 ? "smp: psci version >= 0.2\n" : "smp: psci version < 0.2\n");

        for (unsigned i = 0; i < n; i++) {
                if (cpus[i] == self)
                        continue;
                report("affinity_info", cpus[i], psci_call(PSCI_AFFINITY_INFO, cpus[i], 0, 0));
                int64_t r = psci_cpu_on(cpus[i], i);
                report("cpu_on", cpus[i], r);
                if (r != PSCI_SUCCESS)
                        continue;
                store_release(&turn, i);
                while (load_acquire(&reported) != i)
                        ;
                report("affinity_info", cpus[i], psci_call(PSCI_AFFINITY_INFO, cpus[i], 0, 0));
                last = i;
                started = true;
        }

        if (started)
                report("cpu_on again", cpus[last], psci_cpu_on(cpus[last], last));
        report("cpu_on invalid", INVALID_MPIDR, psci_cpu_on(INVALID_MPIDR, 0));

        if (!started) {
                uart_puts("smp: no secondary, boot cpu powers off\n");
                psci_system_off();
        }
        store_release(&turn, TURN_OFF | last);
        guest_park();
}
