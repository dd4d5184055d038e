/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "virtio-mmio.h"

#define F(bit) (UINT64_C(1) << (bit))
#define OFFERED (F(VIRTIO_F_VERSION_1) | F(2) | F(9) | F(33))

static VirtioMmioShared *s;     /* in shared memory: children of fork() see it */
static const uint8_t config[12] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc };

static int setup(void **state) {
        s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_true(s != MAP_FAILED);
        assert_int_equal(virtio_mmio_init(s, 2, OFFERED, 2, 256, config, sizeof(config)), 0);
        return 0;
}

static int teardown(void **state) {
        assert_int_equal(munmap(s, 4096), 0);
        return 0;
}

static uint32_t rd(uint64_t off) {
        uint64_t v = 0xdeadbeef;
        assert_int_equal(virtio_mmio_read(s, off, 4, &v), 0);
        return (uint32_t) v;
}

static bool wr(uint64_t off, uint32_t v) {
        bool kick = false;
        assert_int_equal(virtio_mmio_write(s, off, 4, v, &kick), 0);
        return kick;
}

static VirtioMmioState poll_state(void) {
        VirtioMmioState st;
        virtio_mmio_poll_changes(s, &st);
        return st;
}

static void negotiate(uint64_t features) {
        wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t) features);
        wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t) (features >> 32));
        wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
}

static void test_init_refuses_bad_parameters(void **state) {
        VirtioMmioShared p;
        static const uint8_t full[VIRTIO_MMIO_CONFIG_MAX + 1];
        assert_int_equal(virtio_mmio_init(&p, 2, F(9), 1, 256, NULL, 0), -EINVAL);      /* no VERSION_1 */
        assert_int_equal(virtio_mmio_init(&p, 2, OFFERED, 0, 256, NULL, 0), -EINVAL);
        assert_int_equal(virtio_mmio_init(&p, 2, OFFERED, VIRTIO_MMIO_QUEUES_MAX + 1, 256, NULL, 0), -EINVAL);
        assert_int_equal(virtio_mmio_init(&p, 2, OFFERED, 1, 100, NULL, 0), -EINVAL);
        assert_int_equal(virtio_mmio_init(&p, 2, OFFERED, 1, 0, NULL, 0), -EINVAL);
        assert_int_equal(virtio_mmio_init(&p, 2, OFFERED, 1, 256, full, VIRTIO_MMIO_CONFIG_MAX + 1), -EINVAL);
        assert_int_equal(virtio_mmio_init(&p, 2, OFFERED, 1, 256, NULL, 4), -EINVAL);
        assert_int_equal(virtio_mmio_init(&p, 2, OFFERED, VIRTIO_MMIO_QUEUES_MAX, 32768, full, VIRTIO_MMIO_CONFIG_MAX), 0);
}

static void test_calls_refuse_uninitialised_page_and_bad_access(void **state) {
        uint64_t v;
        bool kick;
        static VirtioMmioShared zero;
        assert_int_equal(virtio_mmio_read(&zero, 0, 4, &v), -ENXIO);
        assert_int_equal(virtio_mmio_write(&zero, VIRTIO_MMIO_STATUS, 4, 1, &kick), -ENXIO);
        assert_int_equal(virtio_mmio_read(s, VIRTIO_MMIO_WINDOW, 4, &v), -ERANGE);
        assert_int_equal(virtio_mmio_read(s, VIRTIO_MMIO_WINDOW - 2, 4, &v), -ERANGE);
        assert_int_equal(virtio_mmio_read(s, 0, 3, &v), -ERANGE);
        assert_int_equal(virtio_mmio_write(s, 0, 16, 0, &kick), -ERANGE);
}

static void test_identity_registers(void **state) {
        assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
        assert_int_equal(rd(VIRTIO_MMIO_VERSION_REG), 2);
        assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), 2);
        assert_int_equal(rd(VIRTIO_MMIO_VENDOR_ID_REG), 0x4e594753);
        assert_int_equal(rd(VIRTIO_MMIO_CONFIG_GENERATION), 0);
        assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
        assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
        assert_int_equal(s->guest_errors, 0);
}

static void test_device_features_by_selector(void **state) {
        assert_false(wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0));
        assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), (uint32_t) OFFERED);
        wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
        assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), (uint32_t) (OFFERED >> 32));
        wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
        assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
        wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, UINT32_MAX);
        assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

