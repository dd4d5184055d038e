/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json-cleanup.h"
#include "json-util.h"
#include "bus-errors.h" /* CreateVM flags */
#include "config.h"
#include "id-util.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "varlink-server.h"
#include "varlink.h"
#include "vm-vsock.h"
#include "vm-spec.h"
#include "vm.h"

#define IFACE "io.gunyah.Manager"
#define SERVICE "org.varlink.service"
#define STOP_TIMEOUT_DEFAULT_USEC (30 * UINT64_C(1000000))

/* Every model error kind and the varlink error clients see, in one table;
 * an unset error or a system error is Failed. */
static const char *const varlink_error_names[_VM_ERROR_KIND_MAX] = {
        [VM_ERROR_NO_SUCH_VM] = IFACE ".NoSuchVM",
        [VM_ERROR_VM_EXISTS] = IFACE ".VMExists",
        [VM_ERROR_INVALID_SPEC] = IFACE ".InvalidSpec",
        [VM_ERROR_INVALID_STATE] = IFACE ".InvalidState",
        [VM_ERROR_START_FAILED] = IFACE ".StartFailed",
        [VM_ERROR_READ_ONLY] = IFACE ".ReadOnlyDefinition",
        [VM_ERROR_NOT_SUPPORTED] = IFACE ".NotSupported",
};

/* json-c reports allocation failures as NULL; this keeps building an object
 * one readable line per field. */
static int error_with_message(VarlinkConnection *c, const char *error, const char *message) {
        json_object *p = json_object_new_object();

        if (!p || json_add(p, "message", json_object_new_string(message ?: "")) < 0) {
                json_object_put(p);
                return log_oom();
        }
        return varlink_error(c, error, p);
}

/* Answers with the varlink form of an error the model set: an invalid
 * argument is InvalidParameter naming it (or `parameter`, the argument the
 * call concerns); NoSuchVM also names the VM. */
static int reply_vm_error(VarlinkConnection *c, const VmError *e, int r, const char *parameter) {
        json_object *p;

        if (!vm_error_is_set(e))
                return error_with_message(c, IFACE ".Failed", strerror(-r));
        if (e->kind == VM_ERROR_INVALID_ARGUMENT)
                return varlink_error_invalid_parameter(c, parameter ?: e->parameter);
        if (e->kind != VM_ERROR_NO_SUCH_VM)
                return error_with_message(c, varlink_error_names[e->kind] ?: IFACE ".Failed", e->message);
        p = json_object_new_object();
        if (!p || json_add(p, "name", json_object_new_string(e->vm)) < 0 ||
            json_add(p, "message", json_object_new_string(e->message)) < 0) {
                json_object_put(p);
                return log_oom();
        }
        return varlink_error(c, IFACE ".NoSuchVM", p);
}

static json_object *disks_to_json(const VmSpec *spec) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();

        for (uint32_t i = 0; a && i < spec->n_disks; i++) {
                json_object *d = json_object_new_object();
                int r = 0;

                if (!d || json_object_array_add(a, d) < 0) {
                        json_object_put(d);
                        return NULL;
                }
                r |= json_add(d, "path", json_object_new_string(spec->disks[i].path));
                r |= json_add(d, "readonly", json_object_new_boolean(spec->disks[i].readonly));
                r |= json_add(d, "serial", json_object_new_string(spec->disks[i].serial));
                if (r < 0)
                        return NULL;
        }
        return TAKE_PTR(a);
}

static json_object *exit_info_to_json(const VmExitInfo *e) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *reason = json_object_new_array();
        int r = 0;

        if (!o || !reason)
                return NULL;
        for (uint32_t i = 0; i < MIN(e->reason_size, (uint32_t) sizeof(e->reason)); i++)
                if (json_object_array_add(reason, json_object_new_int(e->reason[i])) < 0)
                        return NULL;
        r |= json_add(o, "status", json_object_new_int64(e->status));
        r |= json_add(o, "exitType", json_object_new_int(e->exit_type));
        r |= json_add(o, "exitTypeName", json_object_new_string(vm_exit_info_type_name(e)));
        r |= json_add(o, "reasonSize", json_object_new_int64(e->reason_size));
        r |= json_add(o, "reason", TAKE_PTR(reason));
        r |= json_add(o, "vcpu", json_object_new_int(e->vcpu));
        r |= json_add(o, "timestamp", json_object_new_uint64(e->timestamp));
        if (e->signal || e->exit_code) {
                r |= json_add(o, "signal", json_object_new_int(e->signal));
                r |= json_add(o, "exitCode", json_object_new_int(e->exit_code));
        }
        if (e->error) {
                r |= json_add(o, "errno", json_object_new_int(e->error));
                r |= json_add(o, "errnoName", json_object_new_string(errno_to_name(e->error)));
        }
        if (e->step[0])
                r |= json_add(o, "step", json_object_new_string(e->step));
        if (e->fault_addr)
                r |= json_add(o, "faultAddress", json_object_new_uint64(e->fault_addr));
        return r < 0 ? NULL : TAKE_PTR(o);
}

