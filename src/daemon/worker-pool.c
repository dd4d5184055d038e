/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "process-util.h"
#include "time-util.h"
#include "worker-pool.h"
#include "worker-protocol.h"
#include "worker.h"

/* A spare that keeps dying is replaced ever more slowly: 1 s, 2 s, ... 60 s. */
#define POOL_BACKOFF_MIN_USEC (1 * USEC_PER_SEC)
#define POOL_BACKOFF_MAX_USEC (60 * USEC_PER_SEC)

struct WorkerPool {
        sd_event *event;
        char *binary;
        char *user; /* NULL: --no-sandbox */

        pid_t pid; /* 0: no spare */
        int pidfd;
        int control_fd;
        WorkerIdentity identity; /* the spare's */
        bool idle; /* it said WORKER_MSG_IDLE: takeable */
        sd_event_source *pid_source;
        sd_event_source *control_source;

        sd_event_source *refill_source;
        uint64_t backoff_usec;    /* 0 after a spare was used, else the delay before the next */
        uint64_t last_spawn_usec; /* CLOCK_MONOTONIC */
        bool disabled;            /* the binary cannot be a spare: start workers on demand */
        bool proven;              /* a spare of this binary reached IDLE once */
};

static void pool_forget_spare(WorkerPool *p) {
        p->control_source = sd_event_source_disable_unref(p->control_source);
        p->pid_source = sd_event_source_disable_unref(p->pid_source);
        p->pidfd = safe_close(p->pidfd);
        p->control_fd = safe_close(p->control_fd);
        p->pid = 0;
        p->idle = false;
}

/* The next spare waits longer: 1 s, 2 s, ... 60 s; a use resets it. */
static void pool_back_off(WorkerPool *p) {
        p->backoff_usec = p->backoff_usec == 0 ? POOL_BACKOFF_MIN_USEC
                                               : MIN(p->backoff_usec * 2, POOL_BACKOFF_MAX_USEC);
}

static int on_spare_control(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        WorkerPool *p = userdata;
        WorkerMessage msg;
        int r;

        r = worker_message_receive(fd, WORKER_VCPU_UNKNOWN, &msg);
        if (r > 0 && msg.type == WORKER_MSG_IDLE) {
                p->idle = true;
                p->proven = true;
                log_debug("Spare worker %d is idle", (int) p->pid);
                return 0;
        }
        if (r > 0 && msg.type == WORKER_MSG_FAILED)
                log_warning("Spare worker %d failed at %s: %s", (int) p->pid, msg.step, strerror(-msg.error));
        if (r == -EAGAIN)
                return 0;
        /* EOF or anything else: it is on its way out, its exit handler decides. */
        p->control_source = sd_event_source_disable_unref(p->control_source);
        return 0;
}

static int on_spare_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        WorkerPool *p = userdata;
        bool was_idle = p->idle;
        pid_t pid = p->pid;
        pool_forget_spare(p);

        if (!was_idle && si->si_code == CLD_EXITED) {
                /* It left by itself before it ever waited: it cannot be a spare. */
                p->disabled = true;
                log_warning("Spare worker %d (%s --spare) exited with status %d before it was ready; "
                            "vCPU workers are started on demand from now on.", (int) pid, p->binary,
                            si->si_status);
                return 0;
        }
        pool_back_off(p);
        log_notice("Spare worker %d %s %d; replacing it.", (int) pid,
                   si->si_code == CLD_EXITED ? "exited with status" : "was killed by signal", si->si_status);
        worker_pool_refill(p);
        return 0;
}

/* Who the next spare is: the worker user as a VM start would resolve it now. */
static int pool_identity(WorkerPool *p, WorkerIdentity *ret) {
        int r;

        if (!p->user) {
                *ret = (WorkerIdentity) { .no_sandbox = true };
                return 0;
        }
        *ret = (WorkerIdentity) {};
        r = worker_user_resolve(p->user, &ret->uid, &ret->gid);
        if (r < 0)
                return log_warning_errno(r, "Worker user '%s' cannot be resolved, no spare worker: %m", p->user);
        /* The worker refuses root: that VM start fails on its own, clearly. */
        if (ret->uid == 0 || ret->gid == 0)
                return log_warning_errno(-EPERM, "Worker user '%s' is root, no spare worker", p->user);
        return 0;
}

static int pool_spawn(WorkerPool *p) {
        WorkerProcess proc;
        int r;

        p->last_spawn_usec = now_usec(CLOCK_MONOTONIC);
        r = pool_identity(p, &p->identity);
        if (r < 0)
                return r;
        r = worker_process_start(p->binary, &p->identity, true, &proc);
        if (r < 0)
                return r;
        p->pid = proc.pid;
        p->pidfd = proc.pidfd;
        p->control_fd = proc.control_fd;

        r = sd_event_add_child_pidfd(p->event, &p->pid_source, p->pidfd, WEXITED, on_spare_exit, p);
        if (r >= 0)
                r = sd_event_add_io(p->event, &p->control_source, p->control_fd, EPOLLIN, on_spare_control, p);
        if (r < 0) {
                process_kill_and_reap(p->pid, p->pidfd);
                pool_forget_spare(p);
                return r;
        }
        log_debug("Spare worker %d started", (int) p->pid);
        return 0;
}

static int on_refill(sd_event_source *s, uint64_t usec, void *userdata) {
        WorkerPool *p = userdata;
        int r;
        p->refill_source = sd_event_source_disable_unref(p->refill_source);
        if (p->pid > 0 || p->disabled)
                return 0;
        r = pool_spawn(p);
        if (r < 0) {
                log_warning_errno(r, "Cannot start a spare worker (%s --spare): %m", p->binary);
                pool_back_off(p);
                worker_pool_refill(p);
        }
        return 0;
}