static void test_features_ok_accepted_with_version_1(void **state) {
        negotiate(F(VIRTIO_F_VERSION_1) | F(9));
        assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
        VirtioMmioState st = poll_state();
        assert_true(st.events & VIRTIO_MMIO_EVENT_FEATURES_OK);
        assert_int_equal(st.driver_features, F(VIRTIO_F_VERSION_1) | F(9));
        assert_int_equal(st.status, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
}

static void test_features_ok_refused_without_version_1(void **state) {
        negotiate(F(9));
        assert_false(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
        assert_false(poll_state().events & VIRTIO_MMIO_EVENT_FEATURES_OK);
}

static void test_features_ok_refused_with_a_bit_not_offered(void **state) {
        negotiate(F(VIRTIO_F_VERSION_1) | F(5));
        assert_false(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
        negotiate(F(VIRTIO_F_VERSION_1) | F(34));
        assert_false(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
        /* The driver may try again with fewer bits. */
        negotiate(F(VIRTIO_F_VERSION_1) | F(33));
        assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
}

static void test_driver_features_frozen_after_features_ok_and_beyond_selector_1(void **state) {
        negotiate(F(VIRTIO_F_VERSION_1));
        wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        wr(VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);
        assert_int_equal(s->guest_errors, 1);
        assert_int_equal(poll_state().driver_features, F(VIRTIO_F_VERSION_1));

        wr(VIRTIO_MMIO_STATUS, 0);
        wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
        wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
        assert_int_equal(s->guest_errors, 2);
        assert_int_equal(poll_state().driver_features, 0);
}

static void test_driver_ok_needs_features_ok(void **state) {
        wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
        assert_false(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK);
        assert_false(poll_state().events & VIRTIO_MMIO_EVENT_DRIVER_OK);
        assert_int_equal(s->guest_errors, 1);

        negotiate(F(VIRTIO_F_VERSION_1));
        assert_true(wr(VIRTIO_MMIO_STATUS, rd(VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK));
        assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK);
        assert_true(poll_state().events & VIRTIO_MMIO_EVENT_DRIVER_OK);
}

static void test_status_bits_only_set_and_needs_reset_is_the_devices(void **state) {
        wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);      /* clearing: refused */
        assert_int_equal(rd(VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        assert_int_equal(rd(VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        assert_int_equal(s->guest_errors, 2);

        virtio_mmio_set_needs_reset(s);
        assert_int_equal(rd(VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
        /* The driver's writes keep the device's bit. */
        wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FAILED);
        assert_int_equal(rd(VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                         VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED);
        assert_true(poll_state().events & VIRTIO_MMIO_EVENT_FAILED);
        wr(VIRTIO_MMIO_STATUS, 0);
        assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
}

/* The device found the old rings broken while the driver was resetting:
 * the error belongs to the device the reset ended, not to the next one. */
static void test_needs_reset_after_a_pending_reset_is_dropped(void **state) {
        negotiate(F(VIRTIO_F_VERSION_1));
        (void) poll_state();
        wr(VIRTIO_MMIO_STATUS, 0);              /* not yet seen by the device */
        virtio_mmio_set_needs_reset(s);
        assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
        assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
        (void) poll_state();
        wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
        assert_int_equal(rd(VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE);

        /* Once the device has seen the reset, its errors count again. */
        virtio_mmio_set_needs_reset(s);
        assert_int_equal(rd(VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void setup_queue(uint32_t sel, uint32_t num, uint64_t base) {
        wr(VIRTIO_MMIO_QUEUE_SEL, sel);
        wr(VIRTIO_MMIO_QUEUE_NUM, num);
        wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t) base);
        wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t) (base >> 32));
        wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t) (base + 0x1000));
        wr(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t) ((base + 0x1000) >> 32));
        wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t) (base + 0x2000));
        wr(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t) ((base + 0x2000) >> 32));
}

static void test_queue_registers_reach_the_device(void **state) {
        wr(VIRTIO_MMIO_QUEUE_SEL, 1);
        assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
        assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
        setup_queue(1, 64, 0x123456789000);
        assert_true(wr(VIRTIO_MMIO_QUEUE_READY, 1));
        assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 1);

        VirtioMmioState st = poll_state();
        assert_true(st.events & VIRTIO_MMIO_EVENT_QUEUE_READY);
        assert_int_equal(st.queues[1].ready, 1);
        assert_int_equal(st.queues[1].num, 64);
        assert_int_equal(st.queues[1].desc, 0x123456789000);
        assert_int_equal(st.queues[1].driver, 0x12345678a000);
        assert_int_equal(st.queues[1].device, 0x12345678b000);
        assert_int_equal(st.queues[0].ready, 0);
        assert_int_equal(st.queues[0].num, 256);        /* the default until written */
        assert_int_equal(s->guest_errors, 0);
}

static void test_queue_selector_beyond_the_queues(void **state) {
        wr(VIRTIO_MMIO_QUEUE_SEL, 2);
        assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
        assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
        wr(VIRTIO_MMIO_QUEUE_NUM, 8);
        wr(VIRTIO_MMIO_QUEUE_READY, 1);
        assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
        assert_int_equal(s->guest_errors, 2);
        assert_int_equal(poll_state().queues[2].num, 0);
}

static void test_queue_with_bad_size_is_refused(void **state) {
        static const uint32_t bad[] = { 0, 3, 100, 512, 0x80000000 };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                setup_queue(0, bad[i], 0x10000);
                wr(VIRTIO_MMIO_QUEUE_READY, 1);
                assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
                VirtioMmioState st = poll_state();
                assert_true(st.events & VIRTIO_MMIO_EVENT_QUEUE_REFUSED);
                assert_false(st.events & VIRTIO_MMIO_EVENT_QUEUE_READY);
        }
        assert_int_equal(s->guest_errors, 5);
}

static void test_ready_queue_cannot_change_until_unready(void **state) {
        setup_queue(0, 16, 0x10000);
        wr(VIRTIO_MMIO_QUEUE_READY, 1);
        setup_queue(0, 32, 0x20000);
        assert_int_equal(s->guest_errors, 7);
        VirtioMmioState st = poll_state();
        assert_int_equal(st.queues[0].num, 16);
        assert_int_equal(st.queues[0].desc, 0x10000);

        assert_true(wr(VIRTIO_MMIO_QUEUE_READY, 0));
        assert_true(poll_state().events & VIRTIO_MMIO_EVENT_QUEUE_READY);
        setup_queue(0, 32, 0x20000);
        assert_int_equal(poll_state().queues[0].desc, 0x20000);
        wr(VIRTIO_MMIO_QUEUE_READY, 2);
        assert_int_equal(s->guest_errors, 8);
}

static void test_queue_notify_reaches_the_device_and_reads_zero(void **state) {
        assert_true(wr(VIRTIO_MMIO_QUEUE_NOTIFY, 1));
        assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NOTIFY), 0);
        VirtioMmioState st = poll_state();
        assert_true(st.events & VIRTIO_MMIO_EVENT_NOTIFY);
        assert_int_equal(st.queues_notified, 2);
        assert_int_equal(poll_state().queues_notified, 0);      /* taken */
        wr(VIRTIO_MMIO_QUEUE_NOTIFY, 2);
        assert_int_equal(poll_state().queues_notified, 0);
        assert_int_equal(s->guest_errors, 1);
}

