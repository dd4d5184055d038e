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
#include "vm.h"
#include "worker-pool.h"
#include "worker-protocol.h"
#include "worker.h"

/* fds are moved here first so that the dup2() calls onto 3, 4, 5, ... can
 * never overwrite a source that is still needed. */
#define WORKER_FD_STAGING_BASE 100

static int on_worker_control(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        WorkerMessage msg;
        for (;;) {
                ssize_t n = recv(fd, &msg, sizeof(msg), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == ECONNRESET) /* the worker exited: same as EOF */
                                w->control_source = sd_event_source_disable_unref(w->control_source);
                        else if (errno != EAGAIN)
                                log_warning_errno(errno, "worker %d: control read failed: %m", (int) w->pid);
                        break;
                }
                if (n == 0) {
                        w->control_source = sd_event_source_disable_unref(w->control_source);
                        break;
                }
                if ((size_t) n != sizeof(msg)) {
                        log_warning("VM %s: worker of vCPU %u sent a %zd-byte message (expected %zu), ignoring",
                                    w->vm->name, w->vcpu, n, sizeof(msg));
                        continue;
                }
                msg.step[sizeof(msg.step) - 1] = '\0';
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
        log_debug("VM %s: worker of vCPU %u (pid %d) exited, code %d status %d", w->vm->name, w->vcpu,
                  (int) w->pid, si->si_code, si->si_status);

        /* Drain what it said before dying: its exit message decides the reason. */
        if (w->control_source)
                (void) on_worker_control(NULL, w->control_fd, 0, w);

        vm_on_worker_exit(w->vm, w, si->si_code, si->si_status);
        return 0;
}

static void format_arg(char *buf, size_t len, const char *fmt, ...) _printf_(3, 4);
static void format_arg(char *buf, size_t len, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
}

