/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GICv3 SGIs between vCPUs: CPU 0 sends itself SGI 1 (first while its
 * priority mask hides it, so it stays pending), starts CPU 1, wakes it from
 * WFI with SGI 2, and CPU 1 answers with SGI 3, which wakes CPU 0 from WFI.
 * Each handler acknowledges (IAR1), prints, and EOIs. */

#include "gicv3.h"
#include "vectors.h"

static volatile uint64_t taken[2];
static volatile uint64_t cpu1_ready;

void vec_handler(uint64_t slot, uint64_t *frame) {
        unsigned cpu = (unsigned) (guest_mpidr() & 0xff);
        uint64_t intid;
        if (slot != VEC_SLOT_IRQ_CUR) {
                uart_puts("gic: unexpected exception\n");
                psci_system_off();
        }
        intid = ICC_READ(ICC_IAR1);
        uart_puts("gic: cpu ");
        uart_put_hex(cpu);
        uart_puts(" took intid ");
        uart_put_dec((int64_t) intid);
        uart_puts(" running priority ");
        uart_put_hex(ICC_READ(ICC_RPR));
        uart_putc('\n');
        ICC_WRITE(ICC_EOIR1, intid);
        store_release(&taken[cpu & 1], intid);
}

void guest_secondary_main(uint64_t context) {
        vectors_install();
        gic_cpu_init(1, 0);
        irqs_on();
        store_release(&cpu1_ready, 1);
        while (load_acquire(&taken[1]) != 2)
                __asm__ volatile("wfi");
        irqs_off();
        gic_send_sgi(0, 3);
        guest_park();
}

void guest_main(void) {
        uint64_t cpus[GUEST_MAX_CPUS];

        vectors_install();
        gic_dist_init();
        gic_cpu_init(0, 0);
        uart_puts("gic: ready\n");

        ICC_WRITE(ICC_PMR, 0);
        gic_send_sgi(0, 1);
        irqs_on();
        uart_puts("gic: masked by pmr, hppir1=");
        uart_put_dec((int64_t) ICC_READ(ICC_HPPIR1));
        uart_putc('\n');
        ICC_WRITE(ICC_PMR, 0xf0);
        while (load_acquire(&taken[0]) != 1)
                ;

        if (!guest_dtb || fdt_cpus(guest_dtb, cpus, GUEST_MAX_CPUS) < 2) {
                uart_puts("gic: one cpu, done\n");
                return;
        }
        irqs_off();
        psci_cpu_on(cpus[1], 1);
        while (!load_acquire(&cpu1_ready))
                ;
        gic_send_sgi(1, 2);
        irqs_on();
        while (load_acquire(&taken[0]) != 3)
                __asm__ volatile("wfi");
        uart_puts("gic: done\n");
}
