/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One vCPU's unicorn instance: memory as the bindings say, the MMIO window
 * as callbacks, HVC and guest exceptions, and the emulation context that
 * lets an MMIO callback become a VCPU_RUN exit (design §3).
 */
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>

#include "log.h"
#include "macro.h"
#include "psci.h"
#include "sim-exec-lock.h"
#include "sim-internal.h"
#include "sim-sysreg.h"

#define SIM_EMU_STACK_SIZE (1024 * 1024)

#define AARCH64_ERET 0xd69f03e0u
/* EL1h with D, A, I and F masked: the state Gunyah starts a vCPU in. */
#define PSTATE_EL1H_DAIF 0x3c5u
#define SCR_NS_HCE_RW 0x501u
#define HCR_RW (UINT64_C(1) << 31)
#define MPIDR_RES1 (UINT64_C(1) << 31)

/* unicorn exception numbers (QEMU's EXCP_*), see unicorn-notes. */
#define SIM_EXCP_HVC 11u

static const SimSysreg CNTHCTL_EL2 = { 3, 4, 14, 1, 0 };
#define CNTHCTL_EL1PCTEN_EL1PCEN 0x3u

#define sysreg_write sim_sysreg_write
#define sysreg_read sim_sysreg_read

static uint64_t reg_read(uc_engine *uc, int reg) {
        uint64_t v = 0;

        (void) uc_reg_read(uc, reg, &v);
        return v;
}

static void reg_write(uc_engine *uc, int reg, uint64_t v) {
        (void) uc_reg_write(uc, reg, &v);
}

static int xreg(unsigned i) {
        return i < 29 ? UC_ARM64_REG_X0 + (int) i : i == 29 ? UC_ARM64_REG_X29 : UC_ARM64_REG_X30;
}

/* Gives control back to vcpu_run's caller; goes on when it re-enters us. A
 * macro, so that the switch adds no frame to the MMIO exit (sim-switch.h). */
#define sim_emu_yield(v, why)                                   \
        do {                                                    \
                (v)->yield = (why);                             \
                (v)->emulating = 0;                             \
                SIM_SWITCH(&(v)->emu_sw, &(v)->caller_sw);      \
                (v)->emulating = 1;                             \
        } while (0)

/* Every stop we ask for goes through here: a uc_emu_start that returns
 * without one stopped on a WFI (the only other way it returns normally). */
static void sim_emu_stop(HvVcpu *v) {
        v->stop_called = true;
        uc_emu_stop(v->uc);
}

void sim_emu_crash(HvVcpu *v, const char *what, uint64_t detail) {
        uint32_t word0 = 0;
        struct gunyah_vm_exit_info info;
        uint64_t pc = reg_read(v->uc, UC_ARM64_REG_PC);
        uint32_t insn = 0;

        /* uc_mem_read takes a physical address: with the MMU on the PC is
         * not one, and in the MMIO window it would call our callbacks. */
        if (!(sim_sysreg_get(v->uc, SIM_SCTLR_EL1) & 1) && pc >= SIM_MMIO_WINDOW_END)
                (void) uc_mem_read(v->uc, pc, &insn, sizeof(insn));
        log_notice("sim: vCPU %" PRIu32 " halted in FAULT state: %s (0x%" PRIx64 ") at PC 0x%" PRIx64
                  ", instruction 0x%08" PRIx32 "; the VM exits as HYP_ERROR",
                  v->id, what, detail, pc, insn);
        /* As the hypervisor ends a guest whose exception cannot be taken
         * ("exception inject loop"): HYP_ERROR with reason 00 00 00 00, seen
         * on a real stack (docs/real-gunyah.md). */
        sim_exit_info_from_words(&info, GUNYAH_VM_EXIT_TYPE_HYP_ERROR, &word0, 1);
        (void) sim_shared_end_vm(v->shared, GUNYAH_VM_STATUS_EXITED, &info, v->id);
}

