/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The simulator's VM-wide state: the "kernel" half of one simulated VM.
 *
 * It lives in a memfd mapped MAP_SHARED by the daemon (which creates it in
 * vm_create) and by every vCPU worker (vcpu_attach), so that vCPUs running
 * in different processes see one VM: the U17 validation model (hv-rules),
 * per-vCPU power states and pending CPU_ON requests, the VM's end status,
 * the execution lock, the per-vCPU wake/kick words and the GIC.
 *
 * Plain data only (no pointers): each process maps it at its own address.
 * Words that other processes wait on are futexes (not FUTEX_PRIVATE).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "gunyah-abi.h"
#include "hv-rules.h"
#include "gic-state.h"

#define SIM_SHARED_MAGIC UINT64_C(0x31564d534e594753) /* "SGYNSMV1" */
#define SIM_VCPUS_MAX GH_RULES_MAX_VCPUS
#define SIM_GUEST_MEMS_MAX 16
/* irqfds and ioeventfds of a VM (the sim's limit, not the kernel's). */
#define SIM_DOORBELLS_MAX 40u
/* Placeholder regions covering guest VAs (sim-va-cover.c): ASLR gives every
 * process new ones, so there is room for many. */
#define SIM_VA_COVERS_MAX 1024u

/* Sent to a worker thread that is running guest code when the VM ends
 * (another vCPU powered it off) so that it leaves run promptly. SIGURG is
 * ignored by default, so a process that never installed the sim's handler
 * is not killed by a stray kick. */
#define SIM_KICK_SIGNAL SIGURG

/* Where the VM is, as the vCPUs see it. */
typedef enum SimVmState {
        SIM_VM_CREATED,   /* not started: run → -ENODEV */
        SIM_VM_FAILED,    /* start failed: run → -ENODEV */
        SIM_VM_RUNNING,
        SIM_VM_ENDED,     /* status/exit_info valid: run → STATUS exit */
        SIM_VM_DESTROYED, /* destroyed before start: run → -ENODEV */
} SimVmState;

/* PSCI power state of a vCPU (AFFINITY_INFO values). */
typedef enum SimPower {
        SIM_POWER_ON = 0,
        SIM_POWER_OFF = 1,
        SIM_POWER_ON_PENDING = 2,
} SimPower;

typedef struct SimVcpuShared {
        uint32_t present;    /* added through add_vcpu */
        uint32_t power;      /* SimPower */
        uint32_t wake;       /* futex: bumped on every event for this vCPU */
        uint32_t kick;       /* set by a kick, consumed by the run that returns -EINTR */
        int32_t pid;         /* worker running it (0: none), for SIM_KICK_SIGNAL */
        int32_t tid;
        uint32_t boot;       /* the pending power-on is the VM's boot (boot context) */
        uint32_t fd_wait;    /* in WFI inside ppoll (vcpu_watch_fd): wake with the signal too */
        uint64_t entry;      /* pending CPU_ON entry point */
        uint64_t context_id; /* pending CPU_ON context id → X0 */
} SimVcpuShared;

typedef enum SimDoorbellKind {
        SIM_DOORBELL_REMOVED = 0, /* its slot stays: later slots keep their fd positions */
        SIM_DOORBELL_IRQFD = 1,
        SIM_DOORBELL_IOEVENTFD = 2,
} SimDoorbellKind;

/* One irqfd or ioeventfd registration. Slot i's eventfd travels to the
 * workers as vcpu_export's fd 1 + n_guest_mems + i. Written before start
 * only; kind may turn REMOVED at any time (read it atomically). */
typedef struct SimDoorbell {
        uint32_t kind;  /* SimDoorbellKind */
        uint32_t flags; /* GUNYAH_IRQFD_FLAGS_* or GUNYAH_IOEVENTFD_FLAGS_* */
        uint64_t addr;  /* ioeventfd */
        uint64_t datamatch;
        uint32_t len;
        uint32_t label; /* irqfd: the doorbell label = SPI number */
} SimDoorbell;

typedef struct SimGuestMemShared {
        uint64_t size;
        uint64_t flags;
        uint64_t dev; /* st_dev/st_ino of the memfd: how MAP_MEM recognises it */
        uint64_t ino;
} SimGuestMemShared;

typedef struct SimShared {
        uint64_t magic;
        uint32_t vm_state;  /* SimVmState */
        uint32_t end_claim; /* first vCPU to end the VM wins this word */
        uint32_t status;    /* enum gunyah_vm_status, valid in SIM_VM_ENDED */
        uint32_t ended_by;  /* vCPU id that ended it (UINT32_MAX: the host) */
        struct gunyah_vm_exit_info exit_info;

        /* Ticket lock: one vCPU of the VM executes guest code at a time. */
        uint32_t exec_next;
        uint32_t exec_serving; /* futex */

        uint32_t n_guest_mems;
        uint32_t boot_vcpu;
        SimGuestMemShared guest_mems[SIM_GUEST_MEMS_MAX];

        GhRulesVm rules;
        SimVcpuShared vcpus[SIM_VCPUS_MAX];

        uint32_t n_doorbells;
        uint32_t padding_doorbells;
        SimDoorbell doorbells[SIM_DOORBELLS_MAX];

        /* VA covers any vCPU made, for the others to map too. */
        uint32_t n_va_covers;
        uint32_t padding;
        struct {
                uint64_t base, size;
        } va_covers[SIM_VA_COVERS_MAX];

        /* The VM's interrupt controller (gicv3.h). */
        SimGic gic;
} SimShared;

int sim_futex_wait(uint32_t *word, uint32_t expected, const struct timespec *timeout);
void sim_futex_wake(uint32_t *word, int n);

/* Bumps the vCPU's wake word and wakes a waiter. Async-signal-safe. */
void sim_vcpu_shared_wake(SimShared *s, uint32_t id);

/* Ends the VM once: the first caller records status and exit info, every
 * vCPU is woken and running ones are sent SIM_KICK_SIGNAL. Later calls are
 * no-ops and return false. */
bool sim_shared_end_vm(SimShared *s, uint32_t status, const struct gunyah_vm_exit_info *info, uint32_t by);

static inline uint32_t sim_load(const uint32_t *p) {
        return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void sim_store(uint32_t *p, uint32_t v) {
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
