/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

/* SIGKILL to a child of ours, then waits until it is reaped. Through pidfd
 * when there is one (>= 0); else through pid, which is safe only while the
 * child is not yet reaped. Errors are ignored: the child is gone either way,
 * or was never ours. */
void process_kill_and_reap(pid_t pid, int pidfd);
