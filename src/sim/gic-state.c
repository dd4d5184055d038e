/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The GIC's shared state and its input lines (see gic-state.h). */
#include <string.h>

#include "sim-shared.h"

void sim_gic_notify(SimShared *s, uint32_t cpu) {
        if (cpu >= SIM_VCPUS_MAX || !sim_load(&s->vcpus[cpu].present))
                return;
        __atomic_store_n(&s->gic.redist[cpu].update, 1, __ATOMIC_RELEASE);
        sim_vcpu_shared_wake(s, cpu);
}

void sim_gic_notify_all(SimShared *s) {
        for (uint32_t i = 0; i < SIM_VCPUS_MAX; i++)
                sim_gic_notify(s, i);
}

uint32_t sim_gic_spi_target(const SimGic *g, uint32_t intid) {
        /* IROUTER Aff0 names the vCPU (MPIDR = vCPU id); IRM "any": vCPU 0. */
        uint64_t r = g->route[intid];

        return (r & (UINT64_C(1) << 31)) ? 0 : (uint32_t) (r & 0xff);
}

void sim_gic_init(SimShared *s) {
        SimGic *g = &s->gic;

        memset(g, 0, sizeof(*g));
        for (uint32_t i = 0; i < SIM_VCPUS_MAX; i++) {
                g->redist[i].waker = GICR_WAKER_SLEEP | GICR_WAKER_CHILDREN_ASLEEP;
                g->redist[i].edge = 0xffff; /* SGIs are edge */
        }
}

void sim_gic_set_spi_level(SimShared *s, uint32_t intid, bool level) {
        SimGic *g = &s->gic;
        uint32_t old;

        if (intid < SIM_GIC_SPI_BASE || intid >= SIM_GIC_SPURIOUS - 3)
                return;
        if (level)
                old = __atomic_fetch_or(&g->level[intid / 32], sim_gic_bit(intid), __ATOMIC_ACQ_REL);
        else
                old = __atomic_fetch_and(&g->level[intid / 32], ~sim_gic_bit(intid), __ATOMIC_ACQ_REL);
        /* Devices re-drive their line after every access: wake only on a change. */
        if (((old & sim_gic_bit(intid)) != 0) != level)
                sim_gic_notify(s, sim_gic_spi_target(g, intid));
}

void sim_gic_pend_spi(SimShared *s, uint32_t intid) {
        SimGic *g = &s->gic;

        if (intid < SIM_GIC_SPI_BASE || intid >= SIM_GIC_SPURIOUS - 3)
                return;
        __atomic_fetch_or(&g->pending[intid / 32], sim_gic_bit(intid), __ATOMIC_ACQ_REL);
        sim_gic_notify(s, sim_gic_spi_target(g, intid));
}

void sim_gic_set_ppi_level(SimShared *s, uint32_t cpu, uint32_t intid, bool level) {
        SimGicRedist *r = &s->gic.redist[cpu];
        uint32_t old;

        if (level)
                old = __atomic_fetch_or(&r->level, sim_gic_bit(intid), __ATOMIC_ACQ_REL);
        else
                old = __atomic_fetch_and(&r->level, ~sim_gic_bit(intid), __ATOMIC_ACQ_REL);
        if (((old & sim_gic_bit(intid)) != 0) != level)
                __atomic_store_n(&r->update, 1, __ATOMIC_RELEASE);
}
