/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Packets for the guest (the rx queue): RSTs for unknown connections, then
 * the control packets connections owe, then data from the host sides of
 * ready connections, one packet per connection in turn. And the round of
 * work the device does after every event. */
#include <errno.h>

#include "macro.h"
#include "virtio-vsock-internal.h"

static VsockHdr conn_hdr(const VsockEngine *e, const VsockConn *c, uint16_t op) {
        return (VsockHdr) {
                .src_cid = VSOCK_HOST_CID,
                .dst_cid = e->guest_cid,
                .src_port = c->host_port,
                .dst_port = c->guest_port,
                .type = VSOCK_TYPE_STREAM,
                .op = op,
                .buf_alloc = VSOCK_BUF_ALLOC,
                .fwd_cnt = c->fwd_cnt,
        };
}

/* An rx chain to fill: 1, 0 when the guest gave none, -errno when the
 * queue is broken. Chains that cannot hold a header are returned empty. */
static int rx_chain(VsockEngine *e) {
        int r;

        while (!e->rx_chain_held) {
                r = virtqueue_pop(&e->rx, &e->rx_chain, VIRTQ_CHAIN_SEGMENTS_MAX);
                if (r <= 0)
                        return r;
                if (e->rx_chain.n_readable == 0 && e->rx_chain.writable_len >= VSOCK_HDR_SIZE) {
                        e->rx_chain_held = true;
                        break;
                }
                vsock_guest_error(e, VSOCK_ERROR_RX_BUFFER);
                virtqueue_push(&e->rx, e->rx_chain.head, 0);
        }
        return 1;
}

static void rx_send(VsockEngine *e, const VsockHdr *h, bool *interrupt) {
        uint8_t raw[VSOCK_HDR_SIZE];

        vsock_hdr_encode(h, raw);
        /* rx_chain() made sure the header fits. */
        (void) virtq_chain_write(&e->rx_chain, 0, raw, sizeof(raw));
        virtqueue_push(&e->rx, e->rx_chain.head, VSOCK_HDR_SIZE + h->len);
        e->rx_chain_held = false;
        e->stats.rx_packets++;
        *interrupt = *interrupt || virtqueue_should_interrupt(&e->rx);
}

/* The most urgent control packet c owes, or 0. */
static uint16_t control_op(VsockConn *c, uint32_t *ret_flags) {
        static const struct {
                uint32_t bit;
                uint16_t op;
        } order[] = {
                { VSOCK_PENDING_RST, VSOCK_OP_RST },
                { VSOCK_PENDING_REQUEST, VSOCK_OP_REQUEST },
                { VSOCK_PENDING_RESPONSE, VSOCK_OP_RESPONSE },
                { VSOCK_PENDING_SHUTDOWN, VSOCK_OP_SHUTDOWN },
                { VSOCK_PENDING_CREDIT_UPDATE, VSOCK_OP_CREDIT_UPDATE },
        };

        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                if (c->pending & order[i].bit) {
                        c->pending &= ~order[i].bit;
                        *ret_flags = order[i].op == VSOCK_OP_SHUTDOWN ? c->host_shutdown : 0;
                        return order[i].op;
                }
        return 0;
}

/* One control packet into the held chain: true when one was sent. */
static bool rx_control(VsockEngine *e, bool *interrupt) {
        if (e->rst_n > 0) {
                rx_send(e, &e->rst_queue[e->rst_head], interrupt);
                e->rst_head = (e->rst_head + 1) % VSOCK_RST_QUEUE;
                e->rst_n--;
                return true;
        }
        for (unsigned k = 0; k < VSOCK_CONNS_MAX; k++) {
                unsigned i = (e->rr_control + k) % VSOCK_CONNS_MAX;
                VsockConn *c = e->conns[i];
                VsockHdr h;
                uint32_t flags = 0;
                uint16_t op;

                if (!c || c->pending == 0)
                        continue;
                op = control_op(c, &flags);
                h = conn_hdr(e, c, op);
                h.flags = flags;
                c->fwd_cnt_told = c->fwd_cnt;
                c->pending &= ~VSOCK_PENDING_CREDIT_UPDATE; /* h says it */
                rx_send(e, &h, interrupt);
                if (op != VSOCK_OP_CREDIT_UPDATE)
                        vsock_conn_debug(c, "op %u to the guest (rx used idx %u, interrupt %d)", op,
                                         (unsigned) e->rx.used_idx, *interrupt);
                e->rr_control = i + 1;
                if (op == VSOCK_OP_RST)
                        vsock_conn_free(e, c);
                return true;
        }
        return false;
}

static bool wants_host_data(const VsockConn *c) {
        return c->state == VSOCK_CONN_ESTABLISHED && c->host_readable && !(c->host_shutdown & VSOCK_SHUTDOWN_SEND) &&
               !(c->guest_shutdown & VSOCK_SHUTDOWN_RCV) && vsock_conn_peer_credit(c) > 0;
}

