/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vsock connection table, our side of the credit (the bytes the guest
 * sent and the host did not take yet) and the ends of connections. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "virtio-vsock-internal.h"

void vsock_hdr_decode(const uint8_t b[VSOCK_HDR_SIZE], VsockHdr *ret) {
        uint64_t u64;
        uint32_t u32[5];
        uint16_t u16[2];

        memcpy(&u64, b, 8);
        ret->src_cid = le64toh(u64);
        memcpy(&u64, b + 8, 8);
        ret->dst_cid = le64toh(u64);
        memcpy(u32, b + 16, 12);
        memcpy(u16, b + 28, 4);
        memcpy(u32 + 3, b + 32, 8);
        ret->src_port = le32toh(u32[0]);
        ret->dst_port = le32toh(u32[1]);
        ret->len = le32toh(u32[2]);
        ret->type = le16toh(u16[0]);
        ret->op = le16toh(u16[1]);
        ret->flags = le32toh(u32[3]);
        ret->buf_alloc = le32toh(u32[4]);
        memcpy(u32, b + 40, 4);
        ret->fwd_cnt = le32toh(u32[0]);
}

void vsock_hdr_encode(const VsockHdr *h, uint8_t b[VSOCK_HDR_SIZE]) {
        uint64_t u64[2] = { htole64(h->src_cid), htole64(h->dst_cid) };
        uint32_t u32a[3] = { htole32(h->src_port), htole32(h->dst_port), htole32(h->len) };
        uint16_t u16[2] = { htole16(h->type), htole16(h->op) };
        uint32_t u32b[3] = { htole32(h->flags), htole32(h->buf_alloc), htole32(h->fwd_cnt) };

        memcpy(b, u64, 16);
        memcpy(b + 16, u32a, 12);
        memcpy(b + 28, u16, 4);
        memcpy(b + 32, u32b, 12);
}

void vsock_engine_init(VsockEngine *e, uint64_t guest_cid, const VsockHostOps *ops, void *userdata) {
        *e = (VsockEngine) {
                .guest_cid = guest_cid,
                .ops = ops,
                .userdata = userdata,
                .next_id = 1,
                .next_host_port = VSOCK_HOST_PORT_MIN,
        };
}

void vsock_engine_reset(VsockEngine *e) {
        for (unsigned i = 0; i < VSOCK_CONNS_MAX; i++)
                if (e->conns[i])
                        vsock_conn_free(e, e->conns[i]);
        e->rst_n = 0;
        e->rx_chain_held = false;
        e->live = false;
}

VsockConn *vsock_conn_find(VsockEngine *e, uint32_t guest_port, uint32_t host_port) {
        for (unsigned i = 0; i < VSOCK_CONNS_MAX; i++) {
                VsockConn *c = e->conns[i];

                if (c && c->guest_port == guest_port && c->host_port == host_port)
                        return c;
        }
        return NULL;
}

VsockConn *vsock_engine_find_id(VsockEngine *e, uint32_t id) {
        for (unsigned i = 0; i < VSOCK_CONNS_MAX; i++)
                if (e->conns[i] && e->conns[i]->id == id)
                        return e->conns[i];
        return NULL;
}

VsockConn *vsock_conn_new(VsockEngine *e, VsockConnState state, uint32_t guest_port, uint32_t host_port) {
        VsockConn *c;

        if (e->n_conns >= VSOCK_CONNS_MAX)
                return NULL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        *c = (VsockConn) {
                .id = e->next_id++ ?: e->next_id++,     /* 0 is no cookie */
                .guest_port = guest_port,
                .host_port = host_port,
                .state = state,
                .fd = -1,
        };
        for (unsigned i = 0; i < VSOCK_CONNS_MAX; i++)
                if (!e->conns[i]) {
                        e->conns[i] = c;
                        break;
                }
        e->n_conns++;
        if (state == VSOCK_CONN_CONNECTING_HOST)
                e->n_connecting++;
        return c;
}

static void close_host(VsockEngine *e, VsockConn *c) {
        if (c->host_closed)
                return;
        c->host_closed = true;
        e->ops->closed(e->userdata, c);
}

void vsock_conn_free(VsockEngine *e, VsockConn *c) {
        close_host(e, c);
        if (c->state == VSOCK_CONN_CONNECTING_HOST)
                e->n_connecting--;
        for (unsigned i = 0; i < VSOCK_CONNS_MAX; i++)
                if (e->conns[i] == c)
                        e->conns[i] = NULL;
        e->n_conns--;
        free(c->buf);
        free(c);
}

