/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virtio-vsock served from its own process: one epoll set over the kick
 * eventfd, the control socket (the daemon's replies, its hangup), the
 * listener <vmdir>/vsock, clients before their CONNECT line and the
 * connections' sockets; after each wakeup the transport's state changes,
 * then the engine's round. */
#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "vsock-device.h"

/* Guest error kinds beyond VSOCK_ERROR_*: reported once each. */
#define VSOCK_DEVICE_ERROR_QUEUE_SETUP (1u << 16)
#define VSOCK_DEVICE_ERROR_REGISTERS (1u << 17)
#define VSOCK_DEVICE_ERROR_MALFORMED (1u << 18)

#define EVENTS_MAX 64

unsigned vsock_device_nofile(unsigned last_fd) {
        /* + the daemon's replies in flight, and room for a bad reply's extra fds. */
        return last_fd + 1 + VSOCK_CONNS_MAX + VSOCK_CONNECTING_MAX + VSOCK_CLIENTS_MAX + 8;
}

static void needs_reset(VsockDevice *d, uint32_t kind, int error, const char *what) {
        char detail[sizeof(((DeviceMessage *) NULL)->detail)];

        snprintf(detail, sizeof(detail), "%s: device needs reset", what);
        device_report_guest_error(d->ctx, kind, error, detail);
        vsock_engine_reset(&d->engine);
        virtio_mmio_set_needs_reset(d->ctx->regs);
        device_interrupt(d->ctx, 0);
}

static void report_guest_errors(VsockDevice *d) {
        static const struct {
                uint32_t kind;
                int error;
                const char *what;
        } kinds[] = {
                { VSOCK_ERROR_LENGTH, -EBADMSG, "vsock packets whose header and length disagree (reset)" },
                { VSOCK_ERROR_OP, -EOPNOTSUPP, "vsock packets of an unknown op or socket type (reset)" },
                { VSOCK_ERROR_CREDIT, -ENOBUFS, "vsock data beyond the credit given (reset)" },
                { VSOCK_ERROR_CID, -EADDRNOTAVAIL, "vsock packets from another CID or to a CID other than 2" },
                { VSOCK_ERROR_STATE, -EPROTO, "vsock packets the connection's state does not allow (reset)" },
                { VSOCK_ERROR_LIMIT, -EMFILE, "vsock connections or resets beyond the limits (reset or dropped)" },
                { VSOCK_ERROR_RX_BUFFER, -EINVAL, "vsock rx buffers too small or not writable (returned empty)" },
        };
        uint32_t new = vsock_engine_take_new_errors(&d->engine);

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (new & kinds[i].kind)
                        device_report_guest_error(d->ctx, kinds[i].kind, kinds[i].error, kinds[i].what);
}

/* rx and tx must both be ready; the event queue is never used. */
static void start_queues(VsockDevice *d, const VirtioMmioState *st) {
        const VirtioMmioQueue *rx = &st->queues[VIRTIO_VSOCK_QUEUE_RX], *tx = &st->queues[VIRTIO_VSOCK_QUEUE_TX];
        int r;

        if (d->engine.live || !rx->ready || !tx->ready)
                return;
        r = virtqueue_init(&d->engine.rx, &d->ctx->memory, rx->num, rx->desc, rx->driver, rx->device);
        if (r >= 0)
                r = virtqueue_init(&d->engine.tx, &d->ctx->memory, tx->num, tx->desc, tx->driver, tx->device);
        if (r < 0) {
                needs_reset(d, VSOCK_DEVICE_ERROR_QUEUE_SETUP, r, "vsock rings outside reachable memory or bad size");
                return;
        }
        d->engine.live = true;
}

/* The transport, then the engine. 1 when the engine has more to do now. */
static int vsock_round(VsockDevice *d) {
        VirtioMmioState st;
        bool interrupt;
        int r;

        virtio_mmio_poll_changes(d->ctx->regs, &st);
        if (st.events & VIRTIO_MMIO_EVENT_RESET)
                vsock_engine_reset(&d->engine);
        if (st.guest_errors > 0)
                device_report_guest_error(d->ctx, VSOCK_DEVICE_ERROR_REGISTERS, -EINVAL,
                                          "register accesses the virtio-mmio spec forbids (ignored)");
        if ((st.events & (VIRTIO_MMIO_EVENT_QUEUE_REFUSED | VIRTIO_MMIO_EVENT_RESET)) == VIRTIO_MMIO_EVENT_QUEUE_REFUSED)
                needs_reset(d, VSOCK_DEVICE_ERROR_QUEUE_SETUP, -EINVAL, "a vsock queue of a bad size");
        if (!(st.status & VIRTIO_STATUS_DRIVER_OK) ||
            (st.status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)))
                return 0;
        start_queues(d, &st);
        r = vsock_engine_process(&d->engine, &interrupt);
        if (interrupt)
                device_interrupt(d->ctx, VIRTIO_MMIO_INT_VRING);
        report_guest_errors(d);
        if (r < 0) {
                needs_reset(d, VSOCK_DEVICE_ERROR_MALFORMED, r, "a malformed vsock descriptor chain or ring");
                return 0;
        }
        return r;
}

