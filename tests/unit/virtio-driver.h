/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The driver's half of a split virtqueue, for tests of the device's half:
 * guest memory in a memfd (mapped twice: the driver's view and the
 * device's GuestMemory view), rings at fixed places, buffers from a bump
 * allocator, chains built and published as a guest driver would. */

#include <stdbool.h>
#include <stdint.h>

#include "guest-memory.h"
#include "virtqueue.h"

#define DRIVER_GPA_BASE 0x40000000u
#define DRIVER_MEM_SIZE (1024u * 1024)
#define DRIVER_DESC  (DRIVER_GPA_BASE + 0x0000u)
#define DRIVER_AVAIL (DRIVER_GPA_BASE + 0x4000u)
#define DRIVER_USED  (DRIVER_GPA_BASE + 0x8000u)
#define DRIVER_DATA  (DRIVER_GPA_BASE + 0x10000u)

typedef struct VirtioDriver {
        int fd;
        uint8_t *mem;           /* the driver's mapping */
        GuestMemory gm;         /* the device's (a second mapping of fd) */
        uint16_t size;
        uint16_t avail_idx;
        uint16_t used_seen;
        uint16_t next_desc;
        uint64_t next_data;
} VirtioDriver;

/* A buffer of a chain to build: guest address and length, device-writable. */
typedef struct DriverBuf {
        uint64_t gpa;
        uint32_t len;
        bool writable;
} DriverBuf;

void driver_init(VirtioDriver *d, uint16_t size);
void driver_done(VirtioDriver *d);
/* Initialises q (the device's half) over the driver's rings. */
void driver_device_queue(VirtioDriver *d, Virtqueue *q);
void *driver_ptr(VirtioDriver *d, uint64_t gpa);
/* A zeroed buffer of len bytes in guest memory (8-byte aligned). */
uint64_t driver_alloc(VirtioDriver *d, uint32_t len);
void driver_set_desc(VirtioDriver *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
/* Puts head on the avail ring and publishes it. */
void driver_publish(VirtioDriver *d, uint16_t head);
/* Writes bufs as descriptors next_desc.. (wrapping), linked; returns the head. */
uint16_t driver_chain(VirtioDriver *d, const DriverBuf *bufs, unsigned n);
/* Chain and publish. */
uint16_t driver_add(VirtioDriver *d, const DriverBuf *bufs, unsigned n);
/* The next used element, false when none. */
bool driver_take_used(VirtioDriver *d, uint32_t *ret_id, uint32_t *ret_len);
void driver_set_avail_flags(VirtioDriver *d, uint16_t flags);
void driver_set_avail_idx(VirtioDriver *d, uint16_t idx);
