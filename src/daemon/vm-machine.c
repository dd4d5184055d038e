/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-id128.h>

#include "log.h"
#include "macro.h"
#include "vm-machine.h"

#define MACHINED_SERVICE "org.freedesktop.machine1"
#define MACHINED_PATH "/org/freedesktop/machine1"
#define MACHINED_MANAGER "org.freedesktop.machine1.Manager"
#define MACHINE_NAME_MAX 64 /* HOST_NAME_MAX */

static bool char_is_ldh(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool vm_machine_name_is_valid(const char *name) {
        size_t n = name ? strlen(name) : 0;

        if (n == 0 || n > MACHINE_NAME_MAX || name[0] == '.' || name[0] == '-' || name[n - 1] == '.' ||
            name[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                if (name[i] == '.') {
                        if (name[i + 1] == '.' || name[i + 1] == '-' || name[i - 1] == '-')
                                return false;
                } else if (!char_is_ldh(name[i]))
                        return false;
        }
        return true;
}

static int on_registered(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const char *name = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e)
                log_vm_warning(name, "systemd-machined did not register it: %s", e->message ?: e->name);
        else
                log_vm_debug(name, "registered with systemd-machined (class vm)");
        return 0;
}

int vm_machine_register(sd_bus *bus, const char *name, const char *uuid, pid_t leader, sd_bus_slot **ret_slot) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *name_copy = NULL;
        sd_id128_t id;
        int r;

        if (!vm_machine_name_is_valid(name)) {
                log_vm_notice(name, "not registered with systemd-machined: a machine name is a host name "
                                    "(letters, digits, '-', single dots), '%s' is not", name);
                return 0;
        }
        r = sd_id128_from_string(uuid, &id);
        if (r < 0)
                return log_vm_warning_errno(name, r, "not registered with systemd-machined: UUID '%s': %m", uuid);
        name_copy = strdup(name);
        if (!name_copy)
                return -ENOMEM;

        r = sd_bus_message_new_method_call(bus, &m, MACHINED_SERVICE, MACHINED_PATH, MACHINED_MANAGER,
                                           "RegisterMachineWithNetwork");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", name);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', id.bytes, sizeof(id.bytes));
        /* service, class, leader, root directory (none), network interfaces (none) */
        if (r >= 0)
                r = sd_bus_message_append(m, "ssusai", "gunyahd", "vm", (uint32_t) leader, "", 0);
        if (r >= 0)
                r = sd_bus_call_async(bus, ret_slot, m, on_registered, name_copy, 0);
        if (r < 0)
                return log_vm_warning_errno(name, r, "not registered with systemd-machined: %m");
        /* The slot owns the name now, whether answered or cancelled. */
        (void) sd_bus_slot_set_destroy_callback(*ret_slot, free);
        TAKE_PTR(name_copy);
        return 0;
}

void vm_machine_unregister(sd_bus *bus, const char *name) {
        int r;

        r = sd_bus_call_method_async(bus, NULL, MACHINED_SERVICE, MACHINED_PATH, MACHINED_MANAGER,
                                     "UnregisterMachine", NULL, NULL, "s", name);
        if (r < 0)
                log_vm_debug_errno(name, r, "could not ask systemd-machined to forget it: %m");
}
