/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A running VM's processes (vCPU workers, device processes) in a transient
 * scope unit of their own, gunyah-vm-NAME.scope in machine.slice, when
 * systemd is PID 1: StartTransientUnit over the system bus with the spec's
 * resources (CPUWeight=, MemoryMax=). Once systemd has moved them, the VM
 * is registered with systemd-machined (vm-machine.c). Without systemd the
 * processes stay in the daemon's cgroup, children of it.
 */

#include <sys/types.h>

#include "macro.h"

typedef struct Vm Vm;
typedef struct VmScope VmScope;

/* "gunyah-vm-" + the VM name escaped as systemd escapes unit name parts
 * (systemd-escape: '-' becomes \x2d) + ".scope". */
int vm_scope_unit_name(const char *vm_name, char **ret);

/* Asks systemd for the scope holding pids (pids[0], vCPU 0's worker, leads
 * it for machined). *ret is NULL when systemd is not PID 1; a failure is
 * logged and leaves the VM running where it is (returns 0, *ret NULL). */
int vm_scope_new(Vm *vm, const pid_t *pids, size_t n_pids, VmScope **ret);

/* The scope and machine of a VM a previous daemon started (vm-adopt.h):
 * named after the VM, already there; NULL when systemd is not PID 1. */
int vm_scope_adopt(Vm *vm, VmScope **ret);

/* Lets go of them, both left as they are: the daemon exits, the VM runs on. */
VmScope *vm_scope_release(VmScope *s);

/* Unregisters the machine and stops the unit (whatever is left in it):
 * called once the VM's processes are gone, when the scope vanishes anyway. */
VmScope *vm_scope_free(VmScope *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(VmScope *, vm_scope_free);
