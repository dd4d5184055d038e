/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A running VM registered with systemd-machined (org.freedesktop.machine1),
 * so that `machinectl list` shows it next to libvirt's and nspawn's
 * machines: class "vm", service "gunyahd", the VM's UUID, and as unit the
 * scope its leader process sits in (vm-scope.c moves it there first).
 */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

/* machined's rule (a host name: letters, digits, '-' and single dots,
 * no '-' next to a dot, none first or last), checked before asking it. */
bool vm_machine_name_is_valid(const char *name);

/* RegisterMachineWithNetwork(name, uuid, "gunyahd", "vm", leader, "", []),
 * asynchronously; the outcome is logged. *ret_slot cancels it. */
int vm_machine_register(sd_bus *bus, const char *name, const char *uuid, pid_t leader, sd_bus_slot **ret_slot);

/* UnregisterMachine(name), fire and forget: machined also drops the machine
 * on its own once the scope is gone. */
void vm_machine_unregister(sd_bus *bus, const char *name);