/* Every org.gunyah.VM1 property, under its varlink (camelCase) name. */
static json_object *vm_to_json(const Vm *vm) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *pids = json_object_new_array();
        _cleanup_free_ char *reason = vm_state_reason_string(vm), *vsock_path = vm_vsock_path(vm);
        int r = 0;

        if (!o || !pids || !reason)
                return NULL;
        pid_t pid[VM_VCPUS_MAX];
        size_t n = vm_worker_pids(vm, pid, ELEMENTSOF(pid));
        for (size_t i = 0; i < n; i++)
                if (json_object_array_add(pids, json_object_new_int(pid[i])) < 0)
                        return NULL;
        r |= json_add(o, "name", json_object_new_string(vm->name));
        r |= json_add(o, "uuid", json_object_new_string(vm->uuid));
        r |= json_add(o, "state", json_object_new_string(vm_state_to_string(vm->state)));
        r |= json_add(o, "stateReason", json_object_new_string(reason));
        if (vm->exit_info.valid)
                r |= json_add(o, "exitInfo", exit_info_to_json(&vm->exit_info));
        r |= json_add(o, "vcpus", json_object_new_int64(vm->spec->vcpus));
        r |= json_add(o, "memorySize", json_object_new_uint64(vm->spec->memory.size));
        r |= json_add(o, "autostart", json_object_new_boolean(vm->spec->autostart));
        r |= json_add(o, "persistent", json_object_new_boolean(vm->persistent));
        r |= json_add(o, "spec", json_object_new_string(vm->spec_json ?: ""));
        r |= json_add(o, "workerPIDs", TAKE_PTR(pids));
        r |= json_add(o, "crashRestartCount", json_object_new_int64(vm->crash_restart_count));
        r |= json_add(o, "crashRestartLimit", json_object_new_int64(vm->spec->crash_restart_limit));
        r |= json_add(o, "crashRestartBackoffUSec",
                 json_object_new_uint64((uint64_t) vm->spec->crash_restart_backoff_msec * 1000));
        r |= json_add(o, "createdTimestamp", json_object_new_uint64(vm->created_usec));
        r |= json_add(o, "startedTimestamp", json_object_new_uint64(vm->started_usec));
        r |= json_add(o, "stoppedTimestamp", json_object_new_uint64(vm->stopped_usec));
        r |= json_add(o, "disks", disks_to_json(vm->spec));
        r |= json_add(o, "vsockCid", json_object_new_int64(vm->spec->has_vsock ? vm->spec->vsock.cid : 0));
        r |= json_add(o, "vsockPath", json_object_new_string(vsock_path ?: ""));
        r |= json_add(o, "rng", json_object_new_boolean(vm->spec->rng));
        return r < 0 ? NULL : TAKE_PTR(o);
}

static json_object *vm_list_to_json(Manager *m) {
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();
        _cleanup_free_ Vm **vms = NULL;
        size_t n;

        if (!a || manager_list_vms(m, &vms, &n) < 0)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                json_object *v = vm_to_json(vms[i]);
                if (!v || json_object_array_add(a, v) < 0) {
                        json_object_put(v);
                        return NULL;
                }
        }
        return TAKE_PTR(a);
}

/* ---- parameters ---- */

/* Refuses parameters the method does not know, naming the first one. */
static int check_known(VarlinkConnection *c, json_object *params, const char *const *known) {
        if (!params)
                return 0;
        json_object_object_foreach(params, key, value) {
                bool ok = false;
                for (const char *const *k = known; *k; k++)
                        ok = ok || streq(*k, key);
                if (!ok) {
                        (void) varlink_error_invalid_parameter(c, key);
                        return -EINVAL;
                }
        }
        return 0;
}

