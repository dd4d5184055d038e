/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The virtio-rng device ("Entropy Device", device ID 4): one request
 * queue whose device-writable buffers it fills from getrandom(2), at most
 * VIRTIO_RNG_RATE bytes a second on average with bursts of up to
 * VIRTIO_RNG_BURST (a token bucket), so that a guest cannot drain the
 * host's entropy or burn a CPU through it. A request that finds the bucket
 * empty is kept and answered when enough has refilled; the caller waits
 * the time virtio_rng_process_queue() says. No config space, VERSION_1 only.
 */

#include <stdbool.h>
#include <stdint.h>

#include "virtqueue.h"

#define VIRTIO_RNG_DEVICE_ID 4
#define VIRTIO_RNG_QUEUE_MAX 64
#define VIRTIO_RNG_RATE (UINT64_C(1) << 20) /* bytes per second: 1 MiB/s */
#define VIRTIO_RNG_BURST (UINT64_C(64) << 10) /* bytes: the bucket's size */
#define VIRTIO_RNG_SEGMENTS_MAX 64u

/* Kinds of guest errors, reported once each by the device process. */
#define VIRTIO_RNG_ERROR_NO_WRITABLE (1u << 0) /* a request with nothing to fill (answered with 0 bytes) */

typedef struct VirtioRng {
        uint64_t tokens;  /* bytes * 10^9: what may be handed out now */
        uint64_t last_ns; /* when tokens was last refilled */
        bool pending;     /* chain waits for tokens */
        VirtqChain chain;
        uint32_t new_errors; /* VIRTIO_RNG_ERROR_* since the last take */
        uint64_t bytes;      /* handed out in all */
} VirtioRng;

/* A full bucket at now_ns (CLOCK_MONOTONIC). */
void virtio_rng_init(VirtioRng *rng, uint64_t now_ns);

/* Forgets a chain kept for a queue that was reset. */
void virtio_rng_reset(VirtioRng *rng);

/* Answers what the queue holds at now_ns, as far as the bucket allows.
 * *ret_interrupt: something was put on the used ring and the driver wants
 * to hear of it. *ret_wait_ns: 0, or how long until the kept chain can be
 * answered (call again then). Returns 0 (a broken queue too: q->broken
 * says why and the caller sets DEVICE_NEEDS_RESET), or getrandom's -errno. */
int virtio_rng_process_queue(VirtioRng *rng, Virtqueue *q, uint64_t now_ns, bool *ret_interrupt,
                             uint64_t *ret_wait_ns);

/* The VIRTIO_RNG_ERROR_* bits seen since the last call. */
uint32_t virtio_rng_take_new_errors(VirtioRng *rng);
