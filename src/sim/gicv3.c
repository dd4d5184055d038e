/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtual GICv3 (see gicv3.h). The distributor and redistributors are
 * answered here, inside the simulator, as Gunyah's vGIC answers them: a
 * GIC access never becomes an MMIO exit to the VMM.
 */
#include <limits.h>
#include <string.h>

#include "sim-internal.h"
#include "sim-sysreg.h"

#define PRIO_MASK 0xf8u   /* 5 priority bits, as ICC_CTLR_EL1.PRIbits says */
#define PRIO_IDLE 0xffu

#define GICD_CTLR 0x0000
#define GICD_TYPER 0x0004
#define GICD_IIDR 0x0008
#define GICD_IGROUPR 0x0080
#define GICD_ISENABLER 0x0100
#define GICD_ICENABLER 0x0180
#define GICD_ISPENDR 0x0200
#define GICD_ICPENDR 0x0280
#define GICD_ISACTIVER 0x0300
#define GICD_ICACTIVER 0x0380
#define GICD_IPRIORITYR 0x0400
#define GICD_ICFGR 0x0c00
#define GICD_IROUTER 0x6000
#define GIC_PIDR2 0xffe8
#define GIC_PIDR2_V3 0x3bu
#define GIC_IIDR_VALUE 0x0100143bu

#define GICD_CTLR_ENABLE_G1 0x2u
#define GICD_CTLR_ARE 0x10u
#define GICD_CTLR_DS 0x40u

#define GICR_CTLR 0x0000
#define GICR_IIDR 0x0004
#define GICR_TYPER 0x0008
#define GICR_WAKER 0x0014
#define GICR_SGI_BASE 0x10000
#define GICR_TYPER_LAST (UINT64_C(1) << 4)

#define ICC_CTLR_EOIMODE 0x2u
#define ICC_CTLR_RO ((4u << 8) | (1u << 15)) /* PRIbits = 5, IDbits 16, A3V */

/* The highest-priority pending, enabled, inactive interrupt for this vCPU
 * (lowest INTID on ties); SIM_GIC_SPURIOUS if none. */
static uint32_t hppi(HvVcpu *v, uint8_t *ret_prio) {
        SimGic *g = &v->shared->gic;
        SimGicRedist *r = &g->redist[v->id];
        uint32_t best = SIM_GIC_SPURIOUS, best_prio = 0x100, cand;

        if (!(sim_load(&g->ctlr) & GICD_CTLR_ENABLE_G1) || !(v->gic.igrpen1 & 1))
                return SIM_GIC_SPURIOUS;
        cand = sim_load(&r->enabled) & (sim_load(&r->pending) | sim_load(&r->level)) & ~sim_load(&r->active);
        for (; cand; cand &= cand - 1) {
                uint32_t i = (uint32_t) __builtin_ctz(cand);

                if (r->prio[i] < best_prio) {
                        best = i;
                        best_prio = r->prio[i];
                }
        }
        for (uint32_t w = 1; w < SIM_GIC_WORDS; w++) {
                cand = sim_load(&g->enabled[w]) & (sim_load(&g->pending[w]) | sim_load(&g->level[w])) &
                       ~sim_load(&g->active[w]);
                for (; cand; cand &= cand - 1) {
                        uint32_t i = w * 32 + (uint32_t) __builtin_ctz(cand);

                        if (g->prio[i] < best_prio && sim_gic_spi_target(g, i) == v->id) {
                                best = i;
                                best_prio = g->prio[i];
                        }
                }
        }
        if (ret_prio)
                *ret_prio = (uint8_t) (best_prio & 0xff);
        return best;
}

static uint32_t running_prio(const SimGicCpuIf *c) {
        return c->ap1r0 ? (uint32_t) __builtin_ctz(c->ap1r0) << 3 : PRIO_IDLE;
}

/* Pending and allowed through the priority mask and the running priority. */
static uint32_t signaled_intid(HvVcpu *v) {
        uint8_t prio;
        uint32_t intid = hppi(v, &prio);

        if (intid == SIM_GIC_SPURIOUS || (prio & PRIO_MASK) >= v->gic.pmr ||
            (prio & PRIO_MASK) >= running_prio(&v->gic))
                return SIM_GIC_SPURIOUS;
        return intid;
}

