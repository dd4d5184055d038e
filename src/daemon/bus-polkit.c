/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <unistd.h>

#include "bus-polkit.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

static int caller_uid(sd_bus_message *call, uid_t *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        int r;

        r = sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID | SD_BUS_CREDS_AUGMENT, &creds);
        if (r < 0)
                return r;
        return sd_bus_creds_get_euid(creds, ret);
}

static int verify(Manager *m, sd_bus_message *call, const char *action, const char *vm_name, const char *verb,
                  sd_bus_error *error) {
        uid_t uid;
        int r;

        (void) m;
        r = caller_uid(call, &uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot determine the caller's identity: %m");
        /* Root, and the user the daemon runs as (a --user bus), are always allowed. */
        if (uid == 0 || uid == geteuid())
                return 1;

        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 "Access denied: %s of VM '%s' needs authorization for %s.", verb,
                                 strna(vm_name), action);
}

int bus_verify_manage(Manager *m, sd_bus_message *call, const char *vm_name, const char *verb, sd_bus_error *error) {
        return verify(m, call, POLKIT_ACTION_MANAGE, vm_name, verb, error);
}

int bus_verify_console(Manager *m, sd_bus_message *call, const char *vm_name, sd_bus_error *error) {
        return verify(m, call, POLKIT_ACTION_CONSOLE, vm_name, "console", error);
}
