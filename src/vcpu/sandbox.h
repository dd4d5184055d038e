/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What a worker is confined to once attached (design §4, docs/sandbox.md). */
typedef struct SandboxConfig {
        const char *backend;  /* hv backend name: picks the seccomp table */
        size_t n_backend_fds; /* fds 3 .. WORKER_FD_BACKEND + n - 1 stay open */
        uid_t uid;            /* unprivileged identity to drop to; never 0 */
        gid_t gid;
        bool isolated;        /* sandbox_isolate() already ran (a spare worker) */
} SandboxConfig;

/* The part of the sandbox that needs nothing of a VM: new mount, network,
 * IPC and UTS namespaces and the empty read-only root. A spare worker does
 * it while it waits, so that a VM start does not. */
int sandbox_isolate(const char **ret_step);

/* Everything but seccomp: closes every fd not handed over, enters new mount,
 * network, IPC and UTS namespaces, pivots into an empty read-only
 * tmpfs, drops to uid/gid without supplementary groups, empties every
 * capability set, sets no_new_privs and rlimits. On failure *ret_step names
 * the substep ("sandbox-setuid", ...) for WORKER_MSG_FAILED. */
int sandbox_confine(const SandboxConfig *c, const char **ret_step);

/* Installs the backend's allow-list, default action kill-process. Last: after
 * it nothing but the run loop's syscalls work. log_only (test-hook builds
 * only) logs instead of killing, to discover what a backend needs. */
int sandbox_seccomp_install(const char *backend, bool log_only);

/* sandbox_confine() then sandbox_seccomp_install(). */
int sandbox_enter(const SandboxConfig *c, const char **ret_step);