static void test_which_writes_kick_the_device(void **state) {
        static const struct { uint32_t off, value; bool kick; } cases[] = {
                { VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0, false },
                { VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0, false },
                { VIRTIO_MMIO_DRIVER_FEATURES, 0, false },
                { VIRTIO_MMIO_QUEUE_SEL, 0, false },
                { VIRTIO_MMIO_QUEUE_NUM, 8, false },
                { VIRTIO_MMIO_QUEUE_DESC_LOW, 0, false },
                { VIRTIO_MMIO_INTERRUPT_ACK, 1, false },
                { VIRTIO_MMIO_MAGIC_VALUE, 0, false },
                { VIRTIO_MMIO_STATUS, 1, true },
                { VIRTIO_MMIO_QUEUE_READY, 1, true },
                { VIRTIO_MMIO_QUEUE_NOTIFY, 0, true },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                if (wr(cases[i].off, cases[i].value) != cases[i].kick)
                        fail_msg("write of 0x%x: kick %d, expected %d", cases[i].off, !cases[i].kick, cases[i].kick);
}

static void test_interrupt_raise_and_ack(void **state) {
        virtio_mmio_raise_interrupt(s, VIRTIO_MMIO_INT_VRING | 0x4);
        assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
        virtio_mmio_raise_interrupt(s, VIRTIO_MMIO_INT_CONFIG);
        assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
        wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
        assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
        wr(VIRTIO_MMIO_INTERRUPT_ACK, 0xffffffff);
        assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

static void test_reset_returns_everything_to_its_initial_state(void **state) {
        negotiate(F(VIRTIO_F_VERSION_1));
        setup_queue(1, 16, 0x10000);
        wr(VIRTIO_MMIO_QUEUE_READY, 1);
        wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
        virtio_mmio_raise_interrupt(s, VIRTIO_MMIO_INT_VRING);
        wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
        (void) poll_state();

        assert_true(wr(VIRTIO_MMIO_STATUS, 0));
        assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
        assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
        assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), (uint32_t) OFFERED);  /* selector 0 again */
        assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 256);                   /* QueueSel 0 again */
        wr(VIRTIO_MMIO_QUEUE_SEL, 1);
        assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
        VirtioMmioState st = poll_state();
        assert_int_equal(st.events, VIRTIO_MMIO_EVENT_RESET);
        assert_int_equal(st.driver_features, 0);
        assert_int_equal(st.queues[1].num, 256);
        assert_int_equal(st.queues[1].desc, 0);
        assert_int_equal(st.queues[1].ready, 0);
}

