/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Verbs that read: list (ListVMs) and status (every VM1 property). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bus-errors.h"
#include "ctl-bus.h"
#include "ctl-json.h"
#include "ctl-varlink.h"
#include "gunyahctl.h"
#include "macro.h"
#include "parse-util.h"

/* --json may also follow the verb. Returns the first operand's index or -1. */
static int parse_json_option(int argc, char *argv[]) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                if (c != 'j')
                        return -1;
                ctl_args.json = true;
        }
        return optind;
}

static int list_read(sd_bus_message *reply, json_object *arr) {
        const char *name, *state, *reason, *path;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(ssso)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(ssso)", &name, &state, &reason, &path)) > 0) {
                json_object *o = json_object_new_object();
                if (!o || json_object_array_add(arr, o) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
                json_object_object_add(o, "name", json_object_new_string(name));
                json_object_object_add(o, "state", json_object_new_string(state));
                json_object_object_add(o, "reason", json_object_new_string(reason));
                json_object_object_add(o, "path", json_object_new_string(path));
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(reply);
}

/* ListVMs over varlink, as the entries list_read() makes of the D-Bus reply.
 * Returns a negative exit code on failure, having said why. */
static int list_varlink(json_object **ret) {
        _cleanup_(ctl_varlink_freep) CtlVarlink *v = NULL;
        _cleanup_(json_object_putp) json_object *reply = NULL, *arr = json_object_new_array();
        json_object *vms, *entry;
        int r;

        if (!arr)
                return -CTL_EXIT_FAILURE;
        r = ctl_varlink_connect("list", &v);
        if (r >= 0)
                r = ctl_varlink_call_checked(v, "list", "ListVMs", NULL, false, &reply);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(reply, "vms", &vms) || !json_object_is_type(vms, json_type_array))
                return -ctl_varlink_report("list", reply, 0);
        for (size_t i = 0; i < json_object_array_length(vms); i++) {
                r = ctl_varlink_vm_to_list_entry(json_object_array_get_idx(vms, i), &entry);
                if (r < 0)
                        return -ctl_bus_report("list: bad reply", NULL, r);
                if (json_object_array_add(arr, entry) < 0) {
                        json_object_put(entry);
                        return -CTL_EXIT_FAILURE;
                }
        }
        *ret = TAKE_PTR(arr);
        return 0;
}

static void list_print_table(json_object *arr) {
        size_t n = json_object_array_length(arr);
        int wname = 4, wstate = 5;

        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(arr, i);
                wname = MAX(wname, (int) strlen(ctl_json_string(o, "name")));
                wstate = MAX(wstate, (int) strlen(ctl_json_string(o, "state")));
        }
        printf("%-*s  %-*s  %s\n", wname, "NAME", wstate, "STATE", "REASON");
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(arr, i);
                const char *reason = ctl_json_string(o, "reason");
                printf("%-*s  %-*s  %s\n", wname, ctl_json_string(o, "name"), wstate, ctl_json_string(o, "state"),
                       reason[0] ? reason : "-");
        }
        printf("\n%zu VM%s.\n", n, n == 1 ? "" : "s");
}

static int verb_list(int argc, char *argv[]) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_object_putp) json_object *arr = NULL;
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int i = parse_json_option(argc, argv), r;

        if (i < 0)
                return CTL_EXIT_USAGE;
        if (i != argc)
                return ctl_usage_error(argv[0], "unexpected argument '%s'", argv[i]);
        if (ctl_args.varlink_path) {
                r = list_varlink(&arr);
                if (r < 0)
                        return -r;
        } else {
                r = ctl_bus_connect("list", &bus);
                if (r < 0)
                        return -r;
                r = ctl_bus_call_manager(bus, "ListVMs", &error, &reply, NULL);
                if (r < 0)
                        return ctl_bus_report("list", &error, r);
                arr = json_object_new_array();
                r = arr ? list_read(reply, arr) : -ENOMEM;
                if (r < 0)
                        return ctl_bus_report("list: bad reply", NULL, r);
        }
        if (ctl_args.json)
                return ctl_json_print_line(arr) < 0 ? CTL_EXIT_FAILURE : CTL_EXIT_SUCCESS;
        list_print_table(arr);
        return CTL_EXIT_SUCCESS;
}

/* ---- status ---- */

