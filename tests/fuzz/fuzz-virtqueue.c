/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device's walk of split-virtqueue descriptor chains on guest memory
 * that is the fuzz input (fuzz-virtio-guest.h): the guest writes the rings
 * and descriptors, so every byte of them is hostile. Parameters: queue
 * size, segment limit. Whatever a pop accepts must satisfy what the device
 * models rely on: segments inside reachable memory, readable before
 * writable, lengths adding up; the byte views must stay inside it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-virtio-guest.h"
#include "fuzz.h"
#include "macro.h"
#include "virtqueue.h"

static bool inside(const FuzzGuest *g, const uint8_t *p, size_t n) {
        return (p >= g->a && n <= FUZZ_RAM_A_SIZE && (size_t) (p - g->a) <= FUZZ_RAM_A_SIZE - n) ||
                (p >= g->b && n <= FUZZ_RAM_B_SIZE && (size_t) (p - g->b) <= FUZZ_RAM_B_SIZE - n);
}

static void check_chain(const FuzzGuest *g, const VirtqChain *c, unsigned max_segments, uint16_t size) {
        uint64_t readable = 0, writable = 0;

        if (c->n_segments == 0 || c->n_segments > max_segments || c->n_segments > size ||
            c->n_readable > c->n_segments || c->head >= size)
                abort();
        for (unsigned i = 0; i < c->n_segments; i++) {
                const VirtqSegment *s = &c->segments[i];
                if (s->len == 0 || !inside(g, s->host, s->len) || s->writable != (i >= c->n_readable))
                        abort();
                *(s->writable ? &writable : &readable) += s->len;
        }
        if (readable != c->readable_len || writable != c->writable_len || readable + writable > UINT32_MAX)
                abort();
}

/* Reads every readable byte, writes every writable one, through the views. */
static void use_chain(const VirtqChain *c) {
        static uint8_t buf[FUZZ_RAM_A_SIZE + FUZZ_RAM_B_SIZE];
        struct iovec iov[VIRTQ_CHAIN_SEGMENTS_MAX];

        if (c->readable_len <= sizeof(buf) && virtq_chain_read(c, 0, buf, c->readable_len) < 0)
                abort();
        if (c->writable_len <= sizeof(buf) && virtq_chain_write(c, 0, buf, c->writable_len) < 0)
                abort();
        if (virtq_chain_read(c, c->readable_len, buf, 1) != -EFAULT)
                abort();
        int n = virtq_chain_iov(c, true, c->writable_len / 2, c->writable_len - c->writable_len / 2, iov, ELEMENTSOF(iov));
        if (n < 0)
                abort();
        for (int i = 0; i < n; i++)
                memset(iov[i].iov_base, 0xa5, iov[i].iov_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzGuest g;
        Virtqueue q;

        if (fuzz_guest_new(&g, data, size) < 0)
                abort();
        uint32_t qsize = fuzz_queue_size(g.param[0]);
        unsigned max_segments = g.param[1] ?: VIRTQ_CHAIN_SEGMENTS_MAX;
        bool is_power_of_two = qsize != 0 && (qsize & (qsize - 1)) == 0;

        int r = virtqueue_init(&q, &g.mem, qsize, FUZZ_DESC, FUZZ_AVAIL, FUZZ_USED);
        if ((r == 0) != is_power_of_two)
                abort();
        if (r == 0) {
                VirtqChain *c = malloc(sizeof(VirtqChain));
                if (!c)
                        abort();
                /* More pops than the queue holds: the avail index bounds them. */
                for (unsigned i = 0; i < 2 * qsize + 2; i++) {
                        r = virtqueue_pop(&q, c, max_segments);
                        if (r <= 0)
                                break;
                        check_chain(&g, c, max_segments, q.size);
                        use_chain(c);
                        virtqueue_push(&q, c->head, (uint32_t) c->writable_len);
                }
                if (r > 0)
                        abort();
                (void) virtqueue_should_interrupt(&q);
                free(c);
        }
        fuzz_guest_free(&g);
        return 0;
}
