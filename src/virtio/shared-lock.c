/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sched.h>

#include "shared-lock.h"
#include "time-util.h"

#define SPINS_BEFORE_YIELD 128u
/* A gap between two looks longer than this means the waiter itself was
 * not running; only this much of it counts towards the lease. */
#define WATCH_STEP_MAX_NS (10ull * 1000 * 1000)

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield" ::: "memory");
#endif
}

static uint32_t new_ticket(SharedLock *l) {
        uint32_t t;

        do
                t = __atomic_add_fetch(&l->next_ticket, 1, __ATOMIC_RELAXED);
        while (t == 0);
        return t;
}

/* The waiter's view of one holder: whom it watches and for how long. */
typedef struct Watch {
        uint32_t holder;
        uint64_t watched_ns;
        uint64_t last_ns;
} Watch;

static bool watch_expired(Watch *w, uint32_t holder, uint64_t lease_ns) {
        uint64_t t = now_monotonic_usec() * NSEC_PER_USEC;

        if (holder != w->holder) {
                *w = (Watch) { .holder = holder, .last_ns = t };
                return false;
        }
        uint64_t step = t - w->last_ns;
        w->last_ns = t;
        w->watched_ns += step < WATCH_STEP_MAX_NS ? step : WATCH_STEP_MAX_NS;
        return w->watched_ns >= lease_ns;
}

uint32_t shared_lock_acquire(SharedLock *l, uint64_t lease_ns, bool *ret_broken) {
        uint32_t ticket = new_ticket(l);
        Watch w = {};

        for (unsigned spins = 0;; spins++) {
                uint32_t holder = 0;
                if (__atomic_compare_exchange_n(&l->word, &holder, ticket, false,
                                                __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
                        *ret_broken = false;
                        return ticket;
                }
                if (spins < SPINS_BEFORE_YIELD) {
                        cpu_relax();
                        continue;
                }
                (void) sched_yield();
                if (watch_expired(&w, holder, lease_ns) &&
                    __atomic_compare_exchange_n(&l->word, &holder, ticket, false,
                                                __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
                        *ret_broken = true;
                        return ticket;
                }
        }
}

bool shared_lock_release(SharedLock *l, uint32_t ticket) {
        uint32_t expected = ticket;

        return __atomic_compare_exchange_n(&l->word, &expected, 0, false,
                                           __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}
