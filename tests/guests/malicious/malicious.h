/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers of the malicious guests (issue 5): guests that try to hurt the
 * host through their vCPU workers. None of them ever powers off: the test
 * ends each with Kill(). */

#include "../lib/guest.h"

/* An address no device or memory of the test VMs' layout uses. */
#define MAL_UNBACKED_MMIO 0x0a100000UL

/* CPU_ONs every other CPU of /cpus with its index as context; returns how
 * many CPUs there are in all. */
static inline unsigned mal_start_secondaries(void) {
        uint64_t cpus[GUEST_MAX_CPUS], self = guest_mpidr();
        unsigned n = guest_dtb ? fdt_cpus(guest_dtb, cpus, GUEST_MAX_CPUS) : 1;

        for (unsigned i = 0; i < n; i++)
                if (cpus[i] != self)
                        (void) psci_cpu_on(cpus[i], i);
        return n;
}

/* xorshift64: garbage that differs per vCPU. */
static inline uint64_t mal_random(uint64_t *state) {
        uint64_t x = *state;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return *state = x;
}

static inline void mal_mmio_write32(uintptr_t addr, uint32_t v) {
        *(volatile uint32_t *) addr = v;
}

static inline uint32_t mal_mmio_read32(uintptr_t addr) {
        return *(volatile uint32_t *) addr;
}
