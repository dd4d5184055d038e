/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "virtio-driver.h"
#include "virtqueue.h"

static VirtioDriver drv;
static Virtqueue vq;
static VirtqChain chain;

static int setup(void **state) {
        driver_init(&drv, 8);
        driver_device_queue(&drv, &vq);
        return 0;
}

static int teardown(void **state) {
        driver_done(&drv);
        return 0;
}

static void test_init_refuses_sizes_that_are_not_powers_of_two(void **state) {
        Virtqueue q;
        static const uint32_t bad[] = { 0, 3, 6, 100, 255, 65536, 32769 };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(virtqueue_init(&q, &drv.gm, bad[i], DRIVER_DESC, DRIVER_AVAIL, DRIVER_USED), -EINVAL);
        assert_int_equal(virtqueue_init(&q, &drv.gm, 1, DRIVER_DESC, DRIVER_AVAIL, DRIVER_USED), 0);
        assert_int_equal(virtqueue_init(&q, &drv.gm, 256, DRIVER_DESC, DRIVER_AVAIL, DRIVER_USED), 0);
}

static void test_init_refuses_misaligned_or_unreachable_rings(void **state) {
        Virtqueue q;
        assert_int_equal(virtqueue_init(&q, &drv.gm, 8, DRIVER_DESC + 8, DRIVER_AVAIL, DRIVER_USED), -EINVAL);
        assert_int_equal(virtqueue_init(&q, &drv.gm, 8, DRIVER_DESC, DRIVER_AVAIL + 1, DRIVER_USED), -EINVAL);
        assert_int_equal(virtqueue_init(&q, &drv.gm, 8, DRIVER_DESC, DRIVER_AVAIL, DRIVER_USED + 2), -EINVAL);
        assert_int_equal(virtqueue_init(&q, &drv.gm, 8, 0x1000, DRIVER_AVAIL, DRIVER_USED), -EFAULT);
        assert_int_equal(virtqueue_init(&q, &drv.gm, 8, DRIVER_DESC, 0x1000, DRIVER_USED), -EFAULT);
        assert_int_equal(virtqueue_init(&q, &drv.gm, 8, DRIVER_DESC, DRIVER_AVAIL, 0x1000), -EFAULT);
        /* The used ring of 8 entries (6 + 64 bytes) runs past the end. */
        assert_int_equal(virtqueue_init(&q, &drv.gm, 8, DRIVER_DESC, DRIVER_AVAIL,
                                         DRIVER_GPA_BASE + DRIVER_MEM_SIZE - 64), -EFAULT);
        /* A 32768-entry table is 512 KiB: it fits in the upper half of
         * memory exactly, 16 bytes further up not. */
        uint64_t half = DRIVER_GPA_BASE + DRIVER_MEM_SIZE / 2;
        assert_int_equal(virtqueue_init(&q, &drv.gm, 32768, half, DRIVER_AVAIL, DRIVER_USED), 0);
        assert_int_equal(virtqueue_init(&q, &drv.gm, 32768, half + 16, DRIVER_AVAIL, DRIVER_USED), -EFAULT);
}

static void test_pop_empty_returns_zero(void **state) {
        assert_int_equal(virtqueue_pop(&vq, &chain, 16), 0);
}

static void test_pop_walks_readable_then_writable_segments(void **state) {
        uint64_t a = driver_alloc(&drv, 16), b = driver_alloc(&drv, 100), c = driver_alloc(&drv, 1);
        memcpy(driver_ptr(&drv, a), "0123456789abcdef", 16);
        DriverBuf bufs[] = { { a, 16, false }, { b, 100, true }, { c, 1, true } };
        uint16_t head = driver_add(&drv, bufs, 3);

        assert_int_equal(virtqueue_pop(&vq, &chain, 16), 1);
        assert_int_equal(chain.head, head);
        assert_int_equal(chain.n_segments, 3);
        assert_int_equal(chain.n_readable, 1);
        assert_int_equal(chain.readable_len, 16);
        assert_int_equal(chain.writable_len, 101);
        assert_ptr_equal(chain.segments[0].host, guest_memory_translate(&drv.gm, a, 16));
        assert_false(chain.segments[0].writable);
        assert_true(chain.segments[1].writable && chain.segments[2].writable);
        assert_int_equal(chain.segments[1].len, 100);

        char buf[16];
        assert_int_equal(virtq_chain_read(&chain, 0, buf, 16), 0);
        assert_memory_equal(buf, "0123456789abcdef", 16);
        assert_int_equal(virtqueue_pop(&vq, &chain, 16), 0);
}

