/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest synchronous exceptions delivered to the guest's VBAR_EL1 vector.
 *
 * unicorn 2.0.1 hands every synchronous exception to UC_HOOK_INTR instead
 * of the guest's vector (unicorn-notes "Exceptions"). QEMU still delivers a
 * virtual IRQ natively when HCR_EL2.VI is set, writing ELR, SPSR, PSTATE and
 * SP as a real CPU does; with VBAR_EL1 moved 0x80 lower for that one entry,
 * the IRQ slot is the synchronous slot. ESR_EL1 and FAR_EL1 are written
 * first from the syndrome QEMU recorded in CPUARMState.exception, which the
 * API does not expose: its offset in a saved context is found, once per
 * process, by raising a known fault.
 */
#include <string.h>

#include "log.h"
#include "sim-internal.h"
#include "sim-sysreg.h"

/* Where 2.0.1 keeps CPUARMState.exception {syndrome, fsr, vaddress} in a
 * saved context (unicorn-notes); the probe confirms it. */
#define SIM_EXC_SYNDROME_OFFSET 3040u
#define SIM_EXC_VADDRESS_DELTA 8u

/* QEMU's EXCP_* numbers that are synchronous exceptions the guest takes. */
enum {
        SIM_EXCP_UDEF = 1,
        SIM_EXCP_SWI = 2,
        SIM_EXCP_PREFETCH_ABORT = 3,
        SIM_EXCP_DATA_ABORT = 4,
        SIM_EXCP_BKPT = 7,
};

#define AARCH64_LDXR_X0_X1 0xc85f7c20u
#define ESR_EC(esr) ((uint32_t) (esr) >> 26)
#define ESR_EC_DABT_CUR 0x25u
#define SIM_PROBE_CODE_OFFSET 0x10u
#define SIM_PROBE_ADDR_OFFSET 0x801u /* misaligned: LDXR faults on alignment */

/* -1: not probed yet; 0: the layout is not what we expect (exceptions then
 * end the VM as before); otherwise the verified offset. */
static int syndrome_offset = -1;

static void read_exception(uc_context *ctx, size_t off, uint32_t *ret_syndrome, uint64_t *ret_vaddress) {
        memcpy(ret_syndrome, (const uint8_t *) ctx + off, sizeof(*ret_syndrome));
        memcpy(ret_vaddress, (const uint8_t *) ctx + off + SIM_EXC_VADDRESS_DELTA, sizeof(*ret_vaddress));
}

static void probe_hook(uc_engine *uc, uint32_t intno, void *userdata) {
        uc_context *ctx = userdata;

        if (intno == SIM_EXCP_DATA_ABORT)
                (void) uc_context_save(uc, ctx);
        uc_emu_stop(uc);
}

/* Runs an LDXR at a misaligned address in the trampoline page (mapped by
 * the caller) and checks the data abort shows up where we expect it. */
int sim_exception_probe(HvVcpu *v) {
        const uint32_t code = AARCH64_LDXR_X0_X1;
        uint64_t code_addr = SIM_TRAMPOLINE_ADDR + SIM_PROBE_CODE_OFFSET;
        uint64_t addr = SIM_TRAMPOLINE_ADDR + SIM_PROBE_ADDR_OFFSET, vaddress = 0;
        uint32_t syndrome = 0;
        uc_hook h;

        if (uc_context_alloc(v->uc, &v->exc_ctx) != UC_ERR_OK)
                return -ENOMEM;
        v->exc_ctx_size = uc_context_size(v->uc);
        if (syndrome_offset >= 0)
                return 0;
        syndrome_offset = 0;
        if (v->exc_ctx_size < SIM_EXC_SYNDROME_OFFSET + 16 ||
            uc_mem_write(v->uc, code_addr, &code, sizeof(code)) != UC_ERR_OK ||
            uc_reg_write(v->uc, UC_ARM64_REG_X1, &addr) != UC_ERR_OK ||
            uc_hook_add(v->uc, &h, UC_HOOK_INTR, probe_hook, v->exc_ctx, 1, 0) != UC_ERR_OK)
                return 0;
        /* count 0: a count hook would make the next uc_emu_start flush every TB. */
        (void) uc_emu_start(v->uc, code_addr, code_addr + 4, 0, 0);
        (void) uc_hook_del(v->uc, h);
        read_exception(v->exc_ctx, SIM_EXC_SYNDROME_OFFSET, &syndrome, &vaddress);
        if (ESR_EC(syndrome) == ESR_EC_DABT_CUR && vaddress == addr)
                syndrome_offset = SIM_EXC_SYNDROME_OFFSET;
        else
                log_warning("sim: unicorn's saved context does not hold the fault where 2.0.1 does "
                            "(syndrome 0x%x, address 0x%llx): guest exceptions will end the VM",
                            syndrome, (unsigned long long) vaddress);
        return 0;
}

