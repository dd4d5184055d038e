/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virtio-rng (src/virtio/virtio-rng.c): requests filled, the token bucket's
 * burst and rate, kept requests answered later, bad chains. Time is the
 * test's: the device is handed now_ns. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "virtio-driver.h"
#include "virtio-rng.h"

#define SEC UINT64_C(1000000000)
#define T0 (UINT64_C(1000) * SEC)

static VirtioDriver drv;
static Virtqueue vq;
static VirtioRng rng;

static int setup(void **state) {
        driver_init(&drv, 16);
        driver_device_queue(&drv, &vq);
        virtio_rng_init(&rng, T0);
        return 0;
}

static int teardown(void **state) {
        driver_done(&drv);
        return 0;
}

static uint16_t request(uint32_t len, uint64_t *ret_gpa) {
        uint64_t gpa = driver_alloc(&drv, len);
        *ret_gpa = gpa;
        return driver_add(&drv, &(DriverBuf) { gpa, len, true }, 1);
}

static void process(uint64_t now, bool want_interrupt, uint64_t *ret_wait) {
        bool interrupt;
        assert_int_equal(virtio_rng_process_queue(&rng, &vq, now, &interrupt, ret_wait), 0);
        assert_int_equal(interrupt, want_interrupt);
}

static void expect_used(uint16_t head, uint32_t len) {
        uint32_t id, got;
        if (!driver_take_used(&drv, &id, &got))
                fail_msg("expected request %u answered with %u bytes, nothing on the used ring", head, len);
        assert_int_equal(id, head);
        assert_int_equal(got, len);
}

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

static void test_rng_fills_the_buffer(void **state) {
        uint64_t gpa, wait;
        uint16_t head = request(4096, &gpa);

        process(T0, true, &wait);
        expect_used(head, 4096);
        assert_int_equal(wait, 0);
        /* 4096 zero bytes from getrandom: never in practice */
        assert_false(all_zero(driver_ptr(&drv, gpa), 4096));
        assert_false(all_zero(driver_ptr(&drv, gpa + 4064), 32)); /* to the end */
        assert_int_equal(rng.bytes, 4096);
}

/* Segments of one chain are filled in order, all of them. */
static void test_rng_fills_every_segment(void **state) {
        uint64_t a = driver_alloc(&drv, 16), b = driver_alloc(&drv, 48), wait;
        uint16_t head = driver_add(&drv, (DriverBuf[]) { { a, 16, true }, { b, 48, true } }, 2);

        process(T0, true, &wait);
        expect_used(head, 64);
        assert_false(all_zero(driver_ptr(&drv, a), 16));
        assert_false(all_zero(driver_ptr(&drv, b + 16), 32));
}

/* A full bucket answers 64 KiB at once; the next request waits for the
 * refill at 1 MiB/s and is answered when it is due, not before. */
static void test_rng_burst_then_rate(void **state) {
        uint64_t gpa, wait;
        uint16_t h1 = request(32 * 1024, &gpa), h2 = request(32 * 1024, &gpa), h3;

        process(T0, true, &wait);
        expect_used(h1, 32 * 1024);
        expect_used(h2, 32 * 1024);
        assert_int_equal(wait, 0);

        h3 = request(4096, &gpa);
        process(T0, false, &wait);
        /* 4096 bytes at 2^20 bytes/s: 3.90625 ms */
        assert_int_equal(wait, 3906250);
        assert_false(driver_take_used(&drv, &(uint32_t) { 0 }, &(uint32_t) { 0 }));
        process(T0 + wait - 1000, false, &wait);
        assert_true(wait > 0 && wait <= 1000);
        process(T0 + 3906250, true, &wait);
        expect_used(h3, 4096);
        assert_int_equal(wait, 0);
}

/* Over 10 s of constant demand, at most the burst plus 1 MiB/s went out. */
static void test_rng_rate_over_time(void **state) {
        uint64_t now = T0, wait, gpa, served = 0;
        uint32_t id, len;

        for (int round = 0; round < 400; round++) {
                if (round % 8 == 0)
                        drv.next_data = DRIVER_DATA; /* reuse buffers: the data is not looked at */
                uint16_t head = request(65536, &gpa);
                for (;;) {
                        bool interrupt;
                        assert_int_equal(virtio_rng_process_queue(&rng, &vq, now, &interrupt, &wait), 0);
                        if (driver_take_used(&drv, &id, &len)) {
                                assert_int_equal(id, head);
                                served += len;
                                break;
                        }
                        assert_true(wait > 0);
                        now += wait;
                }
                if (now - T0 >= 10 * SEC)
                        break;
        }
        uint64_t elapsed = now - T0;
        assert_true(elapsed >= 10 * SEC);
        assert_true(served <= VIRTIO_RNG_BURST + elapsed * VIRTIO_RNG_RATE / SEC + 65536);
        assert_true(served >= elapsed * VIRTIO_RNG_RATE / SEC - 65536); /* and it does not starve */
}

/* A large request is answered with a bucket's worth, the rest left unfilled. */
static void test_rng_large_request_gets_a_burst(void **state) {
        uint64_t gpa = driver_alloc(&drv, 128 * 1024), wait;
        uint16_t head = driver_add(&drv, &(DriverBuf) { gpa, 128 * 1024, true }, 1);

        process(T0, true, &wait);
        expect_used(head, VIRTIO_RNG_BURST);
        assert_true(all_zero(driver_ptr(&drv, gpa + VIRTIO_RNG_BURST), 64 * 1024));
}

/* Nothing writable: answered empty, reported once as a guest error. */
static void test_rng_request_without_writable_buffer(void **state) {
        uint64_t gpa = driver_alloc(&drv, 64), wait;
        uint16_t head = driver_add(&drv, &(DriverBuf) { gpa, 64, false }, 1);

        process(T0, true, &wait);
        expect_used(head, 0);
        assert_true(all_zero(driver_ptr(&drv, gpa), 64));
        assert_int_equal(virtio_rng_take_new_errors(&rng), VIRTIO_RNG_ERROR_NO_WRITABLE);
        assert_int_equal(virtio_rng_take_new_errors(&rng), 0);
}

/* A chain outside guest memory breaks the queue; the caller resets. */
static void test_rng_bad_chain_breaks_the_queue(void **state) {
        uint64_t wait;
        bool interrupt;

        driver_add(&drv, &(DriverBuf) { DRIVER_GPA_BASE + DRIVER_MEM_SIZE, 64, true }, 1);
        assert_int_equal(virtio_rng_process_queue(&rng, &vq, T0, &interrupt, &wait), 0);
        assert_false(interrupt);
        assert_int_equal(vq.broken, -EFAULT);
}

/* A reset forgets the kept request: its rings belong to the old driver. */
static void test_rng_reset_forgets_the_kept_request(void **state) {
        uint64_t gpa, wait;

        request(65536, &gpa);
        process(T0, true, &wait);
        driver_take_used(&drv, &(uint32_t) { 0 }, &(uint32_t) { 0 });
        request(4096, &gpa);
        process(T0, false, &wait);
        assert_true(rng.pending);
        virtio_rng_reset(&rng);
        assert_false(rng.pending);
        process(T0 + SEC, false, &wait); /* the queue is empty now: nothing to answer */
        assert_false(driver_take_used(&drv, &(uint32_t) { 0 }, &(uint32_t) { 0 }));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_rng_fills_the_buffer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rng_fills_every_segment, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rng_burst_then_rate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rng_rate_over_time, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rng_large_request_gets_a_burst, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rng_request_without_writable_buffer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rng_bad_chain_breaks_the_queue, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rng_reset_forgets_the_kept_request, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
