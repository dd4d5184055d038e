/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
