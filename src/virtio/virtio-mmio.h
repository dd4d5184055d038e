/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The virtio-mmio transport (virtio 1.x, Version 2) as one page of plain
 * data shared by the vCPU workers of a VM (they answer the guest's register
 * accesses) and the device process (it reacts to what the driver did and
 * raises interrupts). No pointers: each process maps the page where it likes.
 *
 * Locking: every register access and every device-side call holds the lock
 * word for a few hundred instructions and makes no system call inside. A
 * waiter spins, then yields; if it has seen the same holder for
 * VIRTIO_MMIO_LOCK_LEASE_NS of its own running time, the holder is taken to
 * be dead or stopped (a process killed inside the lock) and the lock is
 * broken: the breaker sets DEVICE_NEEDS_RESET (the state may be torn) and
 * counts it in lock_breaks. A robust pthread mutex was rejected: its
 * robust-list pointers would live in this page, where a compromised peer
 * (the device process parses guest data) could redirect the owner's
 * list walk, and its futex operations are not in the vCPU seccomp list.
 *
 * The page is untrusted input for every process that maps it: indices read
 * from it are bounds-checked before use.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared-lock.h"

#define VIRTIO_MMIO_WINDOW 0x200u
#define VIRTIO_MMIO_QUEUES_MAX 8u
#define VIRTIO_MMIO_CONFIG_MAX 0x100u   /* device config bytes at 0x100.. */

#define VIRTIO_MMIO_MAGIC 0x74726976u   /* "virt" */
#define VIRTIO_MMIO_VERSION 2u
#define VIRTIO_MMIO_VENDOR_ID 0x4e594753u /* "SGYN" */

/* Register offsets. */
enum {
        VIRTIO_MMIO_MAGIC_VALUE = 0x000,
        VIRTIO_MMIO_VERSION_REG = 0x004,
        VIRTIO_MMIO_DEVICE_ID = 0x008,
        VIRTIO_MMIO_VENDOR_ID_REG = 0x00c,
        VIRTIO_MMIO_DEVICE_FEATURES = 0x010,
        VIRTIO_MMIO_DEVICE_FEATURES_SEL = 0x014,
        VIRTIO_MMIO_DRIVER_FEATURES = 0x020,
        VIRTIO_MMIO_DRIVER_FEATURES_SEL = 0x024,
        VIRTIO_MMIO_QUEUE_SEL = 0x030,
        VIRTIO_MMIO_QUEUE_NUM_MAX = 0x034,
        VIRTIO_MMIO_QUEUE_NUM = 0x038,
        VIRTIO_MMIO_QUEUE_READY = 0x044,
        VIRTIO_MMIO_QUEUE_NOTIFY = 0x050,
        VIRTIO_MMIO_INTERRUPT_STATUS = 0x060,
        VIRTIO_MMIO_INTERRUPT_ACK = 0x064,
        VIRTIO_MMIO_STATUS = 0x070,
        VIRTIO_MMIO_QUEUE_DESC_LOW = 0x080,
        VIRTIO_MMIO_QUEUE_DESC_HIGH = 0x084,
        VIRTIO_MMIO_QUEUE_DRIVER_LOW = 0x090,
        VIRTIO_MMIO_QUEUE_DRIVER_HIGH = 0x094,
        VIRTIO_MMIO_QUEUE_DEVICE_LOW = 0x0a0,
        VIRTIO_MMIO_QUEUE_DEVICE_HIGH = 0x0a4,
        VIRTIO_MMIO_CONFIG_GENERATION = 0x0fc,
        VIRTIO_MMIO_CONFIG = 0x100,
};

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE        0x01u
#define VIRTIO_STATUS_DRIVER             0x02u
#define VIRTIO_STATUS_DRIVER_OK          0x04u
#define VIRTIO_STATUS_FEATURES_OK        0x08u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED             0x80u

/* InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING  0x1u
#define VIRTIO_MMIO_INT_CONFIG 0x2u

#define VIRTIO_F_VERSION_1 32

/* What the device learns from virtio_mmio_poll_changes(). */
enum {
        VIRTIO_MMIO_EVENT_RESET = 1u << 0,       /* the driver wrote 0 to Status */
        VIRTIO_MMIO_EVENT_FEATURES_OK = 1u << 1,
        VIRTIO_MMIO_EVENT_DRIVER_OK = 1u << 2,
        VIRTIO_MMIO_EVENT_QUEUE_READY = 1u << 3, /* a queue's QueueReady changed */
        VIRTIO_MMIO_EVENT_QUEUE_REFUSED = 1u << 4, /* QueueReady=1 with a bad QueueNum: refused */
        VIRTIO_MMIO_EVENT_FAILED = 1u << 5,      /* the driver set FAILED */
        VIRTIO_MMIO_EVENT_NOTIFY = 1u << 6,      /* a QueueNotify that took an MMIO exit */
        VIRTIO_MMIO_EVENT_LOCK_BROKEN = 1u << 7, /* a holder of the lock died or stalled */
};

