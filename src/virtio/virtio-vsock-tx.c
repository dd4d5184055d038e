/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Packets the guest sends (the tx queue): checked, then applied to their
 * connection. Every chain is consumed at once, whatever the host does. */
#include <errno.h>

#include "macro.h"
#include "virtio-vsock-internal.h"

/* A guest mistake on connection c (or on no connection: h says which
 * peer to reset). */
static void reset(VsockEngine *e, VsockConn *c, const VsockHdr *h, uint32_t kind) {
        vsock_guest_error(e, kind);
        if (c) {
                e->stats.resets++;
                vsock_conn_close(e, c, true);
        } else
                vsock_queue_rst(e, h);
}

/* A burst of guest connects (a client opening 64 at once) waits in the
 * table rather than being reset: only the table's size refuses one. */
static void guest_request(VsockEngine *e, const VsockHdr *h) {
        VsockConn *c;

        if (e->n_conns >= VSOCK_CONNS_MAX) {
                vsock_guest_error(e, VSOCK_ERROR_LIMIT);
                vsock_queue_rst(e, h);
                return;
        }
        c = vsock_conn_new(e, VSOCK_CONN_CONNECT_QUEUED, h->src_port, h->dst_port);
        if (!c) {
                vsock_queue_rst(e, h);
                return;
        }
        c->peer_buf_alloc = h->buf_alloc;
        c->peer_fwd_cnt = h->fwd_cnt;
        vsock_conn_debug(c, "REQUEST from the guest (%u connections, %u connecting)", e->n_conns, e->n_connecting);
        vsock_start_queued_connects(e);
}

static void guest_rw(VsockEngine *e, VsockConn *c, const VsockHdr *h, const VirtqChain *chain) {
        if (c->state != VSOCK_CONN_ESTABLISHED || (c->guest_shutdown & VSOCK_SHUTDOWN_SEND)) {
                reset(e, c, h, VSOCK_ERROR_STATE);
                return;
        }
        /* What the guest may have in flight: our buffer minus what it knows we forwarded. */
        if ((uint64_t) (c->rx_cnt - c->fwd_cnt) + h->len > VSOCK_BUF_ALLOC) {
                reset(e, c, h, VSOCK_ERROR_CREDIT);
                return;
        }
        if (vsock_conn_deliver(e, c, chain, VSOCK_HDR_SIZE, h->len) < 0) {
                e->stats.resets++;
                vsock_conn_close(e, c, true);
        }
}

static void guest_packet_on(VsockEngine *e, VsockConn *c, const VsockHdr *h, const VirtqChain *chain) {
        if (c->state == VSOCK_CONN_CLOSING) {
                vsock_conn_debug(c, "op %u from the guest while our RST is due", h->op);
                /* Our RST is on its way: whatever crossed it is moot. */
                if (h->op == VSOCK_OP_RST)
                        vsock_conn_free(e, c);
                return;
        }
        vsock_conn_peer_update(c, h->buf_alloc, h->fwd_cnt);
        if (h->op != VSOCK_OP_RW && h->op != VSOCK_OP_CREDIT_UPDATE && h->op != VSOCK_OP_CREDIT_REQUEST)
                vsock_conn_debug(c, "op %u (flags %" PRIu32 ") from the guest in state %d", h->op, h->flags, c->state);
        switch (h->op) {
        case VSOCK_OP_REQUEST:
                reset(e, c, h, VSOCK_ERROR_STATE);
                return;
        case VSOCK_OP_RESPONSE:
                if (c->state != VSOCK_CONN_CONNECTING_GUEST || (c->pending & VSOCK_PENDING_REQUEST)) {
                        reset(e, c, h, VSOCK_ERROR_STATE);
                        return;
                }
                c->state = VSOCK_CONN_ESTABLISHED;
                c->host_readable = c->host_writable = true;
                e->ops->established(e->userdata, c);
                return;
        case VSOCK_OP_RST:
                vsock_conn_free(e, c);
                return;
        case VSOCK_OP_SHUTDOWN:
                c->guest_shutdown |= h->flags & VSOCK_SHUTDOWN_BOTH;
                vsock_conn_flush(e, c);
                return;
        case VSOCK_OP_RW:
                guest_rw(e, c, h, chain);
                return;
        case VSOCK_OP_CREDIT_UPDATE:
                return;
        case VSOCK_OP_CREDIT_REQUEST:
                c->pending |= VSOCK_PENDING_CREDIT_UPDATE;
                return;
        }
}

static void guest_packet(VsockEngine *e, const VirtqChain *chain) {
        uint8_t raw[VSOCK_HDR_SIZE];
        VsockConn *c;
        VsockHdr h;

        e->stats.tx_packets++;
        if (virtq_chain_read(chain, 0, raw, sizeof(raw)) < 0) {
                vsock_guest_error(e, VSOCK_ERROR_LENGTH); /* no header: nobody to answer */
                return;
        }
        vsock_hdr_decode(raw, &h);
        if (h.src_cid != e->guest_cid) {
                vsock_guest_error(e, VSOCK_ERROR_CID); /* not the guest's to speak for: dropped */
                return;
        }
        if (h.dst_cid != VSOCK_HOST_CID) {
                reset(e, NULL, &h, VSOCK_ERROR_CID);
                return;
        }
        c = vsock_conn_find(e, h.src_port, h.dst_port);
        if (h.type != VSOCK_TYPE_STREAM || h.op == VSOCK_OP_INVALID || h.op > VSOCK_OP_CREDIT_REQUEST) {
                reset(e, c, &h, VSOCK_ERROR_OP);
                return;
        }
        if (chain->readable_len != (uint64_t) VSOCK_HDR_SIZE + h.len || (h.op != VSOCK_OP_RW && h.len != 0)) {
                reset(e, c, &h, VSOCK_ERROR_LENGTH);
                return;
        }
        if (c)
                guest_packet_on(e, c, &h, chain);
        else if (h.op == VSOCK_OP_REQUEST)
                guest_request(e, &h);
        else
                vsock_queue_rst(e, &h);
}

int vsock_tx_process(VsockEngine *e, bool *interrupt) {
        int r;

        /* One queue's worth per call: the caller comes back while more wait. */
        for (unsigned i = 0; i < e->tx.size; i++) {
                r = virtqueue_pop(&e->tx, &e->tx_chain, VIRTQ_CHAIN_SEGMENTS_MAX);
                if (r <= 0)
                        return r;
                guest_packet(e, &e->tx_chain);
                virtqueue_push(&e->tx, e->tx_chain.head, 0);
                *interrupt = *interrupt || virtqueue_should_interrupt(&e->tx);
        }
        return 1;
}
