/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "process-util.h"

void process_kill_and_reap(pid_t pid, int pidfd) {
        siginfo_t si;
        int r;

        if (pidfd >= 0) {
                (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                do
                        r = waitid(P_PIDFD, (id_t) pidfd, &si, WEXITED);
                while (r < 0 && errno == EINTR);
        } else if (pid > 0) {
                (void) kill(pid, SIGKILL);
                do
                        r = waitid(P_PID, (id_t) pid, &si, WEXITED);
                while (r < 0 && errno == EINTR);
        }
}

/* In the child: only async-signal-safe calls from here to execv(). */
static _noreturn_ void exec_child(const char *binary, char *const argv[], const int *fds, size_t n_fds) {
        int first = 3, moved[16];
        sigset_t mask;

        if (n_fds > ELEMENTSOF(moved))
                _exit(127);
        /* Out of the way of the targets first: fds[i] may sit on 3 + j. */
        for (size_t i = 0; i < n_fds; i++) {
                moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, first + (int) n_fds);
                if (moved[i] < 0)
                        _exit(127);
        }
        for (size_t i = 0; i < n_fds; i++)
                if (dup2(moved[i], first + (int) i) < 0) /* the copy has no O_CLOEXEC */
                        _exit(127);
        /* Every fd it was not handed is closed. */
        if (close_range((unsigned) first + (unsigned) n_fds, ~0U, 0) < 0)
                _exit(127);

        sigemptyset(&mask);
        (void) sigprocmask(SIG_SETMASK, &mask, NULL);
        for (int sig = 1; sig < _NSIG; sig++)
                (void) signal(sig, SIG_DFL);

        execv(binary, argv);
        _exit(127);
}

int process_spawn_with_fds(const char *binary, char *const argv[], const int *fds, size_t n_fds, pid_t *ret_pid,
                           int *ret_pidfd) {
        int pidfd, r;
        pid_t pid;

        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                exec_child(binary, argv, fds, n_fds);

        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0) {
                r = negative_errno();
                process_kill_and_reap(pid, -EBADF);
                return log_error_errno(r, "pidfd_open(%d) failed: %m", (int) pid);
        }
        *ret_pid = pid;
        *ret_pidfd = pidfd;
        return 0;
}

int proc_stat_start_time(const char *stat, uint64_t *ret) {
        const char *p = strrchr(stat, ')');
        unsigned long long v;
        char *end;

        if (!p)
                return -EINVAL;
        p++;
        /* After the command come fields 3 (state) to 52, one space before each. */
        for (unsigned field = 3; field <= 22; field++) {
                if (*p != ' ')
                        return -EINVAL;
                p++;
                if (field < 22)
                        p += strcspn(p, " ");
        }
        if (*p < '0' || *p > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(p, &end, 10);
        if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
                return -EINVAL;
        *ret = v;
        return 0;
}

int process_start_time(pid_t pid, uint64_t *ret) {
        char path[64], buf[2048];
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, sizeof(buf) - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        return proc_stat_start_time(buf, ret);
}
