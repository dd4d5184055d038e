/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Boots the test guests on the simulator, one worker process per vCPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fileio.h"
#include "image.h"
#include "macro.h"
#include "sim-harness.h"

static SimHarnessResult *res;

static void run_guest(const char *guest, unsigned vcpus, const char *cmdline, const char *input, const char *kick_after) {
        SimHarnessOptions o = { .guest = guest, .vcpus = vcpus, .cmdline = cmdline, .input = input, .kick_after = kick_after };

        SIM_HARNESS_RUN(&o, res);
}

/* Every vCPU left run with the same STATUS exit. */
static void assert_all_status(unsigned vcpus, uint32_t status, uint16_t type) {
        for (unsigned i = 0; i < vcpus; i++) {
                const SimHarnessVcpu *v = &res->vcpu[i];

                if (v->rc != 0 || v->last.exit_reason != GUNYAH_VCPU_EXIT_STATUS)
                        fail_msg("vCPU %u: rc %d, exit_reason %u; console:\n%s", i, v->rc, v->last.exit_reason, res->console);
                assert_int_equal(v->exit_code, 0);
                assert_int_equal(v->last.status.status, status);
                assert_int_equal(v->last.status.exit_info.type, type);
        }
}

static void assert_console_expected(const char *guest) {
        _cleanup_free_ char *expected = sim_harness_expected(guest);

        if (!expected) /* the expected files are sources: never missing */
                fail_msg("no expected output for %s (GUNYAH_TEST_GUEST_EXPECTED_DIR)", guest);
        if (!streq(expected, res->console))
                fail_msg("console of %s differs:\n--- expected\n%s--- got\n%s", guest, expected, res->console);
}

static void test_sim_hello_powers_off(void **state) {
        run_guest("hello", 1, NULL, NULL, NULL);
        assert_all_status(1, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF);
        assert_int_equal(res->vcpu[0].last.status.exit_info.reason_size, 4);
        assert_console_expected("hello");
}

static void test_sim_smp_cpu_on_order(void **state) {
        run_guest("smp", 4, NULL, NULL, NULL);
        assert_all_status(4, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF);
        assert_console_expected("smp");
}

static void test_sim_smp_two_processes(void **state) {
        run_guest("smp", 2, NULL, NULL, NULL);
        assert_all_status(2, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF);
        /* Both workers printed: vCPU 1 ran in its own process. */
        assert_true(res->vcpu[0].mmio_exits > 0);
        assert_true(res->vcpu[1].mmio_exits > 0);
}

static void test_sim_reset(void **state) {
        run_guest("reset", 1, NULL, NULL, NULL);
        assert_all_status(1, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_PSCI_SYSTEM_RESET);
}

static void test_sim_reset2_reason(void **state) {
        /* RM words: 0x8000 (SMC64 flag), reset type 0x80000001, cookie 0x1234, 0;
         * the kernel keeps 8 bytes and the RM's size. */
        static const uint8_t reason[8] = { 0x00, 0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x80 };
        run_guest("reset2", 1, NULL, NULL, NULL);
        assert_all_status(1, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_PSCI_SYSTEM_RESET2);
        assert_int_equal(res->vcpu[0].last.status.exit_info.reason_size, 16);
        assert_memory_equal(res->vcpu[0].last.status.exit_info.reason, reason, 8);
        assert_null(strstr(res->console, "falling back"));
}

static void test_sim_crash_is_hyp_error(void **state) {
        /* What the hypervisor reported for this guest on a real stack
         * ("exception inject loop"): four zero bytes. */
        static const uint8_t reason[4] = { 0x00, 0x00, 0x00, 0x00 };
        run_guest("crash", 1, NULL, NULL, NULL);
        assert_all_status(1, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_HYP_ERROR);
        assert_int_equal(res->vcpu[0].last.status.exit_info.reason_size, 4);
        assert_memory_equal(res->vcpu[0].last.status.exit_info.reason, reason, 4);
        assert_non_null(strstr(res->console, "crash: executing udf"));
        assert_null(strstr(res->console, "survived"));
}

static void test_sim_echo_input(void **state) {
        run_guest("echo", 1, NULL, "abc\n\x04", NULL);
        assert_all_status(1, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF);
        assert_string_equal(res->console, "echo: ready\nabc\necho: bye\n");
}

static void test_sim_spin_kick_then_destroy(void **state) {
        run_guest("spin", 2, NULL, NULL, "spin: spinning\n");
        /* The kicked worker left run with -EINTR... */
        assert_int_equal(res->vcpu[0].rc, -EINTR);
        assert_int_equal(res->vcpu[0].exit_code, 0);
        /* ...and the powered-off secondary blocked in run left when the host
         * destroyed the running VM (forced stop, as the kernel reports it). */
        assert_int_equal(res->vcpu[1].rc, 0);
        assert_int_equal(res->vcpu[1].last.exit_reason, GUNYAH_VCPU_EXIT_STATUS);
        assert_int_equal(res->vcpu[1].last.status.status, GUNYAH_VM_STATUS_EXITED);
        assert_int_equal(res->vcpu[1].last.status.exit_info.type, GUNYAH_VM_EXIT_TYPE_VM_FORCE_STOPPED);
}

