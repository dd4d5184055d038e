/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The vCPU side of the simulator (sim-vcpu.c and the emulator): types
 * shared by its files; nothing outside src/sim sees them. */

#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <ucontext.h>
#include <unicorn/unicorn.h>

#include "gicv3.h"
#include "hv.h"
#include "sim-shared.h"
#include "sim-switch.h"
#include "sim-vcpu.h"

/* The VMMIO window every unauthenticated Gunyah VM has (vmm-on-gunyah §1.5):
 * accesses there that hit no memory become MMIO exits. */
#define SIM_MMIO_WINDOW_END (UINT64_C(1) << 30)

/* An ERET placed where the guest cannot see it (above the 36-bit IPA space
 * Gunyah gives a VM, below the model's 40-bit PA range) takes a vCPU from
 * the emulator's reset state to the guest's entry state natively, which
 * rebuilds QEMU's cached EL/security/MMU flags (unicorn-notes). */
#define SIM_TRAMPOLINE_ADDR UINT64_C(0x8000000000)
#define SIM_TRAMPOLINE_SIZE UINT64_C(0x1000)

/* Guest code runs in slices of about this long before the vCPU gives the
 * execution lock to the next one; the clock is read every
 * SIM_SLICE_CHECK_BLOCKS translation blocks. */
#define SIM_SLICE_NSEC 4000000
#define SIM_SLICE_CHECK_BLOCKS 1024u
/* ... or this long while another vCPU waits for the lock: a guest spinning
 * (WFE, which 2.0.1 cannot report) on a lock the waiting vCPU holds then
 * wastes a short slice, not a long one. Alone, a vCPU keeps long slices. */
#define SIM_SLICE_CONTENDED_NSEC 250000

/* An ioeventfd write after a quiet spell signals its eventfd at once;
 * writes that follow within this many translation blocks are added up and
 * signalled together (one write() of their count) when the spell ends, at
 * the latest this many blocks later or when the vCPU leaves guest code
 * (WFI, an exit, the end of its slice). The device sees every write
 * counted, as the kernel's, and is woken by the first; a syscall per batch
 * instead of per write is most of what keeps a doorbell near the cost of a
 * bare MMIO callback (bench/sim-doorbell). */
#define SIM_DOORBELL_BATCH_BLOCKS 4096u

/* While guest code runs, the irqfds are polled at the clock check of the
 * block hook (every SIM_SLICE_CHECK_BLOCKS blocks) once this long has
 * passed since the last poll: the bound on an irqfd's latency then, for at
 * most 10000 ppoll calls a second. A vCPU in WFI waits for them in ppoll. */
#define SIM_IRQFD_POLL_NSEC 100000

/* sim-va-cover.c: the largest placeholder region covering guest VAs. */
#define SIM_VA_COVER_CHUNK (UINT64_C(1) << 30)

typedef enum SimTimerIndex {
        SIM_TIMER_VIRT,
        SIM_TIMER_PHYS,
        SIM_TIMERS,
} SimTimerIndex;

typedef struct SimTimer {
        uint32_t ctl; /* ENABLE, IMASK */
        uint64_t cval;
} SimTimer;

/* Why the emulation context handed control back to vcpu_run. */
typedef enum SimYield {
        SIM_YIELD_SLICE, /* uc_emu_start returned: slice end, stop request, WFI or error */
        SIM_YIELD_MMIO,  /* an MMIO callback is suspended waiting for the answer */
} SimYield;

/* Requests the hooks make of the run loop when they stop the emulator. */
typedef enum SimStop {
        SIM_STOP_NONE,
        SIM_STOP_CPU_OFF,
        SIM_STOP_VM_ENDED,
        SIM_STOP_PAGE_FAULT,
        SIM_STOP_VA_COVER, /* a fetch needs a VA cover: map it, restart at the PC */
} SimStop;

typedef struct SimMmioGap {
        struct HvVcpu *vcpu;
        uint64_t base;
} SimMmioGap;

struct HvVcpu {
        uint32_t id;
        int shared_fd;
        SimShared *shared;
        size_t shared_size;
        int mem_fds[SIM_GUEST_MEMS_MAX];
        void *mem[SIM_GUEST_MEMS_MAX];
        size_t mem_size[SIM_GUEST_MEMS_MAX];
        unsigned n_mems;

        struct gunyah_vcpu_run *run;

        uc_engine *uc;
        bool memory_mapped;
        uint64_t reset_sctlr;
        SimMmioGap gaps[GH_RULES_MAX_BINDINGS + 2]; /* the GIC splits one gap */

        /* The emulation context (design §3): unicorn runs on its own stack so
         * an MMIO callback can return to vcpu_run's caller and be resumed. */
        ucontext_t caller_ctx, emu_ctx;
        /* After the first entry the two stacks switch with sim_switch():
         * swapcontext saves the signal mask with a syscall at every switch. */
        SimSwitch caller_sw, emu_sw;
        void *stack;
        size_t stack_size;
        bool emu_started;     /* emu_ctx has been made */
        bool in_emu_start;    /* emu_ctx is inside uc_emu_start */
        bool aborting;        /* detaching: finish uc_emu_start without exits */
        volatile sig_atomic_t emulating;
        /* Set asynchronously (kick, VM end, from a signal handler); the block
         * hook turns it into uc_emu_stop at the next translation block, the
         * only point where unicorn 2.0.1 stops with a correct PC. */
        volatile sig_atomic_t stop_pending;
        bool stop_called; /* uc_emu_stop was called in this uc_emu_start */
        uint64_t slice_start_ns;
        uint32_t blocks;
        SimYield yield;
        SimStop stop;
        uc_err emu_err;
        bool enter_trampoline;

