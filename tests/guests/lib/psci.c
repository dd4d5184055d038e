/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PSCI over HVC, the conduit both Gunyah and QEMU's virt (without EL2/EL3)
 * use. SMC calling convention: function id in x0, arguments x1..x3,
 * result in x0; x1..x17 may be clobbered. */

#include "guest.h"

int64_t psci_call(uint32_t fn, uint64_t a1, uint64_t a2, uint64_t a3) {
        register uint64_t x0 __asm__("x0") = fn;
        register uint64_t x1 __asm__("x1") = a1;
        register uint64_t x2 __asm__("x2") = a2;
        register uint64_t x3 __asm__("x3") = a3;

        __asm__ volatile("hvc #0"
                         : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                         :
                         : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12",
                           "x13", "x14", "x15", "x16", "x17", "memory");
        return (int64_t) x0;
}

int64_t psci_cpu_on(uint64_t mpidr, uint64_t context) {
        return psci_call(PSCI_CPU_ON, mpidr, (uint64_t) (uintptr_t) secondary_entry, context);
}

void psci_system_off(void) {
        (void) psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
        /* Only reached if the VMM ignored the call: stay quiet forever. */
        guest_park();
}
