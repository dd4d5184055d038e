/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sim-shared.h"

int sim_futex_wait(uint32_t *word, uint32_t expected, const struct timespec *timeout) {
        /* Shared (not PRIVATE): the waiters and wakers are different processes. */
        if (syscall(SYS_futex, word, FUTEX_WAIT, expected, timeout, NULL, 0) < 0)
                return -errno;
        return 0;
}

void sim_futex_wake(uint32_t *word, int n) {
        (void) syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
}

void sim_vcpu_shared_wake(SimShared *s, uint32_t id) {
        SimVcpuShared *v = &s->vcpus[id];

        __atomic_add_fetch(&v->wake, 1, __ATOMIC_SEQ_CST);
        sim_futex_wake(&v->wake, INT_MAX);
        /* A vCPU in WFI that also watches an fd sleeps in ppoll, not on the
         * futex: the signal interrupts it (seq_cst against its fd_wait). */
        if (__atomic_load_n(&v->fd_wait, __ATOMIC_SEQ_CST)) {
                pid_t pid = __atomic_load_n(&v->pid, __ATOMIC_ACQUIRE);
                pid_t tid = __atomic_load_n(&v->tid, __ATOMIC_ACQUIRE);

                if (pid > 0 && tid > 0)
                        (void) syscall(SYS_tgkill, pid, tid, SIM_KICK_SIGNAL);
        }
}

bool sim_shared_end_vm(SimShared *s, uint32_t status, const struct gunyah_vm_exit_info *info, uint32_t by) {
        uint32_t zero = 0;

        if (!__atomic_compare_exchange_n(&s->end_claim, &zero, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return false;

        s->status = status;
        s->ended_by = by;
        if (info)
                s->exit_info = *info;
        else
                memset(&s->exit_info, 0, sizeof(s->exit_info));
        sim_store(&s->vm_state, SIM_VM_ENDED);

        /* Sleeping vCPUs wake on their futex; running ones get the signal,
         * whose handler stops the emulator (sim-vcpu.c). */
        for (uint32_t i = 0; i < SIM_VCPUS_MAX; i++) {
                SimVcpuShared *v = &s->vcpus[i];
                int32_t pid, tid;

                if (!v->present)
                        continue;
                sim_vcpu_shared_wake(s, i);
                if (i == by)
                        continue;
                pid = __atomic_load_n(&v->pid, __ATOMIC_ACQUIRE);
                tid = __atomic_load_n(&v->tid, __ATOMIC_ACQUIRE);
                if (pid > 0 && tid > 0)
                        (void) syscall(SYS_tgkill, pid, tid, SIM_KICK_SIGNAL);
        }
        return true;
}
