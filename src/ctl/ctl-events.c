/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * events: the daemon's signals as a line per event, until SIGINT/SIGTERM.
 * VMs appearing and going (ObjectManager InterfacesAdded/Removed) and their
 * property changes (PropertiesChanged under the VM path prefix); a change
 * that includes State is a "state" event, any other a "changed" event.
 *
 * Over varlink (--varlink) the events are SubscribeEvents' replies, printed
 * as the same objects: "added", "removed" and "state" (varlink has no
 * "changed" events, and no exit_info unless the daemon sends exitInfo).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bus-errors.h"
#include "ctl-bus.h"
#include "ctl-json.h"
#include "ctl-varlink.h"
#include "gunyahctl.h"
#include "macro.h"

static char *vm_name_from_path(const char *path) {
        char *name = NULL;

        if (sd_bus_path_decode(path, GUNYAH_VM_PATH_PREFIX, &name) <= 0)
                return NULL;
        return name;
}

/* Prints one event: a JSON line, or "VM name: event state (reason)". */
static int event_print(json_object *ev) {
        const char *event = ctl_json_string(ev, "event"), *state = ctl_json_string(ev, "state");
        const char *reason = ctl_json_string(ev, "reason");
        json_object *props;

        if (ctl_args.json)
                return ctl_json_print_line(ev);
        printf("VM %s: %s", ctl_json_string(ev, "vm"), event);
        if (state)
                printf(" %s", state);
        if (reason && reason[0])
                printf(" (%s)", reason);
        if (json_object_object_get_ex(ev, "properties", &props)) {
                json_object_object_foreach(props, key, value)
                        printf(" %s=%s", key, json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN));
        }
        putchar('\n');
        return fflush(stdout) == 0 ? 0 : -errno;
}

static json_object *event_new(const char *vm, const char *event) {
        json_object *ev = json_object_new_object();

        if (!ev)
                return NULL;
        json_object_object_add(ev, "vm", json_object_new_string(vm));
        json_object_object_add(ev, "event", json_object_new_string(event));
        return ev;
}

/* Moves State and StateReason of props into ev as "state" and "reason". */
static void event_take_state(json_object *ev, json_object *props) {
        json_object *v;

        if (json_object_object_get_ex(props, "State", &v)) {
                json_object_object_add(ev, "state", json_object_get(v));
                json_object_object_del(props, "State");
        }
        if (json_object_object_get_ex(props, "StateReason", &v)) {
                json_object_object_add(ev, "reason", json_object_get(v));
                json_object_object_del(props, "StateReason");
        }
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(json_object_putp) json_object *props = NULL, *ev = NULL;
        _cleanup_free_ char *name = vm_name_from_path(sd_bus_message_get_path(m));
        const char *interface;

        if (!name || sd_bus_message_read(m, "s", &interface) < 0 || !streq(interface, GUNYAH_VM_INTERFACE))
                return 0;
        if (ctl_json_read_properties(m, &props) < 0)
                return 0;
        bool state = json_object_object_get_ex(props, "State", NULL);
        ev = event_new(name, state ? "state" : "changed");
        if (!ev)
                return -ENOMEM;
        if (state) {
                event_take_state(ev, props);
                /* The rest of a state change: exit info, timestamps, workers. */
                json_object *info;
                if (json_object_object_get_ex(props, "ExitInfo", &info) && json_object_object_length(info) > 0)
                        json_object_object_add(ev, "exit_info", json_object_get(info));
        } else
                json_object_object_add(ev, "properties", json_object_get(props));
        return event_print(ev);
}

static int on_interfaces_added(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(json_object_putp) json_object *ifaces = NULL, *ev = NULL;
        _cleanup_free_ char *name = NULL;
        const char *path;
        json_object *props;

        if (sd_bus_message_read(m, "o", &path) < 0 || !(name = vm_name_from_path(path)))
                return 0;
        if (ctl_json_read_value(m, &ifaces) < 0 || !json_object_object_get_ex(ifaces, GUNYAH_VM_INTERFACE, &props))
                return 0;
        ev = event_new(name, "added");
        if (!ev)
                return -ENOMEM;
        event_take_state(ev, props);
        return event_print(ev);
}

static int on_interfaces_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(json_object_putp) json_object *ev = NULL;
        _cleanup_free_ char *name = NULL;
        const char *path;

        if (sd_bus_message_read(m, "o", &path) < 0 || !(name = vm_name_from_path(path)))
                return 0;
        ev = event_new(name, "removed");
        return ev ? event_print(ev) : -ENOMEM;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !streq(name, GUNYAH_BUS_NAME))
                return 0;
        /* Not an event of a VM; told on stderr so JSON readers are unaffected. */
        fprintf(stderr, "gunyahctl: events: gunyahd %s the bus\n", new_owner[0] ? "joined" : "left");
        return 0;
}

