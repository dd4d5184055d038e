/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

typedef struct Manager Manager;

#define POLKIT_ACTION_MANAGE "org.gunyah.manage-vms"
#define POLKIT_ACTION_CONSOLE "org.gunyah.console"

/* Authorization of a method call that changes state (design §8): returns 1
 * when the caller may go ahead now, 0 when the answer is pending (the call
 * is re-dispatched once polkit has answered), -errno with error set when it
 * is denied. vm_name may be NULL for Manager1 calls without a VM.
 *
 * Root and the daemon's own user are allowed without asking. Everyone else
 * is checked with polkit's CheckAuthorization on the bus the daemon is on,
 * with the details "vm" and "verb", asynchronously: the loop never waits. */
int bus_verify_manage(Manager *m, sd_bus_message *call, const char *vm_name, const char *verb, sd_bus_error *error);
int bus_verify_console(Manager *m, sd_bus_message *call, const char *vm_name, sd_bus_error *error);

/* Pending and answered queries live in m->polkit. Setup also installs the
 * filter that authorizes writable-property Set calls before sd-bus handles
 * them (sd-bus replies to a Set as soon as the setter returns, so a setter
 * cannot wait for polkit). */
int bus_polkit_setup(Manager *m);
void bus_polkit_done(Manager *m);
