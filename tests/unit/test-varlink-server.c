/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The varlink framing (design §8) through a real socket: a server on a
 * temporary path, clients that write the bytes a test chooses, and an event
 * loop the test pumps itself, so split reads, hang-ups and a client that
 * does not read are all exact. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "macro.h"
#include "varlink-server.h"

typedef struct Fixture {
        char dir[32];
        char path[64];
        sd_event *event;
        VarlinkServer *server;
        /* what the handler saw last */
        unsigned calls;
        char method[64];
        char *parameters; /* as JSON text; NULL when the handler got NULL */
        bool more;
        struct ucred peer;
        /* the connection that turned into a stream, and its close callbacks */
        VarlinkConnection *stream;
        unsigned stream_closed;
} Fixture;

typedef struct Client {
        int fd;
        char *buf;
        size_t used, alloc;
} Client;

/* ---- the server's side ---- */

static void on_stream_close(VarlinkConnection *c, void *userdata) {
        Fixture *f = userdata;

        assert_ptr_equal(c, f->stream);
        f->stream_closed++;
        f->stream = NULL;
}

static int reply_count(VarlinkConnection *c, json_object *parameters) {
        json_object *n = json_object_object_get(parameters, "n");
        int i;

        for (i = 0; i < json_object_get_int(n); i++) {
                json_object *p = json_object_new_object();
                json_object_object_add(p, "i", json_object_new_int(i));
                assert_int_equal(varlink_notify(c, p), 0);
        }
        json_object *p = json_object_new_object();
        json_object_object_add(p, "i", json_object_new_int(i));
        return varlink_reply(c, p);
}

static int reply_big(VarlinkConnection *c, json_object *parameters) {
        size_t size = (size_t) json_object_get_int64(json_object_object_get(parameters, "size"));
        _cleanup_free_ char *s = malloc(size);
        json_object *p = json_object_new_object();

        assert_non_null(s);
        memset(s, 'x', size);
        json_object_object_add(p, "s", json_object_new_string_len(s, (int) size));
        return varlink_reply(c, p);
}

static int handler(VarlinkConnection *c, const char *method, json_object *parameters, void *userdata) {
        Fixture *f = userdata;

        f->calls++;
        snprintf(f->method, sizeof(f->method), "%s", method);
        free(f->parameters);
        f->parameters = parameters ? strdup(json_object_to_json_string_ext(parameters, JSON_C_TO_STRING_PLAIN)) : NULL;
        f->more = varlink_connection_more(c);
        f->peer = *varlink_connection_peer(c);

        if (streq(method, "t.Ack"))
                return varlink_reply(c, NULL);
        if (streq(method, "t.Echo"))
                return varlink_reply(c, json_object_get(parameters));
        if (streq(method, "t.Count"))
                return reply_count(c, parameters);
        if (streq(method, "t.Big"))
                return reply_big(c, parameters);
        if (streq(method, "t.Error"))
                return varlink_error(c, "t.Oops", NULL);
        if (streq(method, "t.Subscribe")) {
                f->stream = c;
                varlink_connection_stream(c, on_stream_close, f);
                return varlink_notify(c, NULL);
        }
        return -EIO; /* t.Fail */
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/test-varlink-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/socket", f->dir);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(varlink_server_new(f->event, f->path, 0660, handler, f, &f->server), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        varlink_server_free(f->server);
        sd_event_unref(f->event);
        free(f->parameters);
        rmdir(f->dir);
        free(f);
        return 0;
}

/* Runs the server until it has nothing left to do right now. */
static void pump(Fixture *f) {
        for (int i = 0; i < 1000 && sd_event_run(f->event, 0) > 0; i++)
                ;
}

/* ---- the client's side ---- */

