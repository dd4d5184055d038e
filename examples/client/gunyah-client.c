/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An example client of gunyahd's public D-Bus API, on GDBus with the code
 * gdbus-codegen generates from the installed interface XML
 * (org.gunyah.Manager1.xml, org.gunyah.VM1.xml).
 *
 *   gunyah-client [--bus-address=ADDRESS] [--timeout=SECONDS] [NAME]
 *
 * Lists the VMs (name, state, reason, vCPUs, memory); with NAME, starts that
 * VM and follows its state through PropertiesChanged signals until it has
 * run and ended, then exits with a code that says why (see exit_code_for).
 */
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gunyah-dbus.h"

#define BUS_NAME "org.gunyah.Manager1"
#define MANAGER_PATH "/org/gunyah/Manager1"

/* Exit codes: the VM's reason, or what went wrong before it could end. */
enum {
        EXIT_POWEROFF = 0, /* the guest powered off, or a graceful stop completed */
        EXIT_ERROR = 1,    /* a D-Bus call failed, or an unknown reason */
        EXIT_USAGE = 2,
        EXIT_REBOOT = 3,
        EXIT_CRASHED = 4,
        EXIT_KILLED = 5,
        EXIT_FAILED = 6, /* load-failed, worker-failed: the VM could not run */
        EXIT_TIMEOUT = 7,
};

typedef struct {
        GMainLoop *loop;
        GunyahVM1 *vm;
        gboolean ran; /* saw starting or running after our Start */
        guint timer;
        int exit_code;
} Follow;

/* A reason such as "killed: stop timeout expired" keys on its first word. */
static int exit_code_for(const char *reason) {
        static const struct {
                const char *prefix;
                int code;
        } table[] = {
                { "poweroff", EXIT_POWEROFF },    { "shutdown", EXIT_POWEROFF },
                { "reboot", EXIT_REBOOT },        { "watchdog", EXIT_CRASHED },
                { "crashed", EXIT_CRASHED },      { "killed", EXIT_KILLED },
                { "load-failed", EXIT_FAILED },   { "worker-failed", EXIT_FAILED },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
                if (g_str_has_prefix(reason, table[i].prefix))
                        return table[i].code;
        return EXIT_ERROR;
}

static void list_vms(GDBusObjectManager *manager) {
        GList *objects = g_dbus_object_manager_get_objects(manager);

        printf("%-24s %-10s %-28s %5s %10s\n", "NAME", "STATE", "REASON", "VCPUS", "MEMORY");
        for (GList *l = objects; l; l = l->next) {
                GunyahVM1 *vm = gunyah_object_peek_vm1(GUNYAH_OBJECT(l->data));
                if (!vm)
                        continue;
                g_autofree char *memory = g_format_size_full(gunyah_vm1_get_memory_size(vm), G_FORMAT_SIZE_IEC_UNITS);
                printf("%-24s %-10s %-28s %5u %10s\n", gunyah_vm1_get_name(vm), gunyah_vm1_get_state(vm),
                       gunyah_vm1_get_state_reason(vm), gunyah_vm1_get_vcpus(vm), memory);
        }
        g_list_free_full(objects, g_object_unref);
}

static void on_state_changed(GObject *object, GParamSpec *pspec, gpointer userdata) {
        Follow *f = userdata;
        const char *state = gunyah_vm1_get_state(f->vm);
        const char *reason = gunyah_vm1_get_state_reason(f->vm);

        printf("%s: %s (%s)\n", gunyah_vm1_get_name(f->vm), state, reason);
        fflush(stdout);
        if (g_str_equal(state, "starting") || g_str_equal(state, "running"))
                f->ran = TRUE;
        else if (f->ran && (g_str_equal(state, "stopped") || g_str_equal(state, "failed"))) {
                f->exit_code = g_str_equal(state, "failed") ? EXIT_FAILED : exit_code_for(reason);
                g_main_loop_quit(f->loop);
        }
}

static void on_started(GObject *source, GAsyncResult *result, gpointer userdata) {
        Follow *f = userdata;
        g_autoptr(GError) error = NULL;

        if (!gunyah_vm1_call_start_finish(GUNYAH_VM1(source), result, &error)) {
                g_dbus_error_strip_remote_error(error);
                fprintf(stderr, "Start of %s failed: %s\n", gunyah_vm1_get_name(f->vm), error->message);
                f->exit_code = EXIT_ERROR;
                g_main_loop_quit(f->loop);
        }
}

static gboolean on_timeout(gpointer userdata) {
        Follow *f = userdata;
        fprintf(stderr, "%s has not ended in time; it is %s\n", gunyah_vm1_get_name(f->vm),
                gunyah_vm1_get_state(f->vm));
        f->exit_code = EXIT_TIMEOUT;
        f->timer = 0;
        g_main_loop_quit(f->loop);
        return G_SOURCE_REMOVE;
}

/* The VM's object through the public lookup: Manager1.GetVM(name). */
static GunyahObject *lookup_vm(GDBusObjectManager *manager, GunyahManager1 *gunyah, const char *name) {
        g_autoptr(GError) error = NULL;
        g_autofree char *path = NULL;

        if (!gunyah_manager1_call_get_vm_sync(gunyah, name, &path, NULL, &error)) {
                g_dbus_error_strip_remote_error(error);
                fprintf(stderr, "%s\n", error->message);
                return NULL;
        }
        GDBusObject *object = g_dbus_object_manager_get_object(manager, path);
        if (!object || !gunyah_object_peek_vm1(GUNYAH_OBJECT(object))) {
                fprintf(stderr, "%s is not among the objects gunyahd manages\n", path);
                g_clear_object(&object);
                return NULL;
        }
        return GUNYAH_OBJECT(object);
}

/* Starts the VM and waits for the signals that say it ran and ended. */
static int start_and_follow(GunyahObject *object, guint timeout_sec) {
        g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
        Follow f = { .loop = loop, .vm = gunyah_object_peek_vm1(object), .exit_code = EXIT_ERROR };

        g_signal_connect(f.vm, "notify::state", G_CALLBACK(on_state_changed), &f);
        gunyah_vm1_call_start(f.vm, NULL, on_started, &f);
        f.timer = g_timeout_add_seconds(timeout_sec, on_timeout, &f);
        g_main_loop_run(loop);
        if (f.timer)
                g_source_remove(f.timer);
        g_signal_handlers_disconnect_by_data(f.vm, &f);
        return f.exit_code;
}

static GDBusConnection *connect_bus(const char *address, GError **error) {
        if (!address)
                return g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, error);
        return g_dbus_connection_new_for_address_sync(
                        address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                         G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                        NULL, NULL, error);
}