typedef struct VirtioMmioQueue {
        uint32_t num;
        uint32_t ready;
        uint64_t desc;
        uint64_t driver;        /* the avail ring */
        uint64_t device;        /* the used ring */
} VirtioMmioQueue;

struct VirtioMmioShared {
        SharedLock lock;        /* see above; only through virtio_mmio_* */
        uint32_t lock_breaks;
        uint32_t initialized;   /* VIRTIO_MMIO_MAGIC once virtio_mmio_init() ran */

        /* What the device is (written by virtio_mmio_init() only). */
        uint32_t device_id;
        uint32_t vendor_id;
        uint64_t device_features;
        uint32_t n_queues;
        uint32_t queue_num_max;
        uint32_t config_len;

        /* The driver's side of the registers. */
        uint32_t device_features_sel;
        uint32_t driver_features_sel;
        uint32_t queue_sel;
        uint64_t driver_features;
        uint32_t status;
        uint32_t interrupt_status;
        uint32_t config_generation;
        VirtioMmioQueue queues[VIRTIO_MMIO_QUEUES_MAX];

        /* vCPU -> device: what happened since the device last polled. */
        uint32_t events;
        uint32_t queues_notified;       /* bit per queue, QueueNotify by MMIO exit */
        /* Status=0 handshake: the driver's reset completes when the device
         * has acknowledged it (reset_acked == reset_requested), i.e. it no
         * longer touches the old rings. */
        uint32_t reset_requested;
        uint32_t reset_acked;
        /* Accesses the spec forbids (wrong size, read-only register written,
         * ...): ignored, counted so that a caller can log them once. */
        uint32_t guest_errors;
        uint32_t last_guest_error_offset;

        uint8_t config[VIRTIO_MMIO_CONFIG_MAX];
};
typedef struct VirtioMmioShared VirtioMmioShared;

_Static_assert(sizeof(VirtioMmioShared) <= 4096, "VirtioMmioShared must fit one page");

/* How long a waiter watches one holder before breaking the lock. */
#define VIRTIO_MMIO_LOCK_LEASE_NS (1000ull * 1000 * 1000)

/* vCPU side. Guest errors are not call errors: they return 0 (reads give 0).
 * -ERANGE: offset beyond the window or len not 1, 2, 4 or 8; -ENXIO: page
 * not initialised. */
int virtio_mmio_read(VirtioMmioShared *s, uint64_t offset, unsigned len, uint64_t *ret_value);
/* *ret_kick = true when the device process must be woken (write the kick
 * eventfd). After a Status write, also call virtio_mmio_wait_reset(). */
int virtio_mmio_write(VirtioMmioShared *s, uint64_t offset, unsigned len, uint64_t value, bool *ret_kick);
/* After kicking: waits (futex, at most timeout_ns) until the device has
 * acknowledged every reset the driver asked for, so that the Status=0 write
 * completes only once the device has let go of the old rings (as QEMU
 * drains in-flight requests on reset). 0 at once when none is pending;
 * -ETIMEDOUT when the device did not answer (dead or stuck). */
int virtio_mmio_wait_reset(VirtioMmioShared *s, uint64_t timeout_ns);

/* Device side. Called once on a zeroed or reused page before the page is
 * shared. device_features must include VERSION_1; n_queues in
 * [1, VIRTIO_MMIO_QUEUES_MAX]; queue_num_max a power of two <= 32768;
 * config_len <= VIRTIO_MMIO_CONFIG_MAX. */
int virtio_mmio_init(VirtioMmioShared *s, uint32_t device_id, uint64_t device_features,
                     unsigned n_queues, uint16_t queue_num_max, const void *config, size_t config_len);

/* A consistent snapshot of the driver's state and the events since the
 * previous poll. Acknowledges pending resets (see reset_requested): the
 * caller must drop its virtqueues when events has VIRTIO_MMIO_EVENT_RESET
 * before it touches guest memory again. */
typedef struct VirtioMmioState {
        uint32_t events;
        uint32_t status;
        uint64_t driver_features;       /* meaningful once FEATURES_OK is set */
        uint32_t queues_notified;
        VirtioMmioQueue queues[VIRTIO_MMIO_QUEUES_MAX];
        uint32_t guest_errors;
} VirtioMmioState;
void virtio_mmio_poll_changes(VirtioMmioShared *s, VirtioMmioState *ret);

/* Sets InterruptStatus bits (VIRTIO_MMIO_INT_*); the caller then writes the
 * irq eventfd. */
void virtio_mmio_raise_interrupt(VirtioMmioShared *s, uint32_t bits);
/* Sets DEVICE_NEEDS_RESET and raises the config interrupt; the caller then
 * writes the irq eventfd. Nothing when the driver asked for a reset since
 * the last virtio_mmio_poll_changes(): the error was the old rings'. */
void virtio_mmio_set_needs_reset(VirtioMmioShared *s);
