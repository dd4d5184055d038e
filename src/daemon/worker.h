/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* gunyah-vcpu worker processes: one per vCPU, fork+exec'd with their control
 * socket as only fd, configured by one WorkerConfig message
 * (src/worker-protocol/worker-protocol.h), watched through a pidfd. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "hv.h"
#include "worker-protocol.h"

typedef struct Vm Vm;
typedef struct WorkerPool WorkerPool;

/* The system user sandboxed workers run as unless --worker-user= says otherwise. */
#define GUNYAH_WORKER_USER_DEFAULT "gunyah-vcpu"

typedef struct Worker {
        Vm *vm;
        uint32_t vcpu;
        pid_t pid;
        int pidfd;
        int control_fd;
        sd_event_source *pid_source;
        sd_event_source *control_source;
        bool ready;
        bool from_pool; /* was the pool's spare */
        bool exited;
        int exit_code;   /* CLD_EXITED / CLD_KILLED / CLD_DUMPED */
        int exit_status; /* exit code or signal */
        uint64_t unhandled_mmio;
} Worker;

/* Who a worker process is, fixed when it is exec'd (its command line): it
 * enters its sandbox as this before it learns which VM it runs. */
typedef struct WorkerIdentity {
        bool no_sandbox;
        uid_t uid;             /* sandbox identity (ignored with no_sandbox) */
        gid_t gid;
        const char *test_hook; /* TEST ONLY, hook builds: --test-hook=ATTEMPT, or NULL */
} WorkerIdentity;

/* A started worker process: its pid, pidfd and the daemon's end of its
 * control socket. */
typedef struct WorkerProcess {
        pid_t pid;
        int pidfd;
        int control_fd;
} WorkerProcess;

typedef struct WorkerSpawnArgs {
        const char *binary;
        const char *backend;
        const char *vm_name;
        uint32_t vcpu;
        int console_fd;
        int devices_fd;
        const int *backend_fds;
        size_t n_backend_fds;
        const int *irqfds;           /* eventfds registered as irqfds, one per label */
        const uint32_t *irq_labels;
        size_t n_irqfds;
        bool no_sandbox;
        uid_t uid;             /* sandbox identity (ignored with no_sandbox) */
        gid_t gid;
        const char *test_hook; /* TEST ONLY, hook builds: --test-hook=ATTEMPT, or NULL */
        uint64_t pl011_base; /* UINT64_MAX: none */
        uint64_t pl061_base; /* UINT64_MAX: none */
        uint32_t pl011_spi;  /* their interrupt lines (doorbell labels) */
        uint32_t pl061_spi;
        /* virtio-mmio transports: where, their register pages, their kick eventfds */
        const uint64_t *virtio_bases;
        const int *virtio_regs_fds;
        const int *virtio_kick_fds;
        size_t n_virtio;
} WorkerSpawnArgs;

/* Resolves --worker-user= (a user name or a numeric uid; a uid without a
 * passwd entry uses the same number as gid). -ESRCH: no such user. */
int worker_user_resolve(const char *user, uid_t *ret_uid, gid_t *ret_gid);

/* fork+exec of binary as a worker of identity id (spare: the pool's,
 * labelled --spare), with a fresh control socket on fd 3 and every other
 * fd closed (design §4). It waits for its WorkerConfig. */
int worker_process_start(const char *binary, const WorkerIdentity *id, bool spare, WorkerProcess *ret);
/* Kills and reaps it, and closes its fds. */
void worker_process_discard(WorkerProcess *p);

/* The process for vCPU args->vcpu: the pool's spare if one of the same
 * identity is ready, else a freshly started one; watched from here on. It
 * waits for its WorkerConfig, and leaves on EOF until it has one: recorded
 * (vm-instance-record.h) before it is configured, a worker is never left
 * running guest code unknown to the next daemon. */
int worker_acquire(Vm *vm, sd_event *event, const WorkerSpawnArgs *args, WorkerPool *pool, Worker **ret);
/* Sends it its WorkerConfig. A spare that died meanwhile is replaced by a
 * fresh process, configured the same way: 1 (its PID is new). */
int worker_configure(Worker *w, sd_event *event, const WorkerSpawnArgs *args);
/* Watches a worker a previous daemon started (not our child: its pidfd is
 * watched for readability, and its exit status is unknown, reported as
 * exit code 0; pidfd -ESRCH: it ended while no daemon ran, reported as
 * soon as the event loop runs, after what it said). Takes pidfd and
 * control_fd, also on failure. */
int worker_adopt(Vm *vm, sd_event *event, uint32_t vcpu, pid_t pid, int pidfd, int control_fd, Worker **ret);
/* Asks the worker to leave (STOP message + kick signal). */
int worker_request_stop(Worker *w);
/* Sends one control message and kicks the worker so that it reads it. */
int worker_send(Worker *w, const WorkerMessage *msg);
/* SIGKILL; the exit is still reported through the pidfd. */
void worker_kill(Worker *w);
Worker *worker_free(Worker *w);
static inline void worker_freep(Worker **w) {
        worker_free(*w);
}
