/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* SIGKILL to a child of ours, then waits until it is reaped. Through pidfd
 * when there is one (>= 0); else through pid, which is safe only while the
 * child is not yet reaped. Errors are ignored: the child is gone either way,
 * or was never ours. */
void process_kill_and_reap(pid_t pid, int pidfd);

/* fork+exec of one of gunyahd's helper programs: fds[i] becomes fd 3 + i in
 * the child (without O_CLOEXEC), every other fd above stderr is closed,
 * signals are unblocked and default. Returns the child's pid and a pidfd. */
int process_spawn_with_fds(const char *binary, char *const argv[], const int *fds, size_t n_fds, pid_t *ret_pid,
                           int *ret_pidfd);

/* Field 22 of a /proc/PID/stat line (the start time in clock ticks since
 * boot): with the PID, it names one process even after the PID is reused.
 * The first parses the line (the command may hold spaces and ')'), the
 * second reads it. */
int proc_stat_start_time(const char *stat, uint64_t *ret);
int process_start_time(pid_t pid, uint64_t *ret);