static void test_push_publishes_used_and_wraps_the_index(void **state) {
        uint64_t a = driver_alloc(&drv, 4);
        DriverBuf buf = { a, 4, true };
        /* Past 65535: the 16-bit indices wrap on both sides. */
        for (unsigned i = 0; i < 70000; i++) {
                uint16_t head = driver_add(&drv, &buf, 1);
                assert_int_equal(virtqueue_pop(&vq, &chain, 16), 1);
                assert_int_equal(chain.head, head);
                virtqueue_push(&vq, chain.head, i & 0xffff);
                uint32_t id, len;
                assert_true(driver_take_used(&drv, &id, &len));
                assert_int_equal(id, head);
                assert_int_equal(len, i & 0xffff);
                assert_false(driver_take_used(&drv, &id, &len));
        }
}

static void test_interrupt_suppressed_only_by_no_interrupt(void **state) {
        assert_true(virtqueue_should_interrupt(&vq));
        driver_set_avail_flags(&drv, VIRTQ_AVAIL_F_NO_INTERRUPT);
        assert_false(virtqueue_should_interrupt(&vq));
        driver_set_avail_flags(&drv, 0);
        assert_true(virtqueue_should_interrupt(&vq));
}

/* Publishes head, expects the pop to fail with error, and every later pop
 * too (the queue stays broken until it is set up again). */
static void expect_broken(uint16_t head, unsigned max_segments, int error) {
        driver_publish(&drv, head);
        assert_int_equal(virtqueue_pop(&vq, &chain, max_segments), error);
        assert_int_equal(virtqueue_pop(&vq, &chain, max_segments), error);
}

static void test_head_index_out_of_range(void **state) {
        expect_broken(8, 16, -ERANGE);
}

static void test_next_index_out_of_range(void **state) {
        driver_set_desc(&drv, 0, driver_alloc(&drv, 8), 8, VIRTQ_DESC_F_NEXT, 9);
        expect_broken(0, 16, -ERANGE);
}

static void test_loop_is_refused(void **state) {
        uint64_t a = driver_alloc(&drv, 8);
        driver_set_desc(&drv, 0, a, 8, VIRTQ_DESC_F_NEXT, 1);
        driver_set_desc(&drv, 1, a, 8, VIRTQ_DESC_F_NEXT, 0);
        expect_broken(0, 64, -ELOOP);
}

static void test_self_loop_is_refused(void **state) {
        driver_set_desc(&drv, 3, driver_alloc(&drv, 8), 8, VIRTQ_DESC_F_NEXT, 3);
        expect_broken(3, 64, -ELOOP);
}

static void test_chain_of_the_whole_table_is_accepted(void **state) {
        uint64_t a = driver_alloc(&drv, 8);
        DriverBuf bufs[8];
        for (unsigned i = 0; i < 8; i++)
                bufs[i] = (DriverBuf) { a, 8, i >= 4 };
        driver_add(&drv, bufs, 8);
        assert_int_equal(virtqueue_pop(&vq, &chain, 64), 1);
        assert_int_equal(chain.n_segments, 8);
        assert_int_equal(chain.n_readable, 4);
}

static void test_buffer_outside_reachable_memory(void **state) {
        DriverBuf buf = { 0x1000, 8, false };
        expect_broken(driver_chain(&drv, &buf, 1), 16, -EFAULT);
}

static void test_buffer_crossing_the_end_of_memory(void **state) {
        DriverBuf buf = { DRIVER_GPA_BASE + DRIVER_MEM_SIZE - 4, 8, true };
        expect_broken(driver_chain(&drv, &buf, 1), 16, -EFAULT);
}

static void test_buffer_address_wrapping_around(void **state) {
        DriverBuf buf = { UINT64_MAX - 3, 8, true };
        expect_broken(driver_chain(&drv, &buf, 1), 16, -EFAULT);
}