/* Returns 1 and the value when present with the right type, 0 when absent
 * (or null) and optional; otherwise answers InvalidParameter, returns -EINVAL. */
static int get_param(VarlinkConnection *c, json_object *params, const char *key, json_type type, bool required,
                     json_object **ret) {
        json_object *v = NULL;

        if (!params || !json_object_object_get_ex(params, key, &v) || json_object_is_type(v, json_type_null)) {
                if (!required)
                        return 0;
                (void) varlink_error_invalid_parameter(c, key);
                return -EINVAL;
        }
        if (!json_object_is_type(v, type)) {
                (void) varlink_error_invalid_parameter(c, key);
                return -EINVAL;
        }
        *ret = v;
        return 1;
}

static int get_bool(VarlinkConnection *c, json_object *params, const char *key, bool *ret) {
        json_object *v;
        int r = get_param(c, params, key, json_type_boolean, false, &v);

        if (r < 0)
                return r;
        *ret = r > 0 && json_object_get_boolean(v);
        return 0;
}

/* Looks up the VM the "name" parameter names, answering the error itself. */
static int get_vm(VarlinkConnection *c, Manager *m, json_object *params, Vm **ret) {
        VmError e = VM_ERROR_NULL;
        json_object *v;
        int r;

        r = get_param(c, params, "name", json_type_string, true, &v);
        if (r < 0)
                return r;
        r = manager_lookup_vm(m, json_object_get_string(v), ret, &e);
        if (r < 0)
                (void) reply_vm_error(c, &e, r, "name");
        return r;
}

/* ---- io.gunyah.Manager ---- */

static int method_create_vm(VarlinkConnection *c, Manager *m, json_object *params) {
        VmError e = VM_ERROR_NULL;
        static const char *const known[] = { "spec", "persist", "start", "transient", NULL };
        bool persist, start, transient;
        json_object *spec, *reply;
        Vm *vm;
        int r;

        if (check_known(c, params, known) < 0 || get_param(c, params, "spec", json_type_string, true, &spec) < 0 ||
            get_bool(c, params, "persist", &persist) < 0 || get_bool(c, params, "start", &start) < 0 ||
            get_bool(c, params, "transient", &transient) < 0)
                return 0;
        if (persist && transient)
                return varlink_error_invalid_parameter(c, "transient");

        r = manager_create_vm(m, json_object_get_string(spec),
                              (persist ? GUNYAH_CREATE_PERSIST : 0) | (transient ? GUNYAH_CREATE_TRANSIENT : 0) |
                                      (start ? GUNYAH_CREATE_START : 0),
                              &vm, &e);
        if (r < 0)
                return reply_vm_error(c, &e, r, "spec");

        reply = json_object_new_object();
        if (!reply || json_add(reply, "name", json_object_new_string(vm->name)) < 0 ||
            json_add(reply, "path", json_object_new_string(vm->object_path)) < 0) {
                json_object_put(reply);
                return log_oom();
        }
        return varlink_reply(c, reply);
}

static int method_get_vm(VarlinkConnection *c, Manager *m, json_object *params) {
        static const char *const known[] = { "name", NULL };
        json_object *reply;
        Vm *vm;

        if (check_known(c, params, known) < 0 || get_vm(c, m, params, &vm) < 0)
                return 0;
        reply = json_object_new_object();
        if (!reply || json_add(reply, "vm", vm_to_json(vm)) < 0) {
                json_object_put(reply);
                return log_oom();
        }
        return varlink_reply(c, reply);
}

static int method_list_vms(VarlinkConnection *c, Manager *m, json_object *params) {
        static const char *const known[] = { NULL };
        json_object *reply;

        if (check_known(c, params, known) < 0)
                return 0;
        reply = json_object_new_object();
        if (!reply || json_add(reply, "vms", vm_list_to_json(m)) < 0) {
                json_object_put(reply);
                return log_oom();
        }
        return varlink_reply(c, reply);
}

