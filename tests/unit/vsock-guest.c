/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "vsock-guest.h"

VsockGuest *vg;

static ssize_t host_send(void *userdata, VsockConn *c, const struct iovec *iov, int n) {
        struct msghdr mh = { .msg_iov = (struct iovec *) iov, .msg_iovlen = (size_t) n };
        ssize_t k;

        if (vg->stalled[c->fd])
                return -EAGAIN;
        k = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        return k < 0 ? -errno : k;
}

static ssize_t host_recv(void *userdata, VsockConn *c, const struct iovec *iov, int n) {
        ssize_t k = readv(c->fd, iov, n);

        return k < 0 ? -errno : k;
}

static int host_connect(void *userdata, VsockConn *c) {
        vg->connects[vg->n_connects++] = c;
        return 0;
}

static void host_shutdown_write(void *userdata, VsockConn *c) {
        vg->n_shutdown_write++;
        assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
}

static void host_established(void *userdata, VsockConn *c) {
        vg->n_established++;
}

static void host_closed(void *userdata, VsockConn *c) {
        vg->n_closed++;
        if (c->fd >= 0)
                close(c->fd);
}

static const VsockHostOps ops = {
        .connect = host_connect,
        .send = host_send,
        .recv = host_recv,
        .shutdown_write = host_shutdown_write,
        .established = host_established,
        .closed = host_closed,
};

int vg_setup(void **state) {
        vg = calloc(1, sizeof(*vg));
        assert_non_null(vg);
        driver_init(&vg->rx, RX_QUEUE_SIZE);
        driver_init(&vg->tx, 256);
        vsock_engine_init(&vg->e, GUEST_CID, &ops, NULL);
        driver_device_queue(&vg->rx, &vg->e.rx);
        driver_device_queue(&vg->tx, &vg->e.tx);
        vg->e.live = true;
        return 0;
}

int vg_teardown(void **state) {
        vsock_engine_reset(&vg->e);
        for (int fd = 0; fd < FD_MAX; fd++)
                if (vg->peer[fd] > 0)
                        close(vg->peer[fd]);
        driver_done(&vg->rx);
        driver_done(&vg->tx);
        free(vg);
        return 0;
}

VsockHdr vg_hdr(uint16_t op, uint32_t guest_port, uint32_t host_port) {
        return (VsockHdr) {
                .src_cid = GUEST_CID, .dst_cid = VSOCK_HOST_CID,
                .src_port = guest_port, .dst_port = host_port,
                .type = VSOCK_TYPE_STREAM, .op = op,
                .buf_alloc = GUEST_BUF_ALLOC,
        };
}

/* The engine consumes the tx queue at once: buffers can be reused. */
static uint64_t tx_alloc(uint32_t len) {
        if (vg->tx.next_data + len + 8 > DRIVER_GPA_BASE + DRIVER_MEM_SIZE)
                vg->tx.next_data = DRIVER_DATA;
        return driver_alloc(&vg->tx, len);
}

void vg_send(const VsockHdr *h, const void *payload, uint32_t payload_len) {
        DriverBuf bufs[2] = { { .gpa = tx_alloc(VSOCK_HDR_SIZE), .len = VSOCK_HDR_SIZE } };

        vsock_hdr_encode(h, driver_ptr(&vg->tx, bufs[0].gpa));
        if (payload_len > 0) {
                bufs[1] = (DriverBuf) { .gpa = tx_alloc(payload_len), .len = payload_len };
                memcpy(driver_ptr(&vg->tx, bufs[1].gpa), payload, payload_len);
        }
        driver_add(&vg->tx, bufs, payload_len > 0 ? 2 : 1);
}

void vg_send_op(uint16_t op, uint32_t guest_port, uint32_t host_port, uint32_t flags) {
        VsockHdr h = vg_hdr(op, guest_port, host_port);

        h.flags = flags;
        vg_send(&h, NULL, 0);
}

void vg_send_data(uint32_t guest_port, uint32_t host_port, const void *data, uint32_t len, uint32_t fwd_cnt) {
        VsockHdr h = vg_hdr(VSOCK_OP_RW, guest_port, host_port);

        h.len = len;
        h.fwd_cnt = fwd_cnt;
        vg_send(&h, data, len);
}

