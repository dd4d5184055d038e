/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-errors.h"
#include "ctl-bus.h"
#include "ctl-json.h"
#include "ctl-watch.h"
#include "gunyahctl.h"
#include "macro.h"
#include "vm-spec.h"

bool ctl_state_is_final(const char *state) {
        return state && (streq(state, "stopped") || streq(state, "failed"));
}

static VmLifecycleAction action_for(const VmSpec *spec, const char *reason) {
        if (streq(reason, "poweroff"))
                return spec->on_poweroff;
        if (streq(reason, "reboot"))
                return spec->on_reboot;
        if (streq(reason, "crashed") || streq(reason, "watchdog") || streq(reason, "worker-failed"))
                return spec->on_crash;
        return VM_ACTION_STOP; /* stopped through the API: the daemon does nothing more */
}

/* varlink: the VM as GetVM describes it, on the watch's call connection. */
static int watch_get_vm(CtlWatch *w, json_object **ret_reply, json_object **ret_vm) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *p, *vm;
        int r;

        r = ctl_varlink_call(w->calls, "GetVM", ctl_varlink_name_parameters(w->name), false, &reply);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(reply, "error", NULL))
                return -ENOENT;
        if (!json_object_object_get_ex(reply, "parameters", &p) || !json_object_object_get_ex(p, "vm", &vm))
                return -EBADMSG;
        *ret_vm = vm;
        *ret_reply = TAKE_PTR(reply);
        return 0;
}

/* What the daemon's restart decision depends on: the VM's spec and its
 * CrashRestartCount, read over the watch's transport. */
static int watch_read_restart_inputs(CtlWatch *w, char **ret_spec, uint32_t *ret_count) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(json_object_putp) json_object *reply = NULL;
        _cleanup_free_ char *spec = NULL;
        json_object *vm;
        uint32_t count = 0;
        int r;

        if (w->bus) {
                r = ctl_bus_get_vm_string(w->bus, w->path, "Spec", &error, &spec);
                if (r >= 0)
                        r = sd_bus_get_property_trivial(w->bus, GUNYAH_BUS_NAME, w->path, GUNYAH_VM_INTERFACE,
                                                        "CrashRestartCount", &error, 'u', &count);
                if (r < 0)
                        return r;
        } else {
                r = watch_get_vm(w, &reply, &vm);
                if (r < 0)
                        return r;
                spec = strdup(ctl_json_string(vm, "spec") ?: "");
                if (!spec)
                        return -ENOMEM;
                count = (uint32_t) ctl_json_int(vm, "crashRestartCount", 0);
        }
        *ret_spec = TAKE_PTR(spec);
        *ret_count = count;
        return 0;
}

/* Whether the daemon, having just stopped the VM, is going to start it again.
 * It decides in the same step that publishes "stopped", so reading the spec
 * and the restart count now sees the decision. */
static bool restart_pending(CtlWatch *w) {
        _cleanup_(vm_spec_freep) VmSpec *spec = NULL;
        _cleanup_free_ char *json = NULL, *token = NULL;
        uint32_t count = 0;

        if (!streq(w->state, "stopped"))
                return false; /* failed: a start did not complete; nothing retries it */
        token = ctl_reason_token(w->reason);
        if (!token || watch_read_restart_inputs(w, &json, &count) < 0)
                return false; /* gone already: nothing will restart */
        if (vm_spec_parse(json, strlen(json), VM_SPEC_SKIP_FILE_CHECKS, &spec, NULL) < 0)
                return false;
        if (action_for(spec, token) != VM_ACTION_RESTART)
                return false;
        if (streq(token, "poweroff") || streq(token, "reboot"))
                return true; /* restarted at once, no limit */

        /* Crash restarts: the daemon counts each one it schedules. */
        bool pending = count > w->restart_count;
        w->restart_count = count;
        return pending;
}

