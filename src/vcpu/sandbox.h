/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * The worker's sandbox (design §4, docs/sandbox.md), in two parts. On
 * failure *ret_step names the substep ("sandbox-setuid", ...) for
 * WORKER_MSG_FAILED.
 */

/* Before the worker knows its VM (a spare while it waits; every worker
 * before it reads its WorkerConfig): stdin and stdout to /dev/null, new
 * mount, network, IPC and UTS namespaces, an empty read-only root, an empty
 * bounding set, uid/gid (never 0) without supplementary groups, no
 * capabilities, not dumpable, nice 10, no_new_privs. */
int sandbox_enter_idle(uid_t uid, gid_t gid, const char **ret_step);

/* Once attached to its vCPU: closes every fd above WORKER_FD_BACKEND +
 * n_backend_fds - 1 and sets the rlimits (RLIMIT_NOFILE: exactly those). */
int sandbox_confine(size_t n_backend_fds, const char **ret_step);

/* The VM-independent allow-list: what the worker needs from waiting for its
 * configuration to running (receiving it, attaching to the vCPU, every
 * backend's run loop), default action kill-process. Loaded by
 * sandbox_enter_idle()'s caller before it waits. */
int sandbox_seccomp_install_idle(void);

/* Installs the backend's allow-list, default action kill-process. Last: after
 * it nothing but the run loop's syscalls work. Stacks on the idle filter.
 * log_only (test-hook builds only) logs instead of killing, to discover what
 * a backend needs. */
int sandbox_seccomp_install(const char *backend, bool log_only);
