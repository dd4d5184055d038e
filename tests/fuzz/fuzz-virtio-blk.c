/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The block device's request handling on guest memory that is the fuzz
 * input (fuzz-virtio-guest.h): rings, descriptors, headers, discard
 * segments and data all come from the guest. The backing store is a small
 * memfd, emptied for each input. Parameters: queue size, read-only, the
 * negotiated features, the zeroing method. The device must never crash,
 * never loop, and answer or refuse every request.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz-virtio-guest.h"
#include "fuzz.h"
#include "virtio-blk.h"

#define DISK_BYTES (64u * 1024)

static int disk = -1;

static void reset_disk(void) {
        if (disk < 0) {
                disk = memfd_create("fuzz-disk", MFD_CLOEXEC);
                if (disk < 0)
                        abort();
        }
        if (ftruncate(disk, 0) < 0 || ftruncate(disk, DISK_BYTES) < 0)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzGuest g;
        Virtqueue q;
        VirtioBlk b;

        if (fuzz_guest_new(&g, data, size) < 0)
                abort();
        reset_disk();
        if (virtio_blk_init(&b, disk, g.param[1] & 1, "fuzz") < 0)
                abort();
        /* Features: all offered, or some dropped by the driver. */
        if (g.param[1] & 2)
                virtio_blk_set_features(&b, (uint64_t) g.param[2] << 8 | UINT64_C(1) << 32);
        b.zero_method = (VirtioBlkZeroMethod) ((g.param[1] >> 2) % 3);

        if (virtqueue_init(&q, &g.mem, fuzz_queue_size(g.param[0]), FUZZ_DESC, FUZZ_AVAIL, FUZZ_USED) == 0) {
                int r = 1;
                /* Each call handles at most one queue's worth: a few calls drain it. */
                for (unsigned i = 0; i < 4 && r == 1; i++) {
                        bool irq;
                        r = virtio_blk_process_queue(&b, &q, &irq);
                }
                if (b.stats.requests != b.stats.ok + b.stats.ioerr + b.stats.unsupp)
                        abort();
                if (b.readonly && (b.features & (UINT64_C(1) << VIRTIO_BLK_F_DISCARD)))
                        abort();
                (void) virtio_blk_take_new_errors(&b);
        }
        fuzz_guest_free(&g);
        return 0;
}
