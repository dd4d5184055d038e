/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "vm.h"

/* Brings up a running instance in the order of spec §6: spec → layout →
 * DTB → guest memory → bindings → images → DTB config → boot context →
 * vCPU functions → start → one worker per vCPU. On failure *ret_step names
 * the step, errbuf may say more, and the caller tears down. */
int vm_instance_start(Vm *vm, const char **ret_step, char *errbuf, size_t errlen);

/* Releases everything a running instance holds: workers (killed and reaped
 * if still there), the hypervisor VM, guest memory, device page, console
 * pipe. Idempotent. */
void vm_instance_teardown(Vm *vm);

/* Asks the guest to power itself off (the power button of the device page). */
int vm_instance_request_poweroff(Vm *vm);
