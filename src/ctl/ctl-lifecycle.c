/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Verbs that change a VM: create, start, stop, kill, destroy. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bus-errors.h"
#include "ctl-bus.h"
#include "ctl-console.h"
#include "ctl-json.h"
#include "ctl-varlink.h"
#include "ctl-watch.h"
#include "gunyahctl.h"
#include "macro.h"
#include "parse-util.h"
#include "time-util.h"
#include "vm-spec.h"

#define STOP_TIMEOUT_DEFAULT_SEC 30

static int vm_call(sd_bus *bus, const char *path, const char *method, sd_bus_error *error, const char *types,
                   uint64_t arg) {
        return sd_bus_call_method(bus, GUNYAH_BUS_NAME, path, GUNYAH_VM_INTERFACE, method, error, NULL, types, arg);
}

/* ---- create ---- */

/* Loads and normalizes the spec locally: relative image paths are resolved
 * against the spec's directory here, since the daemon's directory means
 * nothing to the client and the daemon refuses relative paths. */
static int spec_load_json(const char *file, char **ret_json, char **ret_name) {
        _cleanup_(vm_spec_freep) VmSpec *spec = NULL;
        VmSpecError e = {};
        char buf[sizeof(e.path) + sizeof(e.message) + 2];
        int r;

        r = vm_spec_load_file(file, 0, &spec, &e);
        if (r < 0) {
                fprintf(stderr, "gunyahctl: create: %s: %s\n", file,
                        e.message[0] ? vm_spec_error_to_string(&e, buf, sizeof(buf)) : strerror(-r));
                return r;
        }
        r = vm_spec_to_json(spec, ret_json);
        if (r < 0) {
                fprintf(stderr, "gunyahctl: create: %s: cannot serialize the spec: %s\n", file, strerror(-r));
                return r;
        }
        *ret_name = strdup(spec->name);
        return *ret_name ? 0 : -ENOMEM;
}

/* create --start: the VM exists even when its start failed; say so. */
static int create_check_started(sd_bus *bus, const char *path, const char *name) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *state = NULL, *reason = NULL;

        if (ctl_bus_get_vm_string(bus, path, "State", &error, &state) < 0 ||
            ctl_bus_get_vm_string(bus, path, "StateReason", &error, &reason) < 0 || !streq(state, "failed"))
                return CTL_EXIT_SUCCESS;
        fprintf(stderr, "gunyahctl: create %s: created, but its start failed: %s\n", name, reason);
        return CTL_EXIT_FAILURE;
}

/* CreateVM over varlink; the same output and checks as over D-Bus. */
static int create_varlink(const char *what, const char *json, const char *name, uint64_t flags) {
        _cleanup_(ctl_varlink_freep) CtlVarlink *v = NULL;
        _cleanup_(json_object_putp) json_object *reply = NULL, *params = NULL, *got = NULL;
        json_object *p;
        int r;

        r = ctl_varlink_connect(what, &v);
        if (r < 0)
                return -r;
        params = json_object_new_object();
        if (!params || json_object_object_add(params, "spec", json_object_new_string(json)) < 0 ||
            json_object_object_add(params, "persist", json_object_new_boolean(flags & GUNYAH_CREATE_PERSIST)) < 0 ||
            json_object_object_add(params, "start", json_object_new_boolean(flags & GUNYAH_CREATE_START)) < 0 ||
            json_object_object_add(params, "transient", json_object_new_boolean(flags & GUNYAH_CREATE_TRANSIENT)) < 0)
                return CTL_EXIT_FAILURE;
        r = ctl_varlink_call_checked(v, what, "CreateVM", TAKE_PTR(params), false, &reply);
        if (r < 0)
                return -r;
        printf("%s\n", name);
        if (!(flags & GUNYAH_CREATE_START))
                return CTL_EXIT_SUCCESS;
        /* The VM exists even when its start failed; say so (create_check_started). */
        if (ctl_varlink_call(v, "GetVM", ctl_varlink_name_parameters(name), false, &got) < 0 ||
            !json_object_object_get_ex(got, "parameters", &p) || !json_object_object_get_ex(p, "vm", &p) ||
            !streq(ctl_json_string(p, "state") ?: "", "failed"))
                return CTL_EXIT_SUCCESS;
        fprintf(stderr, "gunyahctl: create %s: created, but its start failed: %s\n", name,
                strna(ctl_json_string(p, "stateReason")));
        return CTL_EXIT_FAILURE;
}

