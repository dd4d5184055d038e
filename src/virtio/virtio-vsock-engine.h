/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The virtio-vsock protocol engine (virtio 1.x "Socket Device", stream
 * sockets only), independent of sockets: a connection table, credit
 * accounting both ways, and the rx/tx queues. The host side of each
 * connection is reached through VsockHostOps (the device process: Unix
 * sockets; tests and fuzzers: anything).
 *
 * Flow control: we advertise VSOCK_BUF_ALLOC bytes per connection and
 * reset a connection whose guest sends beyond it; what the host side
 * cannot take at once waits in a per-connection buffer allocated on
 * demand and freed when drained, so memory is bounded by the credit. We
 * never send the guest more than its own credit. The tx queue is always
 * drained (nothing the guest sends waits for the host), so a host peer
 * that stops reading stalls its connection only. The rx queue goes to
 * control packets first, then to data from ready connections in turn.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "virtio-vsock.h"
#include "virtqueue.h"

#define VSOCK_HOST_CID 2u
#define VSOCK_HDR_SIZE 44u
#define VSOCK_TYPE_STREAM 1u

enum {
        VSOCK_OP_INVALID = 0,
        VSOCK_OP_REQUEST = 1,
        VSOCK_OP_RESPONSE = 2,
        VSOCK_OP_RST = 3,
        VSOCK_OP_SHUTDOWN = 4,
        VSOCK_OP_RW = 5,
        VSOCK_OP_CREDIT_UPDATE = 6,
        VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_SHUTDOWN_RCV 1u   /* the sender will receive no more */
#define VSOCK_SHUTDOWN_SEND 2u  /* the sender will send no more */
#define VSOCK_SHUTDOWN_BOTH 3u

#define VSOCK_CONNS_MAX 256u
#define VSOCK_CONNECTING_MAX 16u        /* guest → host connects the host works on at once; more wait their turn */
#define VSOCK_BUF_ALLOC (64u * 1024)    /* our credit per connection */
#define VSOCK_PAYLOAD_MAX (64u * 1024)  /* per packet we send */
#define VSOCK_RST_QUEUE 16u             /* RSTs for unknown connections waiting for an rx buffer */
#define VSOCK_HOST_PORT_MIN 1024u
/* Linux (since "vsock/virtio: fix potential unbounded skb queue") charges
 * each packet queued on a socket its metadata, SKB_TRUESIZE(0) (576 bytes
 * on arm64 and x86_64), besides the payload, and drops without a word a
 * packet that does not fit buf_alloc, credit or not: the bytes and the
 * credit they hold are lost and the connection stalls. We charge each of
 * our data packets the guest has not consumed this much, with a margin. */
#define VSOCK_GUEST_PACKET_COST 1024u
#define VSOCK_GUEST_PACKETS_MAX 128u    /* our data packets in the guest at once, per connection */

/* struct virtio_vsock_hdr, in host byte order. */
typedef struct VsockHdr {
        uint64_t src_cid, dst_cid;
        uint32_t src_port, dst_port;
        uint32_t len;
        uint16_t type, op;
        uint32_t flags;
        uint32_t buf_alloc, fwd_cnt;
} VsockHdr;

void vsock_hdr_decode(const uint8_t b[VSOCK_HDR_SIZE], VsockHdr *ret);
void vsock_hdr_encode(const VsockHdr *h, uint8_t b[VSOCK_HDR_SIZE]);

typedef enum VsockConnState {
        VSOCK_CONN_CONNECT_QUEUED,      /* the guest sent REQUEST; VSOCK_CONNECTING_MAX others go first */
        VSOCK_CONN_CONNECTING_HOST,     /* the guest sent REQUEST; the host side is connecting */
        VSOCK_CONN_CONNECTING_GUEST,    /* we sent (or will send) REQUEST; waiting for RESPONSE */
        VSOCK_CONN_ESTABLISHED,
        VSOCK_CONN_CLOSING,             /* host side gone, an RST to send, then freed */
} VsockConnState;

/* Control packets a connection owes the guest: flags, never a queue. */
enum {
        VSOCK_PENDING_REQUEST = 1u << 0,
        VSOCK_PENDING_RESPONSE = 1u << 1,
        VSOCK_PENDING_SHUTDOWN = 1u << 2,
        VSOCK_PENDING_CREDIT_UPDATE = 1u << 3,
        VSOCK_PENDING_RST = 1u << 4,
};

typedef struct VsockConn {
        uint32_t id;                    /* unique while the engine lives (cookies) */
        uint32_t guest_port, host_port;
        VsockConnState state;
        uint32_t pending;               /* VSOCK_PENDING_* */
        uint32_t guest_shutdown;        /* VSOCK_SHUTDOWN_* the guest sent */
        uint32_t host_shutdown;         /* VSOCK_SHUTDOWN_* we sent the guest */
        bool host_readable;             /* set by the host layer, cleared on -EAGAIN */
        bool host_writable;
        bool host_write_shut;           /* shutdown_write() done */
        bool host_closed;               /* closed() called: the host side is gone */

        /* guest → host: our credit. */
        uint32_t rx_cnt;                /* bytes the guest sent */
        uint32_t fwd_cnt;               /* of them, handed to the host side */
        uint32_t fwd_cnt_told;          /* fwd_cnt in the last packet we sent */
        uint8_t *buf;                   /* VSOCK_BUF_ALLOC bytes when not NULL */
        uint32_t buf_head, buf_used;

        /* host → guest: the guest's credit. */
        uint32_t peer_buf_alloc, peer_fwd_cnt;
        uint32_t tx_cnt;                /* bytes we sent the guest */
        /* Where our data packets not consumed yet (by peer_fwd_cnt) end in
         * tx_cnt, oldest first (Linux consumes whole packets). */
        uint32_t sent_end[VSOCK_GUEST_PACKETS_MAX];
        uint16_t sent_head, sent_n;

        int fd;                         /* the host layer's, never touched here */
} VsockConn;

/* The host side of connections. The engine calls them from
 * vsock_engine_process() and the vsock_engine_* calls below. */
typedef struct VsockHostOps {
        /* The guest asked for host port c->host_port: start connecting and
         * answer with vsock_engine_host_connected(). <0: refused (RST). */
        int (*connect)(void *userdata, VsockConn *c);
        /* Bytes for the host peer: how many it took, -EAGAIN, or -errno (reset). */
        ssize_t (*send)(void *userdata, VsockConn *c, const struct iovec *iov, int n);
        /* Bytes from the host peer: count, 0 at EOF, -EAGAIN, or -errno (reset). */
        ssize_t (*recv)(void *userdata, VsockConn *c, const struct iovec *iov, int n);
        /* The guest will send no more and all it sent was delivered. */
        void (*shutdown_write)(void *userdata, VsockConn *c);
        /* A connection to the guest we asked for was accepted. */
        void (*established)(void *userdata, VsockConn *c);
        /* The connection is over: release the host side (no call after). */
        void (*closed)(void *userdata, VsockConn *c);
} VsockHostOps;

/* Kinds of guest errors, for logging each once per device. */
enum {
        VSOCK_ERROR_LENGTH = 1u << 0,   /* header and chain lengths disagree */
        VSOCK_ERROR_OP = 1u << 1,       /* unknown op or socket type */
        VSOCK_ERROR_CREDIT = 1u << 2,   /* data beyond the credit we gave */
        VSOCK_ERROR_CID = 1u << 3,      /* a source other than the guest or a destination other than the host */
        VSOCK_ERROR_STATE = 1u << 4,    /* a packet the connection's state does not allow */
        VSOCK_ERROR_LIMIT = 1u << 5,    /* too many connections or connects (RST), or an RST flood */
        VSOCK_ERROR_RX_BUFFER = 1u << 6, /* an rx buffer too small or not writable */
};

typedef struct VsockStats {
        uint64_t tx_packets, rx_packets;
        uint64_t resets;                /* connections reset because of the guest or the host */
        uint64_t rst_dropped;           /* RSTs for unknown connections that did not fit the queue */
        uint32_t errors_seen;           /* VSOCK_ERROR_* */
        uint32_t errors_reported;
} VsockStats;

typedef struct VsockEngine {
        uint64_t guest_cid;
        const VsockHostOps *ops;
        void *userdata;
        Virtqueue rx, tx;
        bool live;                      /* rx and tx set up by the caller */

        VsockConn *conns[VSOCK_CONNS_MAX];
        unsigned n_conns;
        unsigned n_connecting;          /* in VSOCK_CONN_CONNECTING_HOST */
        unsigned rr_control, rr_data;   /* round-robin positions */
        uint32_t next_id;
        uint32_t next_host_port;

        VsockHdr rst_queue[VSOCK_RST_QUEUE];
        unsigned rst_head, rst_n;

        VirtqChain tx_chain;
        VirtqChain rx_chain;
        bool rx_chain_held;             /* popped, not used yet */
        uint64_t rx_starved_usec;       /* control packets wait for an rx buffer since (debug log) */
        VsockStats stats;
} VsockEngine;

void vsock_engine_init(VsockEngine *e, uint64_t guest_cid, const VsockHostOps *ops, void *userdata);
/* The driver reset the device (or the device ends): every connection is
 * closed without a packet, the queues are forgotten. */
void vsock_engine_reset(VsockEngine *e);

/* Handles what the guest sent, flushes what waits for the host, fills rx
 * buffers. *ret_interrupt: the driver should get an interrupt. 0: done
 * until the next event; 1: the round's budget ran out, call again; a
 * queue's -errno when it is broken (the device needs a reset). */
int vsock_engine_process(VsockEngine *e, bool *ret_interrupt);

/* A host client wants guest port guest_port: a new connection (REQUEST
 * sent on the next process). -ENOTCONN without a driver, -EBUSY when the
 * table is full. */
int vsock_engine_connect_guest(VsockEngine *e, uint32_t guest_port, VsockConn **ret);
/* The answer to ops->connect: 0 (established, RESPONSE) or -errno (RST). */
void vsock_engine_host_connected(VsockEngine *e, VsockConn *c, int error);
/* The host layer gave up on a connection (e.g. its client hung up before
 * the guest answered): RST to the guest, closed. */
void vsock_engine_abort(VsockEngine *e, VsockConn *c);
VsockConn *vsock_engine_find_id(VsockEngine *e, uint32_t id);

/* The guest's credit for c, in bytes, less the metadata charge of the
 * packets it holds and of the next (VSOCK_GUEST_PACKET_COST). */
uint32_t vsock_conn_peer_credit(const VsockConn *c);

/* Error kinds seen since the previous call and never returned before. */
uint32_t vsock_engine_take_new_errors(VsockEngine *e);
