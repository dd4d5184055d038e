/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Start failures a real Resource Manager gives (docs/real-gunyah.md), end
 * to end through the daemon's model: a Vm of a hand-built Manager on the
 * kernel backend, whose /dev/gunyah is the fake (-Wl,--wrap=ioctl) with an
 * errno injected at GUNYAH_VM_START. Checked: StateReason (step, errno and
 * what it means), the state, and that a refused restart backs off and stops
 * at the crash restart limit while a refused start someone asked for is
 * not retried.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake-gunyah.h"
#include "manager.h"
#include "vm.h"

typedef struct Fixture {
        Manager m;
        Vm *vm;
        char runtime_dir[64]; /* where the start writes the VM's record */
} Fixture;

static uint64_t now_msec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* A VM of the hello guest; on_reboot restart, crash restarts as given. */
static Vm *new_vm(Manager *m, unsigned limit) {
        const char *dir = getenv("GUNYAH_TEST_GUEST_DIR");
        char json[1024];
        VmSpecError e = {};
        VmSpec *spec;
        Vm *vm;

        assert_non_null(dir);
        snprintf(json, sizeof(json), "%s/hello.elf", dir);
        if (access(json, R_OK) < 0)
                skip(); /* built without the test guests */
        snprintf(json, sizeof(json),
                 "{\"name\": \"rm\", \"vcpus\": 1, \"memory\": {\"size\": \"8M\"},"
                 " \"kernel\": {\"path\": \"%s/hello.elf\"}, \"on_reboot\": \"restart\","
                 " \"crash_restart\": {\"limit\": %u, \"backoff\": \"50ms\"}}",
                 dir, limit);
        assert_int_equal(vm_spec_parse(json, strlen(json), VM_SPEC_ABSOLUTE_PATHS, &spec, &e), 0);
        assert_int_equal(vm_new(m, spec, &vm), 0);
        return vm;
}

static int remove_vms_dir(const char *runtime_dir) {
        char vms[128];

        snprintf(vms, sizeof(vms), "%s/vms", runtime_dir);
        return rmdir(vms) < 0 && errno != ENOENT ? -errno : 0;
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        assert_int_equal(sd_event_new(&f->m.event), 0);
        f->m.ops = &hv_kernel_ops;
        f->m.no_sandbox = true; /* no worker is spawned: START fails first */
        snprintf(f->runtime_dir, sizeof(f->runtime_dir), "/tmp/test-vm-start-failures-XXXXXX");
        assert_non_null(mkdtemp(f->runtime_dir));
        f->m.runtime_dir = f->runtime_dir;
        f->m.keeper_binary = getenv("GUNYAH_KEEPER");
        assert_non_null(f->m.keeper_binary);
        assert_int_equal(hv_kernel_ops.open(fake_gunyah_setup(FAKE_GUNYAH_U17), &f->m.backend), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        vm_free(f->vm);
        hv_kernel_ops.close(f->m.backend);
        sd_event_unref(f->m.event);
        fake_gunyah_teardown();
        /* A failed start leaves no record and no VM directory behind. */
        assert_int_equal(remove_vms_dir(f->runtime_dir), 0);
        assert_int_equal(rmdir(f->runtime_dir), 0);
        free(f);
        return 0;
}

static void assert_reason(Vm *vm, const char *errno_name, const char *meaning_part) {
        char *reason = vm_state_reason_string(vm), want[128];

        assert_non_null(reason);
        snprintf(want, sizeof(want), "load-failed: start: %s: ", errno_name);
        if (strncmp(reason, want, strlen(want)) != 0 || !strstr(reason, meaning_part))
                fail_msg("StateReason \"%s\": want \"%s...%s...\"", reason, want, meaning_part);
        free(reason);
        assert_int_equal(vm->state, VM_STATE_FAILED);
        assert_string_equal(vm->exit_info.step, "start");
}

/* Each errno a real stack gave at START: a start through the API fails
 * with StartFailed, the VM ends failed with a reason an administrator can
 * act on, and nothing retries it. */
static void test_refused_start_reports_step_errno_and_meaning(void **state) {
        static const struct {
                int error;
                const char *name, *meaning_part;
        } cases[] = {
                { EOPNOTSUPP, "EOPNOTSUPP", "Resource Manager calls this hypervisor build lacks" },
                { EPERM, "EPERM", "Resource Manager denied the VM" },
                { ENOMEM, "ENOMEM", "memory parcels" },
        };
        Fixture *f = *state;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                VmError error = VM_ERROR_NULL;

                vm_free(f->vm);
                f->vm = new_vm(&f->m, 3);
                fake_gunyah_force_errno(GUNYAH_VM_START, cases[i].error);
                assert_int_equal(vm_start(f->vm, VM_REASON_START, &error), -cases[i].error);
                assert_int_equal(error.kind, VM_ERROR_START_FAILED);
                assert_non_null(strstr(error.message, cases[i].meaning_part));
                assert_reason(f->vm, cases[i].name, cases[i].meaning_part);
                assert_int_equal(f->vm->exit_info.error, cases[i].error);
                assert_null(f->vm->restart_timer);
                assert_int_equal(f->vm->crash_restart_count, 0);
                assert_null(f->vm->instance); /* torn down */
        }
}