static int events_subscribe(sd_bus *bus) {
        int r;

        r = sd_bus_add_match(bus, NULL,
                             "type='signal',sender='" GUNYAH_BUS_NAME "',interface='org.freedesktop.DBus.Properties',"
                             "member='PropertiesChanged',path_namespace='" GUNYAH_VM_PATH_PREFIX "'",
                             on_properties_changed, NULL);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, GUNYAH_BUS_NAME, GUNYAH_MANAGER_PATH,
                                        "org.freedesktop.DBus.ObjectManager", "InterfacesAdded", on_interfaces_added,
                                        NULL);
        if (r >= 0)
                r = sd_bus_match_signal(bus, NULL, GUNYAH_BUS_NAME, GUNYAH_MANAGER_PATH,
                                        "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved",
                                        on_interfaces_removed, NULL);
        if (r >= 0)
                r = sd_bus_add_match(bus, NULL,
                                     "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
                                     "member='NameOwnerChanged',arg0='" GUNYAH_BUS_NAME "'",
                                     on_name_owner_changed, NULL);
        return r;
}

/* One SubscribeEvents reply as the event the D-Bus signals make. */
static int event_from_varlink(json_object *p, json_object **ret) {
        _cleanup_(json_object_putp) json_object *ev = NULL;
        const char *vm = ctl_json_string(p, "vm"), *event = ctl_json_string(p, "event");
        json_object *info;
        int r;

        if (!vm || !event)
                return 0; /* "subscribed" or not an event of a VM */
        ev = event_new(vm, event);
        if (!ev)
                return -ENOMEM;
        if (!streq(event, "removed")) {
                const char *state = ctl_json_string(p, "state"), *reason = ctl_json_string(p, "stateReason");
                if (state)
                        json_object_object_add(ev, "state", json_object_new_string(state));
                if (reason)
                        json_object_object_add(ev, "reason", json_object_new_string(reason));
        }
        if (streq(event, "state") && json_object_object_get_ex(p, "exitInfo", &info) &&
            json_object_is_type(info, json_type_object)) {
                json_object *dbus_info;
                r = ctl_varlink_exit_info_to_dbus(info, &dbus_info);
                if (r < 0)
                        return r;
                json_object_object_add(ev, "exit_info", dbus_info);
        }
        *ret = TAKE_PTR(ev);
        return 1;
}

static void on_varlink_event(CtlVarlink *v, json_object *reply, int r, void *userdata) {
        _cleanup_(json_object_putp) json_object *ev = NULL;
        sd_event *event = userdata;
        json_object *p;
        if (r < 0 || json_object_object_get_ex(reply, "error", NULL)) {
                /* No bus to wait on for its return: the stream is over. */
                if (r < 0)
                        fprintf(stderr, "gunyahctl: events: gunyahd closed the connection\n");
                else
                        (void) ctl_varlink_report("events", reply, 0);
                (void) sd_event_exit(event, CTL_EXIT_UNREACHABLE);
                return;
        }
        if (!json_object_object_get_ex(reply, "parameters", &p))
                return;
        r = event_from_varlink(p, &ev);
        if (r < 0 || (r > 0 && event_print(ev) < 0))
                (void) sd_event_exit(event, CTL_EXIT_FAILURE);
}

static int events_varlink(void) {
        _cleanup_(ctl_varlink_freep) CtlVarlink *v = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(json_object_putp) json_object *first = NULL;
        int r;

        r = ctl_varlink_connect("events", &v);
        if (r < 0)
                return -r;
        r = ctl_event_new(NULL, CTL_EXIT_SUCCESS, &event);
        if (r < 0)
                return ctl_varlink_report("events", NULL, r);
        /* The first reply lists the VMs as they are; the D-Bus verb prints no
         * such snapshot either, only what changes from here on. */
        r = ctl_varlink_call_checked(v, "events", "SubscribeEvents", NULL, true, &first);
        if (r < 0)
                return -r;
        r = ctl_varlink_attach(v, event, on_varlink_event, event);
        if (r < 0)
                return ctl_varlink_report("events", NULL, r);
        r = sd_event_loop(event);
        return r < 0 ? ctl_varlink_report("events", NULL, r) : r;
}

static int verb_events(int argc, char *argv[]) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                {}
        };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                if (c != 'j')
                        return CTL_EXIT_USAGE;
                ctl_args.json = true;
        }
        if (optind != argc)
                return ctl_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
        if (ctl_args.varlink_path)
                return events_varlink();
        r = ctl_bus_connect("events", &bus);
        if (r < 0)
                return -r;
        r = ctl_event_new(bus, CTL_EXIT_SUCCESS, &event);
        if (r >= 0)
                r = events_subscribe(bus);
        if (r < 0)
                return ctl_bus_report("events", NULL, r);
        /* Following a daemon that is not there would print nothing, forever. */
        r = sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "GetNameOwner", &error, NULL, "s", GUNYAH_BUS_NAME);
        if (r < 0)
                return ctl_bus_report("events", &error, r);
        r = sd_event_loop(event);
        return r < 0 ? ctl_bus_report("events", NULL, r) : r;
}

const CtlVerb ctl_events_verbs[] = {
        { "events", "[--json]", "Follow VM events until interrupted", verb_events },
        {}
};
