/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "json-cleanup.h"
#include "log.h"
#include "macro.h"
#include "varlink-server.h"

struct VarlinkServer {
        sd_event *event;
        int fd;
        char *path;
        sd_event_source *accept_source;
        VarlinkMethodHandler handler;
        void *userdata;
        VarlinkConnection *connections;
        size_t n_connections;
};

struct VarlinkConnection {
        VarlinkServer *server;
        VarlinkConnection *prev, *next;
        int fd;
        struct ucred peer;
        sd_event_source *io;
        sd_event_source *free_source; /* set once the connection is closing */

        char *in;
        size_t in_alloc, in_used;
        char *out;
        size_t out_alloc, out_start, out_end; /* unsent bytes: out[out_start..out_end) */

        bool more, oneway; /* of the call being dispatched */
        bool streaming;
        bool hangup;       /* close once the output queue is empty */
        VarlinkCloseHandler on_close;
        void *on_close_userdata;
};

static void connection_free(VarlinkConnection *c) {
        VarlinkServer *s = c->server;

        if (c->on_close)
                c->on_close(c, c->on_close_userdata);
        if (c->prev)
                c->prev->next = c->next;
        else
                s->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_connections--;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->free_source);
        safe_close(c->fd);
        free(c->in);
        free(c->out);
        free(c);
}

static int on_free_connection(sd_event_source *source, void *userdata) {
        connection_free(userdata);
        return 0;
}

/* Freeing is deferred to the event loop: closing may happen inside a
 * manager_notify_vm_event() walk, whose subscriber list must not change
 * under it. Until then, varlink_connection_is_closed() is true. */
static void connection_close(VarlinkConnection *c, const char *why) {
        int r;

        if (c->free_source)
                return;
        log_debug("varlink: closing connection of pid %d uid %u: %s", c->peer.pid,
                  c->peer.uid, why);
        (void) sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
        (void) shutdown(c->fd, SHUT_RDWR);
        r = sd_event_add_defer(c->server->event, &c->free_source, on_free_connection, c);
        if (r < 0) {
                /* Without a deferred source the connection stays closed but allocated
                 * until the server goes away; it no longer watches its fd. */
                log_error_errno(r, "varlink: cannot schedule freeing a connection: %m");
                c->free_source = NULL;
                c->hangup = true;
                c->streaming = false;
        }
}

bool varlink_connection_is_closed(VarlinkConnection *c) {
        return c->free_source || c->hangup;
}

static int connection_update_events(VarlinkConnection *c) {
        uint32_t events = c->out_end > c->out_start ? EPOLLOUT : 0;

        if (!c->hangup)
                events |= EPOLLIN;
        return sd_event_source_set_io_events(c->io, events);
}

/* Writes what the socket takes now; never waits. */
static void connection_flush(VarlinkConnection *c) {
        while (c->out_end > c->out_start) {
                ssize_t n = send(c->fd, c->out + c->out_start, c->out_end - c->out_start,
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        log_debug_errno(errno, "varlink: write to pid %d failed: %m", c->peer.pid);
                        connection_close(c, "write failed");
                        return;
                }
                c->out_start += (size_t) n;
        }
        if (c->out_start == c->out_end)
                c->out_start = c->out_end = 0;
        if (c->out_end == 0 && c->hangup) {
                connection_close(c, "done");
                return;
        }
        if (connection_update_events(c) < 0)
                connection_close(c, "cannot watch the socket");
}

static int connection_queue(VarlinkConnection *c, const char *data, size_t size) {
        size_t pending = c->out_end - c->out_start;

        if (varlink_connection_is_closed(c))
                return 0;
        /* One reply of any size is fine; a backlog larger than the bound means
         * the client does not read, and it must not make the daemon hoard memory. */
        if (pending > 0 && pending + size > VARLINK_OUTPUT_MAX) {
                log_warning("varlink: client pid %d uid %u does not read its replies "
                            "(%zu bytes queued), disconnecting it.",
                            c->peer.pid, c->peer.uid, pending);
                connection_close(c, "output queue full");
                return -ENOBUFS;
        }
        if (c->out_start > 0) {
                memmove(c->out, c->out + c->out_start, pending);
                c->out_start = 0;
                c->out_end = pending;
        }
        if (c->out_end + size > c->out_alloc) {
                size_t n = MAX(c->out_end + size, c->out_alloc * 2);
                char *p = realloc(c->out, n);
                if (!p) {
                        connection_close(c, "out of memory");
                        return -ENOMEM;
                }
                c->out = p;
                c->out_alloc = n;
        }
        memcpy(c->out + c->out_end, data, size);
        c->out_end += size;
        connection_flush(c);
        return 0;
}