/* Reads from c's host side into the held chain. 1: sent; 0: nothing to
 * send (would block, or EOF turned into a pending SHUTDOWN). */
static int rx_data_from(VsockEngine *e, VsockConn *c, bool *interrupt) {
        struct iovec iov[VIRTQ_CHAIN_SEGMENTS_MAX];
        uint64_t room = e->rx_chain.writable_len - VSOCK_HDR_SIZE;
        uint32_t len = (uint32_t) MIN(MIN(room, (uint64_t) VSOCK_PAYLOAD_MAX), (uint64_t) vsock_conn_peer_credit(c));
        VsockHdr h;
        ssize_t n;
        int k;

        if (len == 0)
                return 0; /* a header-only buffer: the next control packet takes it */
        k = virtq_chain_iov(&e->rx_chain, true, VSOCK_HDR_SIZE, len, iov, ELEMENTSOF(iov));
        if (k < 0)
                return 0;
        n = e->ops->recv(e->userdata, c, iov, k);
        if (n == -EAGAIN) {
                c->host_readable = false;
                return 0;
        }
        if (n == 0) {
                c->host_shutdown |= VSOCK_SHUTDOWN_SEND;
                c->pending |= VSOCK_PENDING_SHUTDOWN;
                return 0;
        }
        if (n < 0) {
                vsock_engine_abort(e, c);
                return 0;
        }
        h = conn_hdr(e, c, VSOCK_OP_RW);
        h.len = (uint32_t) MIN((uint64_t) n, (uint64_t) len);
        vsock_conn_sent(c, h.len);
        c->fwd_cnt_told = c->fwd_cnt;
        c->pending &= ~VSOCK_PENDING_CREDIT_UPDATE;
        rx_send(e, &h, interrupt);
        return 1;
}

/* One data packet, from the next ready connection after the last served. */
static bool rx_data(VsockEngine *e, bool *interrupt) {
        for (unsigned k = 0; k < VSOCK_CONNS_MAX; k++) {
                unsigned i = (e->rr_data + k) % VSOCK_CONNS_MAX;
                VsockConn *c = e->conns[i];

                if (!c || !wants_host_data(c))
                        continue;
                if (rx_data_from(e, c, interrupt) > 0) {
                        e->rr_data = i + 1;
                        return true;
                }
                if (c->pending)
                        return rx_control(e, interrupt); /* EOF: its SHUTDOWN now */
        }
        return false;
}

static bool control_pending(const VsockEngine *e) {
        if (e->rst_n > 0)
                return true;
        for (unsigned i = 0; i < VSOCK_CONNS_MAX; i++)
                if (e->conns[i] && (e->conns[i]->pending & ~VSOCK_PENDING_CREDIT_UPDATE))
                        return true;
        return false;
}

/* Logs (debug) how long control packets waited for the guest to give rx
 * buffers: a guest that does not refill its rx queue delays connects. */
static void rx_note_starved(VsockEngine *e, bool starved) {
        uint64_t now;

        if (starved == (e->rx_starved_usec != 0) || (starved && !control_pending(e)))
                return;
        now = now_monotonic_usec();
        if (starved) {
                e->rx_starved_usec = now;
                log_debug("vsock: control packets wait for an rx buffer at %" PRIu64 " ms", now / USEC_PER_MSEC);
                return;
        }
        log_debug("vsock: rx buffer after %" PRIu64 " ms without one, at %" PRIu64 " ms",
                  (now - e->rx_starved_usec) / USEC_PER_MSEC, now / USEC_PER_MSEC);
        e->rx_starved_usec = 0;
}

/* At most two queues' worth per round (the guest refills while we fill):
 * 1 when more may be ready. */
static int rx_process(VsockEngine *e, bool *interrupt) {
        int r;

        for (unsigned i = 0; i < 2u * e->rx.size; i++) {
                r = rx_chain(e);
                if (r >= 0)
                        rx_note_starved(e, r == 0);
                if (r <= 0)
                        return r;
                if (!rx_control(e, interrupt) && !rx_data(e, interrupt))
                        return 0; /* the chain stays held for the next round */
        }
        return 1;
}

int vsock_engine_process(VsockEngine *e, bool *ret_interrupt) {
        bool interrupt = false;
        int r;

        *ret_interrupt = false;
        if (!e->live)
                return 0;
        /* Answers since the last round made room for queued connects. */
        vsock_start_queued_connects(e);
        do
                r = vsock_tx_process(e, &interrupt);
        while (r > 0);
        if (r < 0)
                goto done;
        for (unsigned i = 0; i < VSOCK_CONNS_MAX; i++)
                if (e->conns[i] && (e->conns[i]->buf_used > 0 || e->conns[i]->guest_shutdown))
                        vsock_conn_flush(e, e->conns[i]);
        r = rx_process(e, &interrupt);
done:
        *ret_interrupt = interrupt;
        return r;
}