void vg_rx_fill(unsigned n, uint32_t size) {
        if (vg->rx_outstanding == 0)
                vg->rx.next_data = DRIVER_DATA; /* every older buffer is used: reuse the room */
        for (unsigned i = 0; i < n; i++) {
                DriverBuf bufs[2] = {
                        { .gpa = driver_alloc(&vg->rx, VSOCK_HDR_SIZE), .len = VSOCK_HDR_SIZE, .writable = true },
                        { .gpa = driver_alloc(&vg->rx, size), .len = size, .writable = true },
                };
                uint16_t head = driver_add(&vg->rx, bufs, 2);

                vg->rx_hdr[head] = bufs[0].gpa;
                vg->rx_buf[head] = bufs[1].gpa;
                vg->rx_outstanding++;
                assert_true(vg->rx_outstanding <= RX_QUEUE_SIZE / 2);
        }
}

bool vg_rx_take(VsockHdr *h, void *payload, size_t max) {
        uint32_t id, len;

        if (!driver_take_used(&vg->rx, &id, &len))
                return false;
        assert_true(id < RX_QUEUE_SIZE && vg->rx_hdr[id] != 0);
        assert_true(len >= VSOCK_HDR_SIZE);
        vg->rx_outstanding--;
        vsock_hdr_decode(driver_ptr(&vg->rx, vg->rx_hdr[id]), h);
        assert_int_equal(len, VSOCK_HDR_SIZE + h->len);
        assert_true(h->len <= max);
        if (h->len > 0)
                memcpy(payload, driver_ptr(&vg->rx, vg->rx_buf[id]), h->len);
        vg->rx_hdr[id] = 0;
        return true;
}

uint8_t vg_payload[VSOCK_PAYLOAD_MAX];

VsockHdr vg_expect(uint16_t op, uint32_t guest_port, uint32_t host_port) {
        VsockHdr h;

        assert_true(vg_rx_take(&h, vg_payload, sizeof(vg_payload)));
        assert_int_equal(h.op, op);
        assert_int_equal(h.src_cid, VSOCK_HOST_CID);
        assert_int_equal(h.dst_cid, GUEST_CID);
        assert_int_equal(h.dst_port, guest_port);
        assert_int_equal(h.src_port, host_port);
        assert_int_equal(h.type, VSOCK_TYPE_STREAM);
        if (h.op != VSOCK_OP_RST) /* an RST of no connection has no credit to tell */
                assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
        return h;
}

void vg_expect_nothing(void) {
        VsockHdr h;

        assert_false(vg_rx_take(&h, vg_payload, sizeof(vg_payload)));
}

void vg_process(void) {
        bool irq;
        int r;

        do
                r = vsock_engine_process(&vg->e, &irq);
        while (r > 0);
        assert_int_equal(r, 0);
}

VsockConn *vg_conn(uint32_t guest_port, uint32_t host_port) {
        for (unsigned i = 0; i < VSOCK_CONNS_MAX; i++) {
                VsockConn *c = vg->e.conns[i];

                if (c && c->guest_port == guest_port && c->host_port == host_port)
                        return c;
        }
        return NULL;
}

int vg_accept(VsockConn *c) {
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
        assert_true(sv[0] < FD_MAX && sv[1] < FD_MAX);
        c->fd = sv[0];
        vg->peer[sv[0]] = sv[1];
        vsock_engine_host_connected(&vg->e, c, 0);
        return sv[1];
}

void vg_close_peer(int peer) {
        for (int fd = 0; fd < FD_MAX; fd++)
                if (vg->peer[fd] == peer)
                        vg->peer[fd] = 0;
        close(peer);
}

int vg_open(uint32_t guest_port, uint32_t host_port) {
        return vg_open_credit(guest_port, host_port, GUEST_BUF_ALLOC);
}

int vg_open_credit(uint32_t guest_port, uint32_t host_port, uint32_t buf_alloc) {
        VsockHdr h = vg_hdr(VSOCK_OP_REQUEST, guest_port, host_port);
        unsigned before = vg->n_connects;
        int peer;

        h.buf_alloc = buf_alloc;
        vg_send(&h, NULL, 0);
        vg_process();
        assert_int_equal(vg->n_connects, before + 1);
        peer = vg_accept(vg->connects[before]);
        vg_rx_fill(1, 4096);
        vg_process();
        vg_expect(VSOCK_OP_RESPONSE, guest_port, host_port);
        return peer;
}
