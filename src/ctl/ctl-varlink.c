/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "json-util.h"
#include "bus-errors.h"
#include "ctl-json.h"
#include "ctl-varlink.h"
#include "gunyahctl.h"
#include "macro.h"

/* A reply may carry every VM with its spec (each up to 1 MiB); past this the
 * peer is not gunyahd, or is broken. */
#define REPLY_MAX (64 * 1024 * 1024)

struct CtlVarlink {
        int fd;
        char *buf; /* bytes read, not yet parsed */
        size_t n, allocated;
        sd_event_source *io, *defer;
        CtlVarlinkStreamHandler handler;
        void *userdata;
};

int ctl_varlink_connect(const char *what, CtlVarlink **ret) {
        _cleanup_(ctl_varlink_freep) CtlVarlink *v = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *path = ctl_args.varlink_path;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "gunyahctl: %s: varlink socket path too long: %s\n", what, path);
                return -CTL_EXIT_UNREACHABLE;
        }
        strcpy(sa.sun_path, path);
        v = calloc(1, sizeof(*v));
        if (!v)
                return -CTL_EXIT_FAILURE;
        v->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (v->fd < 0 || connect(v->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                fprintf(stderr, "gunyahctl: %s: gunyahd is not reachable: cannot connect to %s: %s\n", what, path,
                        strerror(errno));
                return -CTL_EXIT_UNREACHABLE;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

CtlVarlink *ctl_varlink_free(CtlVarlink *v) {
        if (!v)
                return NULL;
        sd_event_source_disable_unref(v->io);
        sd_event_source_disable_unref(v->defer);
        safe_close(v->fd);
        free(v->buf);
        free(v);
        return NULL;
}

static int send_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Takes the first complete message out of the buffer: 1 and the message, or
 * 0 when none is complete yet. */
static int take_message(CtlVarlink *v, json_object **ret) {
        char *nul = v->n > 0 ? memchr(v->buf, 0, v->n) : NULL;
        json_object *msg;

        if (!nul)
                return 0;
        size_t len = (size_t) (nul - v->buf);
        msg = json_tokener_parse(v->buf);
        memmove(v->buf, nul + 1, v->n - len - 1);
        v->n -= len + 1;
        if (!msg || !json_object_is_type(msg, json_type_object)) {
                json_object_put(msg);
                return -EBADMSG;
        }
        *ret = msg;
        return 1;
}

/* One read into the buffer; -ECONNRESET at end of file. */
static int read_some(CtlVarlink *v) {
        ssize_t k;

        if (v->allocated - v->n < 4096) {
                size_t size = MAX(v->allocated * 2, (size_t) 65536);
                if (size > REPLY_MAX)
                        return -EMSGSIZE;
                char *p = realloc(v->buf, size);
                if (!p)
                        return -ENOMEM;
                v->buf = p;
                v->allocated = size;
        }
        do
                k = recv(v->fd, v->buf + v->n, v->allocated - v->n, 0);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return -errno;
        if (k == 0)
                return -ECONNRESET;
        v->n += (size_t) k;
        return 0;
}

static int read_message(CtlVarlink *v, json_object **ret) {
        int r;

        while ((r = take_message(v, ret)) == 0) {
                r = read_some(v);
                if (r < 0)
                        return r;
        }
        return r < 0 ? r : 0;
}

json_object *ctl_varlink_name_parameters(const char *name) {
        json_object *p = json_object_new_object(), *s = json_object_new_string(name);

        if (!p || !s || json_object_object_add(p, "name", s) < 0) {
                json_object_put(s);
                json_object_put(p);
                return NULL;
        }
        return p;
}

int ctl_varlink_call(CtlVarlink *v, const char *method, json_object *parameters, bool more,
                     json_object **ret_reply) {
        _cleanup_(json_object_putp) json_object *msg = json_object_new_object(), *params = parameters;
        _cleanup_free_ char *name = NULL;
        int r;

        if (!msg || asprintf(&name, CTL_VARLINK_INTERFACE ".%s", method) < 0)
                return -ENOMEM;
        if (json_object_object_add(msg, "method", json_object_new_string(name)) < 0 ||
            (params && json_object_object_add(msg, "parameters", TAKE_PTR(params)) < 0) ||
            (more && json_object_object_add(msg, "more", json_object_new_boolean(true)) < 0))
                return -ENOMEM;
        const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
        r = send_all(v->fd, text, strlen(text) + 1); /* the NUL ends the message */
        if (r < 0)
                return r;
        return read_message(v, ret_reply);
}

int ctl_varlink_report(const char *what, json_object *reply, int r) {
        json_object *params = NULL;
        const char *error, *message;

        if (r < 0) {
                bool unreachable = IN_SET(-r, ECONNRESET, ENOTCONN, ECONNREFUSED, EPIPE, ENOENT);
                fprintf(stderr, "gunyahctl: %s: %s%s\n", what, unreachable ? "gunyahd is not reachable: " : "",
                        strerror(-r));
                return unreachable ? CTL_EXIT_UNREACHABLE : CTL_EXIT_FAILURE;
        }
        error = ctl_json_string(reply, "error");
        if (!error) {
                fprintf(stderr, "gunyahctl: %s: bad reply from gunyahd\n", what);
                return CTL_EXIT_FAILURE;
        }
        (void) json_object_object_get_ex(reply, "parameters", &params);
        const char *dot = strrchr(error, '.');
        message = ctl_json_string(params, "message");
        if (message)
                fprintf(stderr, "gunyahctl: %s: %s: %s\n", what, dot ? dot + 1 : error, message);
        else if (ctl_json_string(params, "parameter"))
                fprintf(stderr, "gunyahctl: %s: %s: invalid parameter '%s'.\n", what, dot ? dot + 1 : error,
                        ctl_json_string(params, "parameter"));
        else
                fprintf(stderr, "gunyahctl: %s: %s: %s\n", what, dot ? dot + 1 : error,
                        params ? json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN) : "(no message)");
        /* As on D-Bus: every error gunyahd answers with is a failure of the
         * operation, PermissionDenied included (D-Bus: AccessDenied). */
        return CTL_EXIT_FAILURE;
}

int ctl_varlink_call_checked(CtlVarlink *v, const char *what, const char *method, json_object *parameters,
                             bool more, json_object **ret_parameters) {
        _cleanup_(json_object_putp) json_object *reply = NULL;
        json_object *params;
        int r;

        r = ctl_varlink_call(v, method, parameters, more, &reply);
        if (r < 0 || json_object_object_get_ex(reply, "error", NULL))
                return -ctl_varlink_report(what, reply, r);
        if (json_object_object_get_ex(reply, "parameters", &params) && json_object_is_type(params, json_type_object))
                *ret_parameters = json_object_get(params);
        else if (!(*ret_parameters = json_object_new_object()))
                return -CTL_EXIT_FAILURE;
        return 0;
}

/* ---- streams ---- */

/* Hands every complete buffered reply to the handler. */
static void dispatch_buffered(CtlVarlink *v) {
        json_object *msg;
        int r;

        while (v->handler && (r = take_message(v, &msg)) != 0) {
                if (r < 0) {
                        v->handler(v, NULL, r, v->userdata);
                        return;
                }
                v->handler(v, msg, 0, v->userdata);
                json_object_put(msg);
        }
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CtlVarlink *v = userdata;
        int r;

        r = read_some(v);
        if (r < 0) {
                /* Ended: stop listening, or a closed socket keeps the loop spinning. */
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                if (v->handler)
                        v->handler(v, NULL, r, v->userdata);
                return 0;
        }
        dispatch_buffered(v);
        return 0;
}

static int on_defer(sd_event_source *s, void *userdata) {
        dispatch_buffered(userdata);
        return 0;
}

int ctl_varlink_attach(CtlVarlink *v, sd_event *event, CtlVarlinkStreamHandler handler, void *userdata) {
        int r;

        v->handler = handler;
        v->userdata = userdata;
        r = sd_event_add_io(event, &v->io, v->fd, EPOLLIN, on_io, v);
        if (r < 0)
                return r;
        /* Replies read together with the first one wake no epoll: look at them
         * on the first iteration. */
        r = sd_event_add_defer(event, &v->defer, on_defer, v);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(v->defer, SD_EVENT_ONESHOT);
}

/* ---- the D-Bus model ---- */

typedef struct KeyMap {
        const char *varlink, *dbus;
} KeyMap;

/* In the order the daemon appends them on D-Bus (bus-vm.c), which json-c keeps. */
static const KeyMap exit_info_keys[] = {
        { "status", "status" },
        { "exitType", "exit_type" },
        { "exitTypeName", "exit_type_name" },
        { "reasonSize", "reason_size" },
        { "vcpu", "vcpu" },
        { "timestamp", "timestamp" },
        { "reason", "reason" },
        { "signal", "signal" },
        { "exitCode", "exit_code" },
        { "errno", "errno" },
        { "errnoName", "errno_name" },
        { "step", "step" },
        { "faultAddress", "fault_address" },
};

/* The org.gunyah.VM1 properties in their vtable order (GetAll's order). */
static const KeyMap vm_keys[] = {
        { "name", "Name" },
        { "uuid", "UUID" },
        { "state", "State" },
        { "stateReason", "StateReason" },
        { "exitInfo", "ExitInfo" },
        { "vcpus", "VCPUs" },
        { "memorySize", "MemorySize" },
        { "autostart", "Autostart" },
        { "persistent", "Persistent" },
        { "spec", "Spec" },
        { "workerPIDs", "WorkerPIDs" },
        { "crashRestartCount", "CrashRestartCount" },
        { "crashRestartLimit", "CrashRestartLimit" },
        { "crashRestartBackoffUSec", "CrashRestartBackoffUSec" },
        { "createdTimestamp", "CreatedTimestamp" },
        { "startedTimestamp", "StartedTimestamp" },
        { "stoppedTimestamp", "StoppedTimestamp" },
        { "disks", "Disks" },
        { "vsockCid", "VsockCid" },
        { "vsockPath", "VsockPath" },
        { "rng", "Rng" },
};

int ctl_varlink_exit_info_to_dbus(json_object *info, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *v;

        if (!o)
                return -ENOMEM;
        for (size_t i = 0; info && i < ELEMENTSOF(exit_info_keys); i++)
                if (json_object_object_get_ex(info, exit_info_keys[i].varlink, &v) &&
                    json_add(o, exit_info_keys[i].dbus, json_object_get(v)) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int ctl_varlink_vm_to_properties(json_object *vm, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *v, *info;
        int r;

        if (!o)
                return -ENOMEM;
        if (!json_object_is_type(vm, json_type_object))
                return -EBADMSG;
        for (size_t i = 0; i < ELEMENTSOF(vm_keys); i++) {
                bool present = json_object_object_get_ex(vm, vm_keys[i].varlink, &v) &&
                               !json_object_is_type(v, json_type_null);
                if (streq(vm_keys[i].varlink, "exitInfo")) {
                        /* D-Bus has an empty dictionary where varlink leaves the field out. */
                        r = ctl_varlink_exit_info_to_dbus(present ? v : NULL, &info);
                        if (r < 0 || (r = json_add(o, "ExitInfo", info)) < 0)
                                return r;
                } else if (present && json_add(o, vm_keys[i].dbus, json_object_get(v)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int ctl_varlink_vm_to_list_entry(json_object *vm, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        _cleanup_free_ char *path = NULL;
        const char *name = ctl_json_string(vm, "name");
        int r = 0;

        if (!o)
                return -ENOMEM;
        if (!name)
                return -EBADMSG;
        /* The object path D-Bus would list; varlink has no objects, the name is the key. */
        if (sd_bus_path_encode(GUNYAH_VM_PATH_PREFIX, name, &path) < 0)
                return -ENOMEM;
        r |= json_add(o, "name", json_object_new_string(name));
        r |= json_add(o, "state", json_object_new_string(ctl_json_string(vm, "state") ?: ""));
        r |= json_add(o, "reason", json_object_new_string(ctl_json_string(vm, "stateReason") ?: ""));
        r |= json_add(o, "path", json_object_new_string(path));
        if (r < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}
