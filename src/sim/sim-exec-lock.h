/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The VM-wide execution lock (design §3, unicorn-notes "Atomics"): unicorn
 * instances do not make guest exclusives atomic against each other, so the
 * vCPUs of one VM execute guest code one at a time, as single-threaded TCG
 * does. A ticket lock in shared memory: FIFO, so a vCPU that gives the lock
 * up at the end of its slice cannot starve the others by taking it back.
 */

#include "sim-shared.h"

/* Blocks (futex, no polling) until this caller holds the lock. */
void sim_exec_lock(SimShared *s);
void sim_exec_unlock(SimShared *s);
/* Whether another vCPU is queued for the lock. */
bool sim_exec_contended(SimShared *s);