static void print_timestamp(const char *label, int64_t usec) {
        char buf[64];
        struct tm tm;
        time_t t = (time_t) (usec / 1000000);

        if (usec <= 0 || !localtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%a %Y-%m-%d %H:%M:%S %Z", &tm) == 0) {
                printf("%15s: n/a\n", label);
                return;
        }
        printf("%15s: %s\n", label, buf);
}

static void print_exit_info(json_object *info) {
        json_object *reason;

        if (!info || json_object_object_length(info) == 0) {
                printf("%15s: none\n", "Exit");
                return;
        }
        const char *type_name = ctl_json_string(info, "exit_type_name");
        printf("%15s: %s (status %" PRIi64 ", exit type %" PRIi64 ")", "Exit",
               type_name && type_name[0] ? type_name : "-", ctl_json_int(info, "status", 0),
               ctl_json_int(info, "exit_type", 0));
        if (ctl_json_int(info, "vcpu", -1) >= 0)
                printf(" on vCPU %" PRIi64, ctl_json_int(info, "vcpu", -1));
        putchar('\n');
        if (json_object_object_get_ex(info, "reason", &reason) && json_object_array_length(reason) > 0) {
                printf("%15s:", "Exit reason");
                for (size_t i = 0; i < json_object_array_length(reason); i++)
                        printf(" %02x", (unsigned) json_object_get_int(json_object_array_get_idx(reason, i)));
                putchar('\n');
        }
        if (json_object_object_get_ex(info, "signal", NULL))
                printf("%15s: signal %" PRIi64 ", exit code %" PRIi64 "\n", "Worker", ctl_json_int(info, "signal", 0),
                       ctl_json_int(info, "exit_code", 0));
        if (json_object_object_get_ex(info, "errno", NULL))
                printf("%15s: %s (%" PRIi64 ")\n", "Error", strna(ctl_json_string(info, "errno_name")),
                       ctl_json_int(info, "errno", 0));
        if (ctl_json_string(info, "step"))
                printf("%15s: %s\n", "Failed step", ctl_json_string(info, "step"));
        if (json_object_object_get_ex(info, "fault_address", NULL))
                printf("%15s: 0x%" PRIx64 "\n", "Fault address", (uint64_t) ctl_json_int(info, "fault_address", 0));
        print_timestamp("Exit time", ctl_json_int(info, "timestamp", 0));
}

static void print_disks(json_object *p) {
        json_object *disks = NULL;

        if (!json_object_object_get_ex(p, "Disks", &disks) || json_object_array_length(disks) == 0)
                return;
        for (size_t i = 0; i < json_object_array_length(disks); i++) {
                json_object *d = json_object_array_get_idx(disks, i), *ro = NULL;
                const char *serial = ctl_json_string(d, "serial");

                (void) json_object_object_get_ex(d, "readonly", &ro);
                printf("%15s %s%s%s%s\n", i == 0 ? "Disks:" : "", strna(ctl_json_string(d, "path")),
                       ro && json_object_get_boolean(ro) ? " (read-only)" : "", serial && serial[0] ? ", serial " : "",
                       serial && serial[0] ? serial : "");
        }
}

/* "Vsock: CID 3, /run/gunyahd/vms/NAME/vsock" (the socket while it runs). */
static void print_devices(json_object *p) {
        int64_t cid = ctl_json_int(p, "VsockCid", 0);
        const char *path = ctl_json_string(p, "VsockPath");
        json_object *rng = NULL;

        if (cid > 0)
                printf("%15s: CID %" PRIi64 "%s%s\n", "Vsock", cid, path && path[0] ? ", " : "",
                       path && path[0] ? path : "");
        else
                printf("%15s: none\n", "Vsock");
        (void) json_object_object_get_ex(p, "Rng", &rng);
        printf("%15s: %s\n", "Rng", yes_no(rng && json_object_get_boolean(rng)));
}

