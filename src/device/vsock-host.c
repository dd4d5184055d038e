/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host side of vsock connections: Unix stream sockets, non-blocking,
 * watched edge-triggered. Guest → host connects go through the daemon
 * (DEVICE_MSG_VSOCK_CONNECT), which hands back a connected socket: the
 * device cannot reach the host's file system from its empty root. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "vsock-device.h"

int vsock_watch(VsockDevice *d, int fd, uint32_t events, uint32_t what, uint32_t which) {
        struct epoll_event ev = { .events = events, .data.u64 = (uint64_t) what << 32 | which };

        if (epoll_ctl(d->ctx->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
                return log_error_errno(errno, "cannot watch fd %d: %m", fd);
        return 0;
}

static int host_connect(void *userdata, VsockConn *c) {
        VsockDevice *d = userdata;
        DeviceMessage m = { .type = DEVICE_MSG_VSOCK_CONNECT, .port = c->host_port, .cookie = c->id };
        int r;

        r = device_message_send(d->ctx->control_fd, &m);
        if (r < 0)
                return log_warning_errno(r, "cannot ask the daemon to connect to host port %u: %m", c->host_port);
        return 0;
}

static ssize_t host_send(void *userdata, VsockConn *c, const struct iovec *iov, int n) {
        struct msghdr mh = { .msg_iov = (struct iovec *) iov, .msg_iovlen = (size_t) n };
        ssize_t k = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);

        return k < 0 ? negative_errno() : k;
}

static ssize_t host_recv(void *userdata, VsockConn *c, const struct iovec *iov, int n) {
        ssize_t k = readv(c->fd, iov, n);

        return k < 0 ? negative_errno() : k;
}

static void host_shutdown_write(void *userdata, VsockConn *c) {
        (void) shutdown(c->fd, SHUT_WR);
}

/* The client of <vmdir>/vsock learns its port, then bytes flow. */
static void host_established(void *userdata, VsockConn *c) {
        VsockDevice *d = userdata;
        char line[32];
        int n = snprintf(line, sizeof(line), "OK %u\n", c->host_port);

        if (send(c->fd, line, (size_t) n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
                vsock_engine_abort(&d->engine, c);
}

static void host_closed(void *userdata, VsockConn *c) {
        /* close() takes the fd out of the epoll set (no dup of it exists). */
        if (c->fd >= 0)
                (void) close(c->fd);
        c->fd = -1;
}

const VsockHostOps vsock_host_ops = {
        .connect = host_connect,
        .send = host_send,
        .recv = host_recv,
        .shutdown_write = host_shutdown_write,
        .established = host_established,
        .closed = host_closed,
};

void vsock_host_reply(VsockDevice *d, const DeviceReply *reply, int fd) {
        VsockConn *c = vsock_engine_find_id(&d->engine, reply->cookie);

        /* The guest may have given up (RST, reset) while the daemon connected. */
        if (!c || c->state != VSOCK_CONN_CONNECTING_HOST || c->host_port != reply->port) {
                if (fd >= 0)
                        (void) close(fd);
                return;
        }
        if (reply->error < 0) {
                log_debug_errno(reply->error, "guest connect to host port %u refused: %m", c->host_port);
                vsock_engine_host_connected(&d->engine, c, reply->error);
                return;
        }
        c->fd = fd;
        if (vsock_watch(d, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, VSOCK_EV_CONN, c->id) < 0) {
                vsock_engine_host_connected(&d->engine, c, -EIO);
                return;
        }
        vsock_engine_host_connected(&d->engine, c, 0);
}