static void test_reset_waits_for_the_devices_acknowledgement(void **state) {
        assert_int_equal(virtio_mmio_wait_reset(s, 0), 0);     /* none pending */
        wr(VIRTIO_MMIO_STATUS, 0);
        assert_int_equal(virtio_mmio_wait_reset(s, 20 * 1000 * 1000), -ETIMEDOUT);
        (void) poll_state();
        assert_int_equal(virtio_mmio_wait_reset(s, 0), 0);

        /* The device in another process wakes the waiting vCPU. */
        wr(VIRTIO_MMIO_STATUS, 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                usleep(50 * 1000);
                VirtioMmioState st;
                virtio_mmio_poll_changes(s, &st);
                _exit(st.events & VIRTIO_MMIO_EVENT_RESET ? 0 : 1);
        }
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        assert_int_equal(virtio_mmio_wait_reset(s, 10ull * 1000 * 1000 * 1000), 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        assert_true(b.tv_sec - a.tv_sec < 5);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_registers_take_32_bit_aligned_accesses_only(void **state) {
        uint64_t v = 1;
        bool kick;
        assert_int_equal(virtio_mmio_read(s, VIRTIO_MMIO_MAGIC_VALUE, 2, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(virtio_mmio_read(s, VIRTIO_MMIO_MAGIC_VALUE, 8, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(virtio_mmio_read(s, VIRTIO_MMIO_VERSION_REG + 1, 1, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(virtio_mmio_write(s, VIRTIO_MMIO_STATUS, 1, 3, &kick), 0);
        assert_false(kick);
        assert_int_equal(virtio_mmio_write(s, VIRTIO_MMIO_STATUS + 2, 2, 3, &kick), 0);
        assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
        assert_int_equal(s->guest_errors, 5);
        assert_int_equal(s->last_guest_error_offset, VIRTIO_MMIO_STATUS + 2);
}

static void test_write_only_registers_read_zero(void **state) {
        static const uint32_t wo[] = {
                VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES_SEL,
                VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_INTERRUPT_ACK,
                VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH, VIRTIO_MMIO_QUEUE_DRIVER_LOW,
                VIRTIO_MMIO_QUEUE_DRIVER_HIGH, VIRTIO_MMIO_QUEUE_DEVICE_LOW, VIRTIO_MMIO_QUEUE_DEVICE_HIGH,
                0x018, 0x0ac, 0x0f8,
        };
        wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
        wr(VIRTIO_MMIO_QUEUE_NUM, 8);
        for (size_t i = 0; i < sizeof(wo) / sizeof(wo[0]); i++)
                assert_int_equal(rd(wo[i]), 0);
        assert_int_equal(s->guest_errors, sizeof(wo) / sizeof(wo[0]));
}

static void test_read_only_registers_ignore_writes(void **state) {
        static const uint32_t ro[] = {
                VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_VERSION_REG, VIRTIO_MMIO_DEVICE_ID, VIRTIO_MMIO_VENDOR_ID_REG,
                VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_QUEUE_NUM_MAX, VIRTIO_MMIO_INTERRUPT_STATUS,
                VIRTIO_MMIO_CONFIG_GENERATION,
        };
        virtio_mmio_raise_interrupt(s, VIRTIO_MMIO_INT_VRING);
        for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++)
                wr(ro[i], 0x5a5a5a5a);
        assert_int_equal(s->guest_errors, sizeof(ro) / sizeof(ro[0]));
        assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
        assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), (uint32_t) OFFERED);
        assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
        assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
        assert_int_equal(rd(VIRTIO_MMIO_CONFIG_GENERATION), 0);
}

static void test_config_space_any_size_little_endian(void **state) {
        uint64_t v;
        bool kick;
        assert_int_equal(virtio_mmio_read(s, VIRTIO_MMIO_CONFIG, 8, &v), 0);
        assert_int_equal(v, 0x8877665544332211);
        assert_int_equal(virtio_mmio_read(s, VIRTIO_MMIO_CONFIG + 1, 2, &v), 0);
        assert_int_equal(v, 0x3322);
        assert_int_equal(virtio_mmio_read(s, VIRTIO_MMIO_CONFIG + 8, 4, &v), 0);
        assert_int_equal(v, 0xccbbaa99);
        assert_int_equal(virtio_mmio_read(s, VIRTIO_MMIO_CONFIG + 11, 1, &v), 0);
        assert_int_equal(v, 0xcc);
        assert_int_equal(s->guest_errors, 0);
        /* Past config_len: zero and a guest error. */
        assert_int_equal(virtio_mmio_read(s, VIRTIO_MMIO_CONFIG + 9, 4, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(virtio_mmio_read(s, VIRTIO_MMIO_CONFIG + 0xf8, 8, &v), 0);
        assert_int_equal(v, 0);
        /* Nothing writable in it. */
        assert_int_equal(virtio_mmio_write(s, VIRTIO_MMIO_CONFIG, 1, 0xff, &kick), 0);
        assert_int_equal(virtio_mmio_read(s, VIRTIO_MMIO_CONFIG, 1, &v), 0);
        assert_int_equal(v, 0x11);
        assert_int_equal(s->guest_errors, 3);
}

static void test_device_state_from_the_page_is_bounds_checked(void **state) {
        /* A corrupted page (another process wrote it) must not index
         * outside the queue array. */
        s->n_queues = 1000;
        s->queue_sel = 900;
        assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
        wr(VIRTIO_MMIO_QUEUE_NOTIFY, 500);
        s->config_len = 100000;
        uint64_t v;
        assert_int_equal(virtio_mmio_read(s, VIRTIO_MMIO_WINDOW - 8, 8, &v), 0);
        assert_int_equal(v, 0);
        VirtioMmioState st = poll_state();
        assert_int_equal(st.queues_notified, 0);
}

#define CONCURRENT_ROUNDS 50000u

/* Each process raises its own interrupt bit, checks that it is set and
 * acknowledges it, and makes one counted guest error per round: a lost
 * read-modify-write of InterruptStatus (an ack that wipes the other's
 * bit) or of the error counter shows up as a failed check or a wrong
 * count. */
static int hammer(uint32_t bit) {
        for (unsigned i = 0; i < CONCURRENT_ROUNDS; i++) {
                uint64_t v;
                bool kick;
                virtio_mmio_raise_interrupt(s, bit);
                if (virtio_mmio_read(s, VIRTIO_MMIO_INTERRUPT_STATUS, 4, &v) < 0 || !(v & bit))
                        return 1;
                if (virtio_mmio_write(s, VIRTIO_MMIO_INTERRUPT_ACK, 4, bit, &kick) < 0)
                        return 1;
                if (virtio_mmio_read(s, VIRTIO_MMIO_MAGIC_VALUE, 2, &v) < 0)
                        return 1;
        }
        return 0;
}

static void test_concurrent_access_from_two_processes_stays_consistent(void **state) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(hammer(VIRTIO_MMIO_INT_CONFIG));
        assert_int_equal(hammer(VIRTIO_MMIO_INT_VRING), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(s->guest_errors, 2 * CONCURRENT_ROUNDS);
        assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
        assert_int_equal(s->lock.word, 0);
        assert_int_equal(s->lock_breaks, 0);
}

static void test_holder_killed_inside_the_lock_does_not_wedge_the_device(void **state) {
        wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                bool broken;
                (void) shared_lock_acquire(&s->lock, VIRTIO_MMIO_LOCK_LEASE_NS, &broken);
                raise(SIGKILL);
                _exit(1);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_not_equal(s->lock.word, 0);  /* died holding it */

        /* The next access waits one lease, then takes the lock over and
         * asks the driver for a reset (the state may be torn). */
        bool kick = false;
        assert_int_equal(virtio_mmio_write(s, VIRTIO_MMIO_INTERRUPT_ACK, 4, 0, &kick), 0);
        assert_true(kick);
        assert_int_equal(s->lock_breaks, 1);
        assert_int_equal(rd(VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
        assert_true(poll_state().events & VIRTIO_MMIO_EVENT_LOCK_BROKEN);
        assert_int_equal(s->lock.word, 0);
        assert_int_equal(s->lock_breaks, 1);
}

typedef struct LockedCounter {
        SharedLock lock;
        uint32_t started;
        uint64_t value;
} LockedCounter;

/* A read-modify-write with a wide window: only mutual exclusion keeps
 * every increment. */
static void count_under_lock(LockedCounter *c, unsigned rounds) {
        /* Start together, so that the two really overlap. */
        __atomic_add_fetch(&c->started, 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&c->started, __ATOMIC_SEQ_CST) < 2)
                ;
        for (unsigned i = 0; i < rounds; i++) {
                bool broken;
                uint32_t t = shared_lock_acquire(&c->lock, VIRTIO_MMIO_LOCK_LEASE_NS, &broken);
                uint64_t v = __atomic_load_n(&c->value, __ATOMIC_RELAXED);
                for (volatile unsigned k = 0; k < 200; k++)
                        ;
                __atomic_store_n(&c->value, v + 1, __ATOMIC_RELAXED);
                assert_false(broken);
                assert_true(shared_lock_release(&c->lock, t));
        }
}

static void test_lock_excludes_another_process(void **state) {
        LockedCounter *c = (LockedCounter *) s;        /* the shared page, reused */
        *c = (LockedCounter) {};
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                count_under_lock(c, CONCURRENT_ROUNDS);
                _exit(0);
        }
        count_under_lock(c, CONCURRENT_ROUNDS);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(c->value, 2 * CONCURRENT_ROUNDS);
}

static void test_lock_release_by_a_stale_holder_releases_nothing(void **state) {
        SharedLock l = {};
        bool broken;
        uint32_t stale = shared_lock_acquire(&l, 1000, &broken);
        assert_false(broken);
        /* A waiter with a tiny lease takes it over. */
        uint32_t t = shared_lock_acquire(&l, 1000, &broken);
        assert_true(broken);
        assert_int_not_equal(t, stale);
        assert_false(shared_lock_release(&l, stale));
        assert_int_equal(l.word, t);
        assert_true(shared_lock_release(&l, t));
        assert_int_equal(l.word, 0);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_init_refuses_bad_parameters),
                T(test_calls_refuse_uninitialised_page_and_bad_access),
                T(test_identity_registers),
                T(test_device_features_by_selector),
                T(test_features_ok_accepted_with_version_1),
                T(test_features_ok_refused_without_version_1),
                T(test_features_ok_refused_with_a_bit_not_offered),
                T(test_driver_features_frozen_after_features_ok_and_beyond_selector_1),
                T(test_driver_ok_needs_features_ok),
                T(test_status_bits_only_set_and_needs_reset_is_the_devices),
                T(test_needs_reset_after_a_pending_reset_is_dropped),
                T(test_queue_registers_reach_the_device),
                T(test_queue_selector_beyond_the_queues),
                T(test_queue_with_bad_size_is_refused),
                T(test_ready_queue_cannot_change_until_unready),
                T(test_queue_notify_reaches_the_device_and_reads_zero),
                T(test_which_writes_kick_the_device),
                T(test_interrupt_raise_and_ack),
                T(test_reset_returns_everything_to_its_initial_state),
                T(test_reset_waits_for_the_devices_acknowledgement),
                T(test_registers_take_32_bit_aligned_accesses_only),
                T(test_write_only_registers_read_zero),
                T(test_read_only_registers_ignore_writes),
                T(test_config_space_any_size_little_endian),
                T(test_device_state_from_the_page_is_bounds_checked),
                T(test_concurrent_access_from_two_processes_stays_consistent),
                T(test_holder_killed_inside_the_lock_does_not_wedge_the_device),
                T(test_lock_excludes_another_process),
                T(test_lock_release_by_a_stale_holder_releases_nothing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