void vsock_conn_close(VsockEngine *e, VsockConn *c, bool rst) {
        if (!rst) {
                vsock_conn_free(e, c);
                return;
        }
        close_host(e, c);
        if (c->state == VSOCK_CONN_CONNECTING_HOST)
                e->n_connecting--;
        c->state = VSOCK_CONN_CLOSING;
        c->pending = VSOCK_PENDING_RST;
        free(c->buf);
        c->buf = NULL;
        c->buf_used = 0;
}

void vsock_engine_abort(VsockEngine *e, VsockConn *c) {
        e->stats.resets++;
        vsock_conn_close(e, c, true);
}

static bool host_port_in_use(VsockEngine *e, uint32_t port) {
        for (unsigned i = 0; i < VSOCK_CONNS_MAX; i++)
                if (e->conns[i] && e->conns[i]->host_port == port)
                        return true;
        return false;
}

int vsock_engine_connect_guest(VsockEngine *e, uint32_t guest_port, VsockConn **ret) {
        uint32_t port;
        VsockConn *c;

        if (!e->live)
                return -ENOTCONN;
        if (e->n_conns >= VSOCK_CONNS_MAX)
                return -EBUSY;
        /* At most VSOCK_CONNS_MAX ports are taken: this ends. */
        do {
                port = e->next_host_port;
                e->next_host_port = port == UINT32_MAX ? VSOCK_HOST_PORT_MIN : port + 1;
        } while (host_port_in_use(e, port));
        c = vsock_conn_new(e, VSOCK_CONN_CONNECTING_GUEST, guest_port, port);
        if (!c)
                return -ENOMEM;
        c->pending = VSOCK_PENDING_REQUEST;
        *ret = c;
        return 0;
}

/* Oldest first: connection ids grow with each REQUEST. */
static VsockConn *oldest_queued(VsockEngine *e) {
        VsockConn *oldest = NULL;

        for (unsigned i = 0; i < VSOCK_CONNS_MAX; i++) {
                VsockConn *c = e->conns[i];

                if (c && c->state == VSOCK_CONN_CONNECT_QUEUED && (!oldest || c->id < oldest->id))
                        oldest = c;
        }
        return oldest;
}

void vsock_start_queued_connects(VsockEngine *e) {
        VsockConn *c;

        while (e->n_connecting < VSOCK_CONNECTING_MAX && (c = oldest_queued(e))) {
                c->state = VSOCK_CONN_CONNECTING_HOST;
                e->n_connecting++;
                vsock_conn_debug(c, "connect handed to the host (%u connecting)", e->n_connecting);
                if (e->ops->connect(e->userdata, c) < 0)
                        vsock_conn_close(e, c, true);
        }
}

void vsock_engine_host_connected(VsockEngine *e, VsockConn *c, int error) {
        if (c->state != VSOCK_CONN_CONNECTING_HOST)
                return;
        vsock_conn_debug(c, "host connect: %d", error);
        if (error < 0) {
                vsock_conn_close(e, c, true);
                return;
        }
        e->n_connecting--;
        c->state = VSOCK_CONN_ESTABLISHED;
        c->pending |= VSOCK_PENDING_RESPONSE;
        c->host_readable = c->host_writable = true;
}

uint32_t vsock_conn_peer_credit(const VsockConn *c) {
        uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt, credit, charge;

        /* A guest that claims to have forwarded more than we sent gets nothing. */
        if (in_flight >= c->peer_buf_alloc)
                return 0;
        credit = c->peer_buf_alloc - in_flight;
        /* A guest that holds nothing of ours gets it all: a buffer too small
         * for the charge would get nothing ever. */
        if (c->sent_n == 0)
                return credit;
        if (c->sent_n >= VSOCK_GUEST_PACKETS_MAX)
                return 0;
        charge = (c->sent_n + 1u) * VSOCK_GUEST_PACKET_COST;
        return credit > charge ? credit - charge : 0;
}

void vsock_conn_peer_update(VsockConn *c, uint32_t buf_alloc, uint32_t fwd_cnt) {
        c->peer_buf_alloc = buf_alloc;
        c->peer_fwd_cnt = fwd_cnt;
        /* Packets that end at or before fwd_cnt (mod 2^32) were consumed. */
        while (c->sent_n > 0 && (int32_t) (fwd_cnt - c->sent_end[c->sent_head]) >= 0) {
                c->sent_head = (uint16_t) ((c->sent_head + 1u) % VSOCK_GUEST_PACKETS_MAX);
                c->sent_n--;
        }
}

void vsock_conn_sent(VsockConn *c, uint32_t len) {
        c->tx_cnt += len;
        c->sent_end[(c->sent_head + c->sent_n) % VSOCK_GUEST_PACKETS_MAX] = c->tx_cnt;
        c->sent_n++;
}

/* The guest learns of freed room from any packet we send; a CREDIT_UPDATE
 * of its own when half of our buffer was freed unannounced, so that a
 * guest out of credit always hears of it. */
