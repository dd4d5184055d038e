/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "process-util.h"
#include "vm.h"
#include "worker-pool.h"
#include "worker-protocol.h"
#include "worker.h"

static int on_worker_control(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        WorkerMessage msg;

        for (;;) {
                int r = worker_message_receive(fd, w->vcpu, &msg);
                if (r == -EBADMSG)
                        continue; /* logged; what it says next may still be true */
                if (r == -EAGAIN)
                        break;
                if (r <= 0) {
                        if (r < 0)
                                log_vm_warning_errno(w->vm->name, r, "control read of worker %d failed: %m",
                                                  (int) w->pid);
                        w->control_source = sd_event_source_disable_unref(w->control_source);
                        break;
                }
                vm_on_worker_message(w->vm, w, &msg);
        }
        if (revents & (EPOLLHUP | EPOLLERR))
                w->control_source = sd_event_source_disable_unref(w->control_source);
        return 0;
}

static int on_worker_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Worker *w = userdata;
        w->exited = true;
        w->exit_code = si->si_code;
        w->exit_status = si->si_status;
        log_vm_debug(w->vm->name, "worker of vCPU %u (pid %d) exited, code %d status %d", w->vcpu,
                  (int) w->pid, si->si_code, si->si_status);

        /* Drain what it said before dying: its exit message decides the reason. */
        if (w->control_source)
                (void) on_worker_control(NULL, w->control_fd, 0, w);

        vm_on_worker_exit(w->vm, w, si->si_code, si->si_status);
        return 0;
}

int worker_user_resolve(const char *user, uid_t *ret_uid, gid_t *ret_gid) {
        struct passwd *pw;
        uint32_t uid;

        errno = 0;
        if (parse_u32(user, &uid) >= 0) {
                if (uid == UINT32_MAX)
                        return -EINVAL;
                pw = getpwuid((uid_t) uid);
                *ret_uid = (uid_t) uid;
                *ret_gid = pw ? pw->pw_gid : (gid_t) uid;
        } else {
                pw = getpwnam(user);
                if (!pw)
                        return errno > 0 && errno != ENOENT ? -errno : -ESRCH;
                *ret_uid = pw->pw_uid;
                *ret_gid = pw->pw_gid;
        }
        /* root is passed on: the worker refuses it, at "sandbox-setgid". */
        return 0;
}

/* The command line of a worker: who it is, nothing of a VM. */
typedef struct WorkerArgv {
        char uid[32], gid[32], hook[64];
        char *argv[6];
} WorkerArgv;

static void worker_argv_build(const WorkerIdentity *id, bool spare, WorkerArgv *v) {
        size_t n = 0;

        v->argv[n++] = (char *) "gunyah-vcpu";
        if (spare)
                v->argv[n++] = (char *) "--spare";
        if (id->no_sandbox)
                v->argv[n++] = (char *) "--no-sandbox";
        else {
                snprintf(v->uid, sizeof(v->uid), "--uid=%u", (unsigned) id->uid);
                snprintf(v->gid, sizeof(v->gid), "--gid=%u", (unsigned) id->gid);
                v->argv[n++] = v->uid;
                v->argv[n++] = v->gid;
        }
        if (id->test_hook) {
                snprintf(v->hook, sizeof(v->hook), "--test-hook=%s", id->test_hook);
                v->argv[n++] = v->hook;
        }
        v->argv[n] = NULL;
}

int worker_process_start(const char *binary, const WorkerIdentity *id, bool spare, WorkerProcess *ret) {
        _cleanup_close_ int daemon_end = -EBADF, worker_end = -EBADF;
        int pair[2], r;
        WorkerArgv v;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return negative_errno();
        daemon_end = pair[0];
        worker_end = pair[1];

        worker_argv_build(id, spare, &v);
        r = process_spawn_with_fds(binary, v.argv, &worker_end, 1, &ret->pid, &ret->pidfd);
        if (r < 0)
                return r;
        ret->control_fd = TAKE_FD(daemon_end);
        return 0;
}

void worker_process_discard(WorkerProcess *p) {
        process_kill_and_reap(p->pid, p->pidfd);
        p->pidfd = safe_close(p->pidfd);
        p->control_fd = safe_close(p->control_fd);
        p->pid = 0;
}

/* Encodes what vm-start decided for one vCPU into the record every worker
 * gets, and its fds in the order they travel. */
