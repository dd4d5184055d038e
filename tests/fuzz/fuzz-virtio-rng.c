/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rng device's request handling on guest memory that is the fuzz input
 * (fuzz-virtio-guest.h): rings and descriptors come from the guest. The
 * clock advances by steps the input chooses. The device must never crash
 * or loop, never hand out more than the token bucket allows, and keep at
 * most one request waiting.
 */
#include <stdlib.h>

#include "fuzz-virtio-guest.h"
#include "fuzz.h"
#include "virtio-rng.h"

#define NSEC_PER_SEC UINT64_C(1000000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint64_t now = NSEC_PER_SEC, start = now;
        FuzzGuest g;
        Virtqueue q;
        VirtioRng rng;

        if (fuzz_guest_new(&g, data, size) < 0)
                abort();
        virtio_rng_init(&rng, now);
        if (virtqueue_init(&q, &g.mem, fuzz_queue_size(g.param[0]), FUZZ_DESC, FUZZ_AVAIL, FUZZ_USED) == 0) {
                for (unsigned i = 0; i < 4; i++) {
                        uint64_t wait;
                        bool irq;

                        if (virtio_rng_process_queue(&rng, &q, now, &irq, &wait) < 0)
                                abort(); /* getrandom does not fail here */
                        if (wait > 0 && !rng.pending)
                                abort(); /* a wait is for a kept request */
                        /* Time goes on by what the device asked for, or by what the input says. */
                        now += g.param[1] & (1u << i) ? wait : (uint64_t) g.param[2] * 1000 * (i + 1);
                }
                if (rng.bytes > VIRTIO_RNG_BURST + (now - start) * VIRTIO_RNG_RATE / NSEC_PER_SEC)
                        abort();
                (void) virtio_rng_take_new_errors(&rng);
        }
        fuzz_guest_free(&g);
        return 0;
}
