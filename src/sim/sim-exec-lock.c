/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>

#include "sim-exec-lock.h"

void sim_exec_lock(SimShared *s) {
        uint32_t ticket = __atomic_fetch_add(&s->exec_next, 1, __ATOMIC_ACQ_REL);

        for (;;) {
                uint32_t serving = sim_load(&s->exec_serving);

                if (serving == ticket)
                        return;
                /* A ticket cannot be abandoned (it would block the queue), so
                 * signals (EINTR) just make us look again. */
                (void) sim_futex_wait(&s->exec_serving, serving, NULL);
        }
}

void sim_exec_unlock(SimShared *s) {
        uint32_t serving = __atomic_add_fetch(&s->exec_serving, 1, __ATOMIC_ACQ_REL);

        /* Nobody queued: no wake-up syscall (the MMIO exit path's common case).
         * Otherwise every waiter re-checks its ticket; vCPU counts are small. */
        if (sim_load(&s->exec_next) != serving)
                sim_futex_wake(&s->exec_serving, INT_MAX);
}

bool sim_exec_contended(SimShared *s) {
        return sim_load(&s->exec_next) - sim_load(&s->exec_serving) > 1;
}
