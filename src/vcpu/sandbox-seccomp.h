/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The seccomp allow-lists of the vCPU worker: one reviewed table per backend
 * (seccomp-kernel.c, seccomp-sim.c) on top of the run loop's common table
 * (seccomp-common.c). */

#include <stdbool.h>

#include "seccomp-util.h"

extern const SeccompTable seccomp_table_common;
/* What a worker does between waiting for its configuration and loading its
 * backend's filter (seccomp-setup.c): part of the idle filter only. */
extern const SeccompTable seccomp_table_setup;
extern const SeccompTable seccomp_table_kernel;
extern const SeccompTable seccomp_table_sim;

/* The backend's table, or NULL for a backend that has none (refused). */
const SeccompTable *seccomp_table_for_backend(const char *backend);

/* The VM-independent allow-list: what the worker needs from waiting for its
 * configuration to running (receiving it, attaching to the vCPU, every
 * backend's run loop), default action kill-process. Loaded by
 * sandbox_enter_idle()'s caller before it waits. */
int sandbox_seccomp_install_idle(void);

/* Installs the backend's allow-list, default action kill-process. Last: after
 * it nothing but the run loop's syscalls work. Stacks on the idle filter.
 * log_only (test-hook builds only) logs instead of killing, to discover what
 * a backend needs. The n_kicks virtio kick eventfds from first_kick_fd may
 * be written, and a reset may wait for its device (futex). */
int sandbox_seccomp_install(const char *backend, bool log_only, int first_kick_fd, size_t n_kicks);
