/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the engine's files (virtio-vsock-{conn,tx,rx}.c) share. */

#include <inttypes.h>

#include "log.h"
#include "time-util.h"
#include "virtio-vsock-engine.h"

/* A connection's steps at debug level, with its ports and the host's
 * CLOCK_MONOTONIC in ms (the simulated guest's clock too: kernel log
 * times and these line up). */
#define vsock_conn_debug(c, fmt, ...)                                                                          \
        log_debug("vsock guest port %" PRIu32 " host port %" PRIu32 " (conn %" PRIu32 "): " fmt " at %" PRIu64 \
                  " ms", (c)->guest_port, (c)->host_port, (c)->id, ##__VA_ARGS__, now_monotonic_usec() / USEC_PER_MSEC)

static inline void vsock_guest_error(VsockEngine *e, uint32_t kind) {
        e->stats.errors_seen |= kind;
}

VsockConn *vsock_conn_find(VsockEngine *e, uint32_t guest_port, uint32_t host_port);
/* A new connection in state, or NULL when the table is full (or no memory). */
VsockConn *vsock_conn_new(VsockEngine *e, VsockConnState state, uint32_t guest_port, uint32_t host_port);
/* Closes the host side; with rst, the conn stays until the guest got its
 * RST, else it is freed now. */
void vsock_conn_close(VsockEngine *e, VsockConn *c, bool rst);
void vsock_conn_free(VsockEngine *e, VsockConn *c);

/* Guest data for the host: len bytes of the chain at offset. Forwards what
 * the host takes now, keeps the rest. -errno: the host side failed. */
int vsock_conn_deliver(VsockEngine *e, VsockConn *c, const VirtqChain *chain, uint64_t offset, uint32_t len);
/* Sends what waits for the host while it takes it; then shuts down or
 * closes what the guest shut down. */
void vsock_conn_flush(VsockEngine *e, VsockConn *c);

/* The guest's buf_alloc and fwd_cnt from a packet of c. */
void vsock_conn_peer_update(VsockConn *c, uint32_t buf_alloc, uint32_t fwd_cnt);
/* A data packet of len bytes went to the guest. */
void vsock_conn_sent(VsockConn *c, uint32_t len);

/* Queues an RST answering h (a packet of no connection). */
void vsock_queue_rst(VsockEngine *e, const VsockHdr *h);
/* Hands queued guest connects to the host while fewer than VSOCK_CONNECTING_MAX are in flight. */
void vsock_start_queued_connects(VsockEngine *e);

int vsock_tx_process(VsockEngine *e, bool *interrupt);