static int verb_create(int argc, char *argv[]) {
        enum { ARG_START = 0x100, ARG_PERSIST, ARG_TRANSIENT };
        static const struct option options[] = {
                { "start", no_argument, NULL, ARG_START },
                { "persist", no_argument, NULL, ARG_PERSIST },
                { "transient", no_argument, NULL, ARG_TRANSIENT },
                {}
        };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *json = NULL, *name = NULL, *what = NULL;
        uint64_t flags = 0;
        const char *path;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_START: flags |= GUNYAH_CREATE_START; break;
                case ARG_PERSIST: flags |= GUNYAH_CREATE_PERSIST; break;
                case ARG_TRANSIENT: flags |= GUNYAH_CREATE_TRANSIENT; break;
                default: return CTL_EXIT_USAGE;
                }
        if (argc - optind != 1)
                return ctl_usage_error(argv[0], "expected exactly one FILE");
        if ((flags & GUNYAH_CREATE_PERSIST) && (flags & GUNYAH_CREATE_TRANSIENT))
                return ctl_usage_error(argv[0], "--persist and --transient exclude each other");
        /* An invalid spec fails here, without a daemon. */
        if (spec_load_json(argv[optind], &json, &name) < 0)
                return CTL_EXIT_FAILURE;
        if (asprintf(&what, "create %s", name) < 0)
                return CTL_EXIT_FAILURE;
        if (ctl_args.varlink_path)
                return create_varlink(what, json, name, flags);
        r = ctl_bus_connect(what, &bus);
        if (r < 0)
                return -r;
        r = ctl_bus_call_manager(bus, "CreateVM", &error, &reply, "st", json, flags);
        if (r >= 0)
                r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return ctl_bus_report(what, &error, r);
        printf("%s\n", name);
        return flags & GUNYAH_CREATE_START ? create_check_started(bus, path, name) : CTL_EXIT_SUCCESS;
}

/* ---- start ---- */

typedef struct StartRun {
        const char *name;
        sd_event *event;
        CtlConsole *console;
        bool wait;
        int exit; /* decided once the VM ended */
} StartRun;

/* A graceful stop that had to be forced after its timeout still ended the
 * VM as an administrator asked (systemctl stop of gunyah-vm@NAME). */
#define STOP_FORCED_REASON "killed: stop timeout expired"

/* start --wait's verdict: 0 when the guest powered off or was stopped as asked. */
static int start_verdict(const CtlWatch *w, CtlWatchEnd end, const char *name) {
        _cleanup_free_ char *token = ctl_reason_token(w->reason);

        if (end == CTL_WATCH_DAEMON_GONE) {
                fprintf(stderr, "gunyahctl: start %s: gunyahd left the bus\n", name);
                return CTL_EXIT_UNREACHABLE;
        }
        if (ctl_state_is_final(w->state) && token && (streq(token, "poweroff") || streq(token, "shutdown")))
                return CTL_EXIT_SUCCESS;
        if (ctl_state_is_final(w->state) && w->reason && streq(w->reason, STOP_FORCED_REASON))
                return CTL_EXIT_SUCCESS;
        fprintf(stderr, "gunyahctl: start %s: VM %s%s (%s)\n", name, end == CTL_WATCH_REMOVED ? "removed, " : "",
                strna(w->state), strna(w->reason));
        return CTL_EXIT_VM_ABNORMAL;
}

static void start_on_end(CtlWatch *w, CtlWatchEnd end, void *userdata) {
        StartRun *run = userdata;

        run->exit = run->wait ? start_verdict(w, end, run->name) : CTL_EXIT_SUCCESS;
        if (run->console)
                ctl_console_drain(run->console); /* exits from start_on_console_done */
        else
                (void) sd_event_exit(run->event, run->exit);
}

