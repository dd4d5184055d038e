/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PSCI over the shared VM state, without an emulator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "psci.h"

static SimShared *new_vm(unsigned vcpus) {
        SimShared *s = calloc(1, sizeof(*s));

        assert_non_null(s);
        s->vm_state = SIM_VM_RUNNING;
        for (unsigned i = 0; i < SIM_VCPUS_MAX; i++)
                s->vcpus[i].power = SIM_POWER_OFF;
        for (unsigned i = 0; i < vcpus; i++)
                s->vcpus[i].present = 1;
        s->vcpus[0].power = SIM_POWER_ON;
        return s;
}

static int64_t call(SimShared *s, uint32_t self, uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3, PsciAction *a) {
        const uint64_t x[4] = { x0, x1, x2, x3 };
        PsciAction dummy;

        return (int64_t) psci_handle(s, self, x, a ?: &dummy);
}

static void test_psci_discovery(void **state) {
        SimShared *s = new_vm(1);
        assert_int_equal(call(s, 0, PSCI_VERSION_FN, 0, 0, 0, NULL), 0x10001);
        assert_int_equal(call(s, 0, SMCCC_VERSION_FN, 0, 0, 0, NULL), 0x10001);
        assert_int_equal(call(s, 0, PSCI_FEATURES, PSCI_CPU_ON_64, 0, 0, NULL), 0);
        assert_int_equal(call(s, 0, PSCI_FEATURES, PSCI_SYSTEM_RESET2_64, 0, 0, NULL), 0);
        assert_int_equal(call(s, 0, PSCI_FEATURES, SMCCC_VERSION_FN, 0, 0, NULL), 0);
        assert_int_equal(call(s, 0, PSCI_FEATURES, PSCI_CPU_SUSPEND_64, 0, 0, NULL), -1);
        assert_int_equal(call(s, 0, PSCI_MIGRATE_INFO_TYPE, 0, 0, 0, NULL), 2);
        assert_int_equal(call(s, 0, 0x8400001Fu, 0, 0, 0, NULL), -1);
        assert_int_equal(call(s, 0, SMCCC_ARCH_FEATURES, 0x80008000u, 0, 0, NULL), -1);
        free(s);
}

static void test_psci_cpu_on_states(void **state) {
        SimShared *s = new_vm(2);
        assert_int_equal(call(s, 0, PSCI_AFFINITY_INFO_64, 1, 0, 0, NULL), 1);
        assert_int_equal(call(s, 0, PSCI_CPU_ON_64, 7, 0x80001000, 5, NULL), -2);   /* no vCPU 7 */
        assert_int_equal(call(s, 0, PSCI_CPU_ON_64, 0x100, 0x80001000, 5, NULL), -2); /* Aff1 */
        assert_int_equal(call(s, 0, PSCI_CPU_ON_64, 0, 0x80001000, 5, NULL), -4);   /* self */
        assert_int_equal(call(s, 0, PSCI_CPU_ON_64, 1, 0x80001000, 0x1234567890ull, NULL), 0);
        assert_int_equal(s->vcpus[1].power, SIM_POWER_ON_PENDING);
        assert_int_equal(s->vcpus[1].entry, 0x80001000);
        assert_int_equal(s->vcpus[1].context_id, 0x1234567890ull);
        assert_int_equal(call(s, 0, PSCI_AFFINITY_INFO_64, 1, 0, 0, NULL), 2);
        assert_int_equal(call(s, 0, PSCI_CPU_ON_64, 1, 0x80002000, 0, NULL), -5);
        s->vcpus[1].power = SIM_POWER_ON; /* the worker picked it up */
        assert_int_equal(call(s, 0, PSCI_CPU_ON_64, 1, 0x80002000, 0, NULL), -4);
        assert_int_equal(call(s, 0, PSCI_AFFINITY_INFO_64, 1, 0, 0, NULL), 0);
        assert_int_equal(call(s, 0, PSCI_AFFINITY_INFO_64, 1, 1, 0, NULL), -2);
        free(s);
}

static void test_psci_cpu_on_smc32_truncates(void **state) {
        SimShared *s = new_vm(2);
        assert_int_equal(call(s, 0, PSCI_CPU_ON_32, 1, 0xffffffff80001000ull, 0xffffffff00000007ull, NULL), 0);
        assert_int_equal(s->vcpus[1].entry, 0x80001000);
        assert_int_equal(s->vcpus[1].context_id, 7);
        free(s);
}

static void test_psci_cpu_off(void **state) {
        SimShared *s = new_vm(2);
        PsciAction a;
        s->vcpus[1].power = SIM_POWER_ON;
        call(s, 1, PSCI_CPU_OFF, 0, 0, 0, &a);
        assert_int_equal(a, PSCI_ACTION_CPU_OFF);
        assert_int_equal(s->vcpus[1].power, SIM_POWER_OFF);
        assert_int_equal(s->vm_state, SIM_VM_RUNNING);
        free(s);
}

static void test_psci_system_calls_end_vm(void **state) {
        static const struct {
                uint32_t fn;
                uint16_t type;
        } cases[] = {
                { PSCI_SYSTEM_OFF, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF },
                { PSCI_SYSTEM_RESET, GUNYAH_VM_EXIT_TYPE_PSCI_SYSTEM_RESET },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                SimShared *s = new_vm(2);
                PsciAction a;

                call(s, 1, cases[i].fn, 0, 0, 0, &a);
                assert_int_equal(a, PSCI_ACTION_VM_ENDED);
                assert_int_equal(s->vm_state, SIM_VM_ENDED);
                assert_int_equal(s->status, GUNYAH_VM_STATUS_EXITED);
                assert_int_equal(s->exit_info.type, cases[i].type);
                assert_int_equal(s->exit_info.reason_size, 4);
                assert_int_equal(s->ended_by, 1);
                /* Only the first end counts. */
                call(s, 0, PSCI_SYSTEM_RESET2_64, 1, 2, 0, &a);
                assert_int_equal(s->exit_info.type, cases[i].type);
                free(s);
        }
}

static void test_psci_reset2_reason_words(void **state) {
        static const uint8_t r64[8] = { 0x00, 0x80, 0, 0, 0x01, 0, 0, 0x80 };
        static const uint8_t r32[8] = { 0x00, 0x00, 0, 0, 0x02, 0, 0, 0x00 };
        SimShared *s = new_vm(1);
        call(s, 0, PSCI_SYSTEM_RESET2_64, 0x80000001u, 0xaabbccdd11223344ull, 0, NULL);
        assert_int_equal(s->exit_info.type, GUNYAH_VM_EXIT_TYPE_PSCI_SYSTEM_RESET2);
        assert_int_equal(s->exit_info.reason_size, 16);
        assert_memory_equal(s->exit_info.reason, r64, 8);
        free(s);

        s = new_vm(1);
        call(s, 0, PSCI_SYSTEM_RESET2_32, 2, 0x1234, 0, NULL);
        assert_int_equal(s->exit_info.reason_size, 16);
        assert_memory_equal(s->exit_info.reason, r32, 8);
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_psci_discovery),
                cmocka_unit_test(test_psci_cpu_on_states),
                cmocka_unit_test(test_psci_cpu_on_smc32_truncates),
                cmocka_unit_test(test_psci_cpu_off),
                cmocka_unit_test(test_psci_system_calls_end_vm),
                cmocka_unit_test(test_psci_reset2_reason_words),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
