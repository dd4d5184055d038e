/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/wait.h>

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
