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
#include "worker-protocol.h"
#include "worker.h"

/* fds are moved here first so that the dup2() calls onto 3, 4, 5, ... can
 * never overwrite a source that is still needed. */
#define WORKER_FD_STAGING_BASE 100

static int on_worker_control(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        WorkerMessage msg;

        (void) s;
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

        (void) s;
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
static _noreturn_ void worker_exec_child(const WorkerSpawnArgs *a, int control_fd, char *const argv[]) {
        int sources[3 + HV_VCPU_EXPORT_FDS_MAX];
        size_t n = 0;
        sigset_t mask;

        sources[n++] = control_fd;
        sources[n++] = a->console_fd;
        sources[n++] = a->devices_fd;
        for (size_t i = 0; i < a->n_backend_fds; i++)
                sources[n++] = a->backend_fds[i];

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

        execv(a->binary, argv);
        _exit(127);
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

int worker_spawn(Vm *vm, sd_event *event, const WorkerSpawnArgs *a, Worker **ret) {
        _cleanup_free_ Worker *w = NULL;
        _cleanup_close_ int daemon_end = -EBADF, worker_end = -EBADF;
        char arg_backend[64], arg_vcpu[32], arg_vm[96], arg_fds[32], arg_pl011[48], arg_pl061[48];
        char arg_pl011_spi[32], arg_pl061_spi[32];
        char arg_uid[32], arg_gid[32], arg_hook[64];
        int pair[2], r;
        pid_t pid;

        if (a->n_backend_fds > HV_VCPU_EXPORT_FDS_MAX)
                return -E2BIG;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->vm = vm;
        w->vcpu = a->vcpu;
        w->pidfd = -EBADF;
        w->control_fd = -EBADF;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                return negative_errno();
        daemon_end = pair[0];
        worker_end = pair[1];

        format_arg(arg_backend, sizeof(arg_backend), "--backend=%s", a->backend);
        format_arg(arg_vcpu, sizeof(arg_vcpu), "--vcpu=%" PRIu32, a->vcpu);
        format_arg(arg_vm, sizeof(arg_vm), "--vm=%s", a->vm_name);
        format_arg(arg_fds, sizeof(arg_fds), "--backend-fds=%zu", a->n_backend_fds);
        format_arg(arg_pl011, sizeof(arg_pl011), "--pl011=0x%" PRIx64, a->pl011_base);
        format_arg(arg_pl061, sizeof(arg_pl061), "--pl061=0x%" PRIx64, a->pl061_base);
        format_arg(arg_pl011_spi, sizeof(arg_pl011_spi), "--pl011-spi=%" PRIu32, a->pl011_spi);
        format_arg(arg_pl061_spi, sizeof(arg_pl061_spi), "--pl061-spi=%" PRIu32, a->pl061_spi);
        char *argv[16] = { (char *) "gunyah-vcpu", arg_backend, arg_vcpu, arg_vm, arg_fds };
        size_t n_argv = 5;
        if (a->pl011_base != UINT64_MAX) {
                argv[n_argv++] = arg_pl011;
                argv[n_argv++] = arg_pl011_spi;
        }
        if (a->pl061_base != UINT64_MAX) {
                argv[n_argv++] = arg_pl061;
                argv[n_argv++] = arg_pl061_spi;
        }
        if (a->no_sandbox)
                argv[n_argv++] = (char *) "--no-sandbox";
        else {
                format_arg(arg_uid, sizeof(arg_uid), "--uid=%u", (unsigned) a->uid);
                format_arg(arg_gid, sizeof(arg_gid), "--gid=%u", (unsigned) a->gid);
                argv[n_argv++] = arg_uid;
                argv[n_argv++] = arg_gid;
        }
        if (a->test_hook) {
                format_arg(arg_hook, sizeof(arg_hook), "--test-hook=%s", a->test_hook);
                argv[n_argv++] = arg_hook;
        }
        argv[n_argv] = NULL;

        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                worker_exec_child(a, worker_end, argv);

        w->pid = pid;
        w->pidfd = pidfd_open(pid, 0);
        if (w->pidfd < 0) {
                r = negative_errno();
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return log_error_errno(r, "VM %s: pidfd_open(%d) failed: %m", vm->name, (int) pid);
        }
        w->control_fd = TAKE_FD(daemon_end);

        r = sd_event_add_child_pidfd(event, &w->pid_source, w->pidfd, WEXITED, on_worker_exit, w);
        if (r >= 0)
                r = sd_event_add_io(event, &w->control_source, w->control_fd, EPOLLIN, on_worker_control, w);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                w->exited = true;
                worker_free(TAKE_PTR(w));
                return log_error_errno(r, "VM %s: failed to watch worker %d: %m", vm->name, (int) pid);
        }

        log_debug("VM %s: vCPU %u runs in worker pid %d", vm->name, a->vcpu, (int) pid);
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
