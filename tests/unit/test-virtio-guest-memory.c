/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "guest-memory.h"

static _Alignas(16) uint8_t ram_a[4096], ram_b[8192];

static void two_regions(GuestMemory *m) {
        *m = (GuestMemory) {};
        assert_int_equal(guest_memory_add(m, 0x1000, sizeof(ram_a), ram_a), 0);
        /* Adjacent in guest addresses, not in the host. */
        assert_int_equal(guest_memory_add(m, 0x2000, sizeof(ram_b), ram_b), 0);
}

static void test_translate_inside_and_at_the_edges(void **state) {
        GuestMemory m;
        two_regions(&m);
        assert_ptr_equal(guest_memory_translate(&m, 0x1000, 1), ram_a);
        assert_ptr_equal(guest_memory_translate(&m, 0x1000, 4096), ram_a);
        assert_ptr_equal(guest_memory_translate(&m, 0x1fff, 1), ram_a + 4095);
        assert_ptr_equal(guest_memory_translate(&m, 0x2000, 8192), ram_b);
        assert_ptr_equal(guest_memory_translate(&m, 0x3ff0, 16), ram_b + 0x1ff0);
}

static void test_translate_refuses_what_is_not_wholly_in_one_region(void **state) {
        GuestMemory m;
        two_regions(&m);
        assert_null(guest_memory_translate(&m, 0x0fff, 1));     /* before */
        assert_null(guest_memory_translate(&m, 0x0fff, 2));     /* straddles the start */
        assert_null(guest_memory_translate(&m, 0x1fff, 2));     /* crosses into the next region */
        assert_null(guest_memory_translate(&m, 0x1000, 4097));
        assert_null(guest_memory_translate(&m, 0x4000, 1));     /* after */
        assert_null(guest_memory_translate(&m, 0x3fff, 2));
        assert_null(guest_memory_translate(&m, 0x1000, 0));     /* empty */
        /* Wrapping around 2^64 must not look like a small range. */
        assert_null(guest_memory_translate(&m, UINT64_MAX, 2));
        assert_null(guest_memory_translate(&m, 0x1800, UINT64_MAX));
        assert_null(guest_memory_translate(&m, 0x1800, UINT64_MAX - 0x1000));
}

static void test_add_refuses_overlap_wrap_misalignment_and_too_many(void **state) {
        GuestMemory m;
        two_regions(&m);
        assert_int_equal(guest_memory_add(&m, 0x1800, 16, ram_b), -EEXIST);
        assert_int_equal(guest_memory_add(&m, 0x0, 0x1001, ram_b), -EEXIST);
        assert_int_equal(guest_memory_add(&m, 0x3ff0, 0x20, ram_b), -EEXIST);
        assert_int_equal(guest_memory_add(&m, 0x10000, 0, ram_b), -EINVAL);
        assert_int_equal(guest_memory_add(&m, UINT64_MAX - 0xf, 0x20, ram_b), -EINVAL);
        assert_int_equal(guest_memory_add(&m, 0x10000, 16, ram_b + 8), -EINVAL);
        assert_int_equal(guest_memory_add(&m, 0x10000, 16, NULL), -EINVAL);
        for (unsigned i = m.n_regions; i < GUEST_MEMORY_REGIONS_MAX; i++)
                assert_int_equal(guest_memory_add(&m, 0x100000 * (i + 1), 16, ram_b), 0);
        assert_int_equal(guest_memory_add(&m, 0x10000000, 16, ram_b), -E2BIG);
        assert_int_equal(m.n_regions, GUEST_MEMORY_REGIONS_MAX);
}

static void test_map_shares_the_fd_and_done_unmaps(void **state) {
        long page = sysconf(_SC_PAGESIZE);
        int fd = memfd_create("ram", MFD_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 4 * page), 0);

        GuestMemory m = {};
        assert_int_equal(guest_memory_map(&m, 0x80000000, 2 * page, fd, page), 0);
        assert_int_equal(guest_memory_map(&m, 0x80000000 + page, page, fd, 0), -EEXIST);
        assert_int_equal(guest_memory_map(&m, 0x90000001, page, fd, 0), -EINVAL);
        assert_int_equal(guest_memory_map(&m, 0x90000000, page + 1, fd, 0), -EINVAL);
        assert_int_equal(guest_memory_map(&m, 0x90000000, page, fd, 1), -EINVAL);
        assert_int_equal(guest_memory_map(&m, 0x90000000, page, -1, 0), -EBADF);

        /* MAP_SHARED: a write through the mapping is in the file. */
        uint8_t *p = guest_memory_translate(&m, 0x80000000 + page + 5, 3);
        assert_non_null(p);
        memcpy(p, "abc", 3);
        char buf[3];
        assert_int_equal(pread(fd, buf, 3, 2 * page + 5), 3);
        assert_memory_equal(buf, "abc", 3);

        guest_memory_done(&m);
        assert_int_equal(m.n_regions, 0);
        assert_null(guest_memory_translate(&m, 0x80000000, 1));
        close(fd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_translate_inside_and_at_the_edges),
                cmocka_unit_test(test_translate_refuses_what_is_not_wholly_in_one_region),
                cmocka_unit_test(test_add_refuses_overlap_wrap_misalignment_and_too_many),
                cmocka_unit_test(test_map_shares_the_fd_and_done_unmaps),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
