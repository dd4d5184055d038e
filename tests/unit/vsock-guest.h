/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A guest driver for the vsock engine's tests: the rx and tx queues in
 * memfds (virtio-driver.h), packets built and read as Linux 6.1 does
 * (header and payload in separate descriptors), and host sides that are
 * socketpairs whose far ends the test holds. */

#include <stdbool.h>
#include <stdint.h>

#include "virtio-driver.h"
#include "virtio-vsock-engine.h"

#define GUEST_CID 3u
#define GUEST_BUF_ALLOC (256u * 1024)
#define RX_QUEUE_SIZE 256u
#define FD_MAX 4096

typedef struct VsockGuest {
        VirtioDriver rx, tx;
        VsockEngine e;
        uint64_t rx_hdr[RX_QUEUE_SIZE], rx_buf[RX_QUEUE_SIZE]; /* by head */
        unsigned rx_outstanding;

        /* What the engine asked of the host side. */
        VsockConn *connects[VSOCK_CONNS_MAX];
        unsigned n_connects;
        unsigned n_established, n_closed, n_shutdown_write;
        bool stalled[FD_MAX];           /* send() says -EAGAIN */
        int peer[FD_MAX];               /* the test's end of each host side */
} VsockGuest;

extern VsockGuest *vg;

int vg_setup(void **state);
int vg_teardown(void **state);

VsockHdr vg_hdr(uint16_t op, uint32_t guest_port, uint32_t host_port);
/* Publishes h (its len as given: may lie) with payload bytes after it. */
void vg_send(const VsockHdr *h, const void *payload, uint32_t payload_len);
void vg_send_op(uint16_t op, uint32_t guest_port, uint32_t host_port, uint32_t flags);
void vg_send_data(uint32_t guest_port, uint32_t host_port, const void *data, uint32_t len, uint32_t fwd_cnt);
/* n rx buffers of a header and size bytes. */
void vg_rx_fill(unsigned n, uint32_t size);
/* The next packet the device gave the guest: false when none. */
bool vg_rx_take(VsockHdr *h, void *payload, size_t max);
/* The payload of the packet vg_expect() returned last. */
extern uint8_t vg_payload[VSOCK_PAYLOAD_MAX];
/* Expects the next packet to be op on the pair; returns it. */
VsockHdr vg_expect(uint16_t op, uint32_t guest_port, uint32_t host_port);
void vg_expect_nothing(void);
/* Runs the engine until it has nothing left to do. */
void vg_process(void);
/* Answers a pending guest → host connect with a socketpair; returns the
 * test's end. */
int vg_accept(VsockConn *c);
/* Closes the test's end of a host side. */
void vg_close_peer(int peer);
/* A guest → host connection on the pair, established: the test's end. */
int vg_open(uint32_t guest_port, uint32_t host_port);
/* The same, the guest advertising buf_alloc bytes of credit. */
int vg_open_credit(uint32_t guest_port, uint32_t host_port, uint32_t buf_alloc);
VsockConn *vg_conn(uint32_t guest_port, uint32_t host_port);
