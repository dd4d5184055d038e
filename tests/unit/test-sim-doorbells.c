/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ioeventfds and irqfds on the simulator with real guests, worker processes
 * and a device process: the doorbell guest rings an ioeventfd that a
 * separate process counts, and the irqfd guest waits (in WFI, or spinning)
 * for SPIs that a separate process raises through an irqfd, answering each
 * through an ioeventfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "macro.h"
#include "sim-harness.h"

#define RING UINT64_C(0x0a000050)
#define MATCH UINT64_C(0x0a000070)
#define SPI 40u
/* Long enough for a loaded machine; a lost doorbell otherwise hangs. */
#define DEVICE_TIMEOUT_MS 30000

static SimHarnessResult *res;

typedef struct Doorbells {
        int ring, match, irq, ack;
        bool remove_ring; /* register, then remove before start */
} Doorbells;

static int register_doorbells(HvVm *vm, void *userdata) {
        Doorbells *d = userdata;
        int r = 0;

        if (d->ring >= 0)
                r = hv_sim_ops.add_ioeventfd(vm, d->ring, RING, 0, 0, 0);
        if (r >= 0 && d->remove_ring)
                r = hv_sim_ops.remove_ioeventfd(vm, d->ring, RING, 0, 0, 0);
        if (r >= 0 && d->match >= 0)
                r = hv_sim_ops.add_ioeventfd(vm, d->match, MATCH, 4, GUNYAH_IOEVENTFD_FLAGS_DATAMATCH, 1);
        if (r >= 0 && d->irq >= 0)
                r = hv_sim_ops.add_irqfd(vm, d->irq, SPI, 0);
        if (r >= 0 && d->ack >= 0)
                r = hv_sim_ops.add_ioeventfd(vm, d->ack, RING, 4, 0, 0);
        return r;
}

/* Sum of what fd signalled within timeout_ms of its last signal, up to want. */
static uint64_t count_eventfd(int fd, uint64_t want, int timeout_ms) {
        uint64_t sum = 0, v;
        struct pollfd p = { .fd = fd, .events = POLLIN };

        while (poll(&p, 1, sum >= want ? 100 : timeout_ms) > 0)
                if (read(fd, &v, sizeof(v)) == sizeof(v))
                        sum += v;
        return sum;
}

/* The device: a separate process holding only its eventfds. */
static pid_t device_start(void (*fn)(const Doorbells *d, uint64_t n, int out), const Doorbells *d, uint64_t n,
                          int *ret_out) {
        int p[2];
        pid_t pid;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                fn(d, n, p[1]);
                _exit(0);
        }
        close(p[1]);
        *ret_out = p[0];
        return pid;
}

static uint64_t device_result(pid_t pid, int out) {
        uint64_t v = UINT64_MAX;
        int status;

        assert_int_equal(read(out, &v, sizeof(v)), sizeof(v));
        close(out);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        return v;
}

static void counter_device(const Doorbells *d, uint64_t n, int out) {
        uint64_t sum = count_eventfd(d->ring, n, DEVICE_TIMEOUT_MS);

        (void) write(out, &sum, sizeof(sum));
}

/* Raises the SPI, waits for the guest's answer, n times. A lost interrupt
 * would leave the guest in WFI for ever: then end the whole test. */
static void irq_device(const Doorbells *d, uint64_t n, int out) {
        uint64_t one = 1, acks = 0;

        for (uint64_t i = 0; i < n; i++) {
                assert_int_equal(write(d->irq, &one, sizeof(one)), sizeof(one));
                acks += count_eventfd(d->ack, 1, DEVICE_TIMEOUT_MS);
                if (acks != i + 1) {
                        fprintf(stderr, "device: no answer to interrupt %" PRIu64 "\n", i + 1);
                        (void) kill(0, SIGKILL);
                }
        }
        (void) write(out, &acks, sizeof(acks));
}

static void run(const char *guest, unsigned vcpus, const char *cmdline, Doorbells *d) {
        SimHarnessOptions o = { .guest = guest, .vcpus = vcpus, .cmdline = cmdline,
                                .before_start = register_doorbells, .userdata = d };

        SIM_HARNESS_RUN(&o, res);
        if (res->vcpu[0].rc != 0 || res->vcpu[0].last.exit_reason != GUNYAH_VCPU_EXIT_STATUS ||
            res->vcpu[0].last.status.exit_info.type != GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF)
                fail_msg("%s did not power off: rc %d; console:\n%s", guest, res->vcpu[0].rc, res->console);
}

static Doorbells no_doorbells(void) {
        return (Doorbells) { .ring = -EBADF, .match = -EBADF, .irq = -EBADF, .ack = -EBADF };
}

static void assert_mmio(unsigned i, uint64_t addr, uint32_t len, bool is_write, uint64_t value) {
        const SimHarnessMmio *m = &res->vcpu[0].other_mmio[i];

        if (m->addr != addr || m->len != len || m->is_write != is_write || (is_write && m->value != value))
                fail_msg("exit %u: 0x%" PRIx64 "/%u %s 0x%" PRIx64 ", want 0x%" PRIx64 "/%u %s 0x%" PRIx64, i, m->addr,
                         m->len, m->is_write ? "write" : "read", m->value, addr, len, is_write ? "write" : "read", value);
}

