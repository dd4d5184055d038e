/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * gunyahctl's varlink client (--varlink): io.gunyah.Manager on gunyahd's Unix
 * socket, NUL-terminated JSON messages. Calls are synchronous; a streaming
 * call (SubscribeEvents) is attached to an sd-event loop once its first reply
 * has been read, so the subscription is known to be active before the verb
 * changes anything.
 *
 * The VM objects varlink returns are turned into the model the D-Bus path
 * builds (ctl-json.h: org.gunyah.VM1 property names, D-Bus ExitInfo keys), so
 * both transports feed the same printers and print the same output.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#define CTL_VARLINK_INTERFACE "io.gunyah.Manager"
#define CTL_VARLINK_DEFAULT_PATH "/run/gunyahd/" CTL_VARLINK_INTERFACE

typedef struct CtlVarlink CtlVarlink;

/* Connects to --varlink's socket. On failure prints why, prefixed with
 * "gunyahctl: what: ", and returns CTL_EXIT_UNREACHABLE as a negative number. */
int ctl_varlink_connect(const char *what, CtlVarlink **ret);
CtlVarlink *ctl_varlink_free(CtlVarlink *v);
static inline void ctl_varlink_freep(CtlVarlink **v) {
        if (*v)
                ctl_varlink_free(*v);
}

/* Calls io.gunyah.Manager.<method> with parameters (taken; NULL: none) and
 * reads the first reply. Returns < 0 when the connection failed; otherwise
 * *ret_reply is the whole reply message, which may carry an "error". */
int ctl_varlink_call(CtlVarlink *v, const char *method, json_object *parameters, bool more,
                     json_object **ret_reply);

/* {"name": name}, the parameters of every by-name method; NULL when out of
 * memory (the daemon then refuses the call for its missing name). */
json_object *ctl_varlink_name_parameters(const char *name);

/* Like ctl_varlink_call(), but an error reply is reported (ctl_varlink_report)
 * and turned into its exit code as a negative number; on success
 * *ret_parameters holds the reply's parameters ({} when it had none). */
int ctl_varlink_call_checked(CtlVarlink *v, const char *what, const char *method, json_object *parameters,
                             bool more, json_object **ret_parameters);

/* Prints a failed call the way ctl_bus_report() prints D-Bus errors ("gunyahctl:
 * what: NoSuchVM: No VM named 'x'.") and returns the exit code: the same codes
 * the D-Bus errors map to; CTL_EXIT_UNREACHABLE when the connection broke. r is
 * the call's return value; reply its reply (used when r >= 0). */
int ctl_varlink_report(const char *what, json_object *reply, int r);

/* Replies of a streaming call after the first, in order; reply is NULL and
 * r < 0 when the connection ended (-ECONNRESET: the daemon hung up). */
typedef void (*CtlVarlinkStreamHandler)(CtlVarlink *v, json_object *reply, int r, void *userdata);
/* Feeds later replies on v to handler from event's loop, starting with any
 * already read along with the first. */
int ctl_varlink_attach(CtlVarlink *v, sd_event *event, CtlVarlinkStreamHandler handler, void *userdata);

/* ---- the D-Bus model ---- */

/* A varlink VM object as the properties GetAll returns for org.gunyah.VM1. */
int ctl_varlink_vm_to_properties(json_object *vm, json_object **ret);
/* A varlink ExitInfo as the D-Bus ExitInfo dictionary (NULL: {}). */
int ctl_varlink_exit_info_to_dbus(json_object *info, json_object **ret);
/* A varlink VM object as a ListVMs entry: name, state, reason, path. */
int ctl_varlink_vm_to_list_entry(json_object *vm, json_object **ret);