static void start_on_console_done(CtlConsole *c, bool detached, int r, void *userdata) {
        StartRun *run = userdata;
        run->console = NULL; /* finished; freed by the verb */
        if (r < 0)
                fprintf(stderr, "gunyahctl: start %s: console: %s\n", run->name, strerror(-r));
        if (detached) {
                fprintf(stderr, "\r\nDetached from the console of VM %s.\r\n", run->name);
                if (run->wait)
                        return; /* keep waiting for the VM, without its console */
        }
        (void) sd_event_exit(run->event, run->exit);
}

/* start over varlink: StartVM, and for --wait the same watch, fed by
 * SubscribeEvents (subscribed before StartVM, like the D-Bus matches). */
static int start_varlink(StartRun *run, const char *what) {
        _cleanup_(ctl_varlink_freep) CtlVarlink *v = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(ctl_watch_freep) CtlWatch *watch = NULL;
        _cleanup_(json_object_putp) json_object *reply = NULL;
        int r;

        if (run->wait) {
                r = ctl_event_new(NULL, CTL_EXIT_FAILURE, &event);
                if (r < 0)
                        return ctl_varlink_report(what, NULL, r);
                run->event = event;
                r = ctl_watch_new_varlink(what, event, run->name, start_on_end, run, &watch);
                if (r < 0)
                        return -r;
        }
        r = ctl_varlink_connect(what, &v);
        if (r >= 0)
                r = ctl_varlink_call_checked(v, what, "StartVM", ctl_varlink_name_parameters(run->name), false,
                                             &reply);
        if (r < 0)
                return -r;
        if (!run->wait)
                return CTL_EXIT_SUCCESS;
        r = ctl_watch_check(watch, false);
        if (r < 0)
                return ctl_varlink_report(what, NULL, r);
        r = sd_event_loop(event);
        return r < 0 ? ctl_varlink_report(what, NULL, r) : r;
}

static int verb_start(int argc, char *argv[]) {
        enum { ARG_WAIT = 0x100, ARG_CONSOLE };
        static const struct option options[] = {
                { "wait", no_argument, NULL, ARG_WAIT },
                { "console", no_argument, NULL, ARG_CONSOLE },
                {}
        };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(ctl_watch_freep) CtlWatch *watch = NULL;
        _cleanup_(ctl_console_freep) CtlConsole *console = NULL;
        _cleanup_free_ char *path = NULL, *what = NULL;
        StartRun run = {};
        bool attach = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_WAIT: run.wait = true; break;
                case ARG_CONSOLE: attach = true; break;
                default: return CTL_EXIT_USAGE;
                }
        if (argc - optind != 1)
                return ctl_usage_error(argv[0], "expected exactly one NAME");
        run.name = argv[optind];
        if (asprintf(&what, "start %s", run.name) < 0)
                return CTL_EXIT_FAILURE;
        if (ctl_args.varlink_path) {
                if (attach)
                        return ctl_usage_error(argv[0], "--console needs D-Bus: the console is a file descriptor, "
                                               "which varlink cannot pass; drop --varlink");
                return start_varlink(&run, what);
        }
        r = ctl_bus_connect(what, &bus);
        if (r < 0)
                return -r;
        r = ctl_bus_vm_path(bus, run.name, &error, &path);
        if (r < 0)
                return ctl_bus_report(what, &error, r);
        if (!run.wait && !attach) {
                r = vm_call(bus, path, "Start", &error, NULL, 0);
                return r < 0 ? ctl_bus_report(what, &error, r) : CTL_EXIT_SUCCESS;
        }

        /* Interrupted, the outcome is unknown: a failure for --wait. */
        r = ctl_event_new(bus, run.wait ? CTL_EXIT_FAILURE : CTL_EXIT_SUCCESS, &event);
        if (r < 0)
                return ctl_bus_report(what, NULL, r);
        run.event = event;
        /* Subscribe before Start(), or a quick VM could end unseen. */
        r = ctl_watch_new(bus, path, start_on_end, &run, &watch);
        if (r >= 0)
                r = vm_call(bus, path, "Start", &error, NULL, 0);
        if (r >= 0 && attach)
                r = ctl_console_open(bus, event, path, run.name, start_on_console_done, &run, &error, &console);
        if (r < 0)
                return ctl_bus_report(what, &error, r);
        run.console = console;
        r = ctl_watch_check(watch, false);
        if (r < 0)
                return ctl_bus_report(what, &error, r);
        r = sd_event_loop(event);
        return r < 0 ? ctl_bus_report(what, NULL, r) : r;
}

