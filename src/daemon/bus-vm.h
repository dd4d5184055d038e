/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

typedef struct Manager Manager;
typedef struct Vm Vm;

/* org.gunyah.VM1 on /org/gunyah/Manager1/vm/<escaped name>. */
int bus_vm_register(Manager *m);

void bus_vm_emit_state_changed(Vm *vm);
void bus_vm_emit_spec_changed(Vm *vm);
void bus_vm_emit_restart_changed(Vm *vm);
void bus_vm_emit_workers_changed(Vm *vm);

/* ExitInfo as a{sv}; shared with the varlink interface's field names. */
int bus_vm_append_exit_info(sd_bus_message *reply, const Vm *vm);

/* Translates a -errno from the model into a D-Bus error, once, here. */
int bus_error_from_errno(sd_bus_error *error, int r, const char *context);
