/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Allow-list of the simulator backend's worker on top of seccomp-common.c:
 * unicorn's JIT and allocations, the VM-wide execution lock and power-state
 * futexes in shared memory. munmap and rt_sigprocmask, which unicorn uses
 * too, are in the common table; the kick of other workers' vCPUs is the
 * backend's vcpu_kick_signal (sandbox-seccomp.c).
 */
#include <linux/futex.h>
#include <sys/mman.h>

#include "macro.h"
#include "sandbox-seccomp.h"
#include "worker-protocol.h"

/* The sim's backend fds: its state (6), its guest memories, then the VM's
 * doorbell eventfds (sim-shared.h). Every VM has guest memory, so eventfds
 * start at 8 or later; a later guest memory in that range is a memfd the
 * worker maps read-write anyway. */
#define SIM_DOORBELL_FDS_FROM (WORKER_FD_BACKEND + 2)
#define ALLOW_IF_FD_FROM(sys, why)                                                               \
        { .nr = SCMP_SYS(sys), .name = #sys, .has_arg = true,                                     \
          .arg = { .arg = 0, .op = SCMP_CMP_GE, .datum_a = SIM_DOORBELL_FDS_FROM }, .reason = (why) }

static const SeccompRule rules[] = {
        /* The JIT's code buffer exists since attach: nothing new is executable. */
        SECCOMP_ALLOW_IF_MASKED_EQ(mmap, 2, PROT_EXEC, 0, "guest memory from its memfd at first run; malloc; never PROT_EXEC"),
        /* Plain WAIT/WAKE only: no PI, requeue or op-code futexes, whose
         * kernel paths have been privilege-escalation bugs before. */
        SECCOMP_ALLOW_IF_EQ(futex, 1, FUTEX_WAIT, "wait on the execution lock or the vCPU's power word (shared page)"),
        SECCOMP_ALLOW_IF_EQ(futex, 1, FUTEX_WAKE, "wake the execution lock's or another vCPU's waiters"),
        SECCOMP_ALLOW(ppoll, "a vCPU in WFI also waits for console input (vcpu_watch_fd), which raises the PL011's line, "
                             "and for the irqfds; they are polled while guest code runs too"),
        ALLOW_IF_FD_FROM(write, "signal an ioeventfd: a guest write to its address (fds 8 and up)"),
        ALLOW_IF_FD_FROM(read, "consume a signalled irqfd and raise its SPI (fds 8 and up)"),
};

const SeccompTable seccomp_table_sim = {
        .backend = "sim",
        .rules = rules,
        .n_rules = ELEMENTSOF(rules),
};