void worker_pool_refill(WorkerPool *p) {
        uint64_t now, when;
        int r;

        if (!p || p->disabled || p->pid > 0 || p->refill_source)
                return;
        now = now_usec(CLOCK_MONOTONIC);
        when = p->backoff_usec > 0 ? MAX(now, p->last_spawn_usec + p->backoff_usec) : now;
        r = sd_event_add_time(p->event, &p->refill_source, CLOCK_MONOTONIC, when, 0, on_refill, p);
        /* Whatever else is pending (console bytes, worker messages) goes first. */
        if (r >= 0)
                r = sd_event_source_set_priority(p->refill_source, SD_EVENT_PRIORITY_IDLE);
        if (r < 0) {
                p->refill_source = sd_event_source_disable_unref(p->refill_source);
                log_warning_errno(r, "Cannot schedule a spare worker: %m");
        }
}

/* The kernel's PF_EXITING task flag: set as do_exit() begins. */
#define TASK_FLAG_EXITING 0x00000004U

/* Whether the spare is on its way out although its exit has not reached us:
 * a SIGKILL is pending, or do_exit() is tearing down its memory (slow for a
 * large address space) before it closes its fds and becomes a zombie. Such
 * a spare would take the assignment into its socket and die with it. An
 * unreadable /proc (hidden processes) counts as alive: the start then fails
 * only if the spare really dies, as any worker may. */
static bool pool_spare_dying(const WorkerPool *p) {
        _cleanup_free_ char *stat = NULL;
        char path[64], state = 0;
        unsigned long long flags = 0, pending = 0;
        const char *rest;
        int r;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) p->pid);
        r = read_full_file(path, 4096, &stat, NULL);
        if (r == -ENOENT || r == -ESRCH)
                return true;
        if (r < 0)
                return false;
        /* "pid (comm) state ppid ..." (proc(5)): comm may hold anything,
         * ')' included; fields count from 3 after the last ')'. */
        rest = strrchr(stat, ')');
        if (!rest)
                return false;
        rest++;
        for (unsigned field = 3; field <= 31; field++) {
                char *end;

                rest += strspn(rest, " ");
                if (field == 3)
                        state = *rest;
                else if (field == 9)
                        flags = strtoull(rest, NULL, 10);
                else if (field == 31)
                        pending = strtoull(rest, NULL, 10);
                end = strchr(rest, ' ');
                if (!end && field < 31)
                        return false;
                rest = end;
        }
        return (state && strchr("ZXx", state)) || (flags & TASK_FLAG_EXITING) || (pending & (1ULL << (SIGKILL - 1)));
}

static bool identity_eq(const WorkerIdentity *a, const WorkerIdentity *b) {
        return a->no_sandbox == b->no_sandbox && !a->test_hook && !b->test_hook &&
                (a->no_sandbox || (a->uid == b->uid && a->gid == b->gid));
}

int worker_pool_take(WorkerPool *p, const WorkerIdentity *id, WorkerProcess *ret) {
        /* A spare still loading is taken too once the binary is known to be
         * able to be one: the assignment waits in its socket, and it is
         * further along than a fork+exec started now would be. Its IDLE
         * then goes to the VM's Worker, which ignores it. */
        if (!p || p->pid <= 0 || (!p->idle && !p->proven))
                return -EAGAIN;
        /* Left in the pool: its exit handler reaps and replaces it. */
        if (pool_spare_dying(p)) {
                log_debug("Spare worker %d is exiting; not taking it", (int) p->pid);
                return -EAGAIN;
        }
        /* Test hooks change the sandbox it entered; a changed worker user
         * makes it useless: replaced, from the refill after this start. */
        if (!identity_eq(&p->identity, id)) {
                if (!id->test_hook) {
                        log_debug("Spare worker %d runs as another user; replacing it", (int) p->pid);
                        process_kill_and_reap(p->pid, p->pidfd);
                        pool_forget_spare(p);
                }
                return -EAGAIN;
        }
        /* The VM's Worker watches it from now on. */
        p->control_source = sd_event_source_disable_unref(p->control_source);
        p->pid_source = sd_event_source_disable_unref(p->pid_source);
        *ret = (WorkerProcess) {
                .pid = p->pid,
                .pidfd = TAKE_FD(p->pidfd),
                .control_fd = TAKE_FD(p->control_fd),
        };
        pool_forget_spare(p);
        p->backoff_usec = 0;
        return 0;
}

pid_t worker_pool_spare_pid(const WorkerPool *p) {
        return p ? p->pid : 0;
}

bool worker_pool_spare_idle(const WorkerPool *p) {
        return p && p->pid > 0 && p->idle;
}

bool worker_pool_disabled(const WorkerPool *p) {
        return !p || p->disabled;
}

int worker_pool_new(sd_event *event, const char *binary, const char *worker_user, WorkerPool **ret) {
        _cleanup_(worker_pool_freep) WorkerPool *p = NULL;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->pidfd = -EBADF;
        p->control_fd = -EBADF;
        p->binary = strdup(binary);
        if (!p->binary)
                return -ENOMEM;
        if (worker_user) {
                p->user = strdup(worker_user);
                if (!p->user)
                        return -ENOMEM;
        }
        p->event = sd_event_ref(event);
        *ret = TAKE_PTR(p);
        return 0;
}

WorkerPool *worker_pool_free(WorkerPool *p) {
        if (!p)
                return NULL;
        if (p->pid > 0)
                process_kill_and_reap(p->pid, p->pidfd);
        pool_forget_spare(p);
        sd_event_source_disable_unref(p->refill_source);
        sd_event_unref(p->event);
        free(p->binary);
        free(p->user);
        free(p);
        return NULL;
}