static Client client_connect(Fixture *f) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        Client cl = { .fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) };

        assert_true(cl.fd >= 0);
        strcpy(sa.sun_path, f->path);
        assert_int_equal(connect(cl.fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(fcntl(cl.fd, F_SETFL, O_NONBLOCK), 0);
        pump(f);
        return cl;
}

static void client_close(Client *cl) {
        safe_close(cl->fd);
        free(cl->buf);
        *cl = (Client) { .fd = -EBADF };
}

/* Writes all of data, letting the server read whenever the socket is full.
 * Returns -errno if the server hung up first. */
static int client_write(Fixture *f, Client *cl, const void *data, size_t size) {
        for (size_t done = 0; done < size;) {
                ssize_t n = send(cl->fd, (const char *) data + done, size - done, MSG_NOSIGNAL);
                if (n < 0 && errno != EAGAIN)
                        return -errno;
                if (n > 0)
                        done += (size_t) n;
                pump(f);
        }
        return 0;
}

static void client_send(Fixture *f, Client *cl, const char *text) {
        assert_int_equal(client_write(f, cl, text, strlen(text) + 1), 0);
}

/* The next message the server sent, or NULL once it has hung up. */
static json_object *client_recv(Fixture *f, Client *cl) {
        for (int idle = 0; idle < 500;) {
                char *end = cl->used ? memchr(cl->buf, 0, cl->used) : NULL;
                if (end) {
                        size_t len = (size_t) (end - cl->buf);
                        json_object *o = json_tokener_parse(cl->buf);
                        assert_non_null(o);
                        memmove(cl->buf, end + 1, cl->used - len - 1);
                        cl->used -= len + 1;
                        return o;
                }
                if (cl->alloc - cl->used < 65536) {
                        cl->alloc = cl->alloc * 2 + 65536;
                        cl->buf = realloc(cl->buf, cl->alloc);
                        assert_non_null(cl->buf);
                }
                ssize_t n = recv(cl->fd, cl->buf + cl->used, cl->alloc - cl->used, 0);
                if (n == 0 || (n < 0 && errno == ECONNRESET))
                        return NULL;
                if (n > 0) {
                        cl->used += (size_t) n;
                        idle = 0;
                        continue;
                }
                assert_int_equal(errno, EAGAIN);
                if (sd_event_run(f->event, 10 * 1000) == 0)
                        idle++;
        }
        fail_msg("the server neither answered nor hung up");
        return NULL;
}

/* The server hangs up with nothing (more) to say. */
static void client_expect_eof(Fixture *f, Client *cl) {
        json_object *o = client_recv(f, cl);

        if (o)
                fail_msg("expected the end, got %s", json_object_to_json_string(o));
}

static const char *reply_string(json_object *reply, const char *key) {
        json_object *v;

        if (!json_object_object_get_ex(reply, key, &v))
                return NULL;
        return json_object_get_string(v);
}

static const char *reply_parameter(json_object *reply, const char *key) {
        return reply_string(json_object_object_get(reply, "parameters"), key);
}

/* Receives a reply and checks its kind: an error name, or a plain reply
 * that continues (or not). Returns it for the caller to read and put. */
static json_object *expect_reply(Fixture *f, Client *cl, const char *error, bool continues) {
        json_object *o = client_recv(f, cl);

        assert_non_null(o);
        assert_true(json_object_is_type(json_object_object_get(o, "parameters"), json_type_object));
        if (error)
                assert_string_equal(reply_string(o, "error"), error);
        else
                assert_null(reply_string(o, "error"));
        assert_int_equal(json_object_get_boolean(json_object_object_get(o, "continues")), continues);
        return o;
}

static void expect_ack(Fixture *f, Client *cl) {
        json_object_put(expect_reply(f, cl, NULL, false));
}

/* A final reply whose parameter "s" is s (t.Echo's of {"s": s}). */
static void expect_s(Fixture *f, Client *cl, const char *s) {
        json_object *o = expect_reply(f, cl, NULL, false);

        assert_string_equal(reply_parameter(o, "s"), s);
        json_object_put(o);
}

/* ---- the tests ---- */

static void test_call_and_reply(void **state) {
        Fixture *f = *state;
        Client cl = client_connect(f);

        client_send(f, &cl, "{\"method\":\"t.Echo\",\"parameters\":{\"a\":[1,\"two\"]}}");
        json_object *o = expect_reply(f, &cl, NULL, false);
        assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                            "{\"parameters\":{\"a\":[1,\"two\"]}}");
        json_object_put(o);
        assert_int_equal(f->calls, 1);
        assert_string_equal(f->method, "t.Echo");
        assert_false(f->more);
        assert_int_equal(f->peer.pid, getpid());
        assert_int_equal(f->peer.uid, getuid());

        /* Without parameters, or with null ones, the handler gets NULL. */
        client_send(f, &cl, "{\"method\":\"t.Ack\"}");
        expect_ack(f, &cl);
        assert_null(f->parameters);
        client_send(f, &cl, "{\"method\":\"t.Ack\",\"parameters\":null,\"more\":null,\"oneway\":null}");
        expect_ack(f, &cl);
        assert_null(f->parameters);
        assert_int_equal(f->calls, 3);
        client_close(&cl);
}