static void watch_update(CtlWatch *w, const char *state, const char *reason) {
        if (w->ended)
                return;
        if (state) {
                char *s = strdup(state);
                if (s) {
                        free(w->state);
                        w->state = s;
                }
        }
        if (reason) {
                char *s = strdup(reason);
                if (s) {
                        free(w->reason);
                        w->reason = s;
                }
        }
        if (!state || !ctl_state_is_final(w->state) || restart_pending(w))
                return;
        w->ended = true;
        w->handler(w, CTL_WATCH_ENDED, w->userdata);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        CtlWatch *w = userdata;
        const char *interface, *name, *state = NULL, *reason = NULL;
        int r;
        r = sd_bus_message_read(m, "s", &interface);
        if (r < 0 || !streq(interface, GUNYAH_VM_INTERFACE))
                return 0;
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return 0;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return 0;
                if (streq(name, "State"))
                        r = sd_bus_message_read(m, "v", "s", &state);
                else if (streq(name, "StateReason"))
                        r = sd_bus_message_read(m, "v", "s", &reason);
                else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0 || sd_bus_message_exit_container(m) < 0)
                        return 0;
        }
        if (state || reason)
                watch_update(w, state, reason);
        return 0;
}

static int on_interfaces_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        CtlWatch *w = userdata;
        const char *path;
        if (sd_bus_message_read(m, "o", &path) < 0 || !streq(path, w->path) || w->ended)
                return 0;
        w->ended = true;
        w->handler(w, CTL_WATCH_REMOVED, w->userdata);
        return 0;
}

static int on_daemon_not_back(sd_event_source *s, uint64_t usec, void *userdata) {
        CtlWatch *w = userdata;

        w->away_timer = sd_event_source_disable_unref(w->away_timer);
        if (!w->ended) {
                w->ended = true;
                w->handler(w, CTL_WATCH_DAEMON_GONE, w->userdata);
        }
        return 0;
}

/* The daemon back (a restart): the VM it adopted, or how it ended meanwhile. */
static void on_daemon_back(CtlWatch *w) {
        w->away_timer = sd_event_source_disable_unref(w->away_timer);
        if (ctl_watch_check(w, false) < 0 && !w->ended) {
                w->ended = true; /* not there any more: a transient VM that ended */
                w->handler(w, CTL_WATCH_REMOVED, w->userdata);
        }
}

/* gunyahd leaving the bus is a restart as long as it comes back in time:
 * VMs outlive the daemon, and so does a watch (a gunyah-vm@ unit's). */
static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        CtlWatch *w = userdata;
        const char *name, *old_owner, *new_owner;
        sd_event *event;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !streq(name, GUNYAH_BUS_NAME) ||
            w->ended)
                return 0;
        if (new_owner[0]) {
                if (w->away_timer)
                        on_daemon_back(w);
                return 0;
        }
        event = sd_bus_get_event(w->bus);
        if (!event || w->away_timer ||
            sd_event_add_time_relative(event, &w->away_timer, CLOCK_MONOTONIC, CTL_WATCH_DAEMON_RETURN_USEC, 0,
                                       on_daemon_not_back, w) < 0) {
                if (!w->away_timer) {
                        w->ended = true;
                        w->handler(w, CTL_WATCH_DAEMON_GONE, w->userdata);
                }
        }
        return 0;
}

int ctl_watch_new(sd_bus *bus, const char *path, CtlWatchHandler handler, void *userdata, CtlWatch **ret) {
        _cleanup_(ctl_watch_freep) CtlWatch *w = NULL;
        int r;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->bus = sd_bus_ref(bus);
        w->handler = handler;
        w->userdata = userdata;
        w->path = strdup(path);
        if (!w->path)
                return -ENOMEM;
        /* Synchronous AddMatch: once this returns, no signal can be missed. */
        r = sd_bus_match_signal(bus, &w->slot_props, GUNYAH_BUS_NAME, path, "org.freedesktop.DBus.Properties",
                                "PropertiesChanged", on_properties_changed, w);
        if (r < 0)
                return r;
        r = sd_bus_match_signal(bus, &w->slot_removed, GUNYAH_BUS_NAME, GUNYAH_MANAGER_PATH,
                                "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved", on_interfaces_removed, w);
        if (r < 0)
                return r;
        r = sd_bus_add_match(bus, &w->slot_owner,
                             "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                             "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" GUNYAH_BUS_NAME "'",
                             on_name_owner_changed, w);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(w);
        return 0;
}