/* Runs the event loop for ms milliseconds. */
static void run_loop(Manager *m, uint64_t ms) {
        uint64_t end = now_msec() + ms;

        while (now_msec() < end)
                assert_true(sd_event_run(m->event, 10 * 1000) >= 0);
}

static size_t n_starts(void) {
        size_t n = 0;

        while (fake_gunyah_find_call(GUNYAH_VM_START, n))
                n++;
        return n;
}

/* The restart after a guest reboot (what vm.c's lifecycle does) refused
 * by a Resource Manager that allows one VM per boot: failed, then retried
 * after 50 ms and 100 ms (counted in CrashRestartCount), then left failed
 * at the limit. */
static void test_refused_restart_backs_off_to_the_limit(void **state) {
        Fixture *f = *state;
        uint64_t t0;

        f->vm = new_vm(&f->m, 2);
        fake_gunyah_force_errno(GUNYAH_VM_START, EPERM);
        t0 = now_msec();
        assert_int_equal(vm_start(f->vm, VM_REASON_RESTART, NULL), -EPERM);
        assert_reason(f->vm, "EPERM", "denied");
        assert_int_equal(f->vm->crash_restart_count, 1);
        assert_non_null(f->vm->restart_timer);
        assert_int_equal(n_starts(), 1);

        while (n_starts() < 3) {
                assert_true(now_msec() - t0 < 5000);
                run_loop(&f->m, 10);
        }
        /* two back-offs, 50 ms then doubled */
        assert_true(now_msec() - t0 >= 150);
        assert_int_equal(f->vm->crash_restart_count, 2);
        assert_null(f->vm->restart_timer); /* the limit: nothing more is armed */
        assert_reason(f->vm, "EPERM", "denied");

        run_loop(&f->m, 400); /* past the 200 ms a third retry would wait */
        assert_int_equal(n_starts(), 3);
        assert_int_equal(f->vm->state, VM_STATE_FAILED);
}

/* A limit of 0: the refused restart is not retried at all. */
static void test_refused_restart_without_retries_stays_failed(void **state) {
        Fixture *f = *state;

        f->vm = new_vm(&f->m, 0);
        fake_gunyah_force_errno(GUNYAH_VM_START, EOPNOTSUPP);
        assert_int_equal(vm_start(f->vm, VM_REASON_RESTART, NULL), -EOPNOTSUPP);
        assert_reason(f->vm, "EOPNOTSUPP", "hypervisor build lacks");
        assert_null(f->vm->restart_timer);
        assert_int_equal(f->vm->crash_restart_count, 0);
        run_loop(&f->m, 100);
        assert_int_equal(n_starts(), 1);
}

/* A start through the API after refused restarts begins a new count. */
static void test_api_start_resets_the_count(void **state) {
        Fixture *f = *state;

        f->vm = new_vm(&f->m, 1);
        fake_gunyah_force_errno(GUNYAH_VM_START, ENOMEM);
        assert_int_equal(vm_start(f->vm, VM_REASON_RESTART, NULL), -ENOMEM);
        assert_int_equal(f->vm->crash_restart_count, 1);
        assert_int_equal(vm_start(f->vm, VM_REASON_START, NULL), -ENOMEM);
        assert_int_equal(f->vm->crash_restart_count, 0);
        assert_null(f->vm->restart_timer); /* the pending retry went with it */
        run_loop(&f->m, 150);
        assert_int_equal(n_starts(), 2);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_refused_start_reports_step_errno_and_meaning, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused_restart_backs_off_to_the_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refused_restart_without_retries_stays_failed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_api_start_resets_the_count, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