static void test_byte_at_a_time(void **state) {
        Fixture *f = *state;
        Client cl = client_connect(f);
        const char *msg = "{\"method\":\"t.Echo\",\"parameters\":{\"s\":\"split\"}}";

        for (const char *p = msg; *p; p++) {
                assert_int_equal(client_write(f, &cl, p, 1), 0);
                assert_int_equal(f->calls, 0); /* nothing before the NUL */
        }
        assert_int_equal(client_write(f, &cl, "", 1), 0);
        expect_s(f, &cl, "split");
        assert_int_equal(f->calls, 1);
        client_close(&cl);
}

static void test_several_in_one_write(void **state) {
        Fixture *f = *state;
        Client cl = client_connect(f);
        const char msgs[] = "{\"method\":\"t.Echo\",\"parameters\":{\"s\":\"1\"}}\0"
                            "{\"method\":\"t.Echo\",\"parameters\":{\"s\":\"2\"}}\0"
                            "{\"method\":\"t.Echo\",\"parameters\":{\"s\":\"3\"}}\0"
                            "{\"method\":\"t.Echo\",\"parameters\":{\"s\":"; /* and the rest later */

        assert_int_equal(client_write(f, &cl, msgs, sizeof(msgs) - 1), 0);
        for (char s[] = "1"; s[0] <= '3'; s[0]++)
                expect_s(f, &cl, s);
        assert_int_equal(f->calls, 3);
        client_send(f, &cl, "\"4\"}}");
        expect_s(f, &cl, "4");
        assert_int_equal(f->calls, 4);
        client_close(&cl);
}

/* A call of exactly n bytes, its NUL included. */
static char *call_of_size(size_t n) {
        const char *head = "{\"method\":\"t.Ack\",\"parameters\":{\"pad\":\"", *tail = "\"}}";
        char *s = malloc(n);

        assert_non_null(s);
        memset(s, 'p', n);
        memcpy(s, head, strlen(head));
        memcpy(s + n - 1 - strlen(tail), tail, strlen(tail));
        s[n - 1] = 0;
        return s;
}

static void test_message_size_bound(void **state) {
        Fixture *f = *state;
        Client cl = client_connect(f);
        _cleanup_free_ char *largest = call_of_size(VARLINK_MESSAGE_MAX);
        _cleanup_free_ char *too_large = call_of_size(VARLINK_MESSAGE_MAX + 1);

        assert_int_equal(client_write(f, &cl, largest, VARLINK_MESSAGE_MAX), 0);
        expect_ack(f, &cl);
        assert_int_equal(f->calls, 1);

        /* One byte more and the server hangs up before the message ends. */
        (void) client_write(f, &cl, too_large, VARLINK_MESSAGE_MAX + 1);
        client_expect_eof(f, &cl);
        assert_int_equal(f->calls, 1);
        client_close(&cl);
}

typedef struct BadMessage {
        const char *text;
        const char *error, *parameter, *message;
} BadMessage;

