/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The vsock engine on guest memory that is the fuzz input
 * (fuzz-virtio-guest.h): both rings, every descriptor, header and payload
 * come from the guest. The host sides are fakes whose behaviour (how much
 * they take or give, EOF, errors, refused connects) follows the parameter
 * bytes. Each input runs a few rounds, with host → guest connects and
 * answers to guest → host connects in between. The engine must never
 * crash or loop, never hand the guest more than its credit, keep its
 * books (rx_cnt - fwd_cnt is what it holds, within our credit), stay
 * within its limits, and close every host side exactly once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-virtio-guest.h"
#include "fuzz.h"
#include "virtio-vsock-engine.h"

#define RX_DESC (FUZZ_RAM_A + 0x1000u)
#define RX_AVAIL (FUZZ_RAM_A + 0x1800u)
#define RX_USED (FUZZ_RAM_A + 0x1c00u)
#define GUEST_CID 3u
#define ROUNDS 6u

typedef struct FakeHost {
        uint32_t seed;
        unsigned opened, closed;
        VsockConn *pending[VSOCK_CONNS_MAX];
        unsigned n_pending;
} FakeHost;

static uint32_t next(FakeHost *h) {
        h->seed = h->seed * 1103515245u + 12345u;
        return h->seed >> 16;
}

static size_t iov_total(const struct iovec *iov, int n) {
        size_t t = 0;

        for (int i = 0; i < n; i++)
                t += iov[i].iov_len;
        return t;
}

static int fake_connect(void *userdata, VsockConn *c) {
        FakeHost *h = userdata;

        h->opened++;
        if (next(h) % 8 == 0)
                return -ENOMEM;
        h->pending[h->n_pending++ % VSOCK_CONNS_MAX] = c;
        return 0;
}

static ssize_t fake_send(void *userdata, VsockConn *c, const struct iovec *iov, int n) {
        FakeHost *h = userdata;
        size_t total = iov_total(iov, n);

        switch (next(h) % 8) {
        case 0:
                return -EAGAIN;
        case 1:
                return -EPIPE;
        case 2:
                return (ssize_t) (total / 2);
        default:
                return (ssize_t) total;
        }
}

static ssize_t fake_recv(void *userdata, VsockConn *c, const struct iovec *iov, int n) {
        FakeHost *h = userdata;
        size_t total = iov_total(iov, n), k;

        /* Never asked for more than the guest's credit. */
        if (total == 0 || total > vsock_conn_peer_credit(c) || c->state != VSOCK_CONN_ESTABLISHED)
                abort();
        switch (next(h) % 8) {
        case 0:
                return -EAGAIN;
        case 1:
                return 0;
        case 2:
                return -ECONNRESET;
        default:
                k = 1 + next(h) % total; /* some of what fits */
                for (size_t left = k, i = 0; left > 0; i++) {
                        size_t m = iov[i].iov_len < left ? iov[i].iov_len : left;
                        memset(iov[i].iov_base, 'h', m);
                        left -= m;
                }
                return (ssize_t) k;
        }
}

static void fake_nothing(void *userdata, VsockConn *c) {
}

static void fake_closed(void *userdata, VsockConn *c) {
        ((FakeHost *) userdata)->closed++;
}

static const VsockHostOps fake_ops = {
        .connect = fake_connect,
        .send = fake_send,
        .recv = fake_recv,
        .shutdown_write = fake_nothing,
        .established = fake_nothing,
        .closed = fake_closed,
};

static void check_books(VsockEngine *e) {
        unsigned n = 0, connecting = 0;

        for (unsigned i = 0; i < VSOCK_CONNS_MAX; i++) {
                VsockConn *c = e->conns[i];

                if (!c)
                        continue;
                n++;
                connecting += c->state == VSOCK_CONN_CONNECTING_HOST;
                if (c->buf_used > VSOCK_BUF_ALLOC || (c->buf_used > 0 && !c->buf))
                        abort();
                if (c->state != VSOCK_CONN_CLOSING && c->rx_cnt - c->fwd_cnt != c->buf_used)
                        abort();
        }
        if (n != e->n_conns || connecting != e->n_connecting || connecting > VSOCK_CONNECTING_MAX ||
            e->rst_n > VSOCK_RST_QUEUE)
                abort();
}

static void round_of_host(VsockEngine *e, FakeHost *h) {
        VsockConn *c;

        for (unsigned i = 0; i < h->n_pending && i < VSOCK_CONNS_MAX; i++) {
                c = h->pending[i];
                /* Only those still waiting: the engine may have freed the others. */
                for (unsigned j = 0; j < VSOCK_CONNS_MAX; j++)
                        if (e->conns[j] == c && c->state == VSOCK_CONN_CONNECTING_HOST)
                                vsock_engine_host_connected(e, c, next(h) % 4 == 0 ? -ECONNREFUSED : 0);
        }
        h->n_pending = 0;
        if (next(h) % 2 && vsock_engine_connect_guest(e, next(h) % 4, &c) == 0)
                h->opened++;
        for (unsigned j = 0; j < VSOCK_CONNS_MAX; j++)
                if (e->conns[j]) {
                        e->conns[j]->host_readable = next(h) % 2;
                        e->conns[j]->host_writable = next(h) % 2;
                }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static VsockEngine e;
        FakeHost host;
        FuzzGuest g;
        bool irq;

        if (fuzz_guest_new(&g, data, size) < 0)
                abort();
        host = (FakeHost) { .seed = (uint32_t) g.param[1] << 8 | g.param[2] };
        vsock_engine_init(&e, GUEST_CID, &fake_ops, &host);
        if (virtqueue_init(&e.tx, &g.mem, fuzz_queue_size(g.param[0]), FUZZ_DESC, FUZZ_AVAIL, FUZZ_USED) == 0 &&
            virtqueue_init(&e.rx, &g.mem, fuzz_queue_size(g.param[3]), RX_DESC, RX_AVAIL, RX_USED) == 0) {
                uint16_t avail_idx;

                /* The guest's tx packets show up over the rounds (a third
                 * each), so that later ones meet the connections earlier
                 * ones opened and the host answered. */
                memcpy(&avail_idx, g.a + (FUZZ_AVAIL - FUZZ_RAM_A) + 2, 2);
                e.live = true;
                for (unsigned round = 0; round < ROUNDS; round++) {
                        uint16_t shown = (uint16_t) ((uint32_t) avail_idx * (round / 2 + 1) / (ROUNDS / 2));
                        int r;

                        memcpy(g.a + (FUZZ_AVAIL - FUZZ_RAM_A) + 2, &shown, 2);
                        r = vsock_engine_process(&e, &irq);

                        check_books(&e);
                        if (r < 0)
                                break;
                        round_of_host(&e, &host);
                }
                (void) vsock_engine_take_new_errors(&e);
        }
        vsock_engine_reset(&e);
        if (host.closed != host.opened || e.n_conns != 0)
                abort();
        fuzz_guest_free(&g);
        return 0;
}
