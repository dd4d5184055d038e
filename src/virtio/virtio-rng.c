/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virtio-rng: request buffers filled from getrandom(2) behind a token
 * bucket (virtio-rng.h). */
#include <errno.h>
#include <sys/random.h>
#include <sys/uio.h>

#include "macro.h"
#include "virtio-rng.h"

#define NSEC_PER_SEC UINT64_C(1000000000)

void virtio_rng_init(VirtioRng *rng, uint64_t now_ns) {
        *rng = (VirtioRng) {
                .tokens = VIRTIO_RNG_BURST * NSEC_PER_SEC,
                .last_ns = now_ns,
        };
}

void virtio_rng_reset(VirtioRng *rng) {
        rng->pending = false;
}

/* Scaled by 10^9 so that a refill every few microseconds loses nothing:
 * a second refills VIRTIO_RNG_RATE * 10^9 < 2^50; the cap keeps it there. */
static void bucket_refill(VirtioRng *rng, uint64_t now_ns) {
        uint64_t elapsed = now_ns > rng->last_ns ? now_ns - rng->last_ns : 0;

        elapsed = MIN(elapsed, NSEC_PER_SEC);
        rng->tokens = MIN(rng->tokens + elapsed * VIRTIO_RNG_RATE, VIRTIO_RNG_BURST * NSEC_PER_SEC);
        rng->last_ns = now_ns;
}

/* Fills the first len writable bytes of c. */
static int fill_random(const VirtqChain *c, uint64_t len) {
        struct iovec iov[VIRTIO_RNG_SEGMENTS_MAX];
        int n;

        n = virtq_chain_iov(c, true, 0, len, iov, ELEMENTSOF(iov));
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++)
                for (size_t done = 0; done < iov[i].iov_len;) {
                        ssize_t k = getrandom((uint8_t *) iov[i].iov_base + done, iov[i].iov_len - done, 0);
                        if (k < 0 && errno != EINTR)
                                return -errno;
                        if (k > 0)
                                done += (size_t) k;
                }
        return 0;
}

/* Answers the kept chain if the bucket holds what it asks for (or a full
 * bucket's worth): 1 answered, 0 not yet (*ret_wait_ns set). */
static int answer_pending(VirtioRng *rng, Virtqueue *q, uint64_t *ret_wait_ns) {
        uint64_t want = MIN(rng->chain.writable_len, VIRTIO_RNG_BURST), have = rng->tokens / NSEC_PER_SEC;
        int r;

        if (have < want) {
                *ret_wait_ns = (want * NSEC_PER_SEC - rng->tokens + VIRTIO_RNG_RATE - 1) / VIRTIO_RNG_RATE;
                return 0;
        }
        r = fill_random(&rng->chain, want);
        if (r < 0)
                return r;
        rng->tokens -= want * NSEC_PER_SEC;
        rng->bytes += want;
        rng->pending = false;
        virtqueue_push(q, rng->chain.head, (uint32_t) want);
        return 1;
}

int virtio_rng_process_queue(VirtioRng *rng, Virtqueue *q, uint64_t now_ns, bool *ret_interrupt,
                             uint64_t *ret_wait_ns) {
        bool pushed = false;
        int r = 0;

        *ret_wait_ns = 0;
        bucket_refill(rng, now_ns);
        for (;;) {
                if (!rng->pending) {
                        r = virtqueue_pop(q, &rng->chain, VIRTIO_RNG_SEGMENTS_MAX);
                        if (r < 0)
                                r = 0; /* the queue is broken: q->broken says why */
                        if (r == 0)
                                break;
                        rng->pending = true;
                        if (rng->chain.writable_len == 0) {
                                rng->new_errors |= VIRTIO_RNG_ERROR_NO_WRITABLE;
                                rng->pending = false;
                                virtqueue_push(q, rng->chain.head, 0);
                                pushed = true;
                                continue;
                        }
                }
                r = answer_pending(rng, q, ret_wait_ns);
                if (r <= 0)
                        break;
                pushed = true;
        }
        *ret_interrupt = pushed && virtqueue_should_interrupt(q);
        return MIN(r, 0);
}

uint32_t virtio_rng_take_new_errors(VirtioRng *rng) {
        uint32_t e = rng->new_errors;

        rng->new_errors = 0;
        return e;
}