static const BadMessage bad_messages[] = {
        { "hello", "io.gunyah.Manager.ProtocolError", NULL, "The message is not valid JSON." },
        { "", "io.gunyah.Manager.ProtocolError", NULL, "The message is not valid JSON." },
        { "{\"method\":\"t.Ack\"} {}", "io.gunyah.Manager.ProtocolError", NULL, "The message is not valid JSON." },
        { "{\"method\":\"t.Ack\",}", "io.gunyah.Manager.ProtocolError", NULL, "The message is not valid JSON." },
        { "[{\"method\":\"t.Ack\"}]", "io.gunyah.Manager.ProtocolError", NULL, "A message must be a JSON object." },
        { "\"t.Ack\"", "io.gunyah.Manager.ProtocolError", NULL, "A message must be a JSON object." },
        { "{\"parameters\":{}}", "org.varlink.service.InvalidParameter", "method", "A call needs a \"method\" string." },
        { "{\"method\":7}", "org.varlink.service.InvalidParameter", "method", "A call needs a \"method\" string." },
        { "{\"method\":\"t.Ack\",\"parameters\":[]}", "org.varlink.service.InvalidParameter", "parameters",
          "\"parameters\" must be an object." },
        { "{\"method\":\"t.Ack\",\"more\":\"yes\"}", "org.varlink.service.InvalidParameter", "more",
          "\"more\" and \"oneway\" must be booleans." },
        { "{\"method\":\"t.Ack\",\"oneway\":1}", "org.varlink.service.InvalidParameter", "more",
          "\"more\" and \"oneway\" must be booleans." },
};

/* Each gets an error that says why, then the server hangs up without
 * dispatching what followed in the same write. */
static void test_bad_messages(void **state) {
        Fixture *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(bad_messages); i++) {
                const BadMessage *b = &bad_messages[i];
                Client cl = client_connect(f);
                size_t len = strlen(b->text);
                _cleanup_free_ char *msgs = malloc(len + 32);

                assert_non_null(msgs);
                memcpy(msgs, b->text, len + 1);
                memcpy(msgs + len + 1, "{\"method\":\"t.Ack\"}", 19);
                assert_int_equal(client_write(f, &cl, msgs, len + 1 + 19), 0);

                json_object *o = expect_reply(f, &cl, b->error, false);
                assert_string_equal(reply_parameter(o, "message"), b->message);
                if (b->parameter)
                        assert_string_equal(reply_parameter(o, "parameter"), b->parameter);
                else
                        assert_null(reply_parameter(o, "parameter"));
                json_object_put(o);
                client_expect_eof(f, &cl);
                assert_int_equal(f->calls, 0);
                client_close(&cl);
        }
}

static void test_oneway_gets_no_reply(void **state) {
        Fixture *f = *state;
        Client cl = client_connect(f);

        client_send(f, &cl, "{\"method\":\"t.Echo\",\"parameters\":{\"s\":\"oneway\"},\"oneway\":true}");
        client_send(f, &cl, "{\"method\":\"t.Echo\",\"parameters\":{\"s\":\"after\"}}");
        /* The first answer on the connection is the second call's. */
        expect_s(f, &cl, "after");
        assert_int_equal(f->calls, 2);

        /* Nor does a oneway call that fails. */
        client_send(f, &cl, "{\"method\":\"t.Error\",\"oneway\":true}");
        client_send(f, &cl, "{\"method\":\"t.Error\"}");
        json_object_put(expect_reply(f, &cl, "t.Oops", false));
        assert_int_equal(f->calls, 4);
        client_close(&cl);
}

static void test_more_replies_continue(void **state) {
        Fixture *f = *state;
        Client cl = client_connect(f);

        client_send(f, &cl, "{\"method\":\"t.Count\",\"parameters\":{\"n\":3},\"more\":true}");
        assert_true(f->more);
        for (int i = 0; i <= 3; i++) {
                json_object *o = expect_reply(f, &cl, NULL, i < 3);
                assert_int_equal(json_object_get_int(json_object_object_get(
                                         json_object_object_get(o, "parameters"), "i")), i);
                json_object_put(o);
        }
        /* The connection serves the next call; "more" was that call's only. */
        client_send(f, &cl, "{\"method\":\"t.Count\",\"parameters\":{\"n\":0}}");
        assert_false(f->more);
        json_object_put(expect_reply(f, &cl, NULL, false));
        client_close(&cl);
}

static void test_stream(void **state) {
        Fixture *f = *state;
        Client cl = client_connect(f);

        client_send(f, &cl, "{\"method\":\"t.Subscribe\",\"more\":true}");
        json_object_put(expect_reply(f, &cl, NULL, true));
        assert_non_null(f->stream);

        /* Events come whenever the server has one... */
        json_object *p = json_object_new_object();
        json_object_object_add(p, "event", json_object_new_string("started"));
        assert_int_equal(varlink_notify(f->stream, p), 0);
        json_object *o = expect_reply(f, &cl, NULL, true);
        assert_string_equal(reply_parameter(o, "event"), "started");
        json_object_put(o);

        /* ...while further calls on the stream are discarded... */
        client_send(f, &cl, "{\"method\":\"t.Ack\"}");
        client_send(f, &cl, "{\"method\":\"t.Ack\"");
        assert_int_equal(f->calls, 1);
        assert_false(varlink_connection_is_closed(f->stream));

        /* ...until the client goes away: on_close runs once. */
        client_close(&cl);
        pump(f);
        assert_int_equal(f->stream_closed, 1);
        assert_null(f->stream);
}

