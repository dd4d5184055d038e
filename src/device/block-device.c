/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virtio-blk served from its own process: the transport's state changes
 * (reset, features, queue ready) and the request queue, per kick. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "log.h"
#include "macro.h"
#include "virtio-blk.h"
#include "virtqueue.h"

/* Guest error kinds beyond VIRTIO_BLK_ERROR_*: reported once each. */
#define BLOCK_ERROR_QUEUE_SETUP (1u << 16)
#define BLOCK_ERROR_REGISTERS (1u << 17)

typedef struct BlockDevice {
        VirtioBlk blk;
        Virtqueue queue;
        bool queue_live;
} BlockDevice;

static void needs_reset(DeviceContext *c, BlockDevice *b, uint32_t kind, int error, const char *what) {
        char detail[88];

        snprintf(detail, sizeof(detail), "%s: device needs reset", what);
        device_report_guest_error(c, kind, error, detail);
        b->queue_live = false;
        virtio_mmio_set_needs_reset(c->regs);
        device_interrupt(c, 0); /* set_needs_reset raised the config bit */
}

static void queue_setup_failed(DeviceContext *c, BlockDevice *b, int error) {
        needs_reset(c, b, BLOCK_ERROR_QUEUE_SETUP, error, "queue 0 rings outside reachable memory or bad size");
}

static int start_queue(DeviceContext *c, BlockDevice *b, const VirtioMmioState *st) {
        const VirtioMmioQueue *mq = &st->queues[0];
        int r;

        if (b->queue_live || !mq->ready)
                return 0;
        r = virtqueue_init(&b->queue, &c->memory, mq->num, mq->desc, mq->driver, mq->device);
        if (r < 0) {
                queue_setup_failed(c, b, r);
                return 0;
        }
        b->queue_live = true;
        return 1;
}

static void report_request_errors(DeviceContext *c, BlockDevice *b) {
        static const struct {
                uint32_t kind;
                int error;
                const char *what;
        } kinds[] = {
                { VIRTIO_BLK_ERROR_IO, -EIO, "the disk image failed a request (IOERR)" },
                { VIRTIO_BLK_ERROR_REQUEST, -EINVAL, "a request out of range or malformed (IOERR)" },
                { VIRTIO_BLK_ERROR_UNSUPPORTED, -EOPNOTSUPP, "a request of an unsupported type (UNSUPP)" },
        };
        uint32_t new = virtio_blk_take_new_errors(&b->blk);

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (new & kinds[i].kind)
                        device_report_guest_error(c, kinds[i].kind,
                                                  kinds[i].kind == VIRTIO_BLK_ERROR_IO ? b->blk.stats.last_io_error ?: -EIO
                                                                                      : kinds[i].error,
                                                  kinds[i].what);
}

static int block_on_kick(DeviceContext *c, void *userdata) {
        BlockDevice *b = userdata;
        VirtioMmioState st;
        bool interrupt;
        int r;

        virtio_mmio_poll_changes(c->regs, &st);
        if (st.events & VIRTIO_MMIO_EVENT_RESET)
                b->queue_live = false;
        if (st.events & VIRTIO_MMIO_EVENT_FEATURES_OK)
                virtio_blk_set_features(&b->blk, st.driver_features);
        if (st.guest_errors > 0)
                device_report_guest_error(c, BLOCK_ERROR_REGISTERS, -EINVAL,
                                          "register accesses the virtio-mmio spec forbids (ignored)");
        /* A queue the transport would not make ready (its size is no power
         * of two or too large) cannot work: say so, as for bad rings. A
         * refusal seen with a reset belongs to the device the reset ended. */
        if ((st.events & (VIRTIO_MMIO_EVENT_QUEUE_REFUSED | VIRTIO_MMIO_EVENT_RESET)) == VIRTIO_MMIO_EVENT_QUEUE_REFUSED)
                queue_setup_failed(c, b, -EINVAL);
        if (!(st.status & VIRTIO_STATUS_DRIVER_OK) ||
            (st.status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)))
                return 0;
        (void) start_queue(c, b, &st);
        if (!b->queue_live)
                return 0;
        /* Until the ring is empty: the budget of one round is one queue. */
        do {
                r = virtio_blk_process_queue(&b->blk, &b->queue, &interrupt);
                if (interrupt)
                        device_interrupt(c, VIRTIO_MMIO_INT_VRING);
        } while (r > 0);
        report_request_errors(c, b);
        if (b->queue.broken < 0)
                needs_reset(c, b, VIRTIO_BLK_ERROR_MALFORMED, b->queue.broken, "a malformed descriptor chain or ring");
        return 0;
}

int block_device_serve(DeviceContext *c, int backing_fd) {
        BlockDevice b = {};
        int r;

        r = virtio_blk_init(&b.blk, backing_fd, c->options->readonly, c->options->serial);
        if (r < 0)
                return log_error_errno(r, "cannot serve the disk: %m");
        return device_loop(c, block_on_kick, &b);
}