/* ---- stop, kill, destroy ---- */

typedef struct StopRun {
        sd_event *event;
        const char *name;
        int exit;
} StopRun;

static void stop_on_end(CtlWatch *w, CtlWatchEnd end, void *userdata) {
        StopRun *run = userdata;

        if (end == CTL_WATCH_DAEMON_GONE) {
                fprintf(stderr, "gunyahctl: stop %s: gunyahd left the bus\n", run->name);
                run->exit = CTL_EXIT_UNREACHABLE;
        } else
                printf("VM %s: %s (%s)\n", run->name, end == CTL_WATCH_REMOVED ? "removed" : strna(w->state),
                       strna(w->reason));
        (void) sd_event_exit(run->event, run->exit);
}

/* stop over varlink: KillVM or StopVM, waiting through SubscribeEvents. */
static int stop_varlink(StopRun *run, const char *what, bool force, bool wait, uint64_t timeout_usec) {
        _cleanup_(ctl_varlink_freep) CtlVarlink *v = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(ctl_watch_freep) CtlWatch *watch = NULL;
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *params;
        int r;

        if (wait) {
                r = ctl_event_new(NULL, CTL_EXIT_FAILURE, &event);
                if (r < 0)
                        return ctl_varlink_report(what, NULL, r);
                run->event = event;
                r = ctl_watch_new_varlink(what, event, run->name, stop_on_end, run, &watch);
                if (r < 0)
                        return -r;
        }
        r = ctl_varlink_connect(what, &v);
        if (r < 0)
                return -r;
        params = ctl_varlink_name_parameters(run->name);
        /* timeoutUSec is a varlink int: signed 64 bits. */
        if (!force && params &&
            json_object_object_add(params, "timeoutUSec", json_object_new_int64(MIN(timeout_usec, (uint64_t) INT64_MAX))) < 0)
                return CTL_EXIT_FAILURE;
        r = ctl_varlink_call_checked(v, what, force ? "KillVM" : "StopVM", params, false, &reply);
        if (r < 0)
                return -r;
        if (!wait)
                return CTL_EXIT_SUCCESS;
        r = ctl_watch_check(watch, false);
        if (r < 0)
                return ctl_varlink_report(what, NULL, r);
        r = sd_event_loop(event);
        return r < 0 ? ctl_varlink_report(what, NULL, r) : r;
}