static void hook_intr(uc_engine *uc, uint32_t intno, void *userdata) {
        HvVcpu *v = userdata;
        uint64_t x[4];
        PsciAction action;

        if (intno != SIM_EXCP_HVC) {
                if (sim_exception_deliver(v, intno))
                        return;
                /* No vector table (VBAR_EL1 = 0): the vCPU halts in FAULT state. */
                sim_emu_crash(v, "unhandled exception", intno);
                v->stop = SIM_STOP_VM_ENDED;
                sim_emu_stop(v);
                return;
        }
        for (unsigned i = 0; i < 4; i++)
                x[i] = reg_read(uc, xreg(i));
        reg_write(uc, UC_ARM64_REG_X0, psci_handle(v->shared, v->id, x, &action));
        if (action == PSCI_ACTION_CPU_OFF) {
                v->stop = SIM_STOP_CPU_OFF;
                sim_emu_stop(v);
        } else if (action == PSCI_ACTION_VM_ENDED) {
                v->stop = SIM_STOP_VM_ENDED;
                sim_emu_stop(v);
        }
}

#define now_ns sim_timer_now_ns

void sim_emu_set_hcr_vi(HvVcpu *v) {
        bool vi = v->exc_entering || sim_gic_signaled(v);

        if (vi == v->hcr_vi)
                return;
        /* Only VI changes: QEMU flushes no TLB for it. */
        (void) sysreg_write(v->uc, SIM_HCR_EL2, SIM_HCR_RW | SIM_HCR_IMO | (vi ? SIM_HCR_VI : 0));
        v->hcr_vi = vi;
}

/* Cheap when nothing changed (the MMIO-exit path): one load of the update flag. */
void sim_emu_sync_irqs(HvVcpu *v) {
        bool changed;

        if (v->has_irqfds)
                sim_doorbell_poll_irqfds(v);
        changed = sim_gic_take_update(v);

        if (v->timer_deadline_ns != UINT64_MAX && sim_timer_now_ns() >= v->timer_deadline_ns) {
                sim_timer_update(v);
                changed = true;
        }
        if (changed)
                sim_emu_set_hcr_vi(v);
}

/* DCZID_EL0 with DZP set: DC ZVA is "prohibited", so Linux's clear_page and
 * memset (and libc's) zero with stores. unicorn 2.0.1 runs each DC ZVA as
 * 64 single-byte stores through its slowest store path (a TB-invalidation
 * page walk with heap allocations per byte): a third of a Linux boot's time
 * went there. A guest that issues DC ZVA anyway still gets the zeroes.
 * BS = 4: 16 words, 64 bytes, what the Cortex-A72 reports. */
static const SimSysreg DCZID_EL0 = { 3, 3, 0, 0, 7 };
#define DCZID_BS_64_BYTES 0x4u
#define DCZID_DZP 0x10u

/* MRS/MSR of registers unicorn 2.0.1 leaves out: the GIC CPU interface
 * (absent from unicorn: we step the PC ourselves) and the timers (present
 * but without interrupts: returning 1 skips QEMU's version). */
static uint32_t hook_sysreg(HvVcpu *v, uc_arm64_reg reg, const uc_arm64_cp_reg *cp, bool is_read) {
        uint64_t value = cp->val;

        if (is_read && sim_sysreg_is(cp, DCZID_EL0)) {
                reg_write(v->uc, reg, DCZID_DZP | DCZID_BS_64_BYTES);
                return 1;
        }
        if (sim_timer_sysreg(v, cp, is_read, &value)) {
                if (is_read)
                        reg_write(v->uc, reg, value);
                return 1;
        }
        if (sim_gic_sysreg(v, cp, is_read, &value)) {
                if (is_read)
                        reg_write(v->uc, reg, value);
                reg_write(v->uc, UC_ARM64_REG_PC, reg_read(v->uc, UC_ARM64_REG_PC) + 4);
                return 1;
        }
        return 0;
}

static uint32_t hook_mrs(uc_engine *uc, uc_arm64_reg reg, const uc_arm64_cp_reg *cp, void *userdata) {
        return hook_sysreg(userdata, reg, cp, true);
}

static uint32_t hook_msr(uc_engine *uc, uc_arm64_reg reg, const uc_arm64_cp_reg *cp, void *userdata) {
        return hook_sysreg(userdata, reg, cp, false);
}