bool sim_gic_signaled(HvVcpu *v) {
        return signaled_intid(v) != SIM_GIC_SPURIOUS;
}

/* Per-INTID state word and bit, in the redistributor of v or the distributor. */
static uint32_t *state_word(HvVcpu *v, uint32_t *words_gicd, uint32_t *word_gicr, uint32_t intid) {
        return intid < 32 ? word_gicr : &words_gicd[intid / 32];
}

static void deactivate(HvVcpu *v, uint32_t intid) {
        SimGic *g = &v->shared->gic;
        SimGicRedist *r = &g->redist[v->id];

        if (intid >= SIM_GIC_SPURIOUS - 3)
                return;
        __atomic_fetch_and(state_word(v, g->active, &r->active, intid), ~sim_gic_bit(intid), __ATOMIC_ACQ_REL);
}

static uint64_t icc_iar1(HvVcpu *v) {
        SimGic *g = &v->shared->gic;
        SimGicRedist *r = &g->redist[v->id];
        uint32_t intid = signaled_intid(v);
        uint8_t prio = 0;

        if (intid == SIM_GIC_SPURIOUS)
                return intid;
        (void) hppi(v, &prio);
        /* Acknowledge: pending → active (a level line stays pending). */
        __atomic_fetch_and(state_word(v, g->pending, &r->pending, intid), ~sim_gic_bit(intid), __ATOMIC_ACQ_REL);
        __atomic_fetch_or(state_word(v, g->active, &r->active, intid), sim_gic_bit(intid), __ATOMIC_ACQ_REL);
        v->gic.ap1r0 |= UINT32_C(1) << ((prio & PRIO_MASK) >> 3);
        return intid;
}

static void icc_eoir1(HvVcpu *v, uint32_t intid) {
        if (intid >= SIM_GIC_SPURIOUS - 3)
                return;
        v->gic.ap1r0 &= v->gic.ap1r0 - 1; /* drop the running priority */
        if (!(v->gic.ctlr & ICC_CTLR_EOIMODE))
                deactivate(v, intid);
}

static void icc_sgi1r(HvVcpu *v, uint64_t val) {
        SimShared *s = v->shared;
        uint32_t intid = (uint32_t) (val >> 24) & 0xf, targets = (uint32_t) val & 0xffff;
        bool all = (val >> 40) & 1;
        uint64_t high_aff = val & ((UINT64_C(0xff) << 16) | (UINT64_C(0xff) << 32) | (UINT64_C(0xff) << 48) |
                                   (UINT64_C(0xf) << 44));

        for (uint32_t t = 0; t < SIM_VCPUS_MAX; t++) {
                if (!sim_load(&s->vcpus[t].present))
                        continue;
                if (all ? t == v->id : (high_aff != 0 || !(targets & (UINT32_C(1) << t))))
                        continue;
                __atomic_fetch_or(&s->gic.redist[t].pending, sim_gic_bit(intid), __ATOMIC_ACQ_REL);
                if (t != v->id)
                        sim_gic_notify(s, t);
        }
}

/* op0 = 3, op1 = 0: the EL1 CPU interface registers. */
#define ICC(crn, crm, op2) (((crn) << 8) | ((crm) << 4) | (op2))

