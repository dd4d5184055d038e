/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "virtio-driver.h"

void driver_init(VirtioDriver *d, uint16_t size) {
        *d = (VirtioDriver) { .size = size, .next_data = DRIVER_DATA };
        d->fd = memfd_create("guest-ram", MFD_CLOEXEC);
        assert_true(d->fd >= 0);
        assert_int_equal(ftruncate(d->fd, DRIVER_MEM_SIZE), 0);
        d->mem = mmap(NULL, DRIVER_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, 0);
        assert_true(d->mem != MAP_FAILED);
        assert_int_equal(guest_memory_map(&d->gm, DRIVER_GPA_BASE, DRIVER_MEM_SIZE, d->fd, 0), 0);
}

void driver_done(VirtioDriver *d) {
        guest_memory_done(&d->gm);
        assert_int_equal(munmap(d->mem, DRIVER_MEM_SIZE), 0);
        close(d->fd);
}

void driver_device_queue(VirtioDriver *d, Virtqueue *q) {
        assert_int_equal(virtqueue_init(q, &d->gm, d->size, DRIVER_DESC, DRIVER_AVAIL, DRIVER_USED), 0);
}

void *driver_ptr(VirtioDriver *d, uint64_t gpa) {
        assert_true(gpa >= DRIVER_GPA_BASE && gpa < DRIVER_GPA_BASE + DRIVER_MEM_SIZE);
        return d->mem + (gpa - DRIVER_GPA_BASE);
}

uint64_t driver_alloc(VirtioDriver *d, uint32_t len) {
        uint64_t gpa = d->next_data;

        d->next_data = (d->next_data + len + 7) & ~UINT64_C(7);
        assert_true(d->next_data <= DRIVER_GPA_BASE + DRIVER_MEM_SIZE);
        memset(driver_ptr(d, gpa), 0, len);
        return gpa;
}

void driver_set_desc(VirtioDriver *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
        VirtqDesc *t = driver_ptr(d, DRIVER_DESC);

        t[i] = (VirtqDesc) { .addr = addr, .len = len, .flags = flags, .next = next };
}

void driver_publish(VirtioDriver *d, uint16_t head) {
        uint16_t *avail = driver_ptr(d, DRIVER_AVAIL);

        avail[2 + (d->avail_idx % d->size)] = head;
        d->avail_idx++;
        __atomic_store_n(&avail[1], d->avail_idx, __ATOMIC_RELEASE);
}

uint16_t driver_chain(VirtioDriver *d, const DriverBuf *bufs, unsigned n) {
        uint16_t head = d->next_desc % d->size;

        for (unsigned k = 0; k < n; k++) {
                uint16_t i = (uint16_t) ((head + k) % d->size), next = (uint16_t) ((head + k + 1) % d->size);
                driver_set_desc(d, i, bufs[k].gpa, bufs[k].len,
                                (bufs[k].writable ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0),
                                k + 1 < n ? next : 0);
        }
        d->next_desc = (uint16_t) ((head + n) % d->size);
        return head;
}

uint16_t driver_add(VirtioDriver *d, const DriverBuf *bufs, unsigned n) {
        uint16_t head = driver_chain(d, bufs, n);

        driver_publish(d, head);
        return head;
}

bool driver_take_used(VirtioDriver *d, uint32_t *ret_id, uint32_t *ret_len) {
        uint16_t *used = driver_ptr(d, DRIVER_USED);

        if (__atomic_load_n(&used[1], __ATOMIC_ACQUIRE) == d->used_seen)
                return false;
        const VirtqUsedElem *ring = (const VirtqUsedElem *) (used + 2);
        *ret_id = ring[d->used_seen % d->size].id;
        *ret_len = ring[d->used_seen % d->size].len;
        d->used_seen++;
        return true;
}

void driver_set_avail_flags(VirtioDriver *d, uint16_t flags) {
        uint16_t *avail = driver_ptr(d, DRIVER_AVAIL);
        avail[0] = flags;
}

void driver_set_avail_idx(VirtioDriver *d, uint16_t idx) {
        uint16_t *avail = driver_ptr(d, DRIVER_AVAIL);
        d->avail_idx = idx;
        __atomic_store_n(&avail[1], idx, __ATOMIC_RELEASE);
}