static int connection_send(VarlinkConnection *c, const char *error, json_object *parameters, bool continues) {
        _cleanup_(json_object_putp) json_object *msg = NULL;
        json_object *p = parameters;
        const char *s;

        if (c->oneway || varlink_connection_is_closed(c)) {
                json_object_put(parameters);
                return 0;
        }
        msg = json_object_new_object();
        if (!p)
                p = json_object_new_object();
        if (!msg || !p || json_object_object_add(msg, "parameters", p) < 0) {
                json_object_put(p);
                return log_oom();
        }
        if (error && json_object_object_add(msg, "error", json_object_new_string(error)) < 0)
                return log_oom();
        if (continues && json_object_object_add(msg, "continues", json_object_new_boolean(true)) < 0)
                return log_oom();

        s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s)
                return log_oom();
        return connection_queue(c, s, strlen(s) + 1); /* the NUL frames the message */
}

int varlink_reply(VarlinkConnection *c, json_object *parameters) {
        return connection_send(c, NULL, parameters, false);
}

int varlink_notify(VarlinkConnection *c, json_object *parameters) {
        return connection_send(c, NULL, parameters, true);
}

int varlink_error(VarlinkConnection *c, const char *error, json_object *parameters) {
        return connection_send(c, error, parameters, false);
}

int varlink_error_invalid_parameter(VarlinkConnection *c, const char *parameter) {
        json_object *p = json_object_new_object();

        if (p)
                (void) json_object_object_add(p, "parameter", json_object_new_string(parameter));
        return varlink_error(c, "org.varlink.service.InvalidParameter", p);
}

const struct ucred *varlink_connection_peer(VarlinkConnection *c) {
        return &c->peer;
}

bool varlink_connection_more(VarlinkConnection *c) {
        return c->more;
}

void varlink_connection_stream(VarlinkConnection *c, VarlinkCloseHandler on_close, void *userdata) {
        c->streaming = true;
        c->on_close = on_close;
        c->on_close_userdata = userdata;
}

static json_object *parse_strict(const char *text, size_t size) {
        json_tokener *tok = json_tokener_new();
        json_object *o;

        if (!tok)
                return NULL;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, text, (int) size);
        if (o && (json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != size)) {
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        return o;
}

static int optional_bool(json_object *msg, const char *key, bool *ret) {
        json_object *v;

        *ret = false;
        if (!json_object_object_get_ex(msg, key, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_boolean))
                return -EINVAL;
        *ret = json_object_get_boolean(v);
        return 0;
}

static int call_refuse(VarlinkCallError *ret_error, int r, const char *error, const char *parameter,
                       const char *message) {
        *ret_error = (VarlinkCallError) { .error = error, .parameter = parameter, .message = message };
        return r;
}

