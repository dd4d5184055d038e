/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "bus-error.h"
#include "bus-errors.h"
#include "bus-manager.h"
#include "bus-polkit.h"
#include "bus-vm.h"
#include "config.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "vm.h"

static int method_create_vm(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        VmError e = VM_ERROR_NULL;
        const char *spec;
        uint64_t flags;
        Vm *vm;
        int r;

        r = sd_bus_message_read(msg, "st", &spec, &flags);
        if (r < 0)
                return r;
        r = bus_verify_manage(m, msg, NULL, "create", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = manager_create_vm(m, spec, flags, &vm, &e);
        if (r < 0)
                return bus_error_from_vm_error(error, &e, r);
        return sd_bus_reply_method_return(msg, "o", vm->object_path);
}

static int method_get_vm(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        VmError e = VM_ERROR_NULL;
        const char *name;
        Vm *vm;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r < 0)
                return r;
        r = manager_lookup_vm(userdata, name, &vm, &e);
        if (r < 0)
                return bus_error_from_vm_error(error, &e, r);
        return sd_bus_reply_method_return(msg, "o", vm->object_path);
}

static int method_list_vms(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ Vm **vms = NULL;
        size_t n;
        int r;

        r = manager_list_vms(userdata, &vms, &n);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssso)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *reason = vm_state_reason_string(vms[i]);
                if (!reason)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "(ssso)", vms[i]->name, vm_state_to_string(vms[i]->state), reason,
                                          vms[i]->object_path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* StartVM, StopVM, KillVM, DestroyVM: the VM1 methods by name. */
static int by_name(sd_bus_message *msg, Manager *m, VmVerb verb, sd_bus_error *error) {
        VmError e = VM_ERROR_NULL;
        const char *name;
        uint64_t timeout = 0;
        Vm *vm;
        int r;

        r = sd_bus_message_read(msg, "s", &name);
        if (r >= 0 && verb == VM_VERB_STOP)
                r = sd_bus_message_read(msg, "t", &timeout);
        if (r < 0)
                return r;
        r = manager_lookup_vm(m, name, &vm, &e);
        if (r < 0)
                return bus_error_from_vm_error(error, &e, r);
        return bus_vm_apply_verb(msg, vm, verb, timeout, error);
}

static int method_start_vm(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return by_name(msg, userdata, VM_VERB_START, error);
}
static int method_stop_vm(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return by_name(msg, userdata, VM_VERB_STOP, error);
}
static int method_kill_vm(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return by_name(msg, userdata, VM_VERB_KILL, error);
}
static int method_destroy_vm(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return by_name(msg, userdata, VM_VERB_DESTROY, error);
}

static int property_get_backend(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        return sd_bus_message_append(reply, "s", m->ops->name);
}

static int property_get_abi(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", manager_abi_string(userdata));
}

static int property_get_features(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;
        r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "ss", "console", "persistence");
        if (r >= 0 && m->ops->abi(m->backend) == HV_ABI_U17)
                r = sd_bus_message_append(reply, "s", "boot-context");
        if (r >= 0 && m->no_sandbox)
                r = sd_bus_message_append(reply, "s", "no-sandbox");
        if (r < 0)
                return r;
        return sd_bus_message_close_container(reply);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Backend", "s", property_get_backend, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ABI", "s", property_get_abi, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Features", "as", property_get_features, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("CreateVM", SD_BUS_ARGS("s", spec, "t", flags), SD_BUS_RESULT("o", vm),
                                method_create_vm, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetVM", SD_BUS_ARGS("s", name), SD_BUS_RESULT("o", vm), method_get_vm,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListVMs", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssso)", vms), method_list_vms,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StartVM", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT, method_start_vm,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopVM", SD_BUS_ARGS("s", name, "t", timeout_usec), SD_BUS_NO_RESULT,
                                method_stop_vm, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("KillVM", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT, method_kill_vm,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DestroyVM", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT, method_destroy_vm,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int bus_manager_register(Manager *m) {
        int r;

        r = sd_bus_add_object_vtable(m->bus, NULL, GUNYAH_MANAGER_PATH, GUNYAH_MANAGER_INTERFACE, manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register %s: %m", GUNYAH_MANAGER_INTERFACE);
        r = sd_bus_add_object_manager(m->bus, NULL, GUNYAH_MANAGER_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to register the object manager: %m");
        return bus_vm_register(m);
}
