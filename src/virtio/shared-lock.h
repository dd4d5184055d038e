/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A spin lock on a word in memory shared by processes that may die (or be
 * stopped) while holding it. The word holds the holder's ticket. A waiter
 * spins, then yields; once it has watched the same holder for lease_ns of
 * its own running time (time it spent descheduled or frozen does not
 * count, so a frozen VM thawing does not break live holders) it takes the
 * lock over and learns that it did (*ret_broken). Callers keep their
 * critical sections short and free of system calls, so only a dead or
 * stopped holder ever reaches the lease.
 */

#include <stdbool.h>
#include <stdint.h>

typedef struct SharedLock {
        uint32_t word;          /* 0 free, else the holder's ticket */
        uint32_t next_ticket;
} SharedLock;

/* Returns the ticket to pass to shared_lock_release(). */
uint32_t shared_lock_acquire(SharedLock *l, uint64_t lease_ns, bool *ret_broken);
/* False when the lock had been broken from under the caller (it then
 * releases nothing). */
bool shared_lock_release(SharedLock *l, uint32_t ticket);