static void test_hangup_mid_message(void **state) {
        Fixture *f = *state;
        Client cl = client_connect(f);

        assert_int_equal(client_write(f, &cl, "{\"method\":\"t.Ack\"", 17), 0);
        assert_int_equal(shutdown(cl.fd, SHUT_WR), 0);
        client_expect_eof(f, &cl);
        assert_int_equal(f->calls, 0);
        client_close(&cl);
}

/* A client that sends its calls and closes its end still gets every answer. */
static void test_hangup_after_calls(void **state) {
        Fixture *f = *state;
        Client cl = client_connect(f);
        const char msgs[] = "{\"method\":\"t.Ack\"}\0{\"method\":\"t.Big\",\"parameters\":{\"size\":1000000}}";

        assert_int_equal(client_write(f, &cl, msgs, sizeof(msgs)), 0);
        assert_int_equal(shutdown(cl.fd, SHUT_WR), 0);
        expect_ack(f, &cl);
        json_object *o = expect_reply(f, &cl, NULL, false);
        assert_int_equal(strlen(reply_parameter(o, "s")), 1000000);
        json_object_put(o);
        client_expect_eof(f, &cl);
        assert_int_equal(f->calls, 2);
        client_close(&cl);
}

/* A reply larger than the socket takes waits in the server and arrives
 * whole, in order, once the client reads. */
static void test_slow_reader(void **state) {
        Fixture *f = *state;
        Client cl = client_connect(f);

        client_send(f, &cl, "{\"method\":\"t.Big\",\"parameters\":{\"size\":3000000}}");
        client_send(f, &cl, "{\"method\":\"t.Echo\",\"parameters\":{\"s\":\"next\"}}");
        pump(f);
        assert_int_equal(f->calls, 2);

        json_object *o = expect_reply(f, &cl, NULL, false);
        const char *s = reply_parameter(o, "s");
        assert_int_equal(strlen(s), 3000000);
        assert_int_equal(strspn(s, "x"), 3000000);
        json_object_put(o);
        expect_s(f, &cl, "next");
        client_close(&cl);
}

/* A client that never reads is dropped once its backlog passes the bound,
 * rather than the server hoarding its replies. */
static void test_reader_that_never_reads(void **state) {
        Fixture *f = *state;
        Client cl = client_connect(f);
        unsigned replies = 0;

        const char call[] = "{\"method\":\"t.Big\",\"parameters\":{\"size\":1048576}}";
        char calls[8 * sizeof(call)];

        for (size_t i = 0; i < 8; i++)
                memcpy(calls + i * sizeof(call), call, sizeof(call));
        (void) client_write(f, &cl, calls, sizeof(calls)); /* it may hang up before the end */
        pump(f);
        assert_in_range(f->calls, 4, 7);

        /* What made it into the socket can be read, then the connection ends. */
        for (json_object *o; (o = client_recv(f, &cl)); replies++)
                json_object_put(o);
        assert_in_range(replies, 0, f->calls - 1);
        client_close(&cl);
}

static void test_handler_failure_closes(void **state) {
        Fixture *f = *state;
        Client cl = client_connect(f);

        const char msgs[] = "{\"method\":\"t.Fail\"}\0{\"method\":\"t.Ack\"}";

        assert_int_equal(client_write(f, &cl, msgs, sizeof(msgs)), 0);
        client_expect_eof(f, &cl);
        assert_int_equal(f->calls, 1);
        client_close(&cl);
}

