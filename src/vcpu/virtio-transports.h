/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The virtio-mmio transports as a vCPU worker sees them: their register
 * pages, shared with the device processes (design §4), answered in place
 * on MMIO exits. A register write the device must react to (Status,
 * QueueReady, a QueueNotify no ioeventfd caught) rings its kick eventfd;
 * a reset waits until the device has let go of the old rings.
 */

#include <stdbool.h>
#include <stdint.h>

#include "virtio-mmio.h"
#include "worker-protocol.h"

/* How long a driver's reset waits for its device (dead or stuck: the VM
 * is ending anyway, the register state is already reset). */
#define VIRTIO_RESET_WAIT_NS (1000ull * 1000 * 1000)

typedef struct VirtioTransports {
        unsigned n;
        struct {
                uint64_t base;
                VirtioMmioShared *regs;
                int kick_fd;
        } t[WORKER_VIRTIO_MAX];
} VirtioTransports;

/* Maps the n register pages at regs_fd, regs_fd + 1, ...; kick eventfds
 * at kick_fd, kick_fd + 1, ... (the WorkerConfig's fd order). */
int virtio_transports_open(VirtioTransports *v, const uint64_t *bases, unsigned n, int regs_fd, int kick_fd);
void virtio_transports_close(VirtioTransports *v);

/* One MMIO access: 0 when it hit a transport (*value read or written),
 * -ENXIO when it hit none. */
int virtio_transports_access(VirtioTransports *v, uint64_t addr, unsigned len, bool is_write, uint64_t *value);