void sim_emu_request_stop(HvVcpu *v) {
        v->stop_pending = 1;
}

/* Slice ends and kicks stop here, at a block boundary: an asynchronous
 * uc_emu_stop (unicorn's own timeout thread) can land inside a block and
 * resume from the block's start, executing MMIO accesses twice. */
static void hook_block(uc_engine *uc, uint64_t address, uint32_t size, void *userdata) {
        HvVcpu *v = userdata;
        if (v->exc_entering)
                sim_exception_entered(v);
        if (sim_gic_take_update(v))
                sim_emu_set_hcr_vi(v);
        sim_doorbell_tick(v);
        if ((++v->blocks % SIM_SLICE_CHECK_BLOCKS) == 0) {
                uint64_t now = now_ns();

                /* seen at the next block, through the GIC's update flag */
                if (v->has_irqfds && now - v->irqfd_poll_ns >= SIM_IRQFD_POLL_NSEC) {
                        v->irqfd_poll_ns = now;
                        sim_doorbell_poll_irqfds(v);
                }

                if (now >= v->timer_deadline_ns) {
                        sim_timer_update(v);
                        sim_emu_set_hcr_vi(v);
                }
                if (now - v->slice_start_ns >= SIM_SLICE_NSEC ||
                    (now - v->slice_start_ns >= SIM_SLICE_CONTENDED_NSEC && sim_exec_contended(v->shared)))
                        v->stop_pending = 1;
        }
        if (v->stop_pending) {
                v->stop_pending = 0;
                sim_emu_stop(v);
        }
}

static bool hook_bad_access(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value, void *userdata) {
        HvVcpu *v = userdata;
        if (sim_sysreg_get(uc, SIM_SCTLR_EL1) & 1) {
                /* MMU on: 2.0.1 checked the VA against its regions. */
                switch (type) {
                case UC_MEM_FETCH_PROT:
                case UC_MEM_READ_PROT:
                case UC_MEM_WRITE_PROT:
                        /* Permissions of whatever region the VA meets (a user
                         * VA below 1 GiB meets the MMIO window, never
                         * executable) mean nothing: the walk decides. */
                        return true;
                case UC_MEM_FETCH_UNMAPPED:
                        v->va_cover_fetch = addr;
                        v->stop = SIM_STOP_VA_COVER;
                        return false;
                default:
                        if (sim_va_cover(v, addr) >= 0)
                                return true;
                        break;
                }
        }
        if (addr < SIM_MMIO_WINDOW_END) {
                /* Only an instruction fetch from the MMIO window gets here. */
                sim_emu_crash(v, "instruction fetch from the MMIO window", addr);
                v->stop = SIM_STOP_VM_ENDED;
                return false;
        }
        v->exit_addr = addr;
        /* No binding backs it → ENOENT; a binding forbids it → EPERM. */
        v->fault_attempt = (type == UC_MEM_READ_UNMAPPED || type == UC_MEM_WRITE_UNMAPPED ||
                            type == UC_MEM_FETCH_UNMAPPED) ? -ENOENT : -EPERM;
        v->stop = SIM_STOP_PAGE_FAULT;
        return false;
}

static uint64_t mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *userdata) {
        SimMmioGap *gap = userdata;
        HvVcpu *v = gap->vcpu;
        if (v->aborting) {
                v->stop_pending = 1;
                return 0;
        }
        v->exit_addr = gap->base + offset;
        v->mmio_len = size;
        v->mmio_is_write = false;
        v->mmio_value = 0;
        sim_emu_yield(v, SIM_YIELD_MMIO);
        if (v->aborting)
                v->stop_pending = 1;
        return v->mmio_value;
}

static void mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *userdata) {
        SimMmioGap *gap = userdata;
        HvVcpu *v = gap->vcpu;
        if (v->aborting) {
                v->stop_pending = 1;
                return;
        }
        value = size < 8 ? value & ((UINT64_C(1) << (8 * size)) - 1) : value;
        /* The kernel's ioeventfds: no exit, the value is not delivered. */
        if (v->has_ioeventfds && sim_doorbell_write(v, gap->base + offset, size, value))
                return;
        v->exit_addr = gap->base + offset;
        v->mmio_len = size;
        v->mmio_is_write = true;
        v->mmio_value = value;
        sim_emu_yield(v, SIM_YIELD_MMIO);
        if (v->aborting)
                v->stop_pending = 1;
}

