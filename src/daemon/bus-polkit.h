/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

typedef struct Manager Manager;

#define POLKIT_ACTION_MANAGE "org.gunyah.manage-vms"
#define POLKIT_ACTION_CONSOLE "org.gunyah.console"

/* Authorization of a method call that changes state (design §8): returns 1
 * when the caller may go ahead now, 0 when the answer is pending (the call
 * is re-dispatched once polkit has answered), -errno with error set when it
 * is denied. vm_name may be NULL for Manager1 calls without a VM. */
int bus_verify_manage(Manager *m, sd_bus_message *call, const char *vm_name, const char *verb, sd_bus_error *error);
int bus_verify_console(Manager *m, sd_bus_message *call, const char *vm_name, sd_bus_error *error);