bool sim_gic_sysreg(HvVcpu *v, const uc_arm64_cp_reg *cp, bool is_read, uint64_t *value) {
        SimGicCpuIf *c = &v->gic;
        uint64_t val = is_read ? 0 : *value;

        /* CRn 12 also holds VBAR_EL1 and ISR_EL1 (CRm 0, 1): ICC_* are CRm 8-12. */
        if (cp->op0 != 3 || cp->op1 != 0 ||
            !((cp->crn == 12 && cp->crm >= 8 && cp->crm <= 12) || (cp->crn == 4 && cp->crm == 6 && cp->op2 == 0)))
                return false;
        switch (ICC(cp->crn, cp->crm, cp->op2)) {
        case ICC(4, 6, 0): /* PMR */
                if (is_read) val = c->pmr; else c->pmr = (uint32_t) val & PRIO_MASK;
                break;
        case ICC(12, 12, 0): /* IAR1 */
                if (is_read) val = icc_iar1(v);
                break;
        case ICC(12, 12, 1): /* EOIR1 */
                if (!is_read) icc_eoir1(v, (uint32_t) val & 0xffffff);
                break;
        case ICC(12, 11, 1): /* DIR */
                if (!is_read) deactivate(v, (uint32_t) val & 0xffffff);
                break;
        case ICC(12, 12, 2): /* HPPIR1 */
                if (is_read) val = hppi(v, NULL);
                break;
        case ICC(12, 11, 3): /* RPR */
                if (is_read) val = running_prio(c);
                break;
        case ICC(12, 12, 3): /* BPR1 */
                if (is_read) val = c->bpr1; else c->bpr1 = (uint32_t) val & 7;
                break;
        case ICC(12, 12, 4): /* CTLR */
                if (is_read) val = ICC_CTLR_RO | c->ctlr; else c->ctlr = (uint32_t) val & ICC_CTLR_EOIMODE;
                break;
        case ICC(12, 12, 5): /* SRE: system registers only */
                if (is_read) val = 7;
                break;
        case ICC(12, 12, 7): /* IGRPEN1 */
                if (is_read) val = c->igrpen1; else c->igrpen1 = (uint32_t) val & 1;
                break;
        case ICC(12, 9, 0): /* AP1R0 */
                if (is_read) val = c->ap1r0; else c->ap1r0 = (uint32_t) val;
                break;
        case ICC(12, 11, 5): /* SGI1R */
        case ICC(12, 11, 6): /* ASGI1R: one security state, same thing */
                if (!is_read) icc_sgi1r(v, val);
                break;
        case ICC(12, 8, 0): /* IAR0, HPPIR0: no group 0 */
        case ICC(12, 8, 2):
                val = SIM_GIC_SPURIOUS;
                break;
        default: /* group 0, AP1R1..3 (5 priority bits), SGI0R: RAZ/WI */
                val = 0;
                break;
        }
        if (is_read)
                *value = val;
        sim_emu_set_hcr_vi(v);
        return true;
}

/* --- Distributor and redistributor MMIO --- */

/* Set/clear-enable, pending and active register pairs: 1 bits act. */
static uint32_t *bank_reg(uint32_t off, uint32_t *enabled, uint32_t *pending, uint32_t *active, bool *ret_set) {
        *ret_set = (off & 0x80) == 0;
        switch (off & ~0x7fu) {
        case GICD_ISENABLER: case GICD_ICENABLER: return enabled;
        case GICD_ISPENDR: case GICD_ICPENDR: return pending;
        case GICD_ISACTIVER: case GICD_ICACTIVER: return active;
        }
        return NULL;
}

static uint32_t bank_read(uint32_t *word, uint32_t *pending_view_level, bool is_pending) {
        return sim_load(word) | (is_pending && pending_view_level ? sim_load(pending_view_level) : 0);
}

static void bank_write(uint32_t *word, bool set, uint32_t val) {
        if (set)
                __atomic_fetch_or(word, val, __ATOMIC_ACQ_REL);
        else
                __atomic_fetch_and(word, ~val, __ATOMIC_ACQ_REL);
}

static uint64_t gicd_read(HvVcpu *v, uint32_t off, unsigned size) {
        SimGic *g = &v->shared->gic;
        uint32_t n, *w;
        bool set;

        if (off >= GICD_IPRIORITYR && off < GICD_IPRIORITYR + SIM_GIC_INTIDS) {
                uint64_t val = 0;

                for (unsigned i = 0; i < size && off - GICD_IPRIORITYR + i < SIM_GIC_INTIDS; i++)
                        if (off - GICD_IPRIORITYR + i >= 32)
                                val |= (uint64_t) g->prio[off - GICD_IPRIORITYR + i] << (8 * i);
                return val;
        }
        if (off >= GICD_IROUTER && off < GICD_IROUTER + 8 * SIM_GIC_INTIDS) {
                uint64_t r = g->route[(off - GICD_IROUTER) / 8];

                return size == 8 ? r : (off & 4) ? r >> 32 : (uint32_t) r;
        }
        if (off >= GICD_ISENABLER && off < GICD_ICACTIVER + 0x80) {
                n = (off & 0x7f) / 4;
                w = bank_reg(off, g->enabled, g->pending, g->active, &set);
                return n == 0 ? 0 : bank_read(&w[n], &g->level[n], w == g->pending);
        }
        if (off >= GICD_IGROUPR && off < GICD_IGROUPR + 0x80)
                return off == GICD_IGROUPR ? 0 : UINT32_MAX; /* group 1 only */
        if (off >= GICD_ICFGR && off < GICD_ICFGR + 0x100) {
                uint32_t val = 0, first = (off - GICD_ICFGR) * 4;

                for (uint32_t i = 0; i < 16 && first >= 32; i++)
                        if (g->edge[(first + i) / 32] & sim_gic_bit(first + i))
                                val |= 2u << (2 * i);
                return val;
        }
        switch (off) {
        case GICD_CTLR: return (sim_load(&g->ctlr) & 3) | GICD_CTLR_ARE | GICD_CTLR_DS;
        case GICD_TYPER: return (SIM_GIC_WORDS - 1) | (9u << 19); /* 1024 INTIDs, 10 ID bits */
        case GICD_IIDR: return GIC_IIDR_VALUE;
        case GIC_PIDR2: return GIC_PIDR2_V3;
        }
        return 0;
}