int sim_emu_create(HvVcpu *v) {
        static const uint32_t trampoline[] = { AARCH64_ERET };
        uc_hook h;
        int r;

        if (uc_open(UC_ARCH_ARM64, UC_MODE_ARM, &v->uc) != UC_ERR_OK)
                return -ENOMEM;
        if (uc_ctl_set_cpu_model(v->uc, UC_CPU_ARM64_A72) != UC_ERR_OK)
                return -EIO;
        if (uc_mem_map(v->uc, SIM_TRAMPOLINE_ADDR, SIM_TRAMPOLINE_SIZE, UC_PROT_READ | UC_PROT_EXEC) != UC_ERR_OK)
                return -EIO;
        r = sim_exception_probe(v);
        if (r < 0)
                return r;
        if (uc_mem_write(v->uc, SIM_TRAMPOLINE_ADDR, trampoline, sizeof(trampoline)) != UC_ERR_OK)
                return -EIO;
        if (uc_hook_add(v->uc, &h, UC_HOOK_INTR, hook_intr, v, 1, 0) != UC_ERR_OK ||
            uc_hook_add(v->uc, &h, UC_HOOK_INSN, hook_mrs, v, 1, 0, UC_ARM64_INS_MRS) != UC_ERR_OK ||
            uc_hook_add(v->uc, &h, UC_HOOK_INSN, hook_msr, v, 1, 0, UC_ARM64_INS_MSR) != UC_ERR_OK ||
            uc_hook_add(v->uc, &h, UC_HOOK_BLOCK, hook_block, v, 1, 0) != UC_ERR_OK ||
            uc_hook_add(v->uc, &h, UC_HOOK_MEM_UNMAPPED | UC_HOOK_MEM_PROT, hook_bad_access, v, 1, 0) != UC_ERR_OK)
                return -EIO;

        /* HVC arrives as HVC only with SCR_EL3.HCE; EL1 is AArch64 only with
         * HCR_EL2.RW; MPIDR_EL1 reads VMPIDR_EL2 at non-secure EL1, which is
         * how each vCPU gets its own Aff0 (= vCPU id, what CPU_ON targets). */
        r = sysreg_write(v->uc, SIM_SCR_EL3, SCR_NS_HCE_RW);
        /* IMO: HCR_EL2.VI then means a virtual IRQ for EL1/EL0. */
        if (r >= 0)
                r = sysreg_write(v->uc, SIM_HCR_EL2, SIM_HCR_RW | SIM_HCR_IMO);
        if (r >= 0)
                r = sysreg_write(v->uc, CNTHCTL_EL2, CNTHCTL_EL1PCTEN_EL1PCEN);
        if (r >= 0)
                r = sysreg_write(v->uc, SIM_VMPIDR_EL2, MPIDR_RES1 | v->id);
        if (r >= 0)
                r = sysreg_read(v->uc, SIM_SCTLR_EL1, &v->reset_sctlr);
        if (r < 0)
                return r;

        v->timer_deadline_ns = UINT64_MAX;
        v->gic.pmr = 0;
        r = sim_va_cover_init(v);
        if (r < 0)
                return r;

        v->stack_size = SIM_EMU_STACK_SIZE;
        v->stack = mmap(NULL, v->stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (v->stack == MAP_FAILED) {
                v->stack = NULL;
                return -ENOMEM;
        }
        return 0;
}

static uint32_t prot_from_flags(uint32_t flags) {
        return ((flags & GUNYAH_MEM_ALLOW_READ) ? UC_PROT_READ : 0) |
               ((flags & GUNYAH_MEM_ALLOW_WRITE) ? UC_PROT_WRITE : 0) |
               ((flags & GUNYAH_MEM_ALLOW_EXEC) ? UC_PROT_EXEC : 0);
}

static int sim_emu_map_gap_range(HvVcpu *v, unsigned *n_gaps, uint64_t start, uint64_t end) {
        SimMmioGap *g;

        if (start >= end)
                return 0;
        if (*n_gaps >= ELEMENTSOF(v->gaps))
                return -E2BIG;
        g = &v->gaps[(*n_gaps)++];
        g->vcpu = v;
        g->base = start;
        if (uc_mmio_map(v->uc, start, end - start, mmio_read, g, mmio_write, g) != UC_ERR_OK)
                return -EIO;
        return 0;
}

/* An MMIO gap, minus the GIC, which the sim answers itself (gicv3.c). */
static int sim_emu_map_gap(HvVcpu *v, unsigned *n_gaps, uint64_t start, uint64_t end) {
        uint64_t gic_start, gic_end;
        int r;

        sim_gic_window(v->shared, &gic_start, &gic_end);
        r = sim_emu_map_gap_range(v, n_gaps, start, MIN(end, gic_start));
        if (r >= 0)
                r = sim_emu_map_gap_range(v, n_gaps, MAX(start, gic_end), end);
        return r;
}

/* RAM per binding, then the parts of the MMIO window no binding covers. */
int sim_emu_map_memory(HvVcpu *v) {
        const GhRulesVm *rules = &v->shared->rules;
        GhRulesBinding sorted[GH_RULES_MAX_BINDINGS];
        uint32_t n = MIN(rules->n_bindings, (uint32_t) GH_RULES_MAX_BINDINGS);
        unsigned n_gaps = 0;
        uint64_t cursor = 0;
        int r;

        memcpy(sorted, rules->bindings, n * sizeof(sorted[0]));
        for (uint32_t i = 1; i < n; i++) /* few bindings: insertion sort */
                for (uint32_t j = i; j > 0 && sorted[j - 1].guest_addr > sorted[j].guest_addr; j--) {
                        GhRulesBinding t = sorted[j];
                        sorted[j] = sorted[j - 1];
                        sorted[j - 1] = t;
                }

        for (uint32_t i = 0; i < n; i++) {
                const GhRulesBinding *b = &sorted[i];

                if (b->mem_id >= v->n_mems || b->offset + b->size > v->mem_size[b->mem_id])
                        return -EINVAL;
                if (uc_mem_map_ptr(v->uc, b->guest_addr, b->size, prot_from_flags(b->flags),
                                   (uint8_t *) v->mem[b->mem_id] + b->offset) != UC_ERR_OK)
                        return -EIO;
                if (b->guest_addr < SIM_MMIO_WINDOW_END) {
                        r = sim_emu_map_gap(v, &n_gaps, cursor, b->guest_addr);
                        if (r < 0)
                                return r;
                        cursor = MIN(b->guest_addr + b->size, SIM_MMIO_WINDOW_END);
                }
        }
        r = sim_emu_map_gap(v, &n_gaps, cursor, SIM_MMIO_WINDOW_END);
        if (r >= 0)
                r = sim_gic_map(v);
        if (r < 0)
                return r;
        v->memory_mapped = true;
        return 0;
}

/* The entry state of a powered-on vCPU: registers from the boot context (the
 * boot vCPU) or from CPU_ON (X0 = context id), the rest zero. */
int sim_emu_power_on(HvVcpu *v) {
        SimVcpuShared *vs = &v->shared->vcpus[v->id];
        const GhRulesVm *rules = &v->shared->rules;
        uint64_t regs[GH_RULES_BOOT_REGS] = {};
        uint64_t entry;
        int r;

        if (vs->boot) {
                const GhRulesBinding *dtb = gh_rules_find_binding(rules, rules->dtb_guest_addr);

                /* Without a boot context the RM starts at the base of the DTB's
                 * parcel with X0 = the DTB address. */
                regs[GH_RULES_BOOT_REG_PC] = dtb ? dtb->guest_addr : 0;
                regs[GH_RULES_BOOT_REG_X0] = rules->dtb_guest_addr;
                for (unsigned i = 0; i < GH_RULES_BOOT_REGS; i++)
                        if (rules->boot_regs_set & (UINT64_C(1) << i))
                                regs[i] = rules->boot_regs[i];
        } else {
                regs[GH_RULES_BOOT_REG_PC] = vs->entry;
                regs[GH_RULES_BOOT_REG_X0] = vs->context_id;
        }
        entry = regs[GH_RULES_BOOT_REG_PC];

        for (unsigned i = 0; i < 31; i++)
                reg_write(v->uc, xreg(i), regs[GH_RULES_BOOT_REG_X0 + i]);
        r = sysreg_write(v->uc, SIM_SP_EL0, regs[GH_RULES_BOOT_REG_SP0]);
        if (r >= 0)
                r = sysreg_write(v->uc, SIM_SCTLR_EL1, v->reset_sctlr);
        if (r >= 0)
                r = sysreg_write(v->uc, SIM_ELR_EL1, entry);
        if (r >= 0)
                r = sysreg_write(v->uc, SIM_SPSR_EL1, PSTATE_EL1H_DAIF);
        if (r < 0)
                return r;
        /* The trampoline runs at EL1h, so SP is SP_EL1 there and after ERET. */
        reg_write(v->uc, UC_ARM64_REG_SP, regs[GH_RULES_BOOT_REG_SP0 + 1]);
        v->enter_trampoline = true;
        return 0;
}

static void sim_emu_main(unsigned lo, unsigned hi) {
        HvVcpu *v = (HvVcpu *) (((uintptr_t) hi << 32) | (uintptr_t) lo);

        for (;;) {
                uint64_t begin = v->enter_trampoline ? SIM_TRAMPOLINE_ADDR : reg_read(v->uc, UC_ARM64_REG_PC);

                v->enter_trampoline = false;
                v->in_emu_start = true;
                v->stop_called = false;
                v->emulating = 1;
                /* until = 0: nothing executes at 0, which is MMIO (never executable). */
                v->slice_start_ns = now_ns();
                v->emu_err = uc_emu_start(v->uc, begin, 0, 0, 0);
                v->emulating = 0;
                v->in_emu_start = false;
                sim_emu_yield(v, SIM_YIELD_SLICE);
        }
}

static void sim_emu_first_entry(void *userdata) {
        HvVcpu *v = userdata;

        swapcontext(&v->caller_ctx, &v->emu_ctx); /* never returns here */
}

/* Returns when the emulation context yields. */
void sim_emu_enter(HvVcpu *v) {
        if (!v->emu_started) {
                uintptr_t p = (uintptr_t) v;

                getcontext(&v->emu_ctx);
                v->emu_ctx.uc_stack.ss_sp = v->stack;
                v->emu_ctx.uc_stack.ss_size = v->stack_size;
                v->emu_ctx.uc_link = NULL;
                makecontext(&v->emu_ctx, (void (*)(void)) sim_emu_main, 2,
                            (unsigned) (p & 0xffffffffu), (unsigned) ((uint64_t) p >> 32));
                v->emu_started = true;
                sim_switch_call(&v->caller_sw, sim_emu_first_entry, v);
                return;
        }
        sim_switch(&v->caller_sw, &v->emu_sw);
}

/* 2.0.1 ends uc_emu_start normally only for a stop request, the until
 * address (0, never executed) and EXCP_HLT, which is WFI. Reading the
 * instruction before the PC would take a physical address, and the PC is
 * a VA once the MMU is on. */
bool sim_emu_stopped_on_wfi(HvVcpu *v) {
        return v->emu_err == UC_ERR_OK && !v->stop_called;
}

void sim_emu_destroy(HvVcpu *v) {
        /* A context suspended inside uc_emu_start must finish it first: its
         * timeout thread still refers to the engine. */
        if (v->in_emu_start) {
                v->aborting = true;
                while (v->in_emu_start)
                        sim_emu_enter(v);
        }
        sim_exception_free(v);
        if (v->uc)
                uc_close(v->uc);
        sim_va_cover_free(v);
        v->uc = NULL;
        if (v->stack)
                munmap(v->stack, v->stack_size);
        v->stack = NULL;
}
