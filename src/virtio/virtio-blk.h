/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The virtio-blk device model over a backing fd (a raw image or a block
 * device). One request queue; requests are handled synchronously in
 * order: IN/OUT with preadv/pwritev, FLUSH with fdatasync before the
 * request completes, GET_ID, DISCARD (punch a hole), WRITE_ZEROES (zero
 * range, else punch a hole, else write zeros).
 */

#include <stdbool.h>
#include <stdint.h>

#include "virtqueue.h"

#define VIRTIO_ID_BLOCK 2u

/* Feature bits. */
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status. */
#define VIRTIO_BLK_T_IN           0u
#define VIRTIO_BLK_T_OUT          1u
#define VIRTIO_BLK_T_FLUSH        4u
#define VIRTIO_BLK_T_GET_ID       8u
#define VIRTIO_BLK_T_DISCARD      11u
#define VIRTIO_BLK_T_WRITE_ZEROES 13u
#define VIRTIO_BLK_S_OK     0u
#define VIRTIO_BLK_S_IOERR  1u
#define VIRTIO_BLK_S_UNSUPP 2u

#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u

#define VIRTIO_BLK_SECTOR_SIZE 512u
#define VIRTIO_BLK_ID_BYTES 20u
#define VIRTIO_BLK_QUEUE_SIZE_MAX 256u
/* Data segments per request; a chain adds the header and the status. */
#define VIRTIO_BLK_SEG_MAX 126u
#define VIRTIO_BLK_DISCARD_SEG_MAX 32u
#define VIRTIO_BLK_DISCARD_SECTORS_MAX (UINT32_MAX / VIRTIO_BLK_SECTOR_SIZE)

/* struct virtio_blk_config of virtio 1.x, up to write_zeroes_may_unmap. */
typedef struct __attribute__((packed)) VirtioBlkConfig {
        uint64_t capacity;
        uint32_t size_max;
        uint32_t seg_max;
        uint16_t cylinders;
        uint8_t heads;
        uint8_t sectors;
        uint32_t blk_size;
        uint8_t physical_block_exp;
        uint8_t alignment_offset;
        uint16_t min_io_size;
        uint32_t opt_io_size;
        uint8_t writeback;
        uint8_t unused0;
        uint16_t num_queues;
        uint32_t max_discard_sectors;
        uint32_t max_discard_seg;
        uint32_t discard_sector_alignment;
        uint32_t max_write_zeroes_sectors;
        uint32_t max_write_zeroes_seg;
        uint8_t write_zeroes_may_unmap;
        uint8_t unused1[3];
} VirtioBlkConfig;

/* How WRITE_ZEROES zeroes: the first method the backing store supports
 * (learnt on the first request, then kept). */
typedef enum VirtioBlkZeroMethod {
        VIRTIO_BLK_ZERO_RANGE,          /* fallocate(ZERO_RANGE) */
        VIRTIO_BLK_ZERO_PUNCH,          /* fallocate(PUNCH_HOLE|KEEP_SIZE) */
        VIRTIO_BLK_ZERO_WRITE,          /* pwrite of zeros */
} VirtioBlkZeroMethod;

/* Kinds of trouble, for logging each once per device (not per request). */
enum {
        VIRTIO_BLK_ERROR_IO = 1u << 0,          /* the backing store failed a request */
        VIRTIO_BLK_ERROR_REQUEST = 1u << 1,     /* a request the guest got wrong (IOERR) */
        VIRTIO_BLK_ERROR_UNSUPPORTED = 1u << 2, /* an unknown or not offered type (UNSUPP) */
        VIRTIO_BLK_ERROR_MALFORMED = 1u << 3,   /* a broken chain or ring: needs reset */
};

typedef struct VirtioBlkStats {
        uint64_t requests;
        uint64_t ok, ioerr, unsupp, malformed;
        int last_io_error;              /* -errno of the last failed backing call */
        uint32_t errors_seen;           /* VIRTIO_BLK_ERROR_* ever seen */
        uint32_t errors_reported;       /* the part virtio_blk_take_new_errors() returned */
} VirtioBlkStats;

typedef struct VirtioBlk {
        int fd;                         /* not owned */
        bool readonly;
        uint64_t capacity;              /* in sectors */
        char serial[VIRTIO_BLK_ID_BYTES];
        uint64_t features;              /* negotiated; the offer until set */
        VirtioBlkZeroMethod zero_method;
        VirtioBlkStats stats;
} VirtioBlk;

/* serial: NULL or at most 20 bytes (-EINVAL). The size of fd is taken
 * now (lseek, so block devices work too). */
int virtio_blk_init(VirtioBlk *b, int fd, bool readonly, const char *serial);
uint64_t virtio_blk_device_features(const VirtioBlk *b);
void virtio_blk_config(const VirtioBlk *b, VirtioBlkConfig *ret);
/* The features the driver accepted (at FEATURES_OK): requests of a type
 * whose feature was not negotiated get UNSUPP. */
void virtio_blk_set_features(VirtioBlk *b, uint64_t features);

/* Handles one chain: returns the status it wrote and sets *ret_written
 * (bytes written into the chain), or -EINVAL when the chain has no status
 * byte to answer in (malformed: the device needs a reset). */
int virtio_blk_handle_chain(VirtioBlk *b, const VirtqChain *c, uint32_t *ret_written);

/* Handles the available requests of q (at most one queue's worth).
 * *ret_interrupt: the driver should get an interrupt. Returns 0 when the
 * queue is empty, 1 when more requests wait (call again), -errno when the
 * queue is broken (set DEVICE_NEEDS_RESET; virtqueue_pop's errors). */
int virtio_blk_process_queue(VirtioBlk *b, Virtqueue *q, bool *ret_interrupt);

/* Error kinds seen since the previous call and never returned before, so
 * that a caller logs each kind once per device. */
uint32_t virtio_blk_take_new_errors(VirtioBlk *b);