static void test_zero_length_buffer(void **state) {
        DriverBuf bufs[] = { { driver_alloc(&drv, 8), 8, false }, { driver_alloc(&drv, 8), 0, true } };
        expect_broken(driver_chain(&drv, bufs, 2), 16, -EINVAL);
}

static void test_readable_after_writable(void **state) {
        uint64_t a = driver_alloc(&drv, 8);
        DriverBuf bufs[] = { { a, 8, false }, { a, 8, true }, { a, 8, false } };
        expect_broken(driver_chain(&drv, bufs, 3), 16, -EINVAL);
}

static void test_indirect_descriptor_is_refused(void **state) {
        driver_set_desc(&drv, 0, driver_alloc(&drv, 32), 32, VIRTQ_DESC_F_INDIRECT, 0);
        expect_broken(0, 16, -EINVAL);
}

static void test_more_segments_than_allowed(void **state) {
        uint64_t a = driver_alloc(&drv, 8);
        DriverBuf bufs[4] = { { a, 8, false }, { a, 8, false }, { a, 8, true }, { a, 8, true } };
        uint16_t head = driver_chain(&drv, bufs, 4);
        /* Exactly the limit passes; one fewer allowed fails. */
        driver_publish(&drv, head);
        assert_int_equal(virtqueue_pop(&vq, &chain, 4), 1);
        expect_broken(head, 3, -E2BIG);
}

