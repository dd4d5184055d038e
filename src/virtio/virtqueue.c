/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "virtqueue.h"

/* Offsets in 16-bit words of the avail and used rings' headers. */
#define RING_FLAGS 0
#define RING_IDX   1

static bool is_power_of_two(uint32_t x) {
        return x != 0 && (x & (x - 1)) == 0;
}

int virtqueue_init(Virtqueue *q, const GuestMemory *mem, uint32_t size,
                   uint64_t desc, uint64_t avail, uint64_t used) {
        if (!is_power_of_two(size) || size > VIRTQ_SIZE_MAX)
                return -EINVAL;
        /* Alignments of the split rings (virtio 1.x §2.7). */
        if (!IS_ALIGNED(desc, 16) || !IS_ALIGNED(avail, 2) || !IS_ALIGNED(used, 4))
                return -EINVAL;
        /* avail: flags, idx, ring[size], used_event; used: flags, idx,
         * ring[size] of 8 bytes, avail_event. */
        void *d = guest_memory_translate(mem, desc, 16ull * size);
        void *a = guest_memory_translate(mem, avail, 6ull + 2ull * size);
        void *u = guest_memory_translate(mem, used, 6ull + 8ull * size);
        if (!d || !a || !u)
                return -EFAULT;

        *q = (Virtqueue) {
                .mem = mem,
                .size = (uint16_t) size,        /* 32768 fits */
                .desc = d,
                .avail = a,
                .used = u,
        };
        return 0;
}

static int queue_fail(Virtqueue *q, int error) {
        q->broken = error;
        return error;
}

/* A copy of descriptor i, each field read once. */
static VirtqDesc read_desc(const Virtqueue *q, uint16_t i) {
        const VirtqDesc *d = &q->desc[i];

        return (VirtqDesc) {
                .addr = le64toh(__atomic_load_n(&d->addr, __ATOMIC_RELAXED)),
                .len = le32toh(__atomic_load_n(&d->len, __ATOMIC_RELAXED)),
                .flags = le16toh(__atomic_load_n(&d->flags, __ATOMIC_RELAXED)),
                .next = le16toh(__atomic_load_n(&d->next, __ATOMIC_RELAXED)),
        };
}

static int chain_add(const Virtqueue *q, VirtqChain *c, const VirtqDesc *d, unsigned max_segments) {
        bool writable = d->flags & VIRTQ_DESC_F_WRITE;

        if (d->flags & VIRTQ_DESC_F_INDIRECT || d->len == 0)
                return -EINVAL;
        if (!writable && c->n_segments > c->n_readable)
                return -EINVAL;
        if (c->n_segments >= max_segments)
                return -E2BIG;
        if (c->readable_len + c->writable_len + d->len > UINT32_MAX)
                return -EOVERFLOW;
        uint8_t *host = guest_memory_translate(q->mem, d->addr, d->len);
        if (!host)
                return -EFAULT;

        c->segments[c->n_segments++] = (VirtqSegment) {
                .host = host,
                .len = d->len,
                .writable = writable,
        };
        if (writable)
                c->writable_len += d->len;
        else {
                c->n_readable++;
                c->readable_len += d->len;
        }
        return 0;
}

static int chain_walk(const Virtqueue *q, uint16_t head, VirtqChain *c, unsigned max_segments) {
        max_segments = MIN(max_segments, VIRTQ_CHAIN_SEGMENTS_MAX);
        c->head = head;
        c->n_segments = c->n_readable = 0;
        c->readable_len = c->writable_len = 0;

        uint16_t i = head;
        for (unsigned count = 0;; count++) {
                if (i >= q->size)
                        return -ERANGE;
                /* Every descriptor of the table at most once: more is a loop. */
                if (count >= q->size)
                        return -ELOOP;
                VirtqDesc d = read_desc(q, i);
                int r = chain_add(q, c, &d, max_segments);
                if (r < 0)
                        return r;
                if (!(d.flags & VIRTQ_DESC_F_NEXT))
                        return 0;
                i = d.next;
        }
}

