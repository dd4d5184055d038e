/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

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
#include "worker.h"

/* The model's errnos and the D-Bus errors clients see, in one table. */
static const struct {
        int errnum;
        const char *name;
} errno_map[] = {
        { ESRCH, GUNYAH_ERROR_NO_SUCH_VM },
        { EEXIST, GUNYAH_ERROR_VM_EXISTS },
        { EBADMSG, GUNYAH_ERROR_INVALID_SPEC },
        { EBUSY, GUNYAH_ERROR_INVALID_STATE },
        { EROFS, GUNYAH_ERROR_READ_ONLY },
        { EOPNOTSUPP, GUNYAH_ERROR_NOT_SUPPORTED },
        { EINVAL, SD_BUS_ERROR_INVALID_ARGS },
        { E2BIG, SD_BUS_ERROR_INVALID_ARGS },
        { EPERM, SD_BUS_ERROR_ACCESS_DENIED },
        { EACCES, SD_BUS_ERROR_ACCESS_DENIED },
};

int bus_error_from_errno(sd_bus_error *error, int r, const char *context) {
        if (sd_bus_error_is_set(error))
                return -sd_bus_error_get_errno(error) ?: r;
        for (size_t i = 0; i < ELEMENTSOF(errno_map); i++)
                if (errno_map[i].errnum == -r)
                        return sd_bus_error_setf(error, errno_map[i].name, "%s: %s", context, strerror(-r));
        return sd_bus_error_setf(error, GUNYAH_ERROR_FAILED, "%s: %s", context, strerror(-r));
}

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
        Manager *m = userdata;
        char **l;
        l = calloc(m->n_vms + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_vms; i++) {
                l[i] = strdup(m->vms[i]->object_path);
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

        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return sd_bus_message_append(reply, "s", vm_state_to_string(vm->state));
}

static int property_get_state_reason(sd_bus *bus, const char *path, const char *interface, const char *property,
                                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *s = vm_state_reason_string(userdata);

        (void) bus, (void) path, (void) interface, (void) property, (void) error;
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
        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return bus_vm_append_exit_info(reply, userdata);
}

static int property_get_vcpus(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;

        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return sd_bus_message_append(reply, "u", vm->spec->vcpus);
}

static int property_get_memory_size(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;

        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return sd_bus_message_append(reply, "t", vm->spec->memory.size);
}

static int property_get_autostart(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;

        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return sd_bus_message_append(reply, "b", vm->spec->autostart);
}

