/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virtio-rng served from its own process: the transport's state changes
 * and the request queue, per kick and whenever the token bucket has
 * refilled enough for a request it had to keep (virtio-rng.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "device.h"
#include "log.h"
#include "macro.h"
#include "virtio-rng.h"
#include "virtqueue.h"

/* Guest error kinds beyond VIRTIO_RNG_ERROR_*: reported once each. */
#define RNG_ERROR_QUEUE_SETUP (1u << 16)
#define RNG_ERROR_REGISTERS (1u << 17)
#define RNG_ERROR_MALFORMED (1u << 18)

typedef struct RngDevice {
        VirtioRng rng;
        Virtqueue queue;
        bool queue_live;
        uint64_t wait_ns; /* a request is kept: look again after this long */
} RngDevice;

static uint64_t now_ns(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * UINT64_C(1000000000) + (uint64_t) ts.tv_nsec;
}

static void needs_reset(DeviceContext *c, RngDevice *d, uint32_t kind, int error, const char *what) {
        char detail[80];

        snprintf(detail, sizeof(detail), "%s: device needs reset", what);
        device_report_guest_error(c, kind, error, detail);
        d->queue_live = false;
        virtio_rng_reset(&d->rng);
        virtio_mmio_set_needs_reset(c->regs);
        device_interrupt(c, 0); /* set_needs_reset raised the config bit */
}

static void start_queue(DeviceContext *c, RngDevice *d, const VirtioMmioState *st) {
        const VirtioMmioQueue *mq = &st->queues[0];
        int r;

        if (d->queue_live || !mq->ready)
                return;
        r = virtqueue_init(&d->queue, &c->memory, mq->num, mq->desc, mq->driver, mq->device);
        if (r < 0) {
                needs_reset(c, d, RNG_ERROR_QUEUE_SETUP, r, "queue 0 rings outside reachable memory or bad size");
                return;
        }
        d->queue_live = true;
}

static int rng_serve_queue(DeviceContext *c, RngDevice *d) {
        bool interrupt;
        int r;

        r = virtio_rng_process_queue(&d->rng, &d->queue, now_ns(), &interrupt, &d->wait_ns);
        if (interrupt)
                device_interrupt(c, VIRTIO_MMIO_INT_VRING);
        if (virtio_rng_take_new_errors(&d->rng) & VIRTIO_RNG_ERROR_NO_WRITABLE)
                device_report_guest_error(c, VIRTIO_RNG_ERROR_NO_WRITABLE, -EINVAL,
                                          "a request without a writable buffer (answered empty)");
        if (d->queue.broken < 0) {
                needs_reset(c, d, RNG_ERROR_MALFORMED, d->queue.broken, "a malformed descriptor chain or ring");
                return 0;
        }
        return r; /* getrandom failed: nothing the guest did */
}

static int rng_wake(DeviceContext *c, RngDevice *d) {
        VirtioMmioState st;

        d->wait_ns = 0;
        virtio_mmio_poll_changes(c->regs, &st);
        if (st.events & VIRTIO_MMIO_EVENT_RESET) {
                d->queue_live = false;
                virtio_rng_reset(&d->rng);
        }
        if (st.guest_errors > 0)
                device_report_guest_error(c, RNG_ERROR_REGISTERS, -EINVAL,
                                          "register accesses the virtio-mmio spec forbids (ignored)");
        if ((st.events & (VIRTIO_MMIO_EVENT_QUEUE_REFUSED | VIRTIO_MMIO_EVENT_RESET)) == VIRTIO_MMIO_EVENT_QUEUE_REFUSED)
                needs_reset(c, d, RNG_ERROR_QUEUE_SETUP, -EINVAL, "queue 0 of a size the transport refused");
        if (!(st.status & VIRTIO_STATUS_DRIVER_OK) ||
            (st.status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)))
                return 0;
        start_queue(c, d, &st);
        return d->queue_live ? rng_serve_queue(c, d) : 0;
}

/* The device loop with a timeout: a kept request is answered when the
 * bucket has refilled, without a kick. */
int rng_device_serve(DeviceContext *c) {
        struct pollfd fds[] = {
                { .fd = c->kick_fd, .events = POLLIN },
                { .fd = c->control_fd, .events = POLLIN },
        };
        RngDevice d = {};
        uint64_t count;
        int r;

        virtio_rng_init(&d.rng, now_ns());
        r = rng_wake(c, &d); /* a kick may have come before the device was there */
        while (r >= 0) {
                int timeout = d.wait_ns > 0 ? (int) MIN((d.wait_ns + 999999) / 1000000, 1000) : -1;

                if (poll(fds, ELEMENTSOF(fds), timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "poll failed: %m");
                }
                /* The daemon sends an rng device nothing: readable is its hangup. */
                if (fds[1].revents)
                        return 0;
                if ((fds[0].revents & POLLIN) && read(c->kick_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
                        return log_error_errno(errno, "cannot read the kick eventfd: %m");
                r = rng_wake(c, &d);
        }
        return log_error_errno(r, "cannot fill a request: %m");
}