void sim_exception_free(HvVcpu *v) {
        if (v->exc_ctx)
                uc_context_free(v->exc_ctx);
        v->exc_ctx = NULL;
}

static bool is_guest_exception(uint32_t intno) {
        return intno == SIM_EXCP_UDEF || intno == SIM_EXCP_SWI || intno == SIM_EXCP_PREFETCH_ABORT ||
               intno == SIM_EXCP_DATA_ABORT || intno == SIM_EXCP_BKPT;
}

/* From UC_HOOK_INTR: arranges for the exception to enter the guest's
 * vector. false: the guest cannot take it (no vector table, or a kind we do
 * not deliver) and the caller halts the vCPU. */
bool sim_exception_deliver(HvVcpu *v, uint32_t intno) {
        uint64_t vbar, daif, vaddress;
        uint32_t syndrome;

        if (!is_guest_exception(intno) || syndrome_offset <= 0)
                return false;
        vbar = sim_sysreg_get(v->uc, SIM_VBAR_EL1);
        if (vbar == 0)
                return false;
        if (uc_context_save(v->uc, v->exc_ctx) != UC_ERR_OK)
                return false;
        read_exception(v->exc_ctx, (size_t) syndrome_offset, &syndrome, &vaddress);

        (void) sim_sysreg_write(v->uc, SIM_ESR_EL1, syndrome);
        if (intno == SIM_EXCP_DATA_ABORT || intno == SIM_EXCP_PREFETCH_ABORT)
                (void) sim_sysreg_write(v->uc, SIM_FAR_EL1, vaddress);
        /* A synchronous exception is taken whatever PSTATE.I says; the IRQ we
         * turn it into is not, so I is cleared for the entry and put back
         * into SPSR_EL1 afterwards. DAIF is a system register write, which
         * leaves QEMU's cached EL/MMU state alone. */
        daif = sim_sysreg_get(v->uc, SIM_DAIF);
        v->exc_restore_i = (daif & SIM_PSTATE_I) != 0;
        if (v->exc_restore_i)
                (void) sim_sysreg_write(v->uc, SIM_DAIF, daif & ~SIM_PSTATE_I);
        (void) sim_sysreg_write(v->uc, SIM_VBAR_EL1, vbar - 0x80);
        v->exc_vbar = vbar;
        v->exc_entering = true;
        sim_emu_set_hcr_vi(v);
        return true;
}

/* From the block hook at the first block after the entry (the vector):
 * undoes the borrowed state. */
void sim_exception_entered(HvVcpu *v) {
        v->exc_entering = false;
        (void) sim_sysreg_write(v->uc, SIM_VBAR_EL1, v->exc_vbar);
        if (v->exc_restore_i) {
                uint64_t spsr = sim_sysreg_get(v->uc, SIM_SPSR_EL1);

                (void) sim_sysreg_write(v->uc, SIM_SPSR_EL1, spsr | SIM_PSTATE_I);
        }
        sim_emu_set_hcr_vi(v);
}
