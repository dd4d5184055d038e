/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "macro.h"
#include "virtio-blk.h"
#include "virtio-mmio.h"

#define HEADER_BYTES 16u
#define DISCARD_SEG_BYTES 16u
#define ZERO_CHUNK (64u * 1024)

_Static_assert(sizeof(VirtioBlkConfig) == 60, "virtio_blk_config layout");

static const uint8_t zeros[ZERO_CHUNK];

/* What one request needs while it is handled. */
typedef struct BlkRequest {
        VirtioBlk *blk;
        const VirtqChain *chain;
        uint64_t sector;
        uint64_t data_out;      /* readable bytes after the header */
        uint64_t data_in;       /* writable bytes before the status byte */
        uint32_t written;       /* bytes written into the chain, status excluded */
} BlkRequest;

int virtio_blk_init(VirtioBlk *b, int fd, bool readonly, const char *serial) {
        size_t serial_len = serial ? strlen(serial) : 0;

        if (fd < 0 || serial_len > VIRTIO_BLK_ID_BYTES)
                return -EINVAL;
        off_t end = lseek(fd, 0, SEEK_END);
        if (end < 0)
                return negative_errno();

        *b = (VirtioBlk) {
                .fd = fd,
                .readonly = readonly,
                .capacity = (uint64_t) end / VIRTIO_BLK_SECTOR_SIZE,
                .zero_method = VIRTIO_BLK_ZERO_RANGE,
        };
        if (serial_len > 0)
                memcpy(b->serial, serial, serial_len);  /* NUL-padded, no terminator at 20 */
        b->features = virtio_blk_device_features(b);
        return 0;
}

uint64_t virtio_blk_device_features(const VirtioBlk *b) {
        uint64_t f = UINT64_C(1) << VIRTIO_F_VERSION_1 |
                UINT64_C(1) << VIRTIO_BLK_F_SEG_MAX |
                UINT64_C(1) << VIRTIO_BLK_F_BLK_SIZE |
                UINT64_C(1) << VIRTIO_BLK_F_FLUSH;

        if (b->readonly)
                return f | UINT64_C(1) << VIRTIO_BLK_F_RO;
        return f | UINT64_C(1) << VIRTIO_BLK_F_DISCARD | UINT64_C(1) << VIRTIO_BLK_F_WRITE_ZEROES;
}

void virtio_blk_config(const VirtioBlk *b, VirtioBlkConfig *ret) {
        *ret = (VirtioBlkConfig) {
                .capacity = htole64(b->capacity),
                .seg_max = htole32(VIRTIO_BLK_SEG_MAX),
                .blk_size = htole32(VIRTIO_BLK_SECTOR_SIZE),
                .num_queues = htole16(1),
        };
        if (b->readonly)
                return;
        /* 4 KiB discard granularity: what file systems punch holes in. */
        ret->max_discard_sectors = htole32(VIRTIO_BLK_DISCARD_SECTORS_MAX);
        ret->max_discard_seg = htole32(VIRTIO_BLK_DISCARD_SEG_MAX);
        ret->discard_sector_alignment = htole32(4096 / VIRTIO_BLK_SECTOR_SIZE);
        ret->max_write_zeroes_sectors = htole32(VIRTIO_BLK_DISCARD_SECTORS_MAX);
        ret->max_write_zeroes_seg = htole32(VIRTIO_BLK_DISCARD_SEG_MAX);
        ret->write_zeroes_may_unmap = 1;
}

void virtio_blk_set_features(VirtioBlk *b, uint64_t features) {
        b->features = features & virtio_blk_device_features(b);
}

static bool has_feature(const VirtioBlk *b, unsigned bit) {
        return b->features & (UINT64_C(1) << bit);
}

/* [sector, sector + bytes / 512) is a whole number of sectors on the disk. */
static bool range_ok(const VirtioBlk *b, uint64_t sector, uint64_t bytes) {
        if (!IS_ALIGNED(bytes, VIRTIO_BLK_SECTOR_SIZE))
                return false;
        return sector <= b->capacity && bytes / VIRTIO_BLK_SECTOR_SIZE <= b->capacity - sector;
}

static uint8_t io_failed(VirtioBlk *b, int error) {
        b->stats.last_io_error = error;
        b->stats.errors_seen |= VIRTIO_BLK_ERROR_IO;
        return VIRTIO_BLK_S_IOERR;
}

static uint8_t request_invalid(VirtioBlk *b) {
        b->stats.errors_seen |= VIRTIO_BLK_ERROR_REQUEST;
        return VIRTIO_BLK_S_IOERR;
}

static uint8_t request_unsupported(VirtioBlk *b) {
        b->stats.errors_seen |= VIRTIO_BLK_ERROR_UNSUPPORTED;
        return VIRTIO_BLK_S_UNSUPP;
}

/* preadv/pwritev until all of iov moved; a short transfer goes on from
 * where it stopped, end of file is -EIO. */