static void test_total_length_over_4_gib(void **state) {
        /* Address space only: the walk never touches the buffers. */
        void *big = mmap(NULL, 1ull << 32, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        assert_true(big != MAP_FAILED);
        assert_int_equal(guest_memory_add(&drv.gm, 1ull << 40, 1ull << 32, big), 0);
        DriverBuf bufs[] = { { 1ull << 40, 0x80000000u, false }, { (1ull << 40) + 0x80000000u, 0x80000000u, true } };
        expect_broken(driver_chain(&drv, bufs, 2), 16, -EOVERFLOW);
        drv.gm.n_regions--;
        assert_int_equal(munmap(big, 1ull << 32), 0);
}

static void test_avail_index_jumping_past_the_queue_size(void **state) {
        driver_set_avail_idx(&drv, 9);
        assert_int_equal(virtqueue_pop(&vq, &chain, 16), -EPROTO);
        /* Even once the index looks sane again. */
        driver_set_avail_idx(&drv, 1);
        assert_int_equal(virtqueue_pop(&vq, &chain, 16), -EPROTO);
}

static void test_avail_index_of_exactly_the_queue_size_is_fine(void **state) {
        DriverBuf buf = { driver_alloc(&drv, 8), 8, true };
        for (unsigned i = 0; i < 8; i++)
                driver_add(&drv, &buf, 1);
        for (unsigned i = 0; i < 8; i++)
                assert_int_equal(virtqueue_pop(&vq, &chain, 16), 1);
        assert_int_equal(virtqueue_pop(&vq, &chain, 16), 0);
}

static void test_chain_byte_views_cross_segments(void **state) {
        uint64_t r1 = driver_alloc(&drv, 3), r2 = driver_alloc(&drv, 5), w1 = driver_alloc(&drv, 2), w2 = driver_alloc(&drv, 6);
        memcpy(driver_ptr(&drv, r1), "abc", 3);
        memcpy(driver_ptr(&drv, r2), "defgh", 5);
        DriverBuf bufs[] = { { r1, 3, false }, { r2, 5, false }, { w1, 2, true }, { w2, 6, true } };
        driver_add(&drv, bufs, 4);
        assert_int_equal(virtqueue_pop(&vq, &chain, 16), 1);

        char buf[8];
        assert_int_equal(virtq_chain_read(&chain, 2, buf, 4), 0);
        assert_memory_equal(buf, "cdef", 4);
        assert_int_equal(virtq_chain_read(&chain, 5, buf, 4), -EFAULT);
        assert_int_equal(virtq_chain_read(&chain, UINT64_MAX, buf, 1), -EFAULT);
        assert_int_equal(virtq_chain_write(&chain, 1, "XYZ", 3), 0);
        assert_memory_equal(driver_ptr(&drv, w1), "\0X", 2);
        assert_memory_equal(driver_ptr(&drv, w2), "YZ", 2);
        assert_int_equal(virtq_chain_write(&chain, 6, "XYZ", 3), -EFAULT);

        struct iovec iov[4];
        assert_int_equal(virtq_chain_iov(&chain, true, 1, 6, iov, 4), 2);
        assert_ptr_equal(iov[0].iov_base, guest_memory_translate(&drv.gm, w1 + 1, 1));
        assert_int_equal(iov[0].iov_len, 1);
        assert_int_equal(iov[1].iov_len, 5);
        assert_int_equal(virtq_chain_iov(&chain, false, 0, 8, iov, 1), -E2BIG);
        assert_int_equal(virtq_chain_iov(&chain, false, 0, 9, iov, 4), -EFAULT);
}

#define ROUNDS 20000u
#define IN_FLIGHT 4u

/* The driver in a child process, the device here: every request's payload
 * reaches the device and every answer the driver, in order, through the
 * rings alone (the barriers of pop and push). */
static void driver_process(uint64_t req[IN_FLIGHT], uint64_t resp[IN_FLIGHT]) {
        unsigned sent = 0, done = 0;
        while (done < ROUNDS) {
                if (sent < ROUNDS && sent - done < IN_FLIGHT) {
                        unsigned slot = sent % IN_FLIGHT;
                        uint32_t v = sent;
                        memcpy(driver_ptr(&drv, req[slot]), &v, 4);
                        DriverBuf bufs[] = { { req[slot], 4, false }, { resp[slot], 4, true } };
                        driver_add(&drv, bufs, 2);
                        sent++;
                        continue;
                }
                uint32_t id, len, answer;
                if (!driver_take_used(&drv, &id, &len))
                        continue;
                memcpy(&answer, driver_ptr(&drv, resp[done % IN_FLIGHT]), 4);
                if (len != 4 || answer != ~done || id != (done * 2) % 8)
                        _exit(1);
                done++;
        }
        _exit(0);
}

static void test_driver_on_another_cpu_sees_every_answer(void **state) {
        uint64_t req[IN_FLIGHT], resp[IN_FLIGHT];
        for (unsigned i = 0; i < IN_FLIGHT; i++) {
                req[i] = driver_alloc(&drv, 4);
                resp[i] = driver_alloc(&drv, 4);
        }
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                driver_process(req, resp);

        for (unsigned n = 0; n < ROUNDS;) {
                int r = virtqueue_pop(&vq, &chain, 4);
                assert_true(r >= 0);
                if (r == 0)
                        continue;
                uint32_t v;
                assert_int_equal(virtq_chain_read(&chain, 0, &v, 4), 0);
                assert_int_equal(v, n);
                v = ~v;
                assert_int_equal(virtq_chain_write(&chain, 0, &v, 4), 0);
                virtqueue_push(&vq, chain.head, 4);
                n++;
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_init_refuses_sizes_that_are_not_powers_of_two),
                T(test_init_refuses_misaligned_or_unreachable_rings),
                T(test_pop_empty_returns_zero),
                T(test_pop_walks_readable_then_writable_segments),
                T(test_push_publishes_used_and_wraps_the_index),
                T(test_interrupt_suppressed_only_by_no_interrupt),
                T(test_head_index_out_of_range),
                T(test_next_index_out_of_range),
                T(test_loop_is_refused),
                T(test_self_loop_is_refused),
                T(test_chain_of_the_whole_table_is_accepted),
                T(test_buffer_outside_reachable_memory),
                T(test_buffer_crossing_the_end_of_memory),
                T(test_buffer_address_wrapping_around),
                T(test_zero_length_buffer),
                T(test_readable_after_writable),
                T(test_indirect_descriptor_is_refused),
                T(test_more_segments_than_allowed),
                T(test_total_length_over_4_gib),
                T(test_avail_index_jumping_past_the_queue_size),
                T(test_avail_index_of_exactly_the_queue_size_is_fine),
                T(test_chain_byte_views_cross_segments),
                T(test_driver_on_another_cpu_sees_every_answer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
