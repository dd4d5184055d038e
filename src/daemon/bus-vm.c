/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "bus-error.h"
#include "bus-errors.h"
#include "bus-polkit.h"
#include "bus-vm.h"
#include "console.h"
#include "dtb.h"
#include "id-util.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "vm.h"
#include "vm-instance.h"
#include "vm-vsock.h"

static int vm_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                          sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *name = NULL;
        Vm *vm;
        int r;
        r = sd_bus_path_decode(path, GUNYAH_VM_PATH_PREFIX, &name);
        if (r <= 0)
                return r;
        vm = manager_get_vm(m, name);
        if (!vm)
                return 0;
        *found = vm;
        return 1;
}

static int vm_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        _cleanup_free_ Vm **vms = NULL;
        char **l;
        size_t n;
        int r;

        r = manager_list_vms(userdata, &vms, &n);
        if (r < 0)
                return r;
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                l[i] = strdup(vms[i]->object_path);
                if (!l[i]) {
                        for (size_t j = 0; j < i; j++)
                                free(l[j]);
                        free(l);
                        return -ENOMEM;
                }
        }
        *nodes = l;
        return 1;
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "s", vm_state_to_string(vm->state));
}

static int property_get_state_reason(sd_bus *bus, const char *path, const char *interface, const char *property,
                                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *s = vm_state_reason_string(userdata);
        if (!s)
                return -ENOMEM;
        return sd_bus_message_append(reply, "s", s);
}

int bus_vm_append_exit_info(sd_bus_message *reply, const Vm *vm) {
        const VmExitInfo *e = &vm->exit_info;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        if (e->valid) {
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}{sv}", "status", "u", e->status,
                                          "exit_type", "u", (uint32_t) e->exit_type, "exit_type_name", "s",
                                          vm_exit_info_type_name(e), "reason_size",
                                          "u", e->reason_size, "vcpu", "i", e->vcpu, "timestamp", "t",
                                          e->timestamp);
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(reply, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "s", "reason");
                if (r >= 0)
                        r = sd_bus_message_open_container(reply, 'v', "ay");
                if (r >= 0)
                        r = sd_bus_message_append_array(reply, 'y', e->reason,
                                                        MIN(e->reason_size, (uint32_t) sizeof(e->reason)));
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
                if (e->signal || e->exit_code) {
                        r = sd_bus_message_append(reply, "{sv}{sv}", "signal", "i", e->signal, "exit_code", "i",
                                                  e->exit_code);
                        if (r < 0)
                                return r;
                }
                if (e->error) {
                        r = sd_bus_message_append(reply, "{sv}{sv}", "errno", "i", e->error, "errno_name", "s",
                                                  errno_to_name(e->error));
                        if (r < 0)
                                return r;
                }
                if (e->step[0]) {
                        r = sd_bus_message_append(reply, "{sv}", "step", "s", e->step);
                        if (r < 0)
                                return r;
                }
                if (e->fault_addr) {
                        r = sd_bus_message_append(reply, "{sv}", "fault_address", "t", e->fault_addr);
                        if (r < 0)
                                return r;
                }
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_exit_info(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_vm_append_exit_info(reply, userdata);
}

static int property_get_vcpus(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "u", vm->spec->vcpus);
}

static int property_get_memory_size(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "t", vm->spec->memory.size);
}

static int property_get_disks(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (uint32_t i = 0; r >= 0 && i < vm->spec->n_disks; i++) {
                const VmDisk *d = &vm->spec->disks[i];

                r = sd_bus_message_append(reply, "a{sv}", 3, "path", "s", d->path, "readonly", "b", d->readonly,
                                          "serial", "s", d->serial);
        }
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int property_get_vsock_cid(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "u", vm->spec->has_vsock ? vm->spec->vsock.cid : 0);
}

static int property_get_vsock_path(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *socket_path = vm_vsock_path(userdata);
        return sd_bus_message_append(reply, "s", socket_path ?: "");
}

static int property_get_rng(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "b", vm->spec->rng);
}

static int property_get_autostart(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "b", vm->spec->autostart);
}

static int property_set_autostart(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *value, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        int b, r;
        r = sd_bus_message_read(value, "b", &b);
        if (r < 0)
                return r;
        r = bus_verify_manage(vm->manager, value, vm->name, "set-autostart", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        VmError e = VM_ERROR_NULL;
        r = vm_set_autostart(vm, b, &e);
        return r < 0 ? bus_error_from_vm_error(error, &e, r) : r;
}

static int property_get_worker_pids(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        pid_t pids[VM_VCPUS_MAX];
        size_t n = vm_worker_pids(userdata, pids, ELEMENTSOF(pids));
        int r;

        r = sd_bus_message_open_container(reply, 'a', "u");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(reply, "u", (uint32_t) pids[i]);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int property_get_crash_restart_limit(sd_bus *bus, const char *path, const char *interface,
                                            const char *property, sd_bus_message *reply, void *userdata,
                                            sd_bus_error *error) {
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "u", vm->spec->crash_restart_limit);
}

static int property_get_crash_restart_backoff(sd_bus *bus, const char *path, const char *interface,
                                              const char *property, sd_bus_message *reply, void *userdata,
                                              sd_bus_error *error) {
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "t", (uint64_t) vm->spec->crash_restart_backoff_msec * 1000);
}


static int property_get_uuid(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "s", vm->uuid);
}

static int property_get_persistent(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        return sd_bus_message_append(reply, "b", vm->persistent);
}

/* ---- methods ---- */