static int worker_config_build(const WorkerSpawnArgs *a, WorkerConfig *c, int *fds, size_t *ret_n_fds) {
        size_t n = 0;

        if (a->n_backend_fds > HV_VCPU_EXPORT_FDS_MAX || a->n_irqfds > WORKER_IRQFDS_MAX ||
            a->n_virtio > WORKER_VIRTIO_MAX)
                return -E2BIG;
        *c = (WorkerConfig) {
                .type = WORKER_MSG_CONFIG,
                .vcpu = a->vcpu,
                .n_backend_fds = (uint32_t) a->n_backend_fds,
                .n_irqfds = (uint32_t) a->n_irqfds,
                .pl011_base = a->pl011_base,
                .pl061_base = a->pl061_base,
                /* A device that is not there has no line either. */
                .pl011_spi = a->pl011_base != UINT64_MAX ? a->pl011_spi : UINT32_MAX,
                .pl061_spi = a->pl061_base != UINT64_MAX ? a->pl061_spi : UINT32_MAX,
                .n_virtio = (uint32_t) a->n_virtio,
        };
        if (strlen(a->backend) >= sizeof(c->backend) || strlen(a->vm_name) >= sizeof(c->vm))
                return -ENAMETOOLONG;
        strcpy(c->backend, a->backend);
        strcpy(c->vm, a->vm_name);

        fds[n++] = a->console_fd;
        fds[n++] = a->devices_fd;
        for (size_t i = 0; i < a->n_backend_fds; i++)
                fds[n++] = a->backend_fds[i];
        for (size_t i = 0; i < a->n_irqfds; i++) {
                c->irq_labels[i] = a->irq_labels[i];
                fds[n++] = a->irqfds[i];
        }
        for (size_t i = 0; i < a->n_virtio; i++) {
                c->virtio_base[i] = a->virtio_bases[i];
                fds[n++] = a->virtio_regs_fds[i];
        }
        for (size_t i = 0; i < a->n_virtio; i++)
                fds[n++] = a->virtio_kick_fds[i];
        *ret_n_fds = n;
        return 0;
}

static int worker_watch(Worker *w, sd_event *event) {
        int r;

        r = sd_event_add_child_pidfd(event, &w->pid_source, w->pidfd, WEXITED, on_worker_exit, w);
        if (r >= 0)
                r = sd_event_add_io(event, &w->control_source, w->control_fd, EPOLLIN, on_worker_control, w);
        if (r < 0) {
                process_kill_and_reap(w->pid, w->pidfd);
                w->exited = true;
                return log_vm_error_errno(w->vm->name, r, "failed to watch worker: %m");
        }
        return 0;
}

static void worker_take_process(Worker *w, WorkerProcess *p) {
        w->pid = p->pid;
        w->pidfd = p->pidfd;
        w->control_fd = p->control_fd;
}

static WorkerIdentity identity_of(const WorkerSpawnArgs *a) {
        return (WorkerIdentity) { .no_sandbox = a->no_sandbox, .uid = a->uid, .gid = a->gid, .test_hook = a->test_hook };
}

/* A freshly started process for w, watched. */
static int worker_start_fresh(Worker *w, sd_event *event, const WorkerSpawnArgs *a) {
        WorkerIdentity id = identity_of(a);
        WorkerProcess p;
        int r;

        r = worker_process_start(a->binary, &id, false, &p);
        if (r < 0) {
                w->exited = true;
                return log_vm_error_errno(w->vm->name, r, "cannot start the worker of vCPU %u: %m", a->vcpu);
        }
        w->from_pool = false;
        worker_take_process(w, &p);
        return worker_watch(w, event);
}

int worker_acquire(Vm *vm, sd_event *event, const WorkerSpawnArgs *a, WorkerPool *pool, Worker **ret) {
        WorkerIdentity id = identity_of(a);
        _cleanup_(worker_freep) Worker *w = NULL;
        WorkerProcess p;
        int r;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        *w = (Worker) { .vm = vm, .vcpu = a->vcpu, .pidfd = -EBADF, .control_fd = -EBADF };
        if (pool && worker_pool_take(pool, &id, &p) >= 0) {
                w->from_pool = true;
                worker_take_process(w, &p);
                r = worker_watch(w, event);
        } else
                r = worker_start_fresh(w, event, a);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}