static int property_set_autostart(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *value, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        int b, r;

        (void) bus, (void) path, (void) interface, (void) property;
        r = sd_bus_message_read(value, "b", &b);
        if (r < 0)
                return r;
        r = bus_verify_manage(vm->manager, value, vm->name, "set-autostart", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        return vm_set_autostart(vm, b, error);
}

static int property_get_worker_pids(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        int r;

        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        r = sd_bus_message_open_container(reply, 'a', "u");
        if (r < 0)
                return r;
        for (size_t i = 0; i < vm->n_workers; i++)
                if (!vm->workers[i]->exited) {
                        r = sd_bus_message_append(reply, "u", (uint32_t) vm->workers[i]->pid);
                        if (r < 0)
                                return r;
                }
        return sd_bus_message_close_container(reply);
}

static int property_get_crash_restart_limit(sd_bus *bus, const char *path, const char *interface,
                                            const char *property, sd_bus_message *reply, void *userdata,
                                            sd_bus_error *error) {
        Vm *vm = userdata;

        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return sd_bus_message_append(reply, "u", vm->spec->crash_restart_limit);
}

static int property_get_crash_restart_backoff(sd_bus *bus, const char *path, const char *interface,
                                              const char *property, sd_bus_message *reply, void *userdata,
                                              sd_bus_error *error) {
        Vm *vm = userdata;

        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return sd_bus_message_append(reply, "t", (uint64_t) vm->spec->crash_restart_backoff_msec * 1000);
}

static int property_get_string_ptr(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return sd_bus_message_append(reply, "s", *(char **) userdata ?: "");
}

static int property_get_uuid(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;

        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return sd_bus_message_append(reply, "s", vm->uuid);
}

static int property_get_persistent(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;

        (void) bus, (void) path, (void) interface, (void) property, (void) error;
        return sd_bus_message_append(reply, "b", vm->persistent);
}

/* ---- methods ---- */

static int method_start(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        int r;

        r = bus_verify_manage(vm->manager, msg, vm->name, "start", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = vm_start(vm, VM_REASON_START, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_stop(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        uint64_t timeout;
        int r;

        r = sd_bus_message_read(msg, "t", &timeout);
        if (r < 0)
                return r;
        r = bus_verify_manage(vm->manager, msg, vm->name, "stop", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = vm_stop(vm, timeout, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_kill(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        int r;

        r = bus_verify_manage(vm->manager, msg, vm->name, "kill", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = vm_kill(vm, VM_REASON_KILLED, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_destroy(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        int r;

        r = bus_verify_manage(vm->manager, msg, vm->name, "destroy", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = vm_destroy(vm, error);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_open_console(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Vm *vm = userdata;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = bus_verify_console(vm->manager, msg, vm->name, error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = console_open_client(vm->console, vm->manager->event, &fd);
        if (r < 0)
                return bus_error_from_errno(error, r, "Cannot open the console");
        return sd_bus_reply_method_return(msg, "h", fd);
}

static int method_get_device_tree(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(vm_boot_images_freep) VmBootImages *boot = NULL;
        Vm *vm = userdata;
        const void *dtb = vm->dtb;
        size_t size = vm->dtb_size;
        char errbuf[512] = "";
        int r;

        if (!dtb) {
                /* Not running: build it exactly as a start would. */
                bool bc = vm->manager->ops->abi(vm->manager->backend) != HV_ABI_A14;
                r = vm_boot_images_prepare(vm->spec, bc, &boot, errbuf, sizeof(errbuf));
                if (r < 0)
                        return sd_bus_error_setf(error, GUNYAH_ERROR_INVALID_SPEC,
                                                 "Cannot build the devicetree of VM '%s': %s", vm->name,
                                                 errbuf[0] ? errbuf : strerror(-r));
                dtb = boot->dtb;
                size = boot->dtb_size;
        }

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
        SD_BUS_PROPERTY("Name", "s", property_get_string_ptr, offsetof(Vm, name), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("UUID", "s", property_get_uuid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StateReason", "s", property_get_state_reason, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExitInfo", "a{sv}", property_get_exit_info, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VCPUs", "u", property_get_vcpus, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MemorySize", "t", property_get_memory_size, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Autostart", "b", property_get_autostart, property_set_autostart, 0,
                                 SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE | SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_PROPERTY("Persistent", "b", property_get_persistent, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Spec", "s", property_get_string_ptr, offsetof(Vm, spec_json),
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
        SD_BUS_METHOD("Start", NULL, NULL, method_start, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_ARGS("t", timeout_usec), SD_BUS_NO_RESULT, method_stop,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Kill", NULL, NULL, method_kill, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Destroy", NULL, NULL, method_destroy, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("OpenConsole", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", fd), method_open_console,
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
        char *names[8];
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
        emit(vm, "State", "StateReason", "ExitInfo", "StartedTimestamp", "StoppedTimestamp", "WorkerPIDs", NULL);
}

void bus_vm_emit_spec_changed(Vm *vm) {
        emit(vm, "Autostart", "Spec", "Persistent", NULL);
}

void bus_vm_emit_restart_changed(Vm *vm) {
        emit(vm, "CrashRestartCount", NULL);
}

void bus_vm_emit_workers_changed(Vm *vm) {
        emit(vm, "WorkerPIDs", NULL);
}