static int transfer_full(int fd, bool write, struct iovec *iov, int n, uint64_t offset) {
        while (n > 0) {
                ssize_t k = write ? pwritev(fd, iov, n, (off_t) offset) : preadv(fd, iov, n, (off_t) offset);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return -EIO;
                offset += (uint64_t) k;
                for (size_t left = (size_t) k; n > 0 && left > 0;) {
                        size_t step = MIN(left, iov->iov_len);
                        iov->iov_base = (uint8_t *) iov->iov_base + step;
                        iov->iov_len -= step;
                        left -= step;
                        if (iov->iov_len == 0) {
                                iov++;
                                n--;
                        }
                }
        }
        return 0;
}

static uint8_t do_read_write(BlkRequest *q, bool write) {
        VirtioBlk *b = q->blk;
        uint64_t len = write ? q->data_out : q->data_in;
        struct iovec iov[VIRTQ_CHAIN_SEGMENTS_MAX];

        /* IN carries no data to the device, OUT none back. */
        if ((write ? q->data_in : q->data_out) != 0 || !range_ok(b, q->sector, len))
                return request_invalid(b);
        if (write && b->readonly)
                return request_invalid(b);
        if (len == 0)
                return VIRTIO_BLK_S_OK;
        int n = virtq_chain_iov(q->chain, !write, write ? HEADER_BYTES : 0, len, iov, ELEMENTSOF(iov));
        if (n < 0)
                return request_invalid(b);
        int r = transfer_full(b->fd, write, iov, n, q->sector * VIRTIO_BLK_SECTOR_SIZE);
        if (r < 0)
                return io_failed(b, r);
        if (!write)
                q->written = (uint32_t) len;
        return VIRTIO_BLK_S_OK;
}

static uint8_t do_flush(BlkRequest *q) {
        if (fdatasync(q->blk->fd) < 0)
                return io_failed(q->blk, negative_errno());
        return VIRTIO_BLK_S_OK;
}

static uint8_t do_get_id(BlkRequest *q) {
        uint32_t n = (uint32_t) MIN(q->data_in, (uint64_t) VIRTIO_BLK_ID_BYTES);

        if (q->data_out != 0 || n == 0)
                return request_invalid(q->blk);
        if (virtq_chain_write(q->chain, 0, q->blk->serial, n) < 0)
                return request_invalid(q->blk);
        q->written = n;
        return VIRTIO_BLK_S_OK;
}

static int write_zeros(int fd, uint64_t offset, uint64_t len) {
        while (len > 0) {
                ssize_t k = pwrite(fd, zeros, (size_t) MIN(len, (uint64_t) ZERO_CHUNK), (off_t) offset);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                offset += (uint64_t) k;
                len -= (uint64_t) k;
        }
        return 0;
}

static bool fallocate_unsupported(int error) {
        return IN_SET(error, -EOPNOTSUPP, -ENOSYS);
}

/* Zeroes [offset, offset + len) by the first method the backing store
 * supports, from zero_method on (unmap: a hole will do). */
static int zero_range(VirtioBlk *b, uint64_t offset, uint64_t len, bool unmap) {
        VirtioBlkZeroMethod m = unmap ? MAX(b->zero_method, VIRTIO_BLK_ZERO_PUNCH) : b->zero_method;

        for (;; m++) {
                int mode = m == VIRTIO_BLK_ZERO_RANGE ? FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE :
                                                        FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
                if (m == VIRTIO_BLK_ZERO_WRITE)
                        return write_zeros(b->fd, offset, len);
                if (fallocate(b->fd, mode, (off_t) offset, (off_t) len) >= 0)
                        return 0;
                int r = negative_errno();
                if (!fallocate_unsupported(r))
                        return r;
                b->zero_method = MAX(b->zero_method, m + 1);
        }
}

typedef struct DiscardSegment {
        uint64_t sector;
        uint32_t num_sectors;
        uint32_t flags;
} DiscardSegment;

/* Reads and checks segment i of a DISCARD/WRITE_ZEROES payload; returns
 * the status it deserves. */
static uint8_t read_discard_segment(BlkRequest *q, uint64_t i, bool zeroes, DiscardSegment *ret) {
        VirtioBlk *b = q->blk;
        uint8_t raw[DISCARD_SEG_BYTES];

        if (virtq_chain_read(q->chain, HEADER_BYTES + i * DISCARD_SEG_BYTES, raw, sizeof(raw)) < 0)
                return request_invalid(b);
        memcpy(&ret->sector, raw, 8);
        memcpy(&ret->num_sectors, raw + 8, 4);
        memcpy(&ret->flags, raw + 12, 4);
        ret->sector = le64toh(ret->sector);
        ret->num_sectors = le32toh(ret->num_sectors);
        ret->flags = le32toh(ret->flags);

        /* Only WRITE_ZEROES knows a flag (unmap); unknown flags: UNSUPP. */
        if (ret->flags & ~(zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0u))
                return request_unsupported(b);
        if (ret->num_sectors > VIRTIO_BLK_DISCARD_SECTORS_MAX ||
            !range_ok(b, ret->sector, (uint64_t) ret->num_sectors * VIRTIO_BLK_SECTOR_SIZE))
                return request_invalid(b);
        return VIRTIO_BLK_S_OK;
}