static void status_print(json_object *p) {
        json_object *workers = NULL, *info = NULL;
        const char *reason = ctl_json_string(p, "StateReason");
        char size[FORMAT_SIZE_MAX];
        json_bool autostart = false, persistent = false;
        json_object *b;

        format_size(size, sizeof(size), (uint64_t) ctl_json_int(p, "MemorySize", 0));
        if (json_object_object_get_ex(p, "Autostart", &b))
                autostart = json_object_get_boolean(b);
        if (json_object_object_get_ex(p, "Persistent", &b))
                persistent = json_object_get_boolean(b);

        printf("%s\n", strna(ctl_json_string(p, "Name")));
        printf("%15s: %s%s%s%s\n", "State", strna(ctl_json_string(p, "State")), reason && reason[0] ? " (" : "",
               reason && reason[0] ? reason : "", reason && reason[0] ? ")" : "");
        printf("%15s: %s\n", "UUID", strna(ctl_json_string(p, "UUID")));
        printf("%15s: %" PRIi64 "\n", "vCPUs", ctl_json_int(p, "VCPUs", 0));
        printf("%15s: %s\n", "Memory", size);
        printf("%15s: %s\n", "Autostart", yes_no(autostart));
        printf("%15s: %s\n", "Persistent", yes_no(persistent));
        print_disks(p);
        print_devices(p);
        printf("%15s:", "Workers");
        if (json_object_object_get_ex(p, "WorkerPIDs", &workers) && json_object_array_length(workers) > 0)
                for (size_t i = 0; i < json_object_array_length(workers); i++)
                        printf(" %" PRIi64, json_object_get_int64(json_object_array_get_idx(workers, i)));
        else
                printf(" none");
        putchar('\n');
        printf("%15s: %" PRIi64 "/%" PRIi64 " (back-off %" PRIi64 " ms)\n", "Crash restarts",
               ctl_json_int(p, "CrashRestartCount", 0), ctl_json_int(p, "CrashRestartLimit", 0),
               ctl_json_int(p, "CrashRestartBackoffUSec", 0) / 1000);
        print_timestamp("Created", ctl_json_int(p, "CreatedTimestamp", 0));
        print_timestamp("Started", ctl_json_int(p, "StartedTimestamp", 0));
        print_timestamp("Stopped", ctl_json_int(p, "StoppedTimestamp", 0));
        (void) json_object_object_get_ex(p, "ExitInfo", &info);
        print_exit_info(info);
}

/* GetVM over varlink, as the properties GetAll returns on D-Bus. Returns a
 * negative exit code on failure, having said why. */
static int status_varlink(const char *what, const char *name, json_object **ret) {
        _cleanup_(ctl_varlink_freep) CtlVarlink *v = NULL;
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *vm;
        int r;

        r = ctl_varlink_connect(what, &v);
        if (r < 0)
                return r;
        r = ctl_varlink_call_checked(v, what, "GetVM", ctl_varlink_name_parameters(name), false, &reply);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(reply, "vm", &vm))
                return -ctl_varlink_report(what, reply, 0);
        r = ctl_varlink_vm_to_properties(vm, ret);
        return r < 0 ? -ctl_bus_report(what, NULL, r) : 0;
}

static int verb_status(int argc, char *argv[]) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_object_putp) json_object *props = NULL;
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL, *what = NULL;
        int i = parse_json_option(argc, argv), r;

        if (i < 0)
                return CTL_EXIT_USAGE;
        if (argc - i != 1)
                return ctl_usage_error(argv[0], "expected exactly one NAME");
        if (asprintf(&what, "status %s", argv[i]) < 0)
                return CTL_EXIT_FAILURE;
        if (ctl_args.varlink_path) {
                r = status_varlink(what, argv[i], &props);
                if (r < 0)
                        return -r;
        } else {
                r = ctl_bus_connect(what, &bus);
                if (r < 0)
                        return -r;
                r = ctl_bus_vm_path(bus, argv[i], &error, &path);
                if (r >= 0)
                        r = sd_bus_call_method(bus, GUNYAH_BUS_NAME, path, "org.freedesktop.DBus.Properties",
                                               "GetAll", &error, &reply, "s", GUNYAH_VM_INTERFACE);
                if (r < 0)
                        return ctl_bus_report(what, &error, r);
                r = ctl_json_read_properties(reply, &props);
                if (r < 0)
                        return ctl_bus_report(what, NULL, r);
        }
        if (ctl_args.json)
                return ctl_json_print_line(props) < 0 ? CTL_EXIT_FAILURE : CTL_EXIT_SUCCESS;
        status_print(props);
        return CTL_EXIT_SUCCESS;
}

const CtlVerb ctl_status_verbs[] = {
        { "list", "[--json]", "List the VMs with their state and reason", verb_list },
        { "status", "NAME [--json]", "Show a VM's state, exit information and properties", verb_status },
        {}
};