int virtqueue_pop(Virtqueue *q, VirtqChain *ret, unsigned max_segments) {
        if (q->broken)
                return q->broken;
        if (!q->desc)
                return -EINVAL;

        /* Acquire: the ring entry and descriptors the driver wrote before
         * publishing this index are visible after it. */
        uint16_t avail_idx = le16toh(__atomic_load_n(&q->avail[RING_IDX], __ATOMIC_ACQUIRE));
        uint16_t pending = (uint16_t) (avail_idx - q->last_avail_idx);
        if (pending == 0)
                return 0;
        if (pending > q->size)
                return queue_fail(q, -EPROTO);

        uint16_t slot = q->last_avail_idx & (q->size - 1);
        uint16_t head = le16toh(__atomic_load_n(&q->avail[2 + slot], __ATOMIC_RELAXED));
        int r = chain_walk(q, head, ret, max_segments);
        if (r < 0)
                return queue_fail(q, r);
        q->last_avail_idx++;
        return 1;
}

void virtqueue_push(Virtqueue *q, uint16_t head, uint32_t written) {
        VirtqUsedElem *ring = (VirtqUsedElem *) (q->used + 2);
        VirtqUsedElem *e = &ring[q->used_idx & (q->size - 1)];

        __atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
        __atomic_store_n(&e->len, htole32(written), __ATOMIC_RELAXED);
        q->used_idx++;
        /* Release: the element and the data written into the buffers are
         * visible before the index that hands them to the driver. */
        __atomic_store_n(&q->used[RING_IDX], htole16(q->used_idx), __ATOMIC_RELEASE);
}

bool virtqueue_should_interrupt(const Virtqueue *q) {
        /* Full barrier: the used index store above must be visible before
         * the flags are read, or a driver that just re-enabled interrupts
         * could miss this buffer. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        uint16_t flags = le16toh(__atomic_load_n(&q->avail[RING_FLAGS], __ATOMIC_RELAXED));
        return !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

typedef int (*SpanFunction)(uint8_t *p, size_t n, void *userdata);

/* Calls f for each piece of [offset, offset + len) of the readable or
 * writable bytes of c, in order. */
static int chain_for_each_span(const VirtqChain *c, bool writable, uint64_t offset, uint64_t len,
                               SpanFunction f, void *userdata) {
        unsigned first = writable ? c->n_readable : 0, end = writable ? c->n_segments : c->n_readable;
        uint64_t total = writable ? c->writable_len : c->readable_len;

        if (offset > total || len > total - offset)
                return -EFAULT;
        for (unsigned i = first; i < end && len > 0; i++) {
                const VirtqSegment *s = &c->segments[i];
                if (offset >= s->len) {
                        offset -= s->len;
                        continue;
                }
                size_t n = (size_t) MIN((uint64_t) s->len - offset, len);
                int r = f(s->host + offset, n, userdata);
                if (r < 0)
                        return r;
                offset = 0;
                len -= n;
        }
        return 0;
}

static int copy_out(uint8_t *p, size_t n, void *userdata) {
        uint8_t **buf = userdata;

        memcpy(*buf, p, n);
        *buf += n;
        return 0;
}

static int copy_in(uint8_t *p, size_t n, void *userdata) {
        const uint8_t **buf = userdata;

        memcpy(p, *buf, n);
        *buf += n;
        return 0;
}

int virtq_chain_read(const VirtqChain *c, uint64_t offset, void *buf, size_t len) {
        uint8_t *at = buf;
        return chain_for_each_span(c, false, offset, len, copy_out, &at);
}

int virtq_chain_write(const VirtqChain *c, uint64_t offset, const void *buf, size_t len) {
        const uint8_t *at = buf;
        return chain_for_each_span(c, true, offset, len, copy_in, &at);
}

typedef struct IovFill {
        struct iovec *iov;
        unsigned n, max;
} IovFill;

static int iov_append(uint8_t *p, size_t n, void *userdata) {
        IovFill *f = userdata;

        if (f->n >= f->max)
                return -E2BIG;
        f->iov[f->n++] = (struct iovec) { .iov_base = p, .iov_len = n };
        return 0;
}

int virtq_chain_iov(const VirtqChain *c, bool writable, uint64_t offset, uint64_t len,
                    struct iovec *iov, unsigned iov_max) {
        IovFill f = { .iov = iov, .max = iov_max };
        int r = chain_for_each_span(c, writable, offset, len, iov_append, &f);
        return r < 0 ? r : (int) f.n;
}