int varlink_call_parse(const char *text, size_t size, VarlinkCall *ret, VarlinkCallError *ret_error) {
        _cleanup_(json_object_putp) json_object *msg = NULL;
        json_object *method, *parameters = NULL;
        bool more, oneway;

        *ret = (VarlinkCall) {};
        /* The server never reads more; the bound also keeps the length an int. */
        if (size > VARLINK_MESSAGE_MAX - 1)
                return call_refuse(ret_error, -EMSGSIZE, "io.gunyah.Manager.ProtocolError", NULL,
                                   "The message is too large.");
        msg = parse_strict(text, size);
        if (!msg || !json_object_is_type(msg, json_type_object))
                return call_refuse(ret_error, -EBADMSG, "io.gunyah.Manager.ProtocolError", NULL,
                                   msg ? "A message must be a JSON object." : "The message is not valid JSON.");
        if (!json_object_object_get_ex(msg, "method", &method) || !json_object_is_type(method, json_type_string))
                return call_refuse(ret_error, -EINVAL, "org.varlink.service.InvalidParameter", "method",
                                   "A call needs a \"method\" string.");
        if (json_object_object_get_ex(msg, "parameters", &parameters) &&
            !json_object_is_type(parameters, json_type_object) && !json_object_is_type(parameters, json_type_null))
                return call_refuse(ret_error, -EINVAL, "org.varlink.service.InvalidParameter", "parameters",
                                   "\"parameters\" must be an object.");
        if (optional_bool(msg, "more", &more) < 0 || optional_bool(msg, "oneway", &oneway) < 0)
                return call_refuse(ret_error, -EINVAL, "org.varlink.service.InvalidParameter", "more",
                                   "\"more\" and \"oneway\" must be booleans.");

        *ret = (VarlinkCall) {
                .message = TAKE_PTR(msg),
                .method = json_object_get_string(method),
                .parameters = parameters,
                .more = more,
                .oneway = oneway,
        };
        return 0;
}

void varlink_call_done(VarlinkCall *call) {
        json_object_put(call->message);
        *call = (VarlinkCall) {};
}

/* A message the transport cannot make sense of: say why, then hang up,
 * since nothing after it can be trusted to be framed right. */
static void connection_protocol_error(VarlinkConnection *c, const VarlinkCallError *e) {
        json_object *p = json_object_new_object();

        c->oneway = false;
        if (p && e->parameter)
                (void) json_object_object_add(p, "parameter", json_object_new_string(e->parameter));
        if (p && e->message)
                (void) json_object_object_add(p, "message", json_object_new_string(e->message));
        (void) varlink_error(c, e->error, p);
        c->hangup = true;
        connection_flush(c);
}

static void connection_dispatch(VarlinkConnection *c, const char *text, size_t size) {
        _cleanup_(varlink_call_done) VarlinkCall call = {};
        VarlinkCallError e;
        int r;

        r = varlink_call_parse(text, size, &call, &e);
        if (r < 0)
                return connection_protocol_error(c, &e);
        c->more = call.more;
        c->oneway = call.oneway;
        r = c->server->handler(c, call.method, call.parameters, c->server->userdata);
        c->oneway = false;
        if (r < 0)
                connection_close(c, "method handler failed");
}

/* Dispatches every complete message in the input buffer. */
static void connection_process_input(VarlinkConnection *c) {
        size_t start = 0;

        while (start < c->in_used && !varlink_connection_is_closed(c)) {
                char *end = memchr(c->in + start, 0, c->in_used - start);
                if (!end)
                        break;
                if (!c->streaming)
                        connection_dispatch(c, c->in + start, (size_t) (end - (c->in + start)));
                start = (size_t) (end - c->in) + 1;
        }
        memmove(c->in, c->in + start, c->in_used - start);
        c->in_used -= start;
}

static void connection_read(VarlinkConnection *c) {
        ssize_t n;

        if (c->in_alloc - c->in_used < 4096 && c->in_alloc < VARLINK_MESSAGE_MAX) {
                size_t size = MIN((size_t) VARLINK_MESSAGE_MAX, MAX((size_t) 16384, c->in_alloc * 2));
                char *p = realloc(c->in, size);
                if (!p)
                        return connection_close(c, "out of memory");
                c->in = p;
                c->in_alloc = size;
        }
        if (c->in_used == c->in_alloc) {
                log_warning("varlink: pid %d uid %u sent a message larger than %d bytes, "
                            "disconnecting it.", c->peer.pid, c->peer.uid, VARLINK_MESSAGE_MAX);
                return connection_close(c, "message too large");
        }

        n = recv(c->fd, c->in + c->in_used, c->in_alloc - c->in_used, MSG_DONTWAIT);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return;
                log_debug_errno(errno, "varlink: read from pid %d failed: %m", c->peer.pid);
                return connection_close(c, "read failed");
        }
        if (n == 0) {
                if (c->in_used > 0 && !c->streaming)
                        log_debug("varlink: pid %d hung up in the middle of a message (%zu bytes).",
                                  c->peer.pid, c->in_used);
                /* A stream has nobody left to read it; otherwise answers still go out. */
                c->hangup = true;
                if (c->streaming || c->out_end == c->out_start)
                        return connection_close(c, "end of input");
                connection_flush(c);
                return;
        }
        c->in_used += (size_t) n;
        /* A stream's further calls are discarded: drop them unread. */
        if (c->streaming && !memchr(c->in, 0, c->in_used))
                c->in_used = 0;
        connection_process_input(c);
}