static void gicd_write(HvVcpu *v, uint32_t off, unsigned size, uint64_t val) {
        SimGic *g = &v->shared->gic;
        uint32_t n, *w;
        bool set;

        if (off >= GICD_IPRIORITYR && off < GICD_IPRIORITYR + SIM_GIC_INTIDS) {
                for (unsigned i = 0; i < size && off - GICD_IPRIORITYR + i < SIM_GIC_INTIDS; i++)
                        if (off - GICD_IPRIORITYR + i >= 32)
                                g->prio[off - GICD_IPRIORITYR + i] = (uint8_t) (val >> (8 * i)) & PRIO_MASK;
        } else if (off >= GICD_IROUTER && off < GICD_IROUTER + 8 * SIM_GIC_INTIDS) {
                uint64_t *r = &g->route[(off - GICD_IROUTER) / 8];

                if (size == 8)
                        *r = val;
                else if (off & 4)
                        *r = (*r & UINT32_MAX) | (val << 32);
                else
                        *r = (*r & ~(uint64_t) UINT32_MAX) | (uint32_t) val;
        } else if (off >= GICD_ISENABLER && off < GICD_ICACTIVER + 0x80) {
                n = (off & 0x7f) / 4;
                w = bank_reg(off, g->enabled, g->pending, g->active, &set);
                if (n != 0)
                        bank_write(&w[n], set, (uint32_t) val);
        } else if (off >= GICD_ICFGR + 8 && off < GICD_ICFGR + 0x100) {
                uint32_t first = (off - GICD_ICFGR) * 4;

                for (uint32_t i = 0; i < 16; i++)
                        bank_write(&g->edge[(first + i) / 32], (val >> (2 * i + 1)) & 1, sim_gic_bit(first + i));
        } else if (off == GICD_CTLR) {
                sim_store(&g->ctlr, (uint32_t) val & 3);
        }
        sim_gic_notify_all(v->shared);
}

static uint64_t gicr_read(HvVcpu *v, uint32_t cpu, uint32_t off, unsigned size) {
        SimGicRedist *r = &v->shared->gic.redist[cpu];
        uint32_t *w;
        bool set;

        if (off == GICR_TYPER || off == GICR_TYPER + 4) {
                uint64_t typer = ((uint64_t) cpu << 32) | ((uint64_t) cpu << 8) |
                                 (cpu + 1 == v->shared->gic.n_redists ? GICR_TYPER_LAST : 0);

                return size == 8 ? typer : off == GICR_TYPER ? (uint32_t) typer : typer >> 32;
        }
        switch (off) {
        case GICR_CTLR: return 0;
        case GICR_IIDR: return GIC_IIDR_VALUE;
        case GICR_WAKER: return sim_load(&r->waker);
        case GIC_PIDR2: return GIC_PIDR2_V3;
        case GICR_SGI_BASE + GICD_IGROUPR: return UINT32_MAX;
        case GICR_SGI_BASE + GICD_ICFGR: return 0xaaaaaaaau;
        case GICR_SGI_BASE + GICD_ICFGR + 4: {
                uint32_t val = 0;

                for (uint32_t i = 0; i < 16; i++)
                        if (r->edge & sim_gic_bit(16 + i))
                                val |= 2u << (2 * i);
                return val;
        }
        }
        if (off >= GICR_SGI_BASE + GICD_IPRIORITYR && off < GICR_SGI_BASE + GICD_IPRIORITYR + 32) {
                uint64_t val = 0;

                for (unsigned i = 0; i < size && off - GICR_SGI_BASE - GICD_IPRIORITYR + i < 32; i++)
                        val |= (uint64_t) r->prio[off - GICR_SGI_BASE - GICD_IPRIORITYR + i] << (8 * i);
                return val;
        }
        if ((off & ~0x380u) == GICR_SGI_BASE && off >= GICR_SGI_BASE + GICD_ISENABLER) {
                w = bank_reg(off - GICR_SGI_BASE, &r->enabled, &r->pending, &r->active, &set);
                return w ? bank_read(w, &r->level, w == &r->pending) : 0;
        }
        return 0;
}