static void test_sim_mmio_flood(void **state) {
        run_guest("mmio-flood", 1, "flood=5000", NULL, NULL);
        assert_all_status(1, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF);
        assert_non_null(strstr(res->console, "flood: done 5000\n"));
        assert_true(res->vcpu[0].mmio_exits >= 5000);
}

static uint64_t page_up(uint64_t a) {
        return ALIGN_UP(a, UINT64_C(4096));
}

static void test_sim_memtouch_checksum(void **state) {
        _cleanup_free_ char *path = sim_harness_guest_path("memtouch"), *elf = NULL;
        uint64_t img_start, img_end, dtb_start, dtb_end, sum = 0, pages = 0;
        char expected[128];
        VmImageInfo info;
        size_t size;
        run_guest("memtouch", 1, NULL, NULL, NULL);
        assert_all_status(1, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF);

        assert_int_equal(read_full_file(path, 16 * 1024 * 1024, &elf, &size), 0);
        assert_int_equal(vm_image_probe(elf, size, VM_KERNEL_FORMAT_ELF, &info, NULL, 0), 0);
        img_start = info.segments[0].paddr & ~UINT64_C(4095);
        img_end = page_up(info.segments[0].paddr + info.load_size);
        dtb_start = res->dtb_addr & ~UINT64_C(4095);
        dtb_end = page_up(res->dtb_addr + res->dtb_size);
        for (uint64_t p = SIM_HARNESS_RAM_BASE; p < SIM_HARNESS_RAM_BASE + SIM_HARNESS_RAM_SIZE; p += 4096) {
                if ((p >= img_start && p < img_end) || (p >= dtb_start && p < dtb_end))
                        continue;
                sum += p ^ UINT64_C(0xa5a5a5a5a5a5a5a5);
                pages++;
        }
        snprintf(expected, sizeof(expected), "memtouch: ok pages=%llu sum=0x%llx",
                 (unsigned long long) pages, (unsigned long long) sum);
        if (!strstr(res->console, expected))
                fail_msg("expected \"%s\" in:\n%s", expected, res->console);
}

static void test_sim_atomic_four_processes(void **state) {
        unsigned long long total = 0, expected = 1;
        const char *line;
        run_guest("atomic", 4, NULL, NULL, NULL);
        assert_all_status(4, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF);
        line = strstr(res->console, "atomic: total=");
        if (!line || sscanf(line, "atomic: total=%llu expected=%llu", &total, &expected) != 2)
                fail_msg("no total in:\n%s", res->console);
        assert_true(expected > 0);
        assert_int_equal(total, expected);
}

static void test_sim_exceptions_reach_vectors(void **state) {
        run_guest("exceptions", 1, NULL, NULL, NULL);
        assert_all_status(1, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF);
        /* ESR, ELR and FAR per exception, byte for byte as QEMU prints them. */
        assert_console_expected("exceptions");
}

static void test_sim_gic_sgis_between_vcpus(void **state) {
        run_guest("gic", 2, NULL, NULL, NULL);
        assert_all_status(2, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF);
        /* GIC accesses never leave the sim: the MMIO exits are the console's. */
        assert_true(res->vcpu[1].mmio_exits > 0);
        assert_console_expected("gic");
}

static void test_sim_timer_ppis(void **state) {
        run_guest("timer", 1, NULL, NULL, NULL);
        assert_all_status(1, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF);
        assert_console_expected("timer");
}

static void test_sim_mmu_code_at_a_high_va(void **state) {
        /* Code, stack and console through TTBR1 (the VA-cover path Linux
         * needs): the same output QEMU gives (qemu-mmu). */
        run_guest("mmu", 1, NULL, NULL, NULL);
        assert_all_status(1, GUNYAH_VM_STATUS_EXITED, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF);
        assert_console_expected("mmu");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sim_hello_powers_off),
                cmocka_unit_test(test_sim_smp_cpu_on_order),
                cmocka_unit_test(test_sim_smp_two_processes),
                cmocka_unit_test(test_sim_reset),
                cmocka_unit_test(test_sim_reset2_reason),
                cmocka_unit_test(test_sim_crash_is_hyp_error),
                cmocka_unit_test(test_sim_echo_input),
                cmocka_unit_test(test_sim_spin_kick_then_destroy),
                cmocka_unit_test(test_sim_mmio_flood),
                cmocka_unit_test(test_sim_memtouch_checksum),
                cmocka_unit_test(test_sim_atomic_four_processes),
                cmocka_unit_test(test_sim_exceptions_reach_vectors),
                cmocka_unit_test(test_sim_gic_sgis_between_vcpus),
                cmocka_unit_test(test_sim_timer_ppis),
                cmocka_unit_test(test_sim_mmu_code_at_a_high_va),
        };
        int r;

        res = malloc(sizeof(*res));
        if (!res)
                return 1;
        r = cmocka_run_group_tests(tests, NULL, NULL);
        free(res);
        return sim_harness_exit_status(r);
}