static int on_connection_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        VarlinkConnection *c = userdata;

        if (revents & EPOLLOUT)
                connection_flush(c);
        if (!varlink_connection_is_closed(c) && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                connection_read(c);
        return 0;
}

static int server_add_connection(VarlinkServer *s, int fd) {
        _cleanup_close_ int cfd = fd;
        socklen_t len = sizeof(struct ucred);
        VarlinkConnection *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return log_oom();
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &c->peer, &len) < 0) {
                free(c);
                return log_warning_errno(errno, "varlink: cannot identify a client (SO_PEERCRED): %m");
        }
        r = sd_event_add_io(s->event, &c->io, cfd, EPOLLIN, on_connection_io, c);
        if (r < 0) {
                free(c);
                return log_error_errno(r, "varlink: cannot watch a client connection: %m");
        }
        c->fd = TAKE_FD(cfd);
        c->server = s;
        c->next = s->connections;
        if (c->next)
                c->next->prev = c;
        s->connections = c;
        s->n_connections++;
        log_debug("varlink: connection from pid %d uid %u.", c->peer.pid, c->peer.uid);
        return 0;
}

static int on_accept(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        VarlinkServer *s = userdata;
        int cfd;

        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
                if (!IN_SET(errno, EAGAIN, EINTR, ECONNABORTED))
                        log_warning_errno(errno, "varlink: accept failed: %m");
                return 0;
        }
        if (s->n_connections >= VARLINK_CONNECTIONS_MAX) {
                log_warning("varlink: %d connections open, refusing another.", VARLINK_CONNECTIONS_MAX);
                safe_close(cfd);
                return 0;
        }
        (void) server_add_connection(s, cfd);
        return 0;
}

static int server_listen(VarlinkServer *s, mode_t mode) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;

        if (strlen(s->path) >= sizeof(sa.sun_path))
                return log_error_errno(-ENAMETOOLONG, "varlink: socket path %s is longer than %zu bytes.",
                                       s->path, sizeof(sa.sun_path) - 1);
        strcpy(sa.sun_path, s->path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "varlink: cannot create a socket: %m");
        /* A stale socket of an earlier run would make bind() fail. */
        if (unlink(s->path) < 0 && errno != ENOENT)
                return log_error_errno(errno, "varlink: cannot remove the old socket %s: %m", s->path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "varlink: cannot bind to %s: %m", s->path);
        if (chmod(s->path, mode) < 0)
                return log_error_errno(errno, "varlink: cannot set mode %04o on %s: %m", (unsigned) mode, s->path);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "varlink: cannot listen on %s: %m", s->path);
        s->fd = TAKE_FD(fd);
        return 0;
}

int varlink_server_new(sd_event *event, const char *path, mode_t mode, VarlinkMethodHandler handler,
                       void *userdata, VarlinkServer **ret) {
        VarlinkServer *s;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        s->fd = -EBADF;
        s->event = sd_event_ref(event);
        s->handler = handler;
        s->userdata = userdata;
        s->path = strdup(path);
        if (!s->path) {
                varlink_server_free(s);
                return log_oom();
        }
        r = server_listen(s, mode);
        if (r >= 0) {
                r = sd_event_add_io(event, &s->accept_source, s->fd, EPOLLIN, on_accept, s);
                if (r < 0)
                        log_error_errno(r, "varlink: cannot watch %s: %m", path);
        }
        if (r < 0) {
                varlink_server_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

VarlinkServer *varlink_server_free(VarlinkServer *s) {
        if (!s)
                return NULL;
        while (s->connections)
                connection_free(s->connections);
        sd_event_source_disable_unref(s->accept_source);
        if (s->fd >= 0) {
                safe_close(s->fd);
                (void) unlink(s->path);
        }
        free(s->path);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}