static void gicr_write(HvVcpu *v, uint32_t cpu, uint32_t off, unsigned size, uint64_t val) {
        SimGicRedist *r = &v->shared->gic.redist[cpu];
        uint32_t *w;
        bool set;

        if (off == GICR_WAKER) {
                uint32_t sleep = (uint32_t) val & GICR_WAKER_SLEEP;

                sim_store(&r->waker, sleep ? GICR_WAKER_SLEEP | GICR_WAKER_CHILDREN_ASLEEP : 0);
        } else if (off == GICR_SGI_BASE + GICD_ICFGR + 4) {
                for (uint32_t i = 0; i < 16; i++)
                        bank_write(&r->edge, (val >> (2 * i + 1)) & 1, sim_gic_bit(16 + i));
        } else if (off >= GICR_SGI_BASE + GICD_IPRIORITYR && off < GICR_SGI_BASE + GICD_IPRIORITYR + 32) {
                for (unsigned i = 0; i < size && off - GICR_SGI_BASE - GICD_IPRIORITYR + i < 32; i++)
                        r->prio[off - GICR_SGI_BASE - GICD_IPRIORITYR + i] = (uint8_t) (val >> (8 * i)) & PRIO_MASK;
        } else if ((off & ~0x380u) == GICR_SGI_BASE && off >= GICR_SGI_BASE + GICD_ISENABLER) {
                w = bank_reg(off - GICR_SGI_BASE, &r->enabled, &r->pending, &r->active, &set);
                if (w)
                        bank_write(w, set, (uint32_t) val);
        }
        sim_gic_notify(v->shared, cpu);
        sim_emu_set_hcr_vi(v);
}

static uint64_t gicd_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *userdata) {
        return gicd_read(userdata, (uint32_t) offset, size);
}

static void gicd_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *userdata) {
        gicd_write(userdata, (uint32_t) offset, size, value);
        sim_emu_set_hcr_vi(userdata);
}

static uint64_t gicr_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *userdata) {
        return gicr_read(userdata, (uint32_t) (offset / SIM_GICR_STRIDE), (uint32_t) (offset % SIM_GICR_STRIDE), size);
}

static void gicr_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *userdata) {
        gicr_write(userdata, (uint32_t) (offset / SIM_GICR_STRIDE), (uint32_t) (offset % SIM_GICR_STRIDE), size, value);
}

void sim_gic_window(const SimShared *s, uint64_t *ret_start, uint64_t *ret_end) {
        *ret_start = SIM_GICD_BASE - s->gic.n_redists * SIM_GICR_STRIDE;
        *ret_end = SIM_GICD_BASE + SIM_GICD_SIZE;
}

int sim_gic_map(HvVcpu *v) {
        uint64_t start, end;

        sim_gic_window(v->shared, &start, &end);
        if (uc_mmio_map(v->uc, SIM_GICD_BASE, SIM_GICD_SIZE, gicd_mmio_read, v, gicd_mmio_write, v) != UC_ERR_OK)
                return -EIO;
        if (start < SIM_GICD_BASE &&
            uc_mmio_map(v->uc, start, SIM_GICD_BASE - start, gicr_mmio_read, v, gicr_mmio_write, v) != UC_ERR_OK)
                return -EIO;
        return 0;
}
