/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host → guest connections (Firecracker's hybrid vsock): a client of
 * <vmdir>/vsock writes "CONNECT <port>\n" within 5 s; the device asks the
 * guest (REQUEST) and, once it answers, writes "OK <hostport>\n" and
 * bridges. Bytes the client sent after the line stay in its socket and
 * are forwarded: the line is peeked, then exactly it is read.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "parse-util.h"
#include "time-util.h"
#include "vsock-device.h"

/* Unread bytes make close() reset the client (ECONNRESET, not EOF): what
 * it sent is read first, a little of it at most. */
static void client_close(VsockDevice *d, unsigned i) {
        char junk[256];

        for (unsigned k = 0; k < 16 && recv(d->clients[i].fd, junk, sizeof(junk), MSG_DONTWAIT) > 0; k++)
                ;
        (void) close(d->clients[i].fd);
        d->clients[i].fd = -1;
        d->n_clients--;
}

void vsock_listener_accept(VsockDevice *d) {
        for (;;) {
                unsigned i;
                int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                log_warning_errno(errno, "cannot accept a vsock client: %m");
                        return;
                }
                /* Clients that dawdle cannot take the table: the excess is closed. */
                if (d->n_clients >= VSOCK_CLIENTS_MAX) {
                        (void) close(fd);
                        continue;
                }
                for (i = 0; d->clients[i].fd >= 0; i++)
                        ;
                d->clients[i] = (VsockClient) { .fd = fd,
                                                .deadline_usec = now_monotonic_usec() + VSOCK_CONNECT_TIMEOUT_USEC };
                d->n_clients++;
                /* Edge-triggered: a partial line is peeked, not read, and
                 * must not wake the loop again until more arrives. */
                if (vsock_watch(d, fd, EPOLLIN | EPOLLRDHUP | EPOLLET, VSOCK_EV_CLIENT, i) < 0)
                        client_close(d, i);
        }
}

/* "CONNECT <decimal u32>\n" of at most VSOCK_CONNECT_LINE_MAX bytes: its
 * length with *ret_port, 0 when incomplete, -EBADMSG when wrong. */
static int parse_connect_line(const char *buf, size_t n, uint32_t *ret_port) {
        const char *nl = memchr(buf, '\n', n);
        char digits[16];
        size_t len;

        if (!nl)
                return n >= VSOCK_CONNECT_LINE_MAX ? -EBADMSG : 0;
        len = (size_t) (nl - buf);
        if (len < 9 || memcmp(buf, "CONNECT ", 8) != 0 || len - 8 >= sizeof(digits))
                return -EBADMSG;
        memcpy(digits, buf + 8, len - 8);
        digits[len - 8] = '\0';
        if (strspn(digits, "0123456789") != len - 8 || parse_u32(digits, ret_port) < 0)
                return -EBADMSG;
        return (int) len + 1;
}

void vsock_client_readable(VsockDevice *d, unsigned i) {
        char buf[VSOCK_CONNECT_LINE_MAX];
        uint32_t port;
        VsockConn *c;
        ssize_t n;
        int r, fd;

        if (i >= VSOCK_CLIENTS_MAX || d->clients[i].fd < 0)
                return; /* closed earlier in the same round */
        fd = d->clients[i].fd;
        n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && errno == EAGAIN)
                return;
        r = n <= 0 ? -EBADMSG : parse_connect_line(buf, (size_t) n, &port);
        if (r == 0)
                return; /* more to come: its arrival is the next edge */
        if (r < 0 || recv(fd, buf, (size_t) r, MSG_DONTWAIT) != r ||
            vsock_engine_connect_guest(&d->engine, port, &c) < 0) {
                client_close(d, i);
                return;
        }
        /* The fd moves from the client table to the connection. */
        (void) epoll_ctl(d->ctx->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        d->clients[i].fd = -1;
        d->n_clients--;
        c->fd = fd;
        if (vsock_watch(d, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, VSOCK_EV_CONN, c->id) < 0)
                vsock_engine_abort(&d->engine, c);
}

int vsock_clients_expire(VsockDevice *d) {
        uint64_t now = now_monotonic_usec(), next = UINT64_MAX;

        for (unsigned i = 0; i < VSOCK_CLIENTS_MAX; i++) {
                if (d->clients[i].fd < 0)
                        continue;
                if (d->clients[i].deadline_usec <= now)
                        client_close(d, i);
                else
                        next = MIN(next, d->clients[i].deadline_usec);
        }
        if (next == UINT64_MAX)
                return -1;
        return (int) MIN((next - now + 999) / 1000, (uint64_t) INT32_MAX);
}

void vsock_clients_close(VsockDevice *d) {
        for (unsigned i = 0; i < VSOCK_CLIENTS_MAX; i++)
                if (d->clients[i].fd >= 0)
                        client_close(d, i);
}