int bus_vm_apply_verb(sd_bus_message *msg, Vm *vm, VmVerb verb, uint64_t timeout_usec, sd_bus_error *error) {
        VmError e = VM_ERROR_NULL;
        int r;

        r = bus_verify_manage(vm->manager, msg, vm->name, vm_verb_to_string(verb), error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = vm_apply_verb(vm, verb, timeout_usec, &e);
        if (r < 0)
                return bus_error_from_vm_error(error, &e, r);
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_start(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return bus_vm_apply_verb(msg, userdata, VM_VERB_START, 0, error);
}

static int method_stop(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        uint64_t timeout;
        int r;

        r = sd_bus_message_read(msg, "t", &timeout);
        if (r < 0)
                return r;
        return bus_vm_apply_verb(msg, userdata, VM_VERB_STOP, timeout, error);
}

static int method_kill(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return bus_vm_apply_verb(msg, userdata, VM_VERB_KILL, 0, error);
}

static int method_destroy(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return bus_vm_apply_verb(msg, userdata, VM_VERB_DESTROY, 0, error);
}

static int method_open_console(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        _cleanup_close_ int fd = -EBADF;
        VmError e = VM_ERROR_NULL;
        int r;

        r = bus_verify_console(vm->manager, msg, vm->name, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = console_open_client(vm->console, vm->manager->event, &fd);
        if (r < 0)
                return bus_error_from_vm_error(error, &e, vm_error_set(&e, VM_ERROR_FAILED, r, NULL,
                                                                        "Cannot open the console: %s", strerror(-r)));
        return sd_bus_reply_method_return(msg, "h", fd);
}

/* Who may open the console may talk to the guest's vsock ports. */
static int method_connect_vsock(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        _cleanup_close_ int fd = -EBADF;
        VmError e = VM_ERROR_NULL;
        uint32_t port;
        int r;

        r = sd_bus_message_read(msg, "u", &port);
        if (r < 0)
                return r;
        r = bus_verify_console(vm->manager, msg, vm->name, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = vm_vsock_connect_guest(vm, port, &fd, &e);
        if (r < 0)
                return bus_error_from_vm_error(error, &e, r);
        return sd_bus_reply_method_return(msg, "h", fd);
}

static int method_get_device_tree(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ void *dtb = NULL;
        VmError e = VM_ERROR_NULL;
        size_t size;
        int r;

        r = vm_device_tree(userdata, &dtb, &size, &e);
        if (r < 0)
                return bus_error_from_vm_error(error, &e, r);
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'y', dtb, size);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static const sd_bus_vtable vm_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", NULL, offsetof(Vm, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("UUID", "s", property_get_uuid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StateReason", "s", property_get_state_reason, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExitInfo", "a{sv}", property_get_exit_info, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VCPUs", "u", property_get_vcpus, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MemorySize", "t", property_get_memory_size, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Autostart", "b", property_get_autostart, property_set_autostart, 0,
                                 SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE | SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_PROPERTY("Persistent", "b", property_get_persistent, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Spec", "s", NULL, offsetof(Vm, spec_json),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("WorkerPIDs", "au", property_get_worker_pids, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CrashRestartCount", "u", NULL, offsetof(Vm, crash_restart_count),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CrashRestartLimit", "u", property_get_crash_restart_limit, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CrashRestartBackoffUSec", "t", property_get_crash_restart_backoff, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CreatedTimestamp", "t", NULL, offsetof(Vm, created_usec), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("StartedTimestamp", "t", NULL, offsetof(Vm, started_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StoppedTimestamp", "t", NULL, offsetof(Vm, stopped_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Disks", "aa{sv}", property_get_disks, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VsockCid", "u", property_get_vsock_cid, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VsockPath", "s", property_get_vsock_path, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Rng", "b", property_get_rng, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Start", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_ARGS("t", timeout_usec), SD_BUS_NO_RESULT, method_stop,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Kill", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_kill, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Destroy", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_destroy,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenConsole", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", fd), method_open_console,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ConnectVsock", SD_BUS_ARGS("u", port), SD_BUS_RESULT("h", fd), method_connect_vsock,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetDeviceTree", SD_BUS_NO_ARGS, SD_BUS_RESULT("ay", dtb), method_get_device_tree,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int bus_vm_register(Manager *m) {
        int r;

        r = sd_bus_add_fallback_vtable(m->bus, NULL, GUNYAH_VM_PATH_PREFIX, GUNYAH_VM_INTERFACE, vm_vtable,
                                       vm_object_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register %s: %m", GUNYAH_VM_INTERFACE);
        r = sd_bus_add_node_enumerator(m->bus, NULL, GUNYAH_VM_PATH_PREFIX, vm_node_enumerator, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the VM enumerator: %m");
        return 0;
}

static void emit(Vm *vm, const char *first, ...) {
        /* sd_bus_emit_properties_changed_strv wants a NULL-terminated list. */
        char *names[12];
        size_t n = 0;
        va_list ap;

        va_start(ap, first);
        for (const char *p = first; p && n < ELEMENTSOF(names) - 1; p = va_arg(ap, const char *))
                names[n++] = (char *) p;
        va_end(ap);
        names[n] = NULL;

        if (!vm->manager->bus)
                return;
        (void) sd_bus_emit_properties_changed_strv(vm->manager->bus, vm->object_path, GUNYAH_VM_INTERFACE, names);
}

void bus_vm_emit_state_changed(Vm *vm) {
        emit(vm, "State", "StateReason", "ExitInfo", "StartedTimestamp", "StoppedTimestamp", "WorkerPIDs",
             "VsockPath", NULL);
}

void bus_vm_emit_spec_changed(Vm *vm) {
        emit(vm, "Autostart", "Spec", "Persistent", "VCPUs", "MemorySize", "Disks", "VsockCid", "Rng", NULL);
}

void bus_vm_emit_restart_changed(Vm *vm) {
        emit(vm, "CrashRestartCount", NULL);
}
