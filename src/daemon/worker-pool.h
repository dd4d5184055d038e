/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One spare gunyah-vcpu, fork+exec'd ahead of time (docs/worker-pool.md):
 * its libraries are loaded and it waits on its control socket, holding no
 * fd of any VM. A VM start takes it instead of paying for fork+exec and
 * dynamic loading; the pool refills later, off the start path.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

typedef struct WorkerPool WorkerPool;

/* The spare handed to a VM start: its process and control socket, now the
 * caller's. */
typedef struct WorkerSpare {
        pid_t pid;
        int pidfd;
        int control_fd;
} WorkerSpare;

/* isolate: spares enter the sandbox's namespaces and empty root ahead of
 * time (off only with --no-sandbox, whose workers must stay unconfined). */
int worker_pool_new(sd_event *event, const char *binary, bool isolate, WorkerPool **ret);
/* Kills the spare, if any, and waits for it. */
WorkerPool *worker_pool_free(WorkerPool *p);
static inline void worker_pool_freep(WorkerPool **p) {
        if (*p)
                worker_pool_free(*p);
}

/* Hands over the spare (idle, or still loading once a spare of this binary
 * has been idle); -EAGAIN if there is none (start a worker the usual way).
 * Its exit is no longer watched by the pool. */
int worker_pool_take(WorkerPool *p, WorkerSpare *ret);
/* Asks for a spare to exist again: started from an idle event source, no
 * sooner than the rate limit allows. Cheap and idempotent. */
void worker_pool_refill(WorkerPool *p);
/* The spare's pid, 0 if there is none (tests, logs). */
pid_t worker_pool_spare_pid(const WorkerPool *p);
