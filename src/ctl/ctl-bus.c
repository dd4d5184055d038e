/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bus-errors.h"
#include "ctl-bus.h"
#include "gunyahctl.h"
#include "macro.h"

/* Errors that mean "nobody answers for org.gunyah.Manager1", not "gunyahd said no". */
static const char *const unreachable_errors[] = {
        SD_BUS_ERROR_SERVICE_UNKNOWN,
        SD_BUS_ERROR_NAME_HAS_NO_OWNER,
        SD_BUS_ERROR_NO_SERVER,
        SD_BUS_ERROR_DISCONNECTED,
        "org.freedesktop.DBus.Error.Spawn.ChildExited", /* bus activation tried and failed */
};

static bool error_is_unreachable(const sd_bus_error *error, int r) {
        if (sd_bus_error_is_set(error)) {
                for (size_t i = 0; i < ELEMENTSOF(unreachable_errors); i++)
                        if (sd_bus_error_has_name(error, unreachable_errors[i]))
                                return true;
                return false;
        }
        /* No error name: the connection itself broke. */
        return IN_SET(-r, ECONNRESET, ENOTCONN, ECONNREFUSED, EPIPE, ENOENT);
}

int ctl_bus_report(const char *what, const sd_bus_error *error, int r) {
        bool unreachable = error_is_unreachable(error, r);

        if (sd_bus_error_is_set(error)) {
                const char *dot = strrchr(error->name, '.');
                fprintf(stderr, "gunyahctl: %s: %s%s: %s\n", what, unreachable ? "gunyahd is not reachable: " : "",
                        dot ? dot + 1 : error->name, error->message ?: "(no message)");
        } else
                fprintf(stderr, "gunyahctl: %s: %s%s\n", what, unreachable ? "gunyahd is not reachable: " : "",
                        strerror(-r));
        return unreachable ? CTL_EXIT_UNREACHABLE : CTL_EXIT_FAILURE;
}

static int bus_open(sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        if (!ctl_args.bus_address)
                return ctl_args.user ? sd_bus_open_user(ret) : sd_bus_open_system(ret);

        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        r = sd_bus_set_address(bus, ctl_args.bus_address);
        if (r < 0)
                return r;
        r = sd_bus_set_bus_client(bus, true);
        if (r < 0)
                return r;
        r = sd_bus_start(bus);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

int ctl_bus_connect(const char *what, sd_bus **ret) {
        int r = bus_open(ret);

        if (r < 0) {
                if (ctl_args.bus_address)
                        fprintf(stderr, "gunyahctl: %s: cannot connect to the bus at %s: %s\n", what,
                                ctl_args.bus_address, strerror(-r));
                else
                        fprintf(stderr, "gunyahctl: %s: cannot connect to the %s bus: %s\n", what,
                                ctl_args.user ? "user" : "system", strerror(-r));
                return -CTL_EXIT_UNREACHABLE;
        }
        return 0;
}

int ctl_bus_call_manager(sd_bus *bus, const char *method, sd_bus_error *error, sd_bus_message **reply,
                         const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, GUNYAH_BUS_NAME, GUNYAH_MANAGER_PATH, GUNYAH_MANAGER_INTERFACE,
                                           method);
        if (r < 0)
                return r;
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }
        return sd_bus_call(bus, m, 0, error, reply);
}

int ctl_bus_vm_path(sd_bus *bus, const char *name, sd_bus_error *error, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        char *p;
        int r;

        r = ctl_bus_call_manager(bus, "GetVM", error, &reply, "s", name);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return r;
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int ctl_bus_get_vm_string(sd_bus *bus, const char *path, const char *property, sd_bus_error *error, char **ret) {
        return sd_bus_get_property_string(bus, GUNYAH_BUS_NAME, path, GUNYAH_VM_INTERFACE, property, error, ret);
}

int ctl_event_new(sd_bus *bus, int exit_on_signal, sd_event **ret) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        sigset_t mask;
        int r;

        r = sd_event_new(&e);
        if (r < 0)
                return r;
        /* sd-event wants the signals blocked; they then end the loop, not us. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        for (int sig = SIGINT; sig <= SIGTERM; sig++) {
                if (!sigismember(&mask, sig))
                        continue;
                r = sd_event_add_signal(e, NULL, sig, NULL, (void *) (intptr_t) exit_on_signal);
                if (r < 0)
                        return r;
        }
        if (bus) {
                r = sd_bus_attach_event(bus, e, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(e);
        return 0;
}

char *ctl_reason_token(const char *reason) {
        return strndup(reason ?: "", strcspn(reason ?: "", ":"));
}
