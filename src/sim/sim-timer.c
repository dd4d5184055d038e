/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The EL1 virtual and physical generic timers of one vCPU.
 *
 * unicorn 2.0.1 has the counter but no timer interrupts (unicorn-notes
 * "System registers and timer"), so CNTV_* and CNTP_* are emulated through
 * the MRS/MSR hook and their PPIs (27, 30) driven as level lines in the GIC.
 * The counter is the host's CLOCK_MONOTONIC at CNTFRQ_EL0 = 62.5 MHz (one
 * tick per 16 ns), as QEMU's own CNTVCT in 2.0.1; the counter registers are
 * answered here too so that counter and timers can never disagree.
 */
#include <time.h>

#include "macro.h"
#include "sim-internal.h"
#include "sim-sysreg.h"

#define NS_PER_TICK 16u /* 62.5 MHz */
#define CTL_ENABLE 0x1u
#define CTL_IMASK 0x2u
#define CTL_ISTATUS 0x4u

uint64_t sim_timer_now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

static uint64_t counter(void) {
        return sim_timer_now_ns() / NS_PER_TICK;
}

static bool fired(const SimTimer *t, uint64_t cnt) {
        return (t->ctl & CTL_ENABLE) && cnt >= t->cval;
}

static uint64_t deadline_ns(const SimTimer *t) {
        if (!(t->ctl & CTL_ENABLE) || (t->ctl & CTL_IMASK))
                return UINT64_MAX;
        return t->cval > UINT64_MAX / NS_PER_TICK ? UINT64_MAX : t->cval * NS_PER_TICK;
}

/* Drives both PPIs from the current time and computes when the next one
 * fires (v->timer_deadline_ns, UINT64_MAX: never). */
void sim_timer_update(HvVcpu *v) {
        static const uint32_t ppi[SIM_TIMERS] = { [SIM_TIMER_VIRT] = SIM_GIC_PPI_VTIMER,
                                                  [SIM_TIMER_PHYS] = SIM_GIC_PPI_PTIMER };
        uint64_t cnt = counter(), next = UINT64_MAX;

        for (unsigned i = 0; i < SIM_TIMERS; i++) {
                const SimTimer *t = &v->timers[i];
                bool level = fired(t, cnt) && !(t->ctl & CTL_IMASK);

                sim_gic_set_ppi_level(v->shared, v->id, ppi[i], level);
                if (!level)
                        next = MIN(next, deadline_ns(t));
        }
        v->timer_deadline_ns = next;
}

/* op0 = 3, op1 = 3, CRn = 14. */
bool sim_timer_sysreg(HvVcpu *v, const uc_arm64_cp_reg *cp, bool is_read, uint64_t *value) {
        SimTimer *t;
        uint64_t cnt;

        if (cp->op0 != 3 || cp->op1 != 3 || cp->crn != 14)
                return false;
        if (cp->crm == 0 && (cp->op2 == 1 || cp->op2 == 2)) { /* CNTPCT, CNTVCT (CNTVOFF = 0) */
                if (!is_read)
                        return false;
                *value = counter();
                return true;
        }
        if (cp->crm != 2 && cp->crm != 3)
                return false;
        t = &v->timers[cp->crm == 3 ? SIM_TIMER_VIRT : SIM_TIMER_PHYS];
        cnt = counter();
        switch (cp->op2) {
        case 0: /* TVAL: signed 32-bit distance to CVAL */
                if (is_read)
                        *value = (uint64_t) (int64_t) (int32_t) (uint32_t) (t->cval - cnt);
                else
                        t->cval = cnt + (uint64_t) (int64_t) (int32_t) (uint32_t) *value;
                break;
        case 1: /* CTL */
                if (is_read)
                        *value = (t->ctl & (CTL_ENABLE | CTL_IMASK)) | (fired(t, cnt) ? CTL_ISTATUS : 0);
                else
                        t->ctl = (uint32_t) *value & (CTL_ENABLE | CTL_IMASK);
                break;
        case 2: /* CVAL */
                if (is_read)
                        *value = t->cval;
                else
                        t->cval = *value;
                break;
        default:
                return false;
        }
        if (!is_read) {
                sim_timer_update(v);
                sim_emu_set_hcr_vi(v);
        }
        return true;
}
