/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One spare gunyah-vcpu, fork+exec'd ahead of time (docs/worker-pool.md):
 * its libraries are loaded and it waits on its control socket, already in
 * the VM-independent part of its sandbox, holding no fd of any VM. A VM start takes it instead of paying for fork+exec and
 * dynamic loading; the pool refills later, off the start path.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "worker.h"

typedef struct WorkerPool WorkerPool;

/* worker_user: whom spares run as (resolved at each spawn, as at each VM
 * start: a user created later works), or NULL for --no-sandbox, whose
 * workers stay unconfined. */
int worker_pool_new(sd_event *event, const char *binary, const char *worker_user, WorkerPool **ret);
/* Kills the spare, if any, and waits for it. */
WorkerPool *worker_pool_free(WorkerPool *p);
static inline void worker_pool_freep(WorkerPool **p) {
        worker_pool_free(*p);
}

/* Hands over the spare (idle, or still loading once a spare of this binary
 * has been idle) if it runs as id says; -EAGAIN if there is none (start a
 * worker the usual way). Its exit is no longer watched by the pool; the
 * process is the caller's. */
int worker_pool_take(WorkerPool *p, const WorkerIdentity *id, WorkerProcess *ret);
/* Asks for a spare to exist again: started from an idle event source, no
 * sooner than the rate limit allows. Cheap and idempotent. */
void worker_pool_refill(WorkerPool *p);
/* The spare's pid, 0 if there is none (tests, logs). */
pid_t worker_pool_spare_pid(const WorkerPool *p);
/* Whether the spare said WORKER_MSG_IDLE; whether the pool gave up on spares. */
bool worker_pool_spare_idle(const WorkerPool *p);
bool worker_pool_disabled(const WorkerPool *p);