static void forwarded(VsockConn *c, uint32_t n) {
        c->fwd_cnt += n;
        if (c->fwd_cnt - c->fwd_cnt_told >= VSOCK_BUF_ALLOC / 2)
                c->pending |= VSOCK_PENDING_CREDIT_UPDATE;
}

static int buffer_append(VsockConn *c, const VirtqChain *chain, uint64_t offset, uint32_t len) {
        uint32_t tail, first;
        int r;

        if (!c->buf) {
                c->buf = malloc(VSOCK_BUF_ALLOC);
                if (!c->buf)
                        return -ENOMEM;
                c->buf_head = 0;
        }
        tail = (c->buf_head + c->buf_used) % VSOCK_BUF_ALLOC;
        first = MIN(len, VSOCK_BUF_ALLOC - tail);
        r = virtq_chain_read(chain, offset, c->buf + tail, first);
        if (r >= 0 && first < len)
                r = virtq_chain_read(chain, offset + first, c->buf, len - first);
        if (r < 0)
                return r;
        c->buf_used += len;
        return 0;
}

int vsock_conn_deliver(VsockEngine *e, VsockConn *c, const VirtqChain *chain, uint64_t offset, uint32_t len) {
        struct iovec iov[VIRTQ_CHAIN_SEGMENTS_MAX];
        ssize_t n = 0;
        int k;

        c->rx_cnt += len;
        if (c->buf_used == 0 && c->host_writable && len > 0) {
                k = virtq_chain_iov(chain, false, offset, len, iov, ELEMENTSOF(iov));
                if (k < 0)
                        return k;
                n = e->ops->send(e->userdata, c, iov, k);
                if (n == -EAGAIN)
                        n = 0;
                if (n < 0)
                        return (int) n;
                if ((uint32_t) n < len)
                        c->host_writable = false;
                forwarded(c, (uint32_t) n);
        }
        if ((uint32_t) n < len)
                return buffer_append(c, chain, offset + (uint64_t) n, len - (uint32_t) n);
        return 0;
}

static int buffer_flush(VsockEngine *e, VsockConn *c) {
        while (c->buf_used > 0 && c->host_writable) {
                uint32_t first = MIN(c->buf_used, VSOCK_BUF_ALLOC - c->buf_head);
                struct iovec iov[2] = {
                        { c->buf + c->buf_head, first },
                        { c->buf, c->buf_used - first },
                };
                ssize_t n = e->ops->send(e->userdata, c, iov, iov[1].iov_len > 0 ? 2 : 1);

                if (n == -EAGAIN || n == 0) {
                        c->host_writable = false;
                        break;
                }
                if (n < 0)
                        return (int) n;
                c->buf_head = (c->buf_head + (uint32_t) n) % VSOCK_BUF_ALLOC;
                c->buf_used -= (uint32_t) n;
                forwarded(c, (uint32_t) n);
        }
        if (c->buf_used == 0) {
                /* Drained: the memory goes back until the host stalls again. */
                free(c->buf);
                c->buf = NULL;
        }
        return 0;
}

void vsock_conn_flush(VsockEngine *e, VsockConn *c) {
        if (c->state != VSOCK_CONN_ESTABLISHED)
                return;
        if (buffer_flush(e, c) < 0) {
                vsock_engine_abort(e, c);
                return;
        }
        if (c->buf_used > 0)
                return;
        /* A guest that shut down both ways is done with the connection
         * (Linux: close()); we answer with RST as Linux does. */
        if (c->guest_shutdown == VSOCK_SHUTDOWN_BOTH) {
                vsock_conn_close(e, c, true);
                return;
        }
        if ((c->guest_shutdown & VSOCK_SHUTDOWN_SEND) && !c->host_write_shut) {
                c->host_write_shut = true;
                e->ops->shutdown_write(e->userdata, c);
        }
}

void vsock_queue_rst(VsockEngine *e, const VsockHdr *h) {
        if (h->op == VSOCK_OP_RST)
                return; /* never answer an RST */
        if (e->rst_n >= VSOCK_RST_QUEUE) {
                e->stats.rst_dropped++;
                vsock_guest_error(e, VSOCK_ERROR_LIMIT);
                return;
        }
        e->rst_queue[(e->rst_head + e->rst_n++) % VSOCK_RST_QUEUE] = (VsockHdr) {
                .src_cid = h->dst_cid,
                .dst_cid = h->src_cid,
                .src_port = h->dst_port,
                .dst_port = h->src_port,
                .type = VSOCK_TYPE_STREAM,
                .op = VSOCK_OP_RST,
        };
}

uint32_t vsock_engine_take_new_errors(VsockEngine *e) {
        uint32_t new = e->stats.errors_seen & ~e->stats.errors_reported;

        e->stats.errors_reported |= new;
        return new;
}
