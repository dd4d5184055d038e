/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Just enough GICv3 driver for the interrupt test guests: distributor on,
 * this CPU's redistributor awake with its SGIs/PPIs enabled, the system
 * register CPU interface on. GICD comes from the devicetree; the GICR
 * frames sit directly below it, one 0x20000 frame per CPU (the Gunyah
 * layout gunyahd's devicetree describes), or where QEMU's virt has them. */

#include "lib/guest.h"

#define GICD_CTLR 0x0000
#define GICR_WAKER 0x0014
#define GICR_SGI 0x10000
#define GICR_IGROUPR0 (GICR_SGI + 0x0080)
#define GICR_ISENABLER0 (GICR_SGI + 0x0100)
#define GICR_IPRIORITYR (GICR_SGI + 0x0400)

static uint64_t gicd_base;
static unsigned gic_ncpus;

static inline void mmio_w32(uint64_t a, uint32_t v) {
        *(volatile uint32_t *) (uintptr_t) a = v;
}

static inline uint32_t mmio_r32(uint64_t a) {
        return *(volatile uint32_t *) (uintptr_t) a;
}

#define ICC_WRITE(reg, v) __asm__ volatile("msr " reg ", %0\nisb" : : "r"((uint64_t) (v)) : "memory")
#define ICC_READ(reg) ({ uint64_t _v; __asm__ volatile("mrs %0, " reg : "=r"(_v) : : "memory"); _v; })
#define ICC_IAR1 "s3_0_c12_c12_0"
#define ICC_EOIR1 "s3_0_c12_c12_1"
#define ICC_HPPIR1 "s3_0_c12_c12_2"
#define ICC_BPR1 "s3_0_c12_c12_3"
#define ICC_CTLR "s3_0_c12_c12_4"
#define ICC_SRE "s3_0_c12_c12_5"
#define ICC_IGRPEN1 "s3_0_c12_c12_7"
#define ICC_PMR "s3_0_c4_c6_0"
#define ICC_RPR "s3_0_c12_c11_3"
#define ICC_SGI1R "s3_0_c12_c11_5"

#define QEMU_VIRT_GICD 0x08000000ULL
#define QEMU_VIRT_GICR 0x080a0000ULL

static inline uint64_t gicr_base(unsigned cpu) {
        /* QEMU's virt machine (the reference run) puts GICR above GICD. */
        if (gicd_base == QEMU_VIRT_GICD)
                return QEMU_VIRT_GICR + (uint64_t) cpu * 0x20000;
        return gicd_base - (uint64_t) (gic_ncpus - cpu) * 0x20000;
}

/* Once, on the boot CPU. */
static inline void gic_dist_init(void) {
        uint64_t cpus[GUEST_MAX_CPUS];

        gic_ncpus = guest_dtb ? fdt_cpus(guest_dtb, cpus, GUEST_MAX_CPUS) : 1;
        if (!guest_dtb || fdt_compatible_reg(guest_dtb, "arm,gic-v3", &gicd_base) < 0)
                gicd_base = 0x3fff0000;
        mmio_w32(gicd_base + GICD_CTLR, 0x12); /* ARE, EnableGrp1 */
}

/* On every CPU: its redistributor and CPU interface. */
static inline void gic_cpu_init(unsigned cpu, uint32_t ppis) {
        uint64_t r = gicr_base(cpu);

        mmio_w32(r + GICR_WAKER, mmio_r32(r + GICR_WAKER) & ~2u);
        while (mmio_r32(r + GICR_WAKER) & 4u)
                ;
        mmio_w32(r + GICR_IGROUPR0, ~0u);
        for (unsigned i = 0; i < 8; i++)
                mmio_w32(r + GICR_IPRIORITYR + 4 * i, 0xa0a0a0a0u);
        mmio_w32(r + GICR_ISENABLER0, 0xffffu | ppis);
        ICC_WRITE(ICC_SRE, ICC_READ(ICC_SRE) | 1);
        ICC_WRITE(ICC_PMR, 0xf0);
        ICC_WRITE(ICC_BPR1, 0);
        ICC_WRITE(ICC_CTLR, 0);
        ICC_WRITE(ICC_IGRPEN1, 1);
}

static inline void irqs_on(void) {
        __asm__ volatile("msr daifclr, #2" : : : "memory");
}

static inline void irqs_off(void) {
        __asm__ volatile("msr daifset, #2" : : : "memory");
}

/* SGI intid to the CPU whose MPIDR Aff0 is cpu (Aff1..3 = 0). */
static inline void gic_send_sgi(unsigned cpu, unsigned intid) {
        ICC_WRITE(ICC_SGI1R, ((uint64_t) intid << 24) | (1ULL << cpu));
}
