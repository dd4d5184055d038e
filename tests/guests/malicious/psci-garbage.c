/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every vCPU makes PSCI calls with garbage: function ids anywhere in the
 * PSCI ranges (and outside), garbage arguments, CPU_ON of MPIDRs no VM has.
 * Only the calls that would legitimately end the VM or this vCPU (SYSTEM_OFF,
 * SYSTEM_RESET, SYSTEM_RESET2, CPU_OFF, SYSTEM_SUSPEND) are left out. */

#include "malicious.h"

static bool ends_something(uint32_t fn) {
        switch (fn & ~0x40000000U) { /* SMC32 and SMC64 forms alike */
        case 0x84000002U: /* CPU_OFF */
        case 0x84000008U: /* SYSTEM_OFF */
        case 0x84000009U: /* SYSTEM_RESET */
        case 0x8400000EU: /* SYSTEM_SUSPEND */
        case 0x84000012U: /* SYSTEM_RESET2 */
                return true;
        }
        return false;
}

static void garbage(uint64_t seed) {
        uint64_t s = seed;

        for (;;) {
                uint64_t r = mal_random(&s);
                uint32_t fn;

                switch (r & 3) {
                case 0:
                        fn = 0x84000000U | (uint32_t) (r >> 8 & 0x1f);
                        break;
                case 1:
                        fn = 0xC4000000U | (uint32_t) (r >> 8 & 0x1f);
                        break;
                case 2:
                        fn = (uint32_t) (r >> 16);
                        break;
                default:
                        /* CPU_ON of a CPU that does not exist, at a garbage entry */
                        (void) psci_call(PSCI_CPU_ON, 0xff00ULL | (r & 0xff00000000ULL), mal_random(&s), r);
                        continue;
                }
                if (fn == PSCI_CPU_ON || ends_something(fn))
                        continue;
                (void) psci_call(fn, mal_random(&s), mal_random(&s), mal_random(&s));
        }
}

void guest_secondary_main(uint64_t context) {
        garbage(0x9e3779b97f4a7c15ULL * (context + 2));
}

void guest_main(void) {
        unsigned n = mal_start_secondaries();

        uart_puts("psci-garbage: ");
        uart_put_dec(n);
        uart_puts(" cpus calling\n");
        garbage(0x9e3779b97f4a7c15ULL);
}
