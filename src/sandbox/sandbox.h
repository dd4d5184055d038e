/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/*
 * The sandbox of gunyahd's helper processes (design §4, docs/sandbox.md):
 * vCPU workers and device processes enter the same one, in two parts. On
 * failure *ret_step names the substep ("sandbox-setuid", ...) that the
 * process reports to the daemon.
 */

/* Before the process knows its VM: stdin and stdout to /dev/null, new
 * mount, network, IPC and UTS namespaces, an empty read-only root (a tmpfs
 * called root_name, as /proc/PID/mountinfo shows it), an empty bounding
 * set, uid/gid (never 0) without supplementary groups, no capabilities,
 * not dumpable, nice 10, no_new_privs. */
int sandbox_enter_idle(const char *root_name, uid_t uid, gid_t gid, const char **ret_step);

/* Once it holds every fd it will use: closes every fd above last_fd and
 * sets the rlimits (RLIMIT_NOFILE: exactly those; no core, no processes,
 * no locked memory). */
int sandbox_confine(unsigned last_fd, const char **ret_step);
/* The same for a process that receives or accepts fds while it serves (a
 * vsock device): RLIMIT_NOFILE is nofile, at least last_fd + 1. */
int sandbox_confine_nofile(unsigned last_fd, unsigned nofile, const char **ret_step);

/* A helper program's --uid=/--gid= option (is_uid says which): sets *uid or
 * *gid; -EINVAL, logged, for what is no numeric id. */
int sandbox_parse_id_option(bool is_uid, const char *arg, uid_t *uid, gid_t *gid);

/* The sandbox never guesses whom to run as (docs/sandbox.md): both ids are
 * needed unless no_sandbox. -EINVAL, logged, if one is missing. */
int sandbox_check_id_options(bool no_sandbox, uid_t uid, gid_t gid);
