/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Takes an SPI that a device outside the VM raises through an irqfd, the
 * way a virtio driver takes its device's used-buffer interrupt.
 *
 * Bootargs: spi=N (default 40), count=M (default 3), ack=ADDR (default
 * 0x0a000050: a 4-byte write there after each interrupt, the device's
 * cue to raise the next one), spin=1 (wait with a busy loop instead of
 * WFI: the interrupt must then reach a vCPU running guest code),
 * secondary=1 (CPU_ON the second CPU, which parks in WFI with interrupts
 * masked: its worker watches the irqfd too, and may be the one that takes
 * it from the device and wakes CPU 0's).
 * The SPI is routed to CPU 0 and enabled; each interrupt is acknowledged,
 * counted and EOId. Console: "irqfd: waiting for spi N\n", then
 * "irqfd: took M interrupts\n". */

#include "gicv3.h"
#include "vectors.h"

#define GICD_ISENABLER 0x0100
#define GICD_IPRIORITYR 0x0400
#define GICD_IROUTER 0x6000

static uint32_t spi_intid;
static volatile uint64_t taken;

void vec_handler(uint64_t slot, uint64_t *frame) {
        uint64_t intid;

        if (slot != VEC_SLOT_IRQ_CUR) {
                uart_puts("irqfd: unexpected exception\n");
                psci_system_off();
        }
        intid = ICC_READ(ICC_IAR1);
        if (intid != spi_intid) {
                uart_puts("irqfd: unexpected intid ");
                uart_put_dec((int64_t) intid);
                uart_putc('\n');
                psci_system_off();
        }
        ICC_WRITE(ICC_EOIR1, intid);
        store_release(&taken, taken + 1);
}

/* The second CPU stays on, in WFI, taking nothing. */
void guest_secondary_main(uint64_t context) {
        guest_park();
}

void guest_main(void) {
        uint64_t spi = fdt_bootarg(guest_dtb, "spi", 40);
        uint64_t m = fdt_bootarg(guest_dtb, "count", 3);
        uint64_t ack = fdt_bootarg(guest_dtb, "ack", 0x0a000050);
        bool spin = fdt_bootarg(guest_dtb, "spin", 0) != 0;
        uint64_t cpus[GUEST_MAX_CPUS];

        if (fdt_bootarg(guest_dtb, "secondary", 0) && fdt_cpus(guest_dtb, cpus, GUEST_MAX_CPUS) > 1)
                psci_cpu_on(cpus[1], 0);

        spi_intid = (uint32_t) (32 + spi);
        vectors_install();
        gic_dist_init();
        gic_cpu_init(0, 0);
        *(volatile uint8_t *) (uintptr_t) (gicd_base + GICD_IPRIORITYR + spi_intid) = 0xa0;
        mmio_w32(gicd_base + GICD_IROUTER + 8 * spi_intid, 0);
        mmio_w32(gicd_base + GICD_IROUTER + 8 * spi_intid + 4, 0);
        mmio_w32(gicd_base + GICD_ISENABLER + 4 * (spi_intid / 32), 1u << (spi_intid % 32));

        uart_puts("irqfd: waiting for spi ");
        uart_put_dec((int64_t) spi);
        uart_putc('\n');
        for (uint64_t i = 1; i <= m; i++) {
                if (spin) {
                        irqs_on();
                        while (load_acquire(&taken) < i)
                                ;
                        irqs_off();
                }
                /* Masked while deciding to sleep: WFI still wakes for a
                 * pending interrupt, which is then taken with I clear. */
                while (load_acquire(&taken) < i) {
                        __asm__ volatile("wfi");
                        irqs_on();
                        __asm__ volatile("isb");
                        irqs_off();
                }
                mmio_w32(ack, (uint32_t) i);
        }
        uart_puts("irqfd: took ");
        uart_put_dec((int64_t) load_acquire(&taken));
        uart_puts(" interrupts\n");
}
