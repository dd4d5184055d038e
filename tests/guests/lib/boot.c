/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* C entry from crt0.S: find the devicetree and the console, then run the
 * guest. A guest that returns from guest_main() powers the VM off, so a
 * forgotten exit never looks like a hang. */

#include "guest.h"

const void *guest_dtb;
uint64_t guest_boot_x0;

void guest_boot(uint64_t x0);
void guest_secondary(uint64_t context);

uint64_t guest_mpidr(void) {
        uint64_t v;
        __asm__ volatile("mrs %0, mpidr_el1" : "=r"(v));
        return v & 0xff00ffffffULL;
}

/* Gunyah passes the DTB in x0; QEMU's ELF loader does not, but puts it at
 * the base of RAM. A pointer is only dereferenced when plausibly aligned. */
static const void *find_dtb(uint64_t x0) {
        if (x0 != 0 && (x0 & 7) == 0 && fdt_valid((const void *) x0))
                return (const void *) x0;
        if (fdt_valid((const void *) GUEST_QEMU_DTB))
                return (const void *) GUEST_QEMU_DTB;
        return NULL;
}

void guest_boot(uint64_t x0) {
        uint64_t uart = GUEST_DEFAULT_UART;

        guest_boot_x0 = x0;
        guest_dtb = find_dtb(x0);
        if (guest_dtb)
                (void) fdt_uart(guest_dtb, &uart);
        uart_set_base(uart);
        guest_main();
        psci_system_off();
}

__attribute__((weak)) void guest_secondary_main(uint64_t context) {
}

void guest_secondary(uint64_t context) {
        guest_secondary_main(context);
        (void) psci_call(PSCI_CPU_OFF, 0, 0, 0);
        guest_park();
}
