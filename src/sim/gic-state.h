/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The state of the virtual GICv3's distributor and redistributors (see
 * gicv3.h), which lives in the VM's shared memory, and the lines any process
 * of the VM drives into it. Plain data and atomics, no emulator: the daemon's
 * half of the simulator initialises it; the vCPU side (gicv3.c) answers the
 * guest's accesses to it.
 */

#include <stdbool.h>
#include <stdint.h>

#include "hv-rules.h"

#define SIM_GIC_INTIDS 1024u /* SGIs, PPIs and SPIs 32..1019 */
#define SIM_GIC_WORDS (SIM_GIC_INTIDS / 32)
#define SIM_GIC_SPURIOUS 1023u
#define SIM_GIC_SPI_BASE 32u

#define GICR_WAKER_SLEEP 0x2u
#define GICR_WAKER_CHILDREN_ASLEEP 0x4u

typedef struct SimGicRedist {
        uint32_t update;  /* set by whoever changed what this vCPU may take */
        uint32_t waker;
        uint32_t enabled, pending, active, level, edge;
        uint8_t prio[32];
} SimGicRedist;

typedef struct SimGic {
        uint32_t ctlr;
        uint32_t n_redists;
        uint32_t enabled[SIM_GIC_WORDS], pending[SIM_GIC_WORDS], active[SIM_GIC_WORDS];
        uint32_t level[SIM_GIC_WORDS], edge[SIM_GIC_WORDS];
        uint8_t prio[SIM_GIC_INTIDS];
        uint64_t route[SIM_GIC_INTIDS];
        SimGicRedist redist[GH_RULES_MAX_VCPUS];
} SimGic;

struct SimShared;

void sim_gic_init(struct SimShared *s);
/* Line level of SPI intid (>= 32) as an irqfd or device drives it. */
void sim_gic_set_spi_level(struct SimShared *s, uint32_t intid, bool level);
/* Edge: latches SPI intid pending. */
void sim_gic_pend_spi(struct SimShared *s, uint32_t intid);
/* Line level of PPI intid of vCPU cpu (its timers). */
void sim_gic_set_ppi_level(struct SimShared *s, uint32_t cpu, uint32_t intid, bool level);

/* The bit of intid in its 32-bit state word. */
static inline uint32_t sim_gic_bit(uint32_t intid) {
        return UINT32_C(1) << (intid % 32);
}

/* The vCPU an SPI is routed to. */
uint32_t sim_gic_spi_target(const SimGic *g, uint32_t intid);
/* Tells vCPU cpu that what it may take changed, and wakes it. */
void sim_gic_notify(struct SimShared *s, uint32_t cpu);
void sim_gic_notify_all(struct SimShared *s);
