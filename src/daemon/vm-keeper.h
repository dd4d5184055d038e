/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A running VM's gunyah-keeper from the daemon's side (keeper-protocol.h):
 * spawned as a start's first step with the listening socket
 * <runtime_dir>/vms/NAME/keeper, given dups of the daemon's ends of the
 * VM's fds once every worker is ready, told to quit (and reaped) when the
 * instance goes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct VmKeeper {
        pid_t pid;
        int pidfd;
        int control_fd;
        char *socket_path;
} VmKeeper;

/* Spawns binary --vm=name with a control socket and the listening socket
 * in dir (a stale one replaced). */
int vm_keeper_spawn(const char *binary, const char *name, const char *dir, VmKeeper **ret);

/* Hands the keeper dups of fds (n of them, in order); watch[i]: fd i's
 * peer is a VM process. */
int vm_keeper_deposit(VmKeeper *k, const int *fds, const bool *watch, size_t n);

/* The keeper of a VM a previous daemon started (vm-adopt.h): not our
 * child; sock is our connection to it. Takes pidfd and sock, also on failure. */
int vm_keeper_adopt(pid_t pid, int pidfd, int sock, const char *dir, VmKeeper **ret);

/* QUIT, then the keeper is killed if still there and reaped; the socket
 * is removed. */
VmKeeper *vm_keeper_free(VmKeeper *k);

/* Our connection closed, the keeper left holding what it holds: the
 * daemon exits, the VM runs on for the next one. */
VmKeeper *vm_keeper_release(VmKeeper *k);
