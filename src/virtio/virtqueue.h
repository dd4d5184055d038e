/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The device's half of a split virtqueue (VIRTIO_F_VERSION_1; no
 * EVENT_IDX, no INDIRECT_DESC). The rings live in guest memory that a
 * guest on another CPU changes at any time: every index is read once,
 * checked, and used from the local copy; descriptors are copied before
 * they are checked.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guest-memory.h"

#define VIRTQ_SIZE_MAX 32768u
/* The most segments any chain may have, whatever the device allows. */
#define VIRTQ_CHAIN_SEGMENTS_MAX 256u

#define VIRTQ_DESC_F_NEXT     1u
#define VIRTQ_DESC_F_WRITE    2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u

/* Guest memory layouts (little-endian). */
typedef struct VirtqDesc {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        uint16_t next;
} VirtqDesc;

typedef struct VirtqUsedElem {
        uint32_t id;
        uint32_t len;
} VirtqUsedElem;

typedef struct VirtqSegment {
        uint8_t *host;
        uint32_t len;
        bool writable;
} VirtqSegment;

/* One descriptor chain: the readable segments first, then the writable
 * ones (the order the spec requires). */
typedef struct VirtqChain {
        uint16_t head;
        unsigned n_segments;
        unsigned n_readable;
        uint64_t readable_len;
        uint64_t writable_len;
        VirtqSegment segments[VIRTQ_CHAIN_SEGMENTS_MAX];
} VirtqChain;

typedef struct Virtqueue {
        const GuestMemory *mem;
        uint16_t size;
        VirtqDesc *desc;
        uint16_t *avail;        /* flags, idx, ring[size] */
        uint16_t *used;         /* flags, idx, then VirtqUsedElem ring[size] */
        uint16_t last_avail_idx;
        uint16_t used_idx;
        int broken;             /* -errno once a ring-level error was seen */
} Virtqueue;

/* Checks size (power of two, 1..32768) and that each ring lies aligned and
 * wholly inside one region of mem: -EINVAL, -EFAULT. */
int virtqueue_init(Virtqueue *q, const GuestMemory *mem, uint32_t size,
                   uint64_t desc, uint64_t avail, uint64_t used);

/* Takes the next available chain into *ret (at most max_segments
 * segments). 1: a chain; 0: none available. Errors (the queue is broken
 * afterwards and answers every later call with the same error; the device
 * should set DEVICE_NEEDS_RESET):
 *   -EPROTO   the avail index jumped by more than the queue size
 *   -ERANGE   a head or next index >= queue size
 *   -ELOOP    a chain longer than the queue (a loop)
 *   -EFAULT   a buffer outside reachable memory
 *   -EINVAL   a zero-length buffer, a readable after a writable one, or
 *             an INDIRECT descriptor (not offered)
 *   -E2BIG    more than max_segments segments
 *   -EOVERFLOW the chain's total length exceeds 2^32 - 1 */
int virtqueue_pop(Virtqueue *q, VirtqChain *ret, unsigned max_segments);

/* Puts head on the used ring with the number of bytes written into the
 * chain's writable buffers, and publishes it. */
void virtqueue_push(Virtqueue *q, uint16_t head, uint32_t written);

/* Whether the driver wants an interrupt now (no EVENT_IDX: unless it set
 * VIRTQ_AVAIL_F_NO_INTERRUPT). Call after virtqueue_push(). */
bool virtqueue_should_interrupt(const Virtqueue *q);

/* Byte-stream views of a chain: the readable bytes, the writable bytes. */
/* Copies len readable bytes from offset; -EFAULT when past the end. */
int virtq_chain_read(const VirtqChain *c, uint64_t offset, void *buf, size_t len);
/* Copies len bytes to the writable bytes at offset; -EFAULT when past the end. */
int virtq_chain_write(const VirtqChain *c, uint64_t offset, const void *buf, size_t len);
/* Fills iov with [offset, offset + len) of the readable (writable = false)
 * or writable bytes; returns the number of entries or -EFAULT/-E2BIG. */
int virtq_chain_iov(const VirtqChain *c, bool writable, uint64_t offset, uint64_t len,
                    struct iovec *iov, unsigned iov_max);