static int by_name(VarlinkConnection *c, Manager *m, json_object *params, VmVerb verb) {
        VmError e = VM_ERROR_NULL;
        static const char *const known[] = { "name", NULL };
        static const char *const known_stop[] = { "name", "timeoutUSec", NULL };
        uint64_t timeout = STOP_TIMEOUT_DEFAULT_USEC;
        json_object *t;
        Vm *vm;
        int r;

        if (check_known(c, params, verb == VM_VERB_STOP ? known_stop : known) < 0 || get_vm(c, m, params, &vm) < 0)
                return 0;
        if (verb == VM_VERB_STOP) {
                r = get_param(c, params, "timeoutUSec", json_type_int, false, &t);
                if (r < 0)
                        return 0;
                if (r > 0) {
                        if (json_object_get_int64(t) < 0)
                                return varlink_error_invalid_parameter(c, "timeoutUSec");
                        timeout = json_object_get_uint64(t);
                }
        }

        r = vm_apply_verb(vm, verb, timeout, &e);
        if (r < 0)
                return reply_vm_error(c, &e, r, verb == VM_VERB_STOP ? "timeoutUSec" : "name");
        return varlink_reply(c, NULL);
}

static int method_start_vm(VarlinkConnection *c, Manager *m, json_object *params) {
        return by_name(c, m, params, VM_VERB_START);
}
static int method_stop_vm(VarlinkConnection *c, Manager *m, json_object *params) {
        return by_name(c, m, params, VM_VERB_STOP);
}
static int method_kill_vm(VarlinkConnection *c, Manager *m, json_object *params) {
        return by_name(c, m, params, VM_VERB_KILL);
}
static int method_destroy_vm(VarlinkConnection *c, Manager *m, json_object *params) {
        return by_name(c, m, params, VM_VERB_DESTROY);
}

/* ---- SubscribeEvents ---- */

static void on_vm_event(Manager *m, Vm *vm, const char *event, void *userdata) {
        VarlinkConnection *c = userdata;
        _cleanup_free_ char *reason = NULL;
        json_object *p;
        if (varlink_connection_is_closed(c))
                return; /* unsubscribed once the event loop frees it */
        reason = vm_state_reason_string(vm);
        p = json_object_new_object();
        if (!p || !reason || json_add(p, "event", json_object_new_string(event)) < 0 ||
            json_add(p, "vm", json_object_new_string(vm->name)) < 0 ||
            json_add(p, "state", json_object_new_string(vm_state_to_string(vm->state))) < 0 ||
            json_add(p, "stateReason", json_object_new_string(reason)) < 0 ||
            (streq(event, "state") && IN_SET(vm->state, VM_STATE_STOPPED, VM_STATE_FAILED) &&
             vm->exit_info.valid && json_add(p, "exitInfo", exit_info_to_json(&vm->exit_info)) < 0)) {
                json_object_put(p);
                log_oom();
                return;
        }
        (void) varlink_notify(c, p);
}

static void on_subscriber_close(VarlinkConnection *c, void *userdata) {
        manager_unsubscribe(userdata, on_vm_event, c);
}

static int method_subscribe_events(VarlinkConnection *c, Manager *m, json_object *params) {
        static const char *const known[] = { NULL };
        json_object *p;
        int r;

        if (check_known(c, params, known) < 0)
                return 0;
        if (!varlink_connection_more(c))
                return varlink_error(c, SERVICE ".ExpectedMore", NULL);

        p = json_object_new_object();
        if (!p || json_add(p, "event", json_object_new_string("subscribed")) < 0 ||
            json_add(p, "vms", vm_list_to_json(m)) < 0) {
                json_object_put(p);
                return log_oom();
        }
        r = manager_subscribe(m, on_vm_event, c);
        if (r < 0) {
                json_object_put(p);
                return error_with_message(c, IFACE ".Failed", "Cannot subscribe: out of memory.");
        }
        varlink_connection_stream(c, on_subscriber_close, m);
        return varlink_notify(c, p);
}

/* ---- org.varlink.service ---- */

static int method_get_info(VarlinkConnection *c, Manager *m, json_object *params) {
        static const char *const known[] = { NULL };
        json_object *p, *ifaces;
        if (check_known(c, params, known) < 0)
                return 0;
        p = json_object_new_object();
        ifaces = json_object_new_array();
        if (!p || !ifaces || json_object_array_add(ifaces, json_object_new_string(SERVICE)) < 0 ||
            json_object_array_add(ifaces, json_object_new_string(IFACE)) < 0 || json_add(p, "interfaces", ifaces) < 0) {
                json_object_put(ifaces);
                json_object_put(p);
                return log_oom();
        }
        if (json_add(p, "vendor", json_object_new_string("The gunyahd authors")) < 0 ||
            json_add(p, "product", json_object_new_string("gunyahd")) < 0 ||
            json_add(p, "version", json_object_new_string(PACKAGE_VERSION)) < 0 ||
            json_add(p, "url", json_object_new_string("https://github.com/quic/gunyah-hypervisor")) < 0) {
                json_object_put(p);
                return log_oom();
        }
        return varlink_reply(c, p);
}

