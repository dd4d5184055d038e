/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The guest memory a device may reach: a few regions, each a guest physical
 * range backed by host memory (in the device process: the guest RAM memfd
 * in share mode, only the swiotlb memfd in lend mode). Every guest address
 * a device dereferences goes through guest_memory_translate(), which
 * refuses anything not wholly inside one region.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEMORY_REGIONS_MAX 8u

typedef struct GuestMemoryRegion {
        uint64_t guest_addr;
        uint64_t size;
        uint8_t *host;
        bool mapped;            /* mapped by guest_memory_map(): unmapped by guest_memory_done() */
} GuestMemoryRegion;

typedef struct GuestMemory {
        unsigned n_regions;
        GuestMemoryRegion regions[GUEST_MEMORY_REGIONS_MAX];
} GuestMemory;

/* Adds host memory the caller keeps mapped. guest_addr and host must have
 * the same alignment modulo 16 (so aligned guest rings are aligned in the
 * host). -EINVAL for an empty or wrapping range, -EEXIST when it overlaps
 * a region, -E2BIG when the table is full. */
int guest_memory_add(GuestMemory *m, uint64_t guest_addr, uint64_t size, void *host);

/* Maps [offset, offset + size) of fd MAP_SHARED read-write at guest_addr
 * (page-aligned address, size and offset) and adds it. */
int guest_memory_map(GuestMemory *m, uint64_t guest_addr, uint64_t size, int fd, uint64_t offset);

/* Unmaps what guest_memory_map() mapped; m is empty afterwards. */
void guest_memory_done(GuestMemory *m);

/* Host pointer for [gpa, gpa + len) if it lies wholly inside ONE region,
 * else NULL (also for len 0 and for ranges that wrap around 2^64). */
void *guest_memory_translate(const GuestMemory *m, uint64_t gpa, uint64_t len);