static void test_connection_limit(void **state) {
        Fixture *f = *state;
        Client cl[VARLINK_CONNECTIONS_MAX + 1];

        for (size_t i = 0; i < ELEMENTSOF(cl); i++)
                cl[i] = client_connect(f);
        /* The last one over the limit is closed; the others are served. */
        client_expect_eof(f, &cl[VARLINK_CONNECTIONS_MAX]);
        client_send(f, &cl[VARLINK_CONNECTIONS_MAX - 1], "{\"method\":\"t.Ack\"}");
        expect_ack(f, &cl[VARLINK_CONNECTIONS_MAX - 1]);

        /* Once one goes away, there is room again. */
        client_close(&cl[0]);
        pump(f);
        client_close(&cl[VARLINK_CONNECTIONS_MAX]);
        cl[0] = client_connect(f);
        client_send(f, &cl[0], "{\"method\":\"t.Ack\"}");
        expect_ack(f, &cl[0]);
        for (size_t i = 0; i < VARLINK_CONNECTIONS_MAX; i++)
                client_close(&cl[i]);
}

static void test_socket_file(void **state) {
        Fixture *f = *state;
        VarlinkServer *s = NULL;
        char path[128];
        struct stat st;

        assert_int_equal(stat(f->path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0660);

        /* A stale file in the way is replaced; freeing removes the socket. */
        snprintf(path, sizeof(path), "%s/stale", f->dir);
        safe_close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
        assert_int_equal(varlink_server_new(f->event, path, 0600, handler, f, &s), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        varlink_server_free(s);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(errno, ENOENT);

        char long_path[sizeof(((struct sockaddr_un *) NULL)->sun_path) + 8];
        memset(long_path, 'a', sizeof(long_path) - 1);
        long_path[0] = '/';
        long_path[sizeof(long_path) - 1] = 0;
        assert_int_equal(varlink_server_new(f->event, long_path, 0600, handler, f, &s), -ENAMETOOLONG);
}

/* ---- the message reader alone ---- */

static void test_parse(void **state) {
        VarlinkCall call;
        VarlinkCallError e;
        /* Only size bytes are read: the text need not end in a NUL. */
        const char text[] = "{\"method\":\"a.B\",\"parameters\":{\"x\":1},\"more\":true,\"oneway\":false}garbage";

        assert_int_equal(varlink_call_parse(text, sizeof(text) - 1 - 7, &call, &e), 0);
        assert_string_equal(call.method, "a.B");
        assert_string_equal(json_object_to_json_string_ext(call.parameters, JSON_C_TO_STRING_PLAIN), "{\"x\":1}");
        assert_true(call.more);
        assert_false(call.oneway);
        varlink_call_done(&call);
        assert_null(call.message);
        assert_null(call.method);

        assert_int_equal(varlink_call_parse(text, sizeof(text) - 1, &call, &e), -EBADMSG);
        assert_null(call.message);
        assert_string_equal(e.error, "io.gunyah.Manager.ProtocolError");

        const char *oneway = "{\"method\":\"a.B\",\"oneway\":true}";
        assert_int_equal(varlink_call_parse(oneway, strlen(oneway), &call, &e), 0);
        assert_null(call.parameters);
        assert_false(call.more);
        assert_true(call.oneway);
        varlink_call_done(&call);

        const char *null_method = "{\"method\":null}";
        assert_int_equal(varlink_call_parse(null_method, strlen(null_method), &call, &e), -EINVAL);
        assert_string_equal(e.parameter, "method");
        assert_int_equal(varlink_call_parse(text, VARLINK_MESSAGE_MAX, &call, &e), -EMSGSIZE);
        assert_string_equal(e.error, "io.gunyah.Manager.ProtocolError");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test_setup_teardown(test_call_and_reply, setup, teardown),
                cmocka_unit_test_setup_teardown(test_byte_at_a_time, setup, teardown),
                cmocka_unit_test_setup_teardown(test_several_in_one_write, setup, teardown),
                cmocka_unit_test_setup_teardown(test_message_size_bound, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_messages, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oneway_gets_no_reply, setup, teardown),
                cmocka_unit_test_setup_teardown(test_more_replies_continue, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hangup_mid_message, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hangup_after_calls, setup, teardown),
                cmocka_unit_test_setup_teardown(test_slow_reader, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reader_that_never_reads, setup, teardown),
                cmocka_unit_test_setup_teardown(test_handler_failure_closes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_socket_file, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