/* A spare that died meanwhile is replaced by a fresh process: 1. */
int worker_configure(Worker *w, sd_event *event, const WorkerSpawnArgs *a) {
        int fds[WORKER_CONFIG_FDS_MAX];
        WorkerConfig config;
        WorkerProcess p;
        size_t n_fds;
        int r;

        r = worker_config_build(a, &config, fds, &n_fds);
        if (r < 0)
                return r;
        r = worker_config_send(w->control_fd, &config, fds, n_fds);
        if (r >= 0 || !w->from_pool) {
                /* A fresh worker that is gone already: its exit, watched, says how. */
                if (IN_SET(r, -EPIPE, -ECONNRESET))
                        log_vm_debug(w->vm->name, "the worker of vCPU %u is gone before its configuration",
                                     a->vcpu);
                else if (r < 0)
                        return log_vm_error_errno(w->vm->name, r, "cannot configure the worker of vCPU %u: %m",
                                                  a->vcpu);
                log_vm_debug(w->vm->name, "vCPU %u runs in %s worker pid %d", a->vcpu,
                             w->from_pool ? "spare" : "new", (int) w->pid);
                return 0;
        }
        log_vm_warning_errno(w->vm->name, r, "could not hand vCPU %u to spare worker %d, starting one: %m", a->vcpu,
                             (int) w->pid);
        w->pid_source = sd_event_source_disable_unref(w->pid_source);
        w->control_source = sd_event_source_disable_unref(w->control_source);
        p = (WorkerProcess) { .pid = w->pid, .pidfd = w->pidfd, .control_fd = w->control_fd };
        worker_process_discard(&p);
        w->pidfd = w->control_fd = -EBADF;
        r = worker_start_fresh(w, event, a);
        if (r < 0)
                return r;
        r = worker_config_send(w->control_fd, &config, fds, n_fds);
        if (r < 0)
                return log_vm_error_errno(w->vm->name, r, "cannot configure the worker of vCPU %u: %m", a->vcpu);
        return 1;
}

static int on_adopted_worker_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;

        /* Only the parent learns how a process ended. */
        w->pid_source = sd_event_source_disable_unref(w->pid_source);
        return on_worker_exit(NULL, &(siginfo_t) { .si_code = CLD_EXITED, .si_status = 0 }, w);
}

static int on_adopted_worker_gone(sd_event_source *s, void *userdata) {
        return on_adopted_worker_exit(s, -EBADF, 0, userdata);
}

int worker_adopt(Vm *vm, sd_event *event, uint32_t vcpu, pid_t pid, int pidfd, int control_fd, Worker **ret) {
        _cleanup_(worker_freep) Worker *w = calloc(1, sizeof(Worker));
        int r;

        if (!w) {
                safe_close(pidfd);
                safe_close(control_fd);
                return -ENOMEM;
        }
        *w = (Worker) { .vm = vm, .vcpu = vcpu, .pid = pid, .pidfd = pidfd, .control_fd = control_fd, .ready = true,
                        .exited = pidfd < 0 /* never killed by a PID that may be another's now */ };
        /* Gone while no daemon ran: its last words are still queued on its socket. */
        if (pidfd < 0)
                r = sd_event_add_defer(event, &w->pid_source, on_adopted_worker_gone, w);
        else
                r = sd_event_add_io(event, &w->pid_source, w->pidfd, EPOLLIN, on_adopted_worker_exit, w);
        if (r >= 0)
                r = sd_event_add_io(event, &w->control_source, w->control_fd, EPOLLIN, on_worker_control, w);
        if (r < 0)
                return log_vm_error_errno(vm->name, r, "failed to watch the worker of vCPU %u: %m", vcpu);
        log_vm_debug(vm->name, "vCPU %u: adopted worker pid %d", vcpu, (int) pid);
        *ret = TAKE_PTR(w);
        return 0;
}

int worker_send(Worker *w, const WorkerMessage *msg) {
        int r;

        if (w->exited || w->control_fd < 0)
                return -ESRCH;
        r = worker_message_send(w->control_fd, msg, MSG_DONTWAIT);
        if (r < 0)
                return r;
        if (pidfd_send_signal(w->pidfd, WORKER_KICK_SIGNAL, NULL, 0) < 0)
                return negative_errno();
        return 0;
}

int worker_request_stop(Worker *w) {
        WorkerMessage msg = { .type = WORKER_MSG_STOP, .vcpu = w->vcpu };

        return worker_send(w, &msg);
}

void worker_kill(Worker *w) {
        if (w->exited || w->pidfd < 0)
                return;
        (void) pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->control_source);
        sd_event_source_disable_unref(w->pid_source);
        safe_close(w->control_fd);
        safe_close(w->pidfd);
        free(w);
        return NULL;
}
