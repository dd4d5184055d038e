/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The virtual GICv3 of a simulated VM, as Gunyah's vGIC presents it: one
 * distributor, one redistributor per vCPU, the ICC_* CPU interface; SGIs,
 * PPIs and SPIs, group 1 only, no ITS, no LPIs, single security state.
 *
 * The distributor and redistributor state lives in the VM's shared memory
 * (SimGic inside SimShared, gic-state.h), so the workers of one VM see one GIC. Guest
 * accesses are made under the execution lock; sources outside it (irqfds,
 * the worker's devices, the timer of a vCPU in WFI) only flip pending/level
 * bits with atomic operations and then notify the target.
 */

#include <stdbool.h>
#include <stdint.h>
#include <unicorn/unicorn.h>

#include "gic-state.h"

/* Where Gunyah's platform (and vm-spec.h's layout) puts the GIC: GICD at
 * the top of the MMIO window, the GICR frames of vCPUs 0..n-1 below it. */
#define SIM_GICD_BASE UINT64_C(0x3FFF0000)
#define SIM_GICD_SIZE UINT64_C(0x10000)
#define SIM_GICR_STRIDE UINT64_C(0x20000)

#define SIM_GIC_PPI_VTIMER 27u
#define SIM_GIC_PPI_PTIMER 30u

/* The per-vCPU CPU interface (ICC_* registers): only its vCPU touches it. */
typedef struct SimGicCpuIf {
        uint32_t pmr, bpr1, ctlr, igrpen1;
        uint32_t ap1r0; /* active priorities, one bit per priority >> 3 */
} SimGicCpuIf;

struct SimShared;
struct HvVcpu;

/* Whether the GIC signals an IRQ to this vCPU (HCR_EL2.VI, and WFI wake). */
bool sim_gic_signaled(struct HvVcpu *v);
/* sim_gic_take_update() is inline in sim-internal.h: it runs at every block. */

/* ICC_* MRS/MSR; false when cp is not a CPU interface register. */
bool sim_gic_sysreg(struct HvVcpu *v, const uc_arm64_cp_reg *cp, bool is_read, uint64_t *value);

/* Maps GICD and the GICR frames into the vCPU's unicorn instance. */
int sim_gic_map(struct HvVcpu *v);
/* The window [start, end) the GIC occupies (for the MMIO-exit gaps). */
void sim_gic_window(const struct SimShared *s, uint64_t *ret_start, uint64_t *ret_end);
