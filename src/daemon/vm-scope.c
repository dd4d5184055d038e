/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "macro.h"
#include "manager.h"
#include "vm-machine.h"
#include "vm-scope.h"
#include "vm.h"

#define SYSTEMD_SERVICE "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define VM_SCOPE_SLICE "machine.slice"

struct VmScope {
        sd_bus *bus;
        char *vm_name;
        char *unit;
        char uuid[37];
        pid_t leader;
        sd_bus_slot *job_removed; /* until systemd has run the start job */
        sd_bus_slot *start_call;
        sd_bus_slot *register_call;
        bool machine_asked;
};

int vm_scope_unit_name(const char *vm_name, char **ret) {
        static const char hex[] = "0123456789abcdef";
        _cleanup_free_ char *unit = NULL;
        char *p;

        /* each byte at most 4 characters (\xHH) */
        unit = malloc(strlen("gunyah-vm-") + 4 * strlen(vm_name) + strlen(".scope") + 1);
        if (!unit)
                return -ENOMEM;
        p = stpcpy(unit, "gunyah-vm-");
        for (const char *c = vm_name; *c; c++) {
                bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                             *c == ':' || *c == '_' || (*c == '.' && c != vm_name);
                if (plain)
                        *p++ = *c;
                else {
                        *p++ = '\\';
                        *p++ = 'x';
                        *p++ = hex[(unsigned char) *c >> 4];
                        *p++ = hex[(unsigned char) *c & 15];
                }
        }
        strcpy(p, ".scope");
        *ret = TAKE_PTR(unit);
        return 0;
}

/* Once the scope holds the processes: machined derives the machine's unit
 * from the leader's cgroup, so registering earlier would name gunyahd's. */
static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        VmScope *s = userdata;
        const char *job, *unit, *result;
        uint32_t id;
        int r;

        r = sd_bus_message_read(m, "uoss", &id, &job, &unit, &result);
        if (r < 0 || !streq(unit, s->unit))
                return 0;
        s->job_removed = sd_bus_slot_unref(s->job_removed);
        if (!streq(result, "done")) {
                log_vm_warning(s->vm_name, "systemd could not start %s (job %s); its processes stay in gunyahd's cgroup",
                               s->unit, result);
                return 0;
        }
        log_vm_debug(s->vm_name, "processes in %s (%s)", s->unit, VM_SCOPE_SLICE);
        s->machine_asked = vm_machine_register(s->bus, s->vm_name, s->uuid, s->leader, &s->register_call) >= 0;
        return 0;
}

static int on_started(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        VmScope *s = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        s->start_call = sd_bus_slot_unref(s->start_call);
        if (e) {
                log_vm_warning(s->vm_name, "StartTransientUnit(%s) failed: %s; its processes stay in gunyahd's cgroup",
                               s->unit, e->message ?: e->name);
                s->job_removed = sd_bus_slot_unref(s->job_removed);
        }
        return 0;
}

static int append_properties(sd_bus_message *m, const Vm *vm, const pid_t *pids, size_t n_pids) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)", "Description", "s", "Gunyah VM", "Slice", "s",
                                          VM_SCOPE_SLICE, "Delegate", "b", 0, "CollectMode", "s",
                                          "inactive-or-failed");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'r', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "PIDs");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "au");
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'u', pids, n_pids * sizeof(pid_t));
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0 && vm->spec->resources.cpu_weight)
                r = sd_bus_message_append(m, "(sv)", "CPUWeight", "t", (uint64_t) vm->spec->resources.cpu_weight);
        if (r >= 0 && vm->spec->resources.memory_max)
                r = sd_bus_message_append(m, "(sv)", "MemoryMax", "t", vm->spec->resources.memory_max);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static int start_unit(VmScope *s, const Vm *vm, const pid_t *pids, size_t n_pids) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        /* Subscribed before the call, by unit name: the job may end before its path is known. */
        r = sd_bus_match_signal_async(s->bus, &s->job_removed, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                      "JobRemoved", on_job_removed, NULL, s);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_call(s->bus, &m, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", s->unit, "fail");
        if (r >= 0)
                r = append_properties(m, vm, pids, n_pids);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r >= 0)
                r = sd_bus_call_async(s->bus, &s->start_call, m, on_started, s, 0);
        return r;
}

static int system_bus(Manager *m, sd_bus **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        if (!m->system_bus) {
                r = sd_bus_open_system(&bus);
                if (r >= 0)
                        r = sd_bus_attach_event(bus, m->event, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0)
                        return r;
                m->system_bus = TAKE_PTR(bus);
        }
        *ret = m->system_bus;
        return 0;
}

int vm_scope_new(Vm *vm, const pid_t *pids, size_t n_pids, VmScope **ret) {
        _cleanup_(vm_scope_freep) VmScope *s = NULL;
        sd_bus *bus;
        int r;

        *ret = NULL;
        if (sd_booted() <= 0 || n_pids == 0) {
                log_vm_debug(vm->name, "systemd is not PID 1: no scope unit, no machined; its processes stay "
                                       "children of gunyahd");
                return 0;
        }
        r = system_bus(vm->manager, &bus);
        if (r < 0) {
                log_vm_warning_errno(vm->name, r, "no scope unit: cannot connect to the system bus: %m");
                return 0;
        }

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->bus = sd_bus_ref(bus);
        s->leader = pids[0];
        memcpy(s->uuid, vm->uuid, sizeof(s->uuid));
        s->vm_name = strdup(vm->name);
        if (!s->vm_name || vm_scope_unit_name(vm->name, &s->unit) < 0)
                return -ENOMEM;
        r = start_unit(s, vm, pids, n_pids);
        if (r < 0) {
                log_vm_warning_errno(vm->name, r, "no scope unit: StartTransientUnit(%s): %m", s->unit);
                return 0;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int vm_scope_adopt(Vm *vm, VmScope **ret) {
        _cleanup_(vm_scope_freep) VmScope *s = NULL;
        sd_bus *bus;
        int r;

        *ret = NULL;
        if (sd_booted() <= 0)
                return 0;
        r = system_bus(vm->manager, &bus);
        if (r < 0) {
                log_vm_warning_errno(vm->name, r, "cannot connect to the system bus: its scope and machine stay "
                                                  "when it ends, until systemd finds them empty: %m");
                return 0;
        }
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->bus = sd_bus_ref(bus);
        memcpy(s->uuid, vm->uuid, sizeof(s->uuid));
        s->vm_name = strdup(vm->name);
        if (!s->vm_name || vm_scope_unit_name(vm->name, &s->unit) < 0)
                return -ENOMEM;
        /* Registered by the daemon that started it; unregistering what is not is harmless. */
        s->machine_asked = true;
        *ret = TAKE_PTR(s);
        return 0;
}

static VmScope *scope_free(VmScope *s, bool end) {
        if (!s)
                return NULL;
        sd_bus_slot_unref(s->job_removed);
        sd_bus_slot_unref(s->start_call);
        sd_bus_slot_unref(s->register_call);
        if (end && s->machine_asked)
                vm_machine_unregister(s->bus, s->vm_name);
        /* Empty by now and about to vanish; a process that escaped the kill goes with it. */
        if (end && s->unit)
                (void) sd_bus_call_method_async(s->bus, NULL, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                                "StopUnit", NULL, NULL, "ss", s->unit, "fail");
        sd_bus_unref(s->bus);
        free(s->vm_name);
        free(s->unit);
        free(s);
        return NULL;
}

VmScope *vm_scope_free(VmScope *s) {
        return scope_free(s, true);
}

VmScope *vm_scope_release(VmScope *s) {
        return scope_free(s, false);
}
