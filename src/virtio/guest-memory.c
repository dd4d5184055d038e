/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest-memory.h"
#include "log.h"
#include "macro.h"

/* [a, a + a_size) and [b, b + b_size) intersect; neither wraps. */
static bool ranges_overlap(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
        return a < b + b_size && b < a + a_size;
}

static int check_new_region(const GuestMemory *m, uint64_t guest_addr, uint64_t size) {
        if (size == 0 || guest_addr + size < guest_addr)
                return -EINVAL;
        if (m->n_regions >= GUEST_MEMORY_REGIONS_MAX)
                return -E2BIG;
        for (unsigned i = 0; i < m->n_regions; i++)
                if (ranges_overlap(guest_addr, size, m->regions[i].guest_addr, m->regions[i].size))
                        return -EEXIST;
        return 0;
}

int guest_memory_add(GuestMemory *m, uint64_t guest_addr, uint64_t size, void *host) {
        int r = check_new_region(m, guest_addr, size);
        if (r < 0)
                return r;
        if (!host || ((uintptr_t) host - guest_addr) % 16 != 0)
                return -EINVAL;
        m->regions[m->n_regions++] = (GuestMemoryRegion) {
                .guest_addr = guest_addr,
                .size = size,
                .host = host,
        };
        return 0;
}

int guest_memory_map(GuestMemory *m, uint64_t guest_addr, uint64_t size, int fd, uint64_t offset) {
        uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);

        if (!IS_ALIGNED(guest_addr, page) || !IS_ALIGNED(size, page) || !IS_ALIGNED(offset, page) ||
            size > SIZE_MAX || offset > INT64_MAX - size)
                return log_debug_errno(EINVAL, "Guest memory region 0x%" PRIx64 "+0x%" PRIx64
                                       " (fd offset 0x%" PRIx64 ") is not page-aligned or too large",
                                       guest_addr, size, offset);
        int r = check_new_region(m, guest_addr, size);
        if (r < 0)
                return log_debug_errno(r, "Cannot add guest memory region 0x%" PRIx64 "+0x%" PRIx64 ": %m",
                                       guest_addr, size);

        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t) offset);
        if (p == MAP_FAILED)
                return log_debug_errno(errno, "Failed to map guest memory 0x%" PRIx64 "+0x%" PRIx64 " from fd %d: %m",
                                       guest_addr, size, fd);
        m->regions[m->n_regions++] = (GuestMemoryRegion) {
                .guest_addr = guest_addr,
                .size = size,
                .host = p,
                .mapped = true,
        };
        return 0;
}

void guest_memory_done(GuestMemory *m) {
        for (unsigned i = 0; i < m->n_regions; i++)
                if (m->regions[i].mapped)
                        (void) munmap(m->regions[i].host, m->regions[i].size);
        *m = (GuestMemory) {};
}

void *guest_memory_translate(const GuestMemory *m, uint64_t gpa, uint64_t len) {
        if (len == 0)
                return NULL;
        for (unsigned i = 0; i < m->n_regions && i < GUEST_MEMORY_REGIONS_MAX; i++) {
                const GuestMemoryRegion *g = &m->regions[i];
                /* Written so that nothing overflows: gpa - base is in range
                 * once gpa >= base, and len is compared before subtracting. */
                if (gpa < g->guest_addr || len > g->size || gpa - g->guest_addr > g->size - len)
                        continue;
                return g->host + (gpa - g->guest_addr);
        }
        return NULL;
}