/* 0: the daemon hung up; 1: carry on. */
static int control_readable(VsockDevice *d) {
        DeviceReply reply;
        int r, fd;

        for (;;) {
                r = device_control_receive(d->ctx, &reply, &fd);
                if (r <= 0)
                        return r == -EAGAIN;
                vsock_host_reply(d, &reply, fd);
        }
}

static void conn_event(VsockDevice *d, uint32_t id, uint32_t events) {
        VsockConn *c = vsock_engine_find_id(&d->engine, id);

        if (!c)
                return; /* closed earlier in the same round */
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                c->host_readable = true;
        if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                c->host_writable = true;
}

/* 0: the daemon hung up; 1: carry on; -errno. */
static int dispatch(VsockDevice *d, const struct epoll_event *ev) {
        uint32_t what = (uint32_t) (ev->data.u64 >> 32), which = (uint32_t) ev->data.u64;
        uint64_t count;

        switch (what) {
        case VSOCK_EV_KICK:
                if (read(d->ctx->kick_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
                        return log_error_errno(errno, "cannot read the kick eventfd: %m");
                return 1;
        case VSOCK_EV_CONTROL:
                return control_readable(d);
        case VSOCK_EV_LISTENER:
                vsock_listener_accept(d);
                return 1;
        case VSOCK_EV_CLIENT:
                vsock_client_readable(d, which);
                return 1;
        case VSOCK_EV_CONN:
                conn_event(d, which, ev->events);
                return 1;
        default:
                return 1;
        }
}

static int serve(VsockDevice *d) {
        struct epoll_event events[EVENTS_MAX];
        int r, more = 1, timeout;

        for (;;) {
                timeout = vsock_clients_expire(d);
                if (more > 0)
                        timeout = 0;
                int n = epoll_wait(d->ctx->epoll_fd, events, EVENTS_MAX, timeout);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "epoll_wait failed: %m");
                }
                for (int i = 0; i < n; i++) {
                        r = dispatch(d, &events[i]);
                        if (r <= 0)
                                return r;
                }
                more = vsock_round(d);
        }
}

int vsock_device_serve(DeviceContext *c, int listen_fd) {
        static VsockDevice d; /* large (two chains): not on the stack */
        int r;

        d = (VsockDevice) { .ctx = c, .listen_fd = listen_fd };
        for (unsigned i = 0; i < VSOCK_CLIENTS_MAX; i++)
                d.clients[i].fd = -1;
        vsock_engine_init(&d.engine, c->options->cid, &vsock_host_ops, &d);
        r = vsock_watch(&d, c->kick_fd, EPOLLIN, VSOCK_EV_KICK, 0);
        if (r >= 0)
                r = vsock_watch(&d, c->control_fd, EPOLLIN, VSOCK_EV_CONTROL, 0);
        if (r >= 0)
                r = vsock_watch(&d, listen_fd, EPOLLIN, VSOCK_EV_LISTENER, 0);
        if (r < 0)
                return r;
        r = serve(&d);
        vsock_engine_reset(&d.engine);
        vsock_clients_close(&d);
        return r;
}
