/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The virtio-mmio register page under a guest's register accesses: the
 * input is a sequence of 8-byte records (kind, offset, size, value), each
 * a vCPU read or write, or a device-side call (poll, interrupt, needs
 * reset). After each step, what the device relies on must hold.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "virtio-mmio.h"

#define OFFERED (UINT64_C(1) << VIRTIO_F_VERSION_1 | UINT64_C(1) << 9 | UINT64_C(1) << 2)

static void check(const VirtioMmioShared *s, const VirtioMmioState *st) {
        if (s->status & VIRTIO_STATUS_FEATURES_OK &&
            ((s->driver_features & ~OFFERED) || !(s->driver_features & UINT64_C(1) << VIRTIO_F_VERSION_1)))
                abort();
        if (s->status & VIRTIO_STATUS_DRIVER_OK && !(s->status & VIRTIO_STATUS_FEATURES_OK))
                abort();
        for (unsigned i = 0; i < VIRTIO_MMIO_QUEUES_MAX; i++) {
                const VirtioMmioQueue *q = &st->queues[i];
                if (q->ready && (i >= 2 || q->num == 0 || q->num > 64 || (q->num & (q->num - 1))))
                        abort();
        }
        if (s->lock.word != 0 || s->lock_breaks != 0)
                abort();
}

static void step(VirtioMmioShared *s, const uint8_t r[8]) {
        static const unsigned sizes[] = { 1, 2, 4, 8 };
        uint64_t offset = (uint64_t) (r[1] | r[2] << 8) % (VIRTIO_MMIO_WINDOW + 8);
        unsigned len = sizes[r[3] % 4];
        uint32_t value;
        uint64_t v;
        bool kick;

        memcpy(&value, r + 4, 4);
        switch (r[0] % 6) {
        case 0:
                (void) virtio_mmio_read(s, offset & ~3ull, 4, &v);
                break;
        case 1:
                (void) virtio_mmio_write(s, offset & ~3ull, 4, value, &kick);
                break;
        case 2:
                (void) virtio_mmio_read(s, offset, len, &v);
                break;
        case 3:
                (void) virtio_mmio_write(s, offset, len, value, &kick);
                break;
        case 4:
                virtio_mmio_raise_interrupt(s, value);
                break;
        case 5:
                if (value & 1)
                        virtio_mmio_set_needs_reset(s);
                break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static VirtioMmioShared s;
        static const uint8_t config[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
        VirtioMmioState st;

        if (virtio_mmio_init(&s, 2, OFFERED, 2, 64, config, sizeof(config)) < 0)
                abort();
        for (size_t i = 0; i + 8 <= size; i += 8) {
                step(&s, data + i);
                virtio_mmio_poll_changes(&s, &st);
                check(&s, &st);
        }
        return 0;
}