int main(int argc, char *argv[]) {
        g_autofree char *bus_address = NULL;
        gint timeout_sec = 60;
        GOptionEntry entries[] = {
                { "bus-address", 0, 0, G_OPTION_ARG_STRING, &bus_address, "D-Bus address (default: the system bus)", "ADDRESS" },
                { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_sec, "Give up waiting after SECONDS (default 60)", "SECONDS" },
                { NULL },
        };
        g_autoptr(GOptionContext) options = g_option_context_new("[NAME] - list gunyahd's VMs; start NAME and wait for it to end");
        g_autoptr(GError) error = NULL;
        g_autoptr(GDBusConnection) bus = NULL;
        g_autoptr(GDBusObjectManager) manager = NULL;
        g_autoptr(GunyahManager1) gunyah = NULL;
        g_autoptr(GunyahObject) vm = NULL;

        g_option_context_add_main_entries(options, entries, NULL);
        if (!g_option_context_parse(options, &argc, &argv, &error) || argc > 2 || timeout_sec <= 0) {
                fprintf(stderr, "%s\n", error ? error->message : "expected at most one NAME and a positive --timeout");
                return EXIT_USAGE;
        }
        bus = connect_bus(bus_address, &error);
        if (bus)
                manager = gunyah_object_manager_client_new_sync(bus, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START,
                                                                BUS_NAME, MANAGER_PATH, NULL, &error);
        if (manager)
                gunyah = gunyah_manager1_proxy_new_sync(bus, G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, BUS_NAME,
                                                        MANAGER_PATH, NULL, &error);
        if (!gunyah) {
                fprintf(stderr, "Cannot reach gunyahd: %s\n", error->message);
                return EXIT_ERROR;
        }
        list_vms(manager);
        if (argc < 2)
                return EXIT_POWEROFF;
        vm = lookup_vm(manager, gunyah, argv[1]);
        return vm ? start_and_follow(vm, (guint) timeout_sec) : EXIT_ERROR;
}
