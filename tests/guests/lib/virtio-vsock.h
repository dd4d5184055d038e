/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A raw virtio-vsock driver for the test guests, on the virtio-mmio
 * transport of virtio-blk.c (probe, reset, feature negotiation): the three
 * queues (rx, tx, event), packets built and read field by field so that a
 * guest can send what no real driver would (wrong lengths, unknown
 * operations, spoofed addresses). One packet in flight on tx, completions
 * and receptions polled; everything the device touches lies in one DMA
 * area of VVS_DMA_SIZE bytes. Constants from the virtio 1.x spec (§5.10),
 * not from src/virtio. */

#include "virtio-blk.h"

#define VIRTIO_ID_VSOCK 19u
#define VVS_CFG_GUEST_CID 0x00

#define VSOCK_HOST_CID 2u
#define VSOCK_TYPE_STREAM 1u
#define VSOCK_OP_REQUEST 1u
#define VSOCK_OP_RESPONSE 2u
#define VSOCK_OP_RST 3u
#define VSOCK_OP_SHUTDOWN 4u
#define VSOCK_OP_RW 5u
#define VSOCK_OP_CREDIT_UPDATE 6u
#define VSOCK_OP_CREDIT_REQUEST 7u
#define VSOCK_SHUTDOWN_BOTH 3u
#define VSOCK_HDR_SIZE 44u

#define VVS_QUEUES 3
#define VVS_RXQ 0
#define VVS_TXQ 1
#define VVS_EVQ 2
#define VVS_QSIZE 16u
#define VVS_RX_BUF 0x1000u
#define VVS_TX_MAX 0x4000u
/* DMA area: each queue's rings at q * 0x3000, then the rx buffers, the tx
 * buffer, the event buffers. */
#define VVS_DMA_RX_BUFS 0x9000u
#define VVS_DMA_TX_BUF (VVS_DMA_RX_BUFS + VVS_QSIZE * VVS_RX_BUF)
#define VVS_DMA_EVENTS (VVS_DMA_TX_BUF + VVS_TX_MAX)
#define VVS_DMA_SIZE (VVS_DMA_EVENTS + 0x1000u)

#define VVS_ERR_TIMEOUT (-3)

/* A packet header in CPU order (the device's is 44 packed little-endian bytes). */
typedef struct vsock_hdr {
        uint64_t src_cid, dst_cid;
        uint32_t src_port, dst_port, len;
        uint16_t type, op;
        uint32_t flags, buf_alloc, fwd_cnt;
} vsock_hdr;

typedef struct vvq {
        uint64_t desc, avail, used;
        uint16_t size, avail_idx, used_seen;
} vvq;

typedef struct vvsock {
        vblk t;                 /* the transport: base, features */
        vvq q[VVS_QUEUES];
        uint64_t cid;           /* from the config space */
} vvsock;

/* Magic, Version 2 and DeviceID 19: 0; else -1. */
int vvsock_probe(uint64_t base);
/* Reset, VERSION_1, the three queues with their buffers, DRIVER_OK.
 * 0; -1 FEATURES_OK refused; -4 a queue refused. */
int vvsock_init(vvsock *v, uint64_t base, uint64_t dma);
/* The tx buffer (header then payload) and sending it: chain_len bytes of
 * it as one descriptor, whatever the header says. Waits (at most ~5 s)
 * for the device to use it: 0, VVS_ERR_TIMEOUT or VBLK_ERR_NEEDS_RESET. */
volatile uint8_t *vvsock_tx_buf(const vvsock *v);
void vvsock_put_hdr(volatile uint8_t *p, const vsock_hdr *h);
int vvsock_send_raw(vvsock *v, uint32_t chain_len);
/* A well-formed packet: h with len = n, payload copied after it. */
int vvsock_send(vvsock *v, const vsock_hdr *h, const void *payload, uint32_t n);
/* The next received packet within timeout_us: its header, up to max payload
 * bytes copied; returns the payload length copied or VVS_ERR_TIMEOUT. The
 * buffer goes back to the device. */
int vvsock_recv(vvsock *v, vsock_hdr *ret, uint8_t *payload, uint32_t max, uint64_t timeout_us);