        /* The exit being reported (the kernel keeps its own copy too). */
        bool mmio_pending;
        bool page_fault_pending;
        uint64_t exit_addr;
        uint32_t mmio_len;
        bool mmio_is_write;
        uint64_t mmio_value;
        int32_t fault_attempt;

        /* sim-doorbell.c: the VM's doorbell eventfds in slot order
         * (sim-shared.h), ioeventfd writes not yet signalled. */
        int doorbell_fds[SIM_DOORBELLS_MAX];
        unsigned n_doorbells;
        bool has_ioeventfds, has_irqfds;
        bool doorbells_pending;
        uint64_t irqfd_poll_ns; /* when guest code last polled the irqfds */
        uint32_t doorbell_flush_block; /* v->blocks when the last batch was signalled */
        uint64_t doorbell_counts[SIM_DOORBELLS_MAX];

        /* vcpu_watch_fd: waited for in WFI too. */
        int watch_fd;
        int (*watch_ready)(void *userdata);
        void *watch_userdata;

        /* HCR_EL2.VI as last written: the only way interrupts (and, via
         * sim-exception.c, synchronous exceptions) enter the guest. */
        bool hcr_vi;
        /* sim-exception.c: an exception on its way into the guest vector. */
        uc_context *exc_ctx;
        size_t exc_ctx_size;
        bool exc_entering;
        bool exc_restore_i;
        uint64_t exc_vbar;
        /* sim-va-cover.c: the host reservation behind every cover, how many
         * of the VM's shared covers this vCPU has mapped, a fetch waiting
         * for one. */
        void *va_cover;
        uint32_t va_covers_seen;
        uint64_t va_cover_fetch;
        /* gicv3.c, sim-timer.c */
        SimGicCpuIf gic;
        SimTimer timers[SIM_TIMERS];
        uint64_t timer_deadline_ns;
};

/* Takes the update flag: whether someone changed this vCPU's interrupts.
 * Inline: the block hook asks at every translation block. */
static inline bool sim_gic_take_update(HvVcpu *v) {
        uint32_t *u = &v->shared->gic.redist[v->id].update;

        return sim_load(u) && __atomic_exchange_n(u, 0, __ATOMIC_ACQ_REL);
}

/* sim-emu.c: the unicorn instance of one vCPU. */
int sim_emu_create(HvVcpu *v);
void sim_emu_destroy(HvVcpu *v);
int sim_emu_map_memory(HvVcpu *v);
/* Loads the registers of a power-on (boot context or CPU_ON) and points the
 * next slice at the ERET trampoline. */
int sim_emu_power_on(HvVcpu *v);
/* Runs the emulation context until it yields; v->yield says why. */
void sim_emu_enter(HvVcpu *v);
/* Whether the instruction before PC is a WFI (uc_emu_start returned on it). */
bool sim_emu_stopped_on_wfi(HvVcpu *v);
/* Async-signal-safe: makes the running slice end at the next block. */
void sim_emu_request_stop(HvVcpu *v);
/* Ends the VM as the RM does for a vCPU halted in FAULT state. */
void sim_emu_crash(HvVcpu *v, const char *what, uint64_t detail);

/* Recomputes HCR_EL2.VI from a pending exception entry and the GIC. */
void sim_emu_set_hcr_vi(HvVcpu *v);
/* Brings timers and the GIC's view of this vCPU up to date (slice start). */
void sim_emu_sync_irqs(HvVcpu *v);

/* sim-exception.c */
int sim_exception_probe(HvVcpu *v);
void sim_exception_free(HvVcpu *v);
bool sim_exception_deliver(HvVcpu *v, uint32_t intno);
void sim_exception_entered(HvVcpu *v);

/* sim-va-cover.c */
int sim_va_cover_init(HvVcpu *v);
void sim_va_cover_free(HvVcpu *v);
/* Covers addr now (data accesses, from the hook). */
int sim_va_cover(HvVcpu *v, uint64_t addr);
/* Maps the covers other vCPUs of the VM made (between slices). */
void sim_va_cover_sync(HvVcpu *v);

/* sim-doorbell.c */
void sim_doorbell_attach(HvVcpu *v, const int *fds, unsigned n);
void sim_doorbell_detach(HvVcpu *v);
/* A guest write in the MMIO window: true if an ioeventfd took it (no exit). */
bool sim_doorbell_write(HvVcpu *v, uint64_t addr, unsigned size, uint64_t value);
/* Signals the ioeventfd writes counted so far. */
void sim_doorbell_flush(HvVcpu *v);
/* Block hook: signals a batch whose spell is over. */
static inline void sim_doorbell_tick(HvVcpu *v) {
        if (v->doorbells_pending && v->blocks - v->doorbell_flush_block >= SIM_DOORBELL_BATCH_BLOCKS)
                sim_doorbell_flush(v);
}
/* Fills p with the irqfds to wait for (slots[i]: the slot of p[i]). */
unsigned sim_doorbell_irqfd_pollfds(HvVcpu *v, struct pollfd *p, unsigned *slots);
/* Consumes the signalled irqfds among p and makes their SPIs pending. */
void sim_doorbell_irqfds_ready(HvVcpu *v, const struct pollfd *p, const unsigned *slots, unsigned n);
/* Both, without waiting: irqfds signalled while guest code runs. */
void sim_doorbell_poll_irqfds(HvVcpu *v);

/* sim-timer.c */
uint64_t sim_timer_now_ns(void);
void sim_timer_update(HvVcpu *v);
bool sim_timer_sysreg(HvVcpu *v, const uc_arm64_cp_reg *cp, bool is_read, uint64_t *value);
