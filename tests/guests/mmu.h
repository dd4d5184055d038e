/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A minimal stage-1 translation for the guests that turn the MMU on: 4 KiB
 * granule, 39-bit VAs, level-1 1 GiB blocks. TTBR0 maps the low GiB as
 * Device (the UART) and RAM from 0x80000000 identically; TTBR1 maps the
 * same two GiB again at MMU_HIGH_OFFSET + PA. Every other GiB faults. */

#include "lib/guest.h"

#define MMU_HIGH_OFFSET 0xffffff8000000000ULL
#define MMU_UNMAPPED_HIGH (MMU_HIGH_OFFSET + 0x140000000ULL)

#define PTE_BLOCK 0x1ULL
#define PTE_AF (1ULL << 10)
#define PTE_SH_INNER (3ULL << 8)
#define PTE_ATTR(i) ((uint64_t) (i) << 2)

static uint64_t mmu_l1_low[512] __attribute__((aligned(4096)));
static uint64_t mmu_l1_high[512] __attribute__((aligned(4096)));

static inline void mmu_enable(void) {
        const uint64_t dev = 0x0ULL | PTE_ATTR(0) | PTE_AF | PTE_BLOCK;
        const uint64_t ram = 0x80000000ULL | PTE_ATTR(1) | PTE_AF | PTE_SH_INNER | PTE_BLOCK;
        /* MAIR: attr0 Device-nGnRnE, attr1 Normal write-back. */
        const uint64_t mair = 0xff00ULL;
        /* T0SZ = T1SZ = 25, TG1 = 4 KiB, IPS = 32 bits. */
        const uint64_t tcr = 25ULL | (25ULL << 16) | (2ULL << 30);
        uint64_t sctlr;

        mmu_l1_low[0] = mmu_l1_high[0] = dev;
        mmu_l1_low[2] = mmu_l1_high[2] = ram;
        __asm__ volatile("msr mair_el1, %0\n"
                         "msr tcr_el1, %1\n"
                         "msr ttbr0_el1, %2\n"
                         "msr ttbr1_el1, %3\n"
                         "dsb sy\n"
                         "tlbi vmalle1\n"
                         "dsb sy\n"
                         "isb\n"
                         :
                         : "r"(mair), "r"(tcr), "r"((uint64_t) (uintptr_t) mmu_l1_low),
                           "r"((uint64_t) (uintptr_t) mmu_l1_high)
                         : "memory");
        __asm__ volatile("mrs %0, sctlr_el1" : "=r"(sctlr));
        sctlr |= 1; /* M */
        __asm__ volatile("msr sctlr_el1, %0\nisb" : : "r"(sctlr) : "memory");
}