CtlWatch *ctl_watch_free(CtlWatch *w) {
        if (!w)
                return NULL;
        sd_bus_slot_unref(w->slot_props);
        sd_bus_slot_unref(w->slot_removed);
        sd_bus_slot_unref(w->slot_owner);
        sd_event_source_disable_unref(w->away_timer);
        sd_bus_unref(w->bus);
        ctl_varlink_free(w->events);
        ctl_varlink_free(w->calls);
        free(w->path);
        free(w->name);
        free(w->state);
        free(w->reason);
        free(w);
        return NULL;
}

/* varlink: GetVM's state, reason and restart count. */
static int watch_check_varlink(CtlWatch *w, bool count_restarts) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *vm;
        int r;

        r = watch_get_vm(w, &reply, &vm);
        if (r < 0)
                return r;
        if (count_restarts)
                w->restart_count = (uint32_t) ctl_json_int(vm, "crashRestartCount", 0);
        watch_update(w, ctl_json_string(vm, "state"), ctl_json_string(vm, "stateReason"));
        return 0;
}

/* One GetAll: State and StateReason must come from the same moment, or a
 * transition between two Gets pairs the new state with the old reason. */
int ctl_watch_check(CtlWatch *w, bool count_restarts) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_object_putp) json_object *props = NULL;
        int r;

        if (!w->bus)
                return watch_check_varlink(w, count_restarts);
        r = sd_bus_call_method(w->bus, GUNYAH_BUS_NAME, w->path, "org.freedesktop.DBus.Properties", "GetAll",
                               &error, &reply, "s", GUNYAH_VM_INTERFACE);
        if (r < 0)
                return r;
        r = ctl_json_read_properties(reply, &props);
        if (r < 0)
                return r;
        if (count_restarts)
                w->restart_count = (uint32_t) ctl_json_int(props, "CrashRestartCount", 0);
        watch_update(w, ctl_json_string(props, "State"), ctl_json_string(props, "StateReason"));
        return 0;
}

/* ---- varlink ---- */

static void watch_end(CtlWatch *w, CtlWatchEnd end) {
        if (w->ended)
                return;
        w->ended = true;
        w->handler(w, end, w->userdata);
}

/* SubscribeEvents' replies: the events of this VM drive the watch like
 * PropertiesChanged/InterfacesRemoved do on D-Bus; a hang-up is the daemon
 * going away. */
static void on_varlink_event(CtlVarlink *v, json_object *reply, int r, void *userdata) {
        CtlWatch *w = userdata;
        json_object *p;
        const char *event, *vm;
        if (r < 0 || json_object_object_get_ex(reply, "error", NULL)) {
                watch_end(w, CTL_WATCH_DAEMON_GONE);
                return;
        }
        if (!json_object_object_get_ex(reply, "parameters", &p))
                return;
        event = ctl_json_string(p, "event");
        vm = ctl_json_string(p, "vm");
        if (!event || !vm || !streq(vm, w->name))
                return;
        if (streq(event, "removed"))
                watch_end(w, CTL_WATCH_REMOVED);
        else if (streq(event, "state"))
                watch_update(w, ctl_json_string(p, "state"), ctl_json_string(p, "stateReason"));
}

int ctl_watch_new_varlink(const char *what, sd_event *event, const char *name, CtlWatchHandler handler,
                          void *userdata, CtlWatch **ret) {
        _cleanup_(ctl_watch_freep) CtlWatch *w = NULL;
        _cleanup_(json_object_putp) json_object *first = NULL;
        int r;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -CTL_EXIT_FAILURE;
        w->handler = handler;
        w->userdata = userdata;
        w->name = strdup(name);
        if (!w->name)
                return -CTL_EXIT_FAILURE;
        r = ctl_varlink_connect(what, &w->events);
        if (r >= 0)
                r = ctl_varlink_connect(what, &w->calls);
        if (r < 0)
                return r;
        /* The first reply ("subscribed") means the daemon has registered us:
         * from here on no change of the VM can go unseen. */
        r = ctl_varlink_call_checked(w->events, what, "SubscribeEvents", NULL, true, &first);
        if (r < 0)
                return r;
        r = ctl_varlink_attach(w->events, event, on_varlink_event, w);
        if (r < 0)
                return -ctl_varlink_report(what, NULL, r);
        *ret = TAKE_PTR(w);
        return 0;
}