static int verb_stop(int argc, char *argv[]) {
        enum { ARG_TIMEOUT = 0x100, ARG_FORCE, ARG_NO_WAIT };
        static const struct option options[] = {
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "force", no_argument, NULL, ARG_FORCE },
                { "no-wait", no_argument, NULL, ARG_NO_WAIT },
                {}
        };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(ctl_watch_freep) CtlWatch *watch = NULL;
        _cleanup_free_ char *path = NULL, *what = NULL;
        uint64_t timeout_sec = STOP_TIMEOUT_DEFAULT_SEC;
        bool force = false, wait = true;
        StopRun run = {};
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_TIMEOUT:
                        if (parse_u64(optarg, &timeout_sec) < 0 || timeout_sec > UINT64_MAX / USEC_PER_SEC)
                                return ctl_usage_error(argv[0], "invalid --timeout '%s': expected seconds", optarg);
                        break;
                case ARG_FORCE: force = true; break;
                case ARG_NO_WAIT: wait = false; break;
                default: return CTL_EXIT_USAGE;
                }
        if (argc - optind != 1)
                return ctl_usage_error(argv[0], "expected exactly one NAME");
        run.name = argv[optind];
        if (asprintf(&what, "stop %s", run.name) < 0)
                return CTL_EXIT_FAILURE;
        if (ctl_args.varlink_path)
                return stop_varlink(&run, what, force, wait, timeout_sec * USEC_PER_SEC);
        r = ctl_bus_connect(what, &bus);
        if (r < 0)
                return -r;
        r = ctl_bus_vm_path(bus, run.name, &error, &path);
        if (r >= 0 && wait) {
                r = ctl_event_new(bus, CTL_EXIT_FAILURE, &event);
                if (r >= 0)
                        r = ctl_watch_new(bus, path, stop_on_end, &run, &watch);
        }
        if (r >= 0)
                r = force ? vm_call(bus, path, "Kill", &error, NULL, 0)
                          : vm_call(bus, path, "Stop", &error, "t", timeout_sec * USEC_PER_SEC);
        if (r < 0)
                return ctl_bus_report(what, &error, r);
        if (!wait)
                return CTL_EXIT_SUCCESS;
        run.event = event;
        r = ctl_watch_check(watch, false);
        if (r < 0)
                return ctl_bus_report(what, &error, r);
        r = sd_event_loop(event);
        return r < 0 ? ctl_bus_report(what, NULL, r) : r;
}

/* kill and destroy over varlink: KillVM, DestroyVM. */
static int simple_varlink_call(const char *what, const char *name, const char *method) {
        _cleanup_(ctl_varlink_freep) CtlVarlink *v = NULL;
        _cleanup_(json_object_putp) json_object *reply = NULL;
        _cleanup_free_ char *m = NULL;
        int r;

        if (asprintf(&m, "%sVM", method) < 0)
                return CTL_EXIT_FAILURE;
        r = ctl_varlink_connect(what, &v);
        if (r >= 0)
                r = ctl_varlink_call_checked(v, what, m, ctl_varlink_name_parameters(name), false, &reply);
        return r < 0 ? -r : CTL_EXIT_SUCCESS;
}

/* kill and destroy: one call by name, nothing to wait for. */
static int simple_vm_call(int argc, char *argv[], const char *method) {
        static const struct option options[] = { {} };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL, *what = NULL;
        int r;

        if (getopt_long(argc, argv, "", options, NULL) >= 0)
                return CTL_EXIT_USAGE;
        if (argc - optind != 1)
                return ctl_usage_error(argv[0], "expected exactly one NAME");
        if (asprintf(&what, "%s %s", argv[0], argv[optind]) < 0)
                return CTL_EXIT_FAILURE;
        if (ctl_args.varlink_path)
                return simple_varlink_call(what, argv[optind], method);
        r = ctl_bus_connect(what, &bus);
        if (r < 0)
                return -r;
        r = ctl_bus_vm_path(bus, argv[optind], &error, &path);
        if (r >= 0)
                r = vm_call(bus, path, method, &error, NULL, 0);
        return r < 0 ? ctl_bus_report(what, &error, r) : CTL_EXIT_SUCCESS;
}

static int verb_kill(int argc, char *argv[]) {
        return simple_vm_call(argc, argv, "Kill");
}

static int verb_destroy(int argc, char *argv[]) {
        return simple_vm_call(argc, argv, "Destroy");
}

const CtlVerb ctl_lifecycle_verbs[] = {
        { "create", "FILE [--start] [--persist|--transient]", "Define a VM from a spec file", verb_create },
        { "start", "NAME [--wait] [--console]", "Start a VM; --wait: until it stops", verb_start },
        { "stop", "NAME [--timeout=SEC] [--force] [--no-wait]", "Stop a VM gracefully (forced after SEC)",
          verb_stop },
        { "kill", "NAME", "Force a VM off at once", verb_kill },
        { "destroy", "NAME", "Remove a VM's definition (killing it first)", verb_destroy },
        {}
};