static uint8_t apply_discard_segment(VirtioBlk *b, const DiscardSegment *s, bool zeroes) {
        uint64_t offset = s->sector * VIRTIO_BLK_SECTOR_SIZE;
        uint64_t len = (uint64_t) s->num_sectors * VIRTIO_BLK_SECTOR_SIZE;

        if (len == 0)
                return VIRTIO_BLK_S_OK;
        int r = zeroes ? zero_range(b, offset, len, s->flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) :
                fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t) offset, (off_t) len) < 0 ?
                negative_errno() : 0;
        /* A discard is a hint: a store without holes ignores it. */
        if (r < 0 && !(!zeroes && fallocate_unsupported(r)))
                return io_failed(b, r);
        return VIRTIO_BLK_S_OK;
}

static uint8_t do_discard(BlkRequest *q, bool zeroes) {
        VirtioBlk *b = q->blk;
        uint64_t n = q->data_out / DISCARD_SEG_BYTES;

        if (!has_feature(b, zeroes ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD))
                return request_unsupported(b);
        if (q->data_in != 0 || n == 0 || q->data_out % DISCARD_SEG_BYTES != 0 || n > VIRTIO_BLK_DISCARD_SEG_MAX)
                return request_invalid(b);

        /* Every segment checked before any is applied. */
        DiscardSegment segs[VIRTIO_BLK_DISCARD_SEG_MAX];
        for (uint64_t i = 0; i < n; i++) {
                uint8_t status = read_discard_segment(q, i, zeroes, &segs[i]);
                if (status != VIRTIO_BLK_S_OK)
                        return status;
        }
        for (uint64_t i = 0; i < n; i++) {
                uint8_t status = apply_discard_segment(b, &segs[i], zeroes);
                if (status != VIRTIO_BLK_S_OK)
                        return status;
        }
        return VIRTIO_BLK_S_OK;
}

static uint8_t dispatch(BlkRequest *q, uint32_t type) {
        switch (type) {
        case VIRTIO_BLK_T_IN:
                return do_read_write(q, false);
        case VIRTIO_BLK_T_OUT:
                return do_read_write(q, true);
        case VIRTIO_BLK_T_FLUSH:
                return do_flush(q);
        case VIRTIO_BLK_T_GET_ID:
                return do_get_id(q);
        case VIRTIO_BLK_T_DISCARD:
                return do_discard(q, false);
        case VIRTIO_BLK_T_WRITE_ZEROES:
                return do_discard(q, true);
        default:
                return request_unsupported(q->blk);
        }
}

static void count_status(VirtioBlkStats *s, uint8_t status) {
        s->requests++;
        if (status == VIRTIO_BLK_S_OK)
                s->ok++;
        else if (status == VIRTIO_BLK_S_UNSUPP)
                s->unsupp++;
        else
                s->ioerr++;
}

int virtio_blk_handle_chain(VirtioBlk *b, const VirtqChain *c, uint32_t *ret_written) {
        /* The status is the last writable byte: without one there is no
         * way to answer. */
        if (c->writable_len == 0) {
                b->stats.malformed++;
                b->stats.errors_seen |= VIRTIO_BLK_ERROR_MALFORMED;
                return -EINVAL;
        }

        BlkRequest q = {
                .blk = b,
                .chain = c,
                .data_in = c->writable_len - 1,
        };
        uint8_t header[HEADER_BYTES], status;
        if (virtq_chain_read(c, 0, header, sizeof(header)) < 0)
                status = request_invalid(b);
        else {
                uint32_t type;
                memcpy(&type, header, 4);
                memcpy(&q.sector, header + 8, 8);
                q.sector = le64toh(q.sector);
                q.data_out = c->readable_len - HEADER_BYTES;
                status = dispatch(&q, le32toh(type));
        }
        if (status != VIRTIO_BLK_S_OK)
                q.written = 0;
        (void) virtq_chain_write(c, c->writable_len - 1, &status, 1);   /* in range: cannot fail */
        count_status(&b->stats, status);
        *ret_written = q.written + 1;
        return status;
}

int virtio_blk_process_queue(VirtioBlk *b, Virtqueue *q, bool *ret_interrupt) {
        VirtqChain chain;
        bool pushed = false;
        int r = 0;

        for (unsigned budget = q->size; budget > 0; budget--) {
                r = virtqueue_pop(q, &chain, VIRTIO_BLK_SEG_MAX + 2);
                if (r < 0) {
                        b->stats.malformed++;
                        b->stats.errors_seen |= VIRTIO_BLK_ERROR_MALFORMED;
                }
                if (r <= 0)
                        break;
                uint32_t written;
                r = virtio_blk_handle_chain(b, &chain, &written);
                if (r < 0) {
                        q->broken = r;  /* unanswerable: the queue stops here until a reset */
                        break;
                }
                virtqueue_push(q, chain.head, written);
                pushed = true;
                r = 1;
        }
        *ret_interrupt = pushed && virtqueue_should_interrupt(q);
        return r;
}

uint32_t virtio_blk_take_new_errors(VirtioBlk *b) {
        uint32_t new = b->stats.errors_seen & ~b->stats.errors_reported;

        b->stats.errors_reported |= new;
        return new;
}