/* Without ioeventfds every write is an exit: the control for the test below.
 * unicorn 2.0.1 splits an 8-byte MMIO write into two 4-byte ones (low
 * address first), so the sim reports two exits where the kernel has one. */
static void test_doorbell_writes_exit_without_ioeventfd(void **state) {
        Doorbells d = no_doorbells();

        run("doorbell", 1, "ring=0x0a000050 count=10", &d);
        assert_int_equal(res->vcpu[0].n_other_mmio, 14);
        assert_mmio(0, RING, 1, true, 0);
        assert_mmio(1, RING, 2, true, 1);
        assert_mmio(2, RING, 4, true, 2);
        assert_mmio(10, RING, 4, false, 0);
        assert_mmio(11, RING, 4, true, 0x55667788);
        assert_mmio(12, RING + 4, 4, true, 0x11223344);
        assert_mmio(13, RING + 8, 4, true, 0x5a);
}

static void test_ioeventfd_counts_every_write_without_an_exit(void **state) {
        enum { N = 5000 };
        Doorbells d = no_doorbells();
        uint64_t v = 0;
        pid_t device;
        int out;

        d.ring = eventfd(0, EFD_CLOEXEC);
        d.match = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        assert_true(d.ring >= 0 && d.match >= 0);
        device = device_start(counter_device, &d, N + 1, &out);
        run("doorbell", 1, "ring=0x0a000050 count=5000 match=0x0a000070", &d);
        assert_string_equal(res->console, "doorbell: ringing 5000 times\ndoorbell: read 0x0\ndoorbell: done\n");

        /* every write of every size was signalled (the 8-byte one by its
         * low half), none exited */
        assert_int_equal(device_result(device, out), N + 1);
        /* reads of the address, writes elsewhere (the 8-byte write's high
         * half too) and writes the DATAMATCH handler does not match (other
         * value, other length) still exit */
        assert_int_equal(res->vcpu[0].n_other_mmio, 5);
        assert_mmio(0, RING, 4, false, 0);
        assert_mmio(1, RING + 4, 4, true, 0x11223344);
        assert_mmio(2, RING + 8, 4, true, 0x5a);
        assert_mmio(3, MATCH, 4, true, 2);
        assert_mmio(4, MATCH, 2, true, 1);
        assert_int_equal(read(d.match, &v, sizeof(v)), sizeof(v));
        assert_int_equal(v, 1);
        close(d.ring);
        close(d.match);
}

static void test_removed_ioeventfd_exits_again(void **state) {
        Doorbells d = no_doorbells();
        uint64_t v;

        d.ring = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        d.remove_ring = true;
        run("doorbell", 1, "ring=0x0a000050 count=10", &d);
        assert_int_equal(res->vcpu[0].n_other_mmio, 14);
        assert_int_equal(read(d.ring, &v, sizeof(v)), -1);
        assert_int_equal(errno, EAGAIN);
        close(d.ring);
}

static void irqfd_case(unsigned vcpus, const char *cmdline) {
        enum { M = 5 };
        Doorbells d = no_doorbells();
        pid_t device;
        int out;

        d.irq = eventfd(0, EFD_CLOEXEC);
        d.ack = eventfd(0, EFD_CLOEXEC);
        assert_true(d.irq >= 0 && d.ack >= 0);
        device = device_start(irq_device, &d, M, &out);
        run("irqfd", vcpus, cmdline, &d);
        assert_string_equal(res->console, "irqfd: waiting for spi 40\nirqfd: took 5 interrupts\n");
        assert_int_equal(device_result(device, out), M);
        /* the answers went to the device without exits */
        assert_int_equal(res->vcpu[0].n_other_mmio, 0);
        close(d.irq);
        close(d.ack);
}

static void test_irqfd_wakes_a_vcpu_in_wfi(void **state) {
        irqfd_case(1, "spi=40 count=5");
}

static void test_irqfd_reaches_a_vcpu_running_guest_code(void **state) {
        irqfd_case(1, "spi=40 count=5 spin=1");
}

/* Both workers watch the irqfd; the one of the parked vCPU may take it and
 * must then wake vCPU 0's, in the other process. */
static void test_irqfd_with_a_second_worker_watching(void **state) {
        irqfd_case(2, "spi=40 count=5 secondary=1");
}

static int setup(void **state) {
        res = calloc(1, sizeof(*res));
        return res ? 0 : -1;
}

static int teardown(void **state) {
        free(res);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_doorbell_writes_exit_without_ioeventfd),
                cmocka_unit_test(test_ioeventfd_counts_every_write_without_an_exit),
                cmocka_unit_test(test_removed_ioeventfd_exits_again),
                cmocka_unit_test(test_irqfd_wakes_a_vcpu_in_wfi),
                cmocka_unit_test(test_irqfd_reaches_a_vcpu_running_guest_code),
                cmocka_unit_test(test_irqfd_with_a_second_worker_watching),
        };
        return sim_harness_exit_status(cmocka_run_group_tests(tests, setup, teardown));
}
