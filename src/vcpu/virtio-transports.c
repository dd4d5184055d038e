/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "eventfd-util.h"
#include "log.h"
#include "macro.h"
#include "virtio-transports.h"

int virtio_transports_open(VirtioTransports *v, const uint64_t *bases, unsigned n, int regs_fd, int kick_fd) {
        *v = (VirtioTransports) {};
        if (n > WORKER_VIRTIO_MAX)
                return -E2BIG;
        for (unsigned i = 0; i < n; i++) {
                void *p = mmap(NULL, sizeof(VirtioMmioShared), PROT_READ | PROT_WRITE, MAP_SHARED, regs_fd + (int) i, 0);
                if (p == MAP_FAILED) {
                        int r = negative_errno();
                        virtio_transports_close(v);
                        return log_error_errno(r, "cannot map the register page of virtio device %u: %m", i);
                }
                v->t[i].base = bases[i];
                v->t[i].regs = p;
                v->t[i].kick_fd = kick_fd + (int) i;
                v->n = i + 1;
        }
        return 0;
}

void virtio_transports_close(VirtioTransports *v) {
        for (unsigned i = 0; i < v->n; i++)
                (void) munmap(v->t[i].regs, sizeof(VirtioMmioShared));
        v->n = 0;
}

static void kick(int fd) {
        int r = eventfd_ring(fd);

        if (r < 0)
                log_warning_errno(r, "cannot kick a virtio device: %m");
}

int virtio_transports_access(VirtioTransports *v, uint64_t addr, unsigned len, bool is_write, uint64_t *value) {
        for (unsigned i = 0; i < v->n; i++) {
                uint64_t off = addr - v->t[i].base;
                bool kicked = false;

                if (addr < v->t[i].base || off >= VIRTIO_MMIO_WINDOW)
                        continue;
                if (!is_write) {
                        /* A bad size or offset is the guest's error: it reads 0, the page counts it. */
                        if (virtio_mmio_read(v->t[i].regs, off, len, value) < 0)
                                *value = 0;
                        return 0;
                }
                (void) virtio_mmio_write(v->t[i].regs, off, len, *value, &kicked);
                if (kicked)
                        kick(v->t[i].kick_fd);
                if (off == VIRTIO_MMIO_STATUS &&
                    virtio_mmio_wait_reset(v->t[i].regs, VIRTIO_RESET_WAIT_NS) == -ETIMEDOUT)
                        log_warning("virtio device at 0x%" PRIx64 " did not complete a reset in time", v->t[i].base);
                return 0;
        }
        return -ENXIO;
}
