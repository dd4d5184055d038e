/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The varlink transport (design §8): NUL-terminated JSON messages on a Unix
 * stream socket, driven by sd-event. It knows the message framing, the
 * resource bounds and the peer's credentials; what a method does is the
 * handler's business (varlink.c).
 *
 *   call:   {"method": "iface.Method", "parameters": {...}, "more": b, "oneway": b}
 *   reply:  {"parameters": {...}}                      final
 *           {"parameters": {...}, "continues": true}   one of a stream ("more")
 *           {"error": "iface.Name", "parameters": {...}}
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

/* A message may be this long, NUL included; the input buffer never grows
 * past it (a VM spec may be 1 MiB, plus room for the JSON around it). */
#define VARLINK_MESSAGE_MAX (1024 * 1024 + 64 * 1024)
/* Replies queued for a client that does not read; past this, it is dropped. */
#define VARLINK_OUTPUT_MAX (4 * 1024 * 1024)
#define VARLINK_CONNECTIONS_MAX 128

typedef struct VarlinkServer VarlinkServer;
typedef struct VarlinkConnection VarlinkConnection;

/* Called once per method call. It answers with varlink_reply(),
 * varlink_error() or, for a stream, varlink_notify() and
 * varlink_connection_stream(). A negative return closes the connection. */
typedef int (*VarlinkMethodHandler)(VarlinkConnection *c, const char *method, json_object *parameters,
                                    void *userdata);
/* Called when a streaming connection goes away, before it is freed. */
typedef void (*VarlinkCloseHandler)(VarlinkConnection *c, void *userdata);

/* One call as a client sent it: untrusted bytes, checked here and nowhere
 * else before a handler sees them. */
typedef struct VarlinkCall {
        json_object *message;    /* owns what method and parameters point into */
        const char *method;
        json_object *parameters; /* NULL when absent or null */
        bool more, oneway;
} VarlinkCall;

/* Why a message was refused: the error the transport answers with before
 * it hangs up (static strings). */
typedef struct VarlinkCallError {
        const char *error;
        const char *parameter; /* the offending field, or NULL */
        const char *message;
} VarlinkCallError;

/* Parses one message, its terminating NUL excluded. Returns 0 and fills *ret
 * (release it with varlink_call_done()), or fills *ret_error and returns
 * -EMSGSIZE (longer than VARLINK_MESSAGE_MAX), -EBADMSG (not a JSON object)
 * or -EINVAL (a field of the wrong type). */
int varlink_call_parse(const char *text, size_t size, VarlinkCall *ret, VarlinkCallError *ret_error);
void varlink_call_done(VarlinkCall *call);

int varlink_server_new(sd_event *event, const char *path, mode_t mode, VarlinkMethodHandler handler,
                       void *userdata, VarlinkServer **ret);
/* Closes every connection and removes the socket file. */
VarlinkServer *varlink_server_free(VarlinkServer *s);

const struct ucred *varlink_connection_peer(VarlinkConnection *c);
bool varlink_connection_more(VarlinkConnection *c); /* the current call asked for "more" */

/* The three reply kinds; each takes ownership of parameters (NULL = {}).
 * A oneway call gets no reply: they then just free parameters. */
int varlink_reply(VarlinkConnection *c, json_object *parameters);
int varlink_notify(VarlinkConnection *c, json_object *parameters);
int varlink_error(VarlinkConnection *c, const char *error, json_object *parameters);
int varlink_error_invalid_parameter(VarlinkConnection *c, const char *parameter);

/* Turns the connection into a stream of varlink_notify() replies that lasts
 * until the client goes away; on_close is then called once. Later calls on
 * it are discarded (the stream never ends, so they would never be served). */
void varlink_connection_stream(VarlinkConnection *c, VarlinkCloseHandler on_close, void *userdata);
/* True once the connection is being torn down: write nothing more to it. */
bool varlink_connection_is_closed(VarlinkConnection *c);
