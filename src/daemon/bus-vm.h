/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "vm.h"

typedef struct Manager Manager;

/* org.gunyah.VM1 on /org/gunyah/Manager1/vm/<escaped name>. */
int bus_vm_register(Manager *m);

void bus_vm_emit_state_changed(Vm *vm);
void bus_vm_emit_spec_changed(Vm *vm);
void bus_vm_emit_restart_changed(Vm *vm);

/* ExitInfo as a{sv}; shared with the varlink interface's field names. */
int bus_vm_append_exit_info(sd_bus_message *reply, const Vm *vm);

/* The VM1 methods and the Manager1 by-name verbs, after the lookup: polkit,
 * then the model, then the reply. */
int bus_vm_apply_verb(sd_bus_message *msg, Vm *vm, VmVerb verb, uint64_t timeout_usec, sd_bus_error *error);