static int method_get_interface_description(VarlinkConnection *c, Manager *m, json_object *params) {
        static const char *const known[] = { "interface", NULL };
        const char *iface, *text;
        json_object *v, *p;
        if (check_known(c, params, known) < 0 || get_param(c, params, "interface", json_type_string, true, &v) < 0)
                return 0;
        iface = json_object_get_string(v);
        if (streq(iface, IFACE))
                text = varlink_idl_manager;
        else if (streq(iface, SERVICE))
                text = varlink_idl_service;
        else {
                p = json_object_new_object();
                if (p)
                        (void) json_add(p, "interface", json_object_new_string(iface));
                return varlink_error(c, SERVICE ".InterfaceNotFound", p);
        }
        p = json_object_new_object();
        if (!p || json_add(p, "description", json_object_new_string(text)) < 0) {
                json_object_put(p);
                return log_oom();
        }
        return varlink_reply(c, p);
}

/* ---- dispatch ---- */

static const struct {
        const char *method;
        int (*handler)(VarlinkConnection *c, Manager *m, json_object *params);
        bool changes; /* needs root or the daemon's user */
} methods[] = {
        { SERVICE ".GetInfo", method_get_info, false },
        { SERVICE ".GetInterfaceDescription", method_get_interface_description, false },
        { IFACE ".CreateVM", method_create_vm, true },
        { IFACE ".GetVM", method_get_vm, false },
        { IFACE ".ListVMs", method_list_vms, false },
        { IFACE ".StartVM", method_start_vm, true },
        { IFACE ".StopVM", method_stop_vm, true },
        { IFACE ".KillVM", method_kill_vm, true },
        { IFACE ".DestroyVM", method_destroy_vm, true },
        { IFACE ".SubscribeEvents", method_subscribe_events, false },
};

static int method_not_found(VarlinkConnection *c, const char *method) {
        const char *dot = strrchr(method, '.');
        json_object *p = json_object_new_object();

        if (!p)
                return log_oom();
        if (dot && ((size_t) (dot - method) == strlen(IFACE) && strneq(method, IFACE, strlen(IFACE))))
                goto method;
        if (dot && ((size_t) (dot - method) == strlen(SERVICE) && strneq(method, SERVICE, strlen(SERVICE))))
                goto method;
        if (json_add(p, "interface", json_object_new_string_len(method, dot ? (int) (dot - method) : (int) strlen(method))) < 0)
                return log_oom();
        return varlink_error(c, SERVICE ".InterfaceNotFound", p);
method:
        if (json_add(p, "method", json_object_new_string(method)) < 0)
                return log_oom();
        return varlink_error(c, SERVICE ".MethodNotFound", p);
}

static int on_method(VarlinkConnection *c, const char *method, json_object *params, void *userdata) {
        const struct ucred *peer = varlink_connection_peer(c);
        Manager *m = userdata;

        for (size_t i = 0; i < ELEMENTSOF(methods); i++) {
                if (!streq(methods[i].method, method))
                        continue;
                /* polkit is a D-Bus service; here the socket credentials decide. */
                if (methods[i].changes && peer->uid != 0 && peer->uid != geteuid()) {
                        log_debug("varlink: %s by uid %u refused: read-only caller.", method, peer->uid);
                        return error_with_message(c, IFACE ".PermissionDenied",
                                                  "Only root may change VMs over varlink; use D-Bus (polkit) "
                                                  "or ask an administrator.");
                }
                log_debug("varlink: %s from pid %d uid %u.", method, peer->pid, peer->uid);
                return methods[i].handler(c, m, params);
        }
        return method_not_found(c, method);
}

int varlink_start(Manager *m) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf(&path, "%s/" VARLINK_SOCKET_NAME, m->runtime_dir) < 0)
                return log_oom();
        /* 0666: the reading methods are for every local user; on_method guards the rest. */
        r = varlink_server_new(m->event, path, 0666, on_method, m, &m->varlink);
        if (r < 0)
                return log_error_errno(r, "Failed to serve varlink on %s: %m", path);
        log_debug("varlink: listening on %s.", path);
        return 0;
}

void varlink_stop(Manager *m) {
        m->varlink = varlink_server_free(m->varlink);
}
