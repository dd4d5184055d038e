/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes to every unmapped range of [0, 1 GiB) in 64 KiB strides, pass after
 * pass. Skips its own RAM, the UART it reports on and the GIC, so that what
 * is left is what no device claims. */

#include "malicious.h"

#define SWEEP_END    (1UL << 30)
#define SWEEP_STRIDE (64UL << 10)
#define GIC_SPAN     (16UL << 20)  /* distributor + redistributors of <= 8 vCPUs */

static bool inside(uint64_t a, uint64_t base, uint64_t size) {
        return base != ~0ULL && a >= base && a - base < size;
}

void guest_main(void) {
        uint64_t ram = ~0ULL, ram_size = 0, uart = GUEST_DEFAULT_UART, gic = ~0ULL, gpio = ~0ULL;

        if (guest_dtb) {
                (void) fdt_memory(guest_dtb, &ram, &ram_size);
                (void) fdt_uart(guest_dtb, &uart);
                if (fdt_compatible_reg(guest_dtb, "arm,gic-v3", &gic) < 0)
                        gic = ~0ULL;
                if (fdt_compatible_reg(guest_dtb, "arm,pl061", &gpio) < 0)
                        gpio = ~0ULL;
        }
        for (uint64_t pass = 1;; pass++) {
                uint64_t n = 0;

                for (uint64_t a = 0; a < SWEEP_END; a += SWEEP_STRIDE) {
                        if (inside(a, ram, ram_size) || inside(a, uart, SWEEP_STRIDE) ||
                            inside(a, gic, GIC_SPAN) || inside(a, gpio, SWEEP_STRIDE))
                                continue;
                        mal_mmio_write32(a, 0xdead0000U | (uint32_t) pass);
                        n++;
                }
                uart_puts("mmio-sweep: pass ");
                uart_put_dec((int64_t) pass);
                uart_puts(" wrote ");
                uart_put_dec((int64_t) n);
                uart_puts(" ranges\n");
        }
}
