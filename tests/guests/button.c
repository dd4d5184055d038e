/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The power button as an interrupt, the way Linux's gpio-pl061 + gpio-keys
 * take it, without Linux: PL061 line 3 is an input with a both-edges
 * interrupt unmasked (IS = 0, IBE = 1, IE = 1), the PL061's SPI (from the
 * devicetree) is enabled in the distributor and routed to the last CPU,
 * which waits in WFI. With two CPUs, CPU 0 meanwhile keeps executing guest
 * code (the press then reaches a worker that is running or queued for the
 * execution lock, and must wake the other vCPU, in another process). The
 * handler reads MIS, clears the edge (IC), EOIs and powers off. */

#include "gicv3.h"
#include "vectors.h"

#define PL061_DIR 0x400
#define PL061_IS 0x404
#define PL061_IBE 0x408
#define PL061_IE 0x410
#define PL061_MIS 0x418
#define PL061_IC 0x41c
#define POWER_LINE (1u << 3)

#define GICD_ISENABLER 0x0100
#define GICD_IPRIORITYR 0x0400
#define GICD_IROUTER 0x6000

static uint64_t pl061;
static uint32_t spi_intid;
static unsigned target;
static volatile uint64_t target_ready;

void vec_handler(uint64_t slot, uint64_t *frame) {
        unsigned cpu = (unsigned) (guest_mpidr() & 0xff);
        uint64_t intid;
        uint32_t mis;
        if (slot != VEC_SLOT_IRQ_CUR) {
                uart_puts("button: unexpected exception\n");
                psci_system_off();
        }
        intid = ICC_READ(ICC_IAR1);
        if (intid != spi_intid || cpu != target) {
                uart_puts("button: cpu ");
                uart_put_dec(cpu);
                uart_puts(" took unexpected intid ");
                uart_put_dec((int64_t) intid);
                uart_putc('\n');
                psci_system_off();
        }
        mis = mmio_r32(pl061 + PL061_MIS);
        mmio_w32(pl061 + PL061_IC, mis);
        ICC_WRITE(ICC_EOIR1, intid);
        uart_puts("button: cpu ");
        uart_put_dec(cpu);
        uart_puts(" took the PL061 interrupt, mis ");
        uart_put_hex(mis);
        uart_puts(", line ");
        uart_put_dec((mmio_r32(pl061 + (POWER_LINE << 2)) & POWER_LINE) != 0);
        uart_putc('\n');
        uart_puts("button: powering off\n");
        psci_system_off();
}

static void wait_for_button(unsigned cpu) {
        gic_cpu_init(cpu, 0);
        store_release(&target_ready, 1);
        irqs_on();
        for (;;)
                __asm__ volatile("wfi");
}

void guest_secondary_main(uint64_t context) {
        vectors_install();
        wait_for_button(target);
}

/* The SPI as Linux's GICv3 driver sets it up: priority, route, enable. */
static void gic_spi_init(uint32_t intid, unsigned cpu) {
        uint64_t d = gicd_base;

        *(volatile uint8_t *) (uintptr_t) (d + GICD_IPRIORITYR + intid) = 0xa0;
        mmio_w32(d + GICD_IROUTER + 8 * intid, cpu);
        mmio_w32(d + GICD_IROUTER + 8 * intid + 4, 0);
        mmio_w32(d + GICD_ISENABLER + 4 * (intid / 32), 1u << (intid % 32));
}

/* The SPI of the PL061 node under the root (GIC cells: type 0 = SPI,
 * number, flags). Kept here, not in lib/fdt.c: growing the shared runtime
 * would move the code of the guests whose expected output names addresses. */
static int pl061_spi(uint64_t base, uint32_t *ret) {
        static const char hex[] = "0123456789abcdef";
        char path[32] = "/pl061@", *p = path + 7;
        const uint8_t *irq;
        uint32_t len;
        int shift = 60;

        while (shift > 0 && !((base >> shift) & 0xf))
                shift -= 4;
        for (; shift >= 0; shift -= 4)
                *p++ = hex[(base >> shift) & 0xf];
        *p = 0;
        irq = fdt_getprop(guest_dtb, path, "interrupts", &len);
        if (!irq || len < 12 || fdt_read_cells(irq, 1) != 0)
                return -1;
        *ret = (uint32_t) fdt_read_cells(irq + 4, 1);
        return 0;
}

void guest_main(void) {
        uint64_t cpus[GUEST_MAX_CPUS];
        unsigned n;
        uint32_t spi;

        if (!guest_dtb || fdt_compatible_reg(guest_dtb, "arm,pl061", &pl061) < 0 ||
            pl061_spi(pl061, &spi) < 0) {
                uart_puts("button: no PL061 with an SPI in the devicetree\n");
                return;
        }
        spi_intid = 32 + spi;
        n = fdt_cpus(guest_dtb, cpus, GUEST_MAX_CPUS);
        target = n > 1 ? (unsigned) (cpus[n - 1] & 0xff) : 0;

        vectors_install();
        gic_dist_init();
        gic_cpu_init(0, 0);
        mmio_w32(pl061 + PL061_DIR, mmio_r32(pl061 + PL061_DIR) & ~POWER_LINE);
        mmio_w32(pl061 + PL061_IS, mmio_r32(pl061 + PL061_IS) & ~POWER_LINE);
        mmio_w32(pl061 + PL061_IBE, mmio_r32(pl061 + PL061_IBE) | POWER_LINE);
        mmio_w32(pl061 + PL061_IC, POWER_LINE);
        mmio_w32(pl061 + PL061_IE, mmio_r32(pl061 + PL061_IE) | POWER_LINE);
        gic_spi_init(spi_intid, target);

        if (target != 0) {
                psci_cpu_on(cpus[n - 1], 0);
                while (!load_acquire(&target_ready))
                        ;
        }
        /* Everything is armed before the host may press. */
        uart_puts("button: waiting, spi ");
        uart_put_dec(spi);
        uart_puts(" on cpu ");
        uart_put_dec(target);
        uart_putc('\n');
        if (target == 0)
                wait_for_button(0);
        /* CPU 0 keeps executing guest code; the interrupt is not for it. */
        for (;;)
                __asm__ volatile("nop");
}
