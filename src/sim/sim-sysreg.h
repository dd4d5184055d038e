/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* System register access through UC_ARM64_REG_CP_REG, shared by the files
 * that emulate what unicorn 2.0.1 leaves out (exceptions, GIC, timers). */

#include <errno.h>
#include <stdint.h>
#include <unicorn/unicorn.h>

typedef struct SimSysreg {
        uint32_t op0, op1, crn, crm, op2;
} SimSysreg;

#define SIM_SYSREG(a, b, c, d, e) ((SimSysreg) { a, b, c, d, e })
#define SIM_SCR_EL3 SIM_SYSREG(3, 6, 1, 1, 0)
#define SIM_HCR_EL2 SIM_SYSREG(3, 4, 1, 1, 0)
#define SIM_VMPIDR_EL2 SIM_SYSREG(3, 4, 0, 0, 5)
#define SIM_SCTLR_EL1 SIM_SYSREG(3, 0, 1, 0, 0)
#define SIM_ELR_EL1 SIM_SYSREG(3, 0, 4, 0, 1)
#define SIM_SPSR_EL1 SIM_SYSREG(3, 0, 4, 0, 0)
#define SIM_SP_EL0 SIM_SYSREG(3, 0, 4, 1, 0)
#define SIM_ESR_EL1 SIM_SYSREG(3, 0, 5, 2, 0)
#define SIM_FAR_EL1 SIM_SYSREG(3, 0, 6, 0, 0)
#define SIM_VBAR_EL1 SIM_SYSREG(3, 0, 12, 0, 0)
#define SIM_DAIF SIM_SYSREG(3, 3, 4, 2, 1)

#define SIM_HCR_IMO (UINT64_C(1) << 4)
#define SIM_HCR_VI (UINT64_C(1) << 7)
#define SIM_HCR_RW (UINT64_C(1) << 31)
#define SIM_PSTATE_I (UINT64_C(1) << 7)

static inline int sim_sysreg_write(uc_engine *uc, SimSysreg r, uint64_t value) {
        uc_arm64_cp_reg cp = { .crn = r.crn, .crm = r.crm, .op0 = r.op0, .op1 = r.op1, .op2 = r.op2, .val = value };

        return uc_reg_write(uc, UC_ARM64_REG_CP_REG, &cp) == UC_ERR_OK ? 0 : -EIO;
}

static inline int sim_sysreg_read(uc_engine *uc, SimSysreg r, uint64_t *ret) {
        uc_arm64_cp_reg cp = { .crn = r.crn, .crm = r.crm, .op0 = r.op0, .op1 = r.op1, .op2 = r.op2 };

        if (uc_reg_read(uc, UC_ARM64_REG_CP_REG, &cp) != UC_ERR_OK)
                return -EIO;
        *ret = cp.val;
        return 0;
}

static inline uint64_t sim_sysreg_get(uc_engine *uc, SimSysreg r) {
        uint64_t v = 0;

        (void) sim_sysreg_read(uc, r, &v);
        return v;
}

static inline bool sim_sysreg_is(const uc_arm64_cp_reg *cp, SimSysreg r) {
        return cp->op0 == r.op0 && cp->op1 == r.op1 && cp->crn == r.crn && cp->crm == r.crm && cp->op2 == r.op2;
}