/* In the child: only async-signal-safe calls from here to execv(). */
static _noreturn_ void worker_exec_child(const char *binary, int *sources, size_t n, char *const argv[]) {
        sigset_t mask;

        for (size_t i = 0; i < n; i++) {
                int fd = fcntl(sources[i], F_DUPFD, WORKER_FD_STAGING_BASE + (int) n);
                if (fd < 0)
                        _exit(127);
                sources[i] = fd;
        }
        for (size_t i = 0; i < n; i++)
                if (dup2(sources[i], WORKER_FD_CONTROL + (int) i) < 0)
                        _exit(127);
        /* Every fd it was not handed is closed. */
        if (close_range(WORKER_FD_CONTROL + (unsigned) n, ~0U, 0) < 0)
                _exit(127);

        sigemptyset(&mask);
        (void) sigprocmask(SIG_SETMASK, &mask, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                (void) signal(sig, SIG_DFL);

        execv(binary, argv);
        _exit(127);
}

int worker_fork_exec(const char *binary, const int *fds, size_t n_fds, char *const argv[], pid_t *ret_pid,
                     int *ret_pidfd) {
        int sources[WORKER_FDS_MAX];
        int pidfd, r;
        pid_t pid;

        if (n_fds > ELEMENTSOF(sources))
                return -E2BIG;
        memcpy(sources, fds, n_fds * sizeof(int));

        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                worker_exec_child(binary, sources, n_fds, argv);

        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0) {
                r = negative_errno();
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return log_error_errno(r, "pidfd_open(%d) failed: %m", (int) pid);
        }
        *ret_pid = pid;
        *ret_pidfd = pidfd;
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

/* The fds a worker gets, in worker-protocol.h order, control first. */
static size_t worker_fds(const WorkerSpawnArgs *a, int control_fd, int *fds) {
        size_t n = 0;

        if (control_fd >= 0)
                fds[n++] = control_fd;
        fds[n++] = a->console_fd;
        fds[n++] = a->devices_fd;
        for (size_t i = 0; i < a->n_backend_fds; i++)
                fds[n++] = a->backend_fds[i];
        for (size_t i = 0; i < a->n_irqfds; i++)
                fds[n++] = a->irqfds[i];
        return n;
}

typedef struct WorkerArgv {
        char backend[64], vcpu[32], vm[96], fds[32], pl011[48], pl061[48], pl011_spi[32], pl061_spi[32];
        char uid[32], gid[32], hook[64], irqfd[WORKER_IRQFDS_MAX][32];
        char *argv[16 + WORKER_IRQFDS_MAX];
} WorkerArgv;

static void worker_argv_build(const WorkerSpawnArgs *a, WorkerArgv *v) {
        size_t n = 0;

        format_arg(v->backend, sizeof(v->backend), "--backend=%s", a->backend);
        format_arg(v->vcpu, sizeof(v->vcpu), "--vcpu=%" PRIu32, a->vcpu);
        format_arg(v->vm, sizeof(v->vm), "--vm=%s", a->vm_name);
        format_arg(v->fds, sizeof(v->fds), "--backend-fds=%zu", a->n_backend_fds);
        v->argv[n++] = (char *) "gunyah-vcpu";
        v->argv[n++] = v->backend;
        v->argv[n++] = v->vcpu;
        v->argv[n++] = v->vm;
        v->argv[n++] = v->fds;
        if (a->pl011_base != UINT64_MAX) {
                format_arg(v->pl011, sizeof(v->pl011), "--pl011=0x%" PRIx64, a->pl011_base);
                format_arg(v->pl011_spi, sizeof(v->pl011_spi), "--pl011-spi=%" PRIu32, a->pl011_spi);
                v->argv[n++] = v->pl011;
                v->argv[n++] = v->pl011_spi;
        }
        if (a->pl061_base != UINT64_MAX) {
                format_arg(v->pl061, sizeof(v->pl061), "--pl061=0x%" PRIx64, a->pl061_base);
                format_arg(v->pl061_spi, sizeof(v->pl061_spi), "--pl061-spi=%" PRIu32, a->pl061_spi);
                v->argv[n++] = v->pl061;
                v->argv[n++] = v->pl061_spi;
        }
        for (size_t i = 0; i < a->n_irqfds; i++) {
                format_arg(v->irqfd[i], sizeof(v->irqfd[i]), "--irqfd=%" PRIu32, a->irq_labels[i]);
                v->argv[n++] = v->irqfd[i];
        }
        if (a->no_sandbox)
                v->argv[n++] = (char *) "--no-sandbox";
        else {
                format_arg(v->uid, sizeof(v->uid), "--uid=%u", (unsigned) a->uid);
                format_arg(v->gid, sizeof(v->gid), "--gid=%u", (unsigned) a->gid);
                v->argv[n++] = v->uid;
                v->argv[n++] = v->gid;
        }
        if (a->test_hook) {
                format_arg(v->hook, sizeof(v->hook), "--test-hook=%s", a->test_hook);
                v->argv[n++] = v->hook;
        }
        v->argv[n] = NULL;
}

/* The slow way: a fresh process, told everything on its command line. */
static int worker_start_process(Worker *w, const WorkerSpawnArgs *a) {
        _cleanup_close_ int daemon_end = -EBADF, worker_end = -EBADF;
        int fds[WORKER_FDS_MAX], pair[2], r;
        WorkerArgv v;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return negative_errno();
        daemon_end = pair[0];
        worker_end = pair[1];

        worker_argv_build(a, &v);
        r = worker_fork_exec(a->binary, fds, worker_fds(a, worker_end, fds), v.argv, &w->pid, &w->pidfd);
        if (r < 0)
                return r;
        w->control_fd = TAKE_FD(daemon_end);
        return 0;
}

/* The fast way: the pool's spare gets the same as a command line and fds. */
static int worker_assign_spare(Worker *w, const WorkerSpawnArgs *a, WorkerSpare *spare) {
        WorkerAssign msg = {
                .type = WORKER_MSG_ASSIGN,
                .vcpu = a->vcpu,
                .n_backend_fds = (uint32_t) a->n_backend_fds,
                .n_irqfds = (uint32_t) a->n_irqfds,
                .flags = a->no_sandbox ? WORKER_ASSIGN_NO_SANDBOX : 0,
                .uid = (uint32_t) a->uid,
                .gid = (uint32_t) a->gid,
                .pl011_spi = a->pl011_spi,
                .pl061_spi = a->pl061_spi,
                .pl011_base = a->pl011_base,
                .pl061_base = a->pl061_base,
        };
        int fds[WORKER_FDS_MAX];
        size_t n_fds = worker_fds(a, -EBADF, fds);
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * WORKER_FDS_MAX)];
        } control = {};
        struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg) };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = CMSG_SPACE(sizeof(int) * n_fds),
        };
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh);

        if (strlen(a->backend) >= sizeof(msg.backend) || strlen(a->vm_name) >= sizeof(msg.vm))
                return -ENAMETOOLONG;
        strcpy(msg.backend, a->backend);
        strcpy(msg.vm, a->vm_name);
        for (size_t i = 0; i < a->n_irqfds; i++)
                msg.irq_labels[i] = a->irq_labels[i];

        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n_fds);

        if (sendmsg(spare->control_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return negative_errno();

        w->pid = spare->pid;
        w->pidfd = TAKE_FD(spare->pidfd);
        w->control_fd = TAKE_FD(spare->control_fd);
        return 0;
}

/* A spare that could not be assigned is of no further use. */
static void worker_spare_discard(WorkerSpare *spare) {
        siginfo_t si;

        (void) pidfd_send_signal(spare->pidfd, SIGKILL, NULL, 0);
        (void) waitid(P_PIDFD, (id_t) spare->pidfd, &si, WEXITED);
        spare->pidfd = safe_close(spare->pidfd);
        spare->control_fd = safe_close(spare->control_fd);
}

int worker_spawn(Vm *vm, sd_event *event, const WorkerSpawnArgs *a, WorkerPool *pool, Worker **ret) {
        _cleanup_free_ Worker *w = NULL;
        WorkerSpare spare;
        int r = -EAGAIN;

        if (a->n_backend_fds > HV_VCPU_EXPORT_FDS_MAX || a->n_irqfds > WORKER_IRQFDS_MAX)
                return -E2BIG;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->vm = vm;
        w->vcpu = a->vcpu;
        w->pidfd = -EBADF;
        w->control_fd = -EBADF;

        /* Test hooks travel on the command line only: those workers are fresh. */
        if (pool && !a->test_hook && worker_pool_take(pool, &spare) >= 0) {
                r = worker_assign_spare(w, a, &spare);
                if (r < 0) {
                        log_warning_errno(r, "VM %s: could not hand vCPU %u to spare worker %d, starting one: %m",
                                          vm->name, a->vcpu, (int) spare.pid);
                        worker_spare_discard(&spare);
                } else
                        w->from_pool = true;
        }
        if (r < 0) {
                r = worker_start_process(w, a);
                if (r < 0)
                        return log_error_errno(r, "VM %s: cannot start the worker of vCPU %u: %m", vm->name, a->vcpu);
        }

        r = sd_event_add_child_pidfd(event, &w->pid_source, w->pidfd, WEXITED, on_worker_exit, w);
        if (r >= 0)
                r = sd_event_add_io(event, &w->control_source, w->control_fd, EPOLLIN, on_worker_control, w);
        if (r < 0) {
                siginfo_t si;

                (void) pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
                (void) waitid(P_PIDFD, (id_t) w->pidfd, &si, WEXITED);
                w->exited = true;
                worker_free(TAKE_PTR(w));
                return log_error_errno(r, "VM %s: failed to watch worker: %m", vm->name);
        }

        log_debug("VM %s: vCPU %u runs in %s worker pid %d", vm->name, a->vcpu, w->from_pool ? "spare" : "new",
                  (int) w->pid);
        *ret = TAKE_PTR(w);
        return 0;
}

int worker_send(Worker *w, const void *msg) {
        if (w->exited || w->control_fd < 0)
                return -ESRCH;
        if (send(w->control_fd, msg, sizeof(WorkerMessage), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return negative_errno();
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
