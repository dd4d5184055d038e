/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's spare worker (worker-pool.c), with the real gunyah-vcpu of
 * this build ($GUNYAH_VCPU) as the spare. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"
#include "worker-pool.h"
#include "worker.h"

static const WorkerIdentity unconfined = { .no_sandbox = true };

static sd_event *event;

static int setup(void **state) {
        return sd_event_new(&event) < 0 ? -1 : 0;
}

static int teardown(void **state) {
        event = sd_event_unref(event);
        return 0;
}

static const char *vcpu_binary(void) {
        const char *p = getenv("GUNYAH_VCPU");

        if (!p)
                fail_msg("GUNYAH_VCPU is not set (meson test sets it)");
        return p;
}

/* Runs the event loop until done(p) or timeout_sec have passed. */
static bool run_until(WorkerPool *p, bool (*done)(WorkerPool *p), unsigned timeout_sec) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_sec * USEC_PER_SEC;

        while (!done(p) && now_usec(CLOCK_MONOTONIC) < deadline)
                assert_true(sd_event_run(event, 50 * 1000) >= 0);
        return done(p);
}

static bool spare_idle(WorkerPool *p) {
        return worker_pool_spare_idle(p);
}

static bool pool_disabled(WorkerPool *p) {
        return worker_pool_disabled(p);
}

static WorkerPool *idle_pool(const char *user) {
        WorkerPool *p = NULL;

        assert_int_equal(worker_pool_new(event, vcpu_binary(), user, &p), 0);
        assert_int_equal(worker_pool_spare_pid(p), 0); /* nothing before a refill */
        worker_pool_refill(p);
        if (!run_until(p, spare_idle, 20))
                fail_msg("no idle spare within 20 s");
        return p;
}

static bool process_gone(pid_t pid) {
        return kill(pid, 0) < 0 && errno == ESRCH;
}

static void read_proc(pid_t pid, const char *what, char **ret) {
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, what);
        assert_int_equal(read_full_file(path, 65536, ret, NULL), 0);
}

static void test_spare_is_started_by_a_refill_and_labelled(void **state) {
        _cleanup_(worker_pool_freep) WorkerPool *p = idle_pool(NULL);
        _cleanup_free_ char *cmdline = NULL;
        pid_t pid = worker_pool_spare_pid(p);

        assert_true(pid > 0);
        read_proc(pid, "cmdline", &cmdline);
        assert_string_equal(cmdline, "gunyah-vcpu");
        assert_string_equal(cmdline + strlen("gunyah-vcpu") + 1, "--spare");
}

static void test_take_hands_over_a_waiting_process(void **state) {
        _cleanup_(worker_pool_freep) WorkerPool *p = idle_pool(NULL);
        pid_t pid = worker_pool_spare_pid(p);
        WorkerProcess proc;
        siginfo_t si = {};

        assert_int_equal(worker_pool_take(p, &unconfined, &proc), 0);
        assert_int_equal(proc.pid, pid);
        assert_int_equal(worker_pool_spare_pid(p), 0);
        assert_int_equal(worker_pool_take(p, &unconfined, &proc), -EAGAIN);
        /* It waits for its config; a daemon that hangs up lets it leave, 0. */
        close(proc.control_fd);
        assert_int_equal(waitid(P_PIDFD, (id_t) proc.pidfd, &si, WEXITED), 0);
        assert_int_equal(si.si_code, CLD_EXITED);
        assert_int_equal(si.si_status, 0);
        close(proc.pidfd);
}

static void test_take_leaves_the_spare_to_test_hook_workers(void **state) {
        _cleanup_(worker_pool_freep) WorkerPool *p = idle_pool(NULL);
        WorkerIdentity hooked = { .no_sandbox = true, .test_hook = "openat" };
        pid_t pid = worker_pool_spare_pid(p);
        WorkerProcess proc;

        assert_int_equal(worker_pool_take(p, &hooked, &proc), -EAGAIN);
        assert_int_equal(worker_pool_spare_pid(p), pid);
}

static void test_spare_of_another_identity_is_discarded(void **state) {
        _cleanup_(worker_pool_freep) WorkerPool *p = idle_pool(NULL);
        WorkerIdentity sandboxed = { .uid = 65534, .gid = 65534 };
        pid_t pid = worker_pool_spare_pid(p);
        WorkerProcess proc;

        assert_int_equal(worker_pool_take(p, &sandboxed, &proc), -EAGAIN);
        assert_int_equal(worker_pool_spare_pid(p), 0);
        assert_true(process_gone(pid)); /* killed and reaped */
}

static bool spare_replaced(WorkerPool *p);
static pid_t replaced_pid;
static bool spare_replaced(WorkerPool *p) {
        return worker_pool_spare_idle(p) && worker_pool_spare_pid(p) != replaced_pid;
}

static void test_killed_spare_is_replaced(void **state) {
        _cleanup_(worker_pool_freep) WorkerPool *p = idle_pool(NULL);

        replaced_pid = worker_pool_spare_pid(p);
        assert_int_equal(kill(replaced_pid, SIGKILL), 0);
        /* after the 1 s back-off */
        assert_true(run_until(p, spare_replaced, 20));
        assert_true(process_gone(replaced_pid));
        assert_false(worker_pool_disabled(p));
}

static void test_binary_that_cannot_be_a_spare_disables_the_pool(void **state) {
        _cleanup_(worker_pool_freep) WorkerPool *p = NULL;
        WorkerProcess proc;

        /* exits 0 at once, before it ever said IDLE */
        assert_int_equal(worker_pool_new(event, "/bin/true", NULL, &p), 0);
        worker_pool_refill(p);
        assert_true(run_until(p, pool_disabled, 20));
        assert_int_equal(worker_pool_take(p, &unconfined, &proc), -EAGAIN);
        worker_pool_refill(p);
        assert_int_equal(worker_pool_spare_pid(p), 0);
}

static void test_free_kills_and_reaps_the_spare(void **state) {
        WorkerPool *p = idle_pool(NULL);
        pid_t pid = worker_pool_spare_pid(p);

        worker_pool_free(p);
        assert_true(process_gone(pid));
}

static void test_root_worker_user_starts_no_spare(void **state) {
        _cleanup_(worker_pool_freep) WorkerPool *p = NULL;

        assert_int_equal(worker_pool_new(event, vcpu_binary(), "0", &p), 0);
        worker_pool_refill(p);
        for (int i = 0; i < 10; i++)
                assert_true(sd_event_run(event, 50 * 1000) >= 0);
        assert_int_equal(worker_pool_spare_pid(p), 0);
        assert_false(worker_pool_disabled(p)); /* tried again later: the user may change */
}

/* The bug of issue 11: the idle spare used to stay root without a filter. */
static void test_idle_spare_is_already_sandboxed(void **state) {
        _cleanup_(worker_pool_freep) WorkerPool *p = NULL;
        _cleanup_free_ char *status = NULL;

        if (geteuid() != 0)
                skip();
        p = idle_pool("65534");
        read_proc(worker_pool_spare_pid(p), "status", &status);
        assert_non_null(strstr(status, "\nUid:\t65534\t65534\t65534\t65534\n"));
        assert_non_null(strstr(status, "\nCapEff:\t0000000000000000\n"));
        assert_non_null(strstr(status, "\nNoNewPrivs:\t1\n"));
        assert_non_null(strstr(status, "\nSeccomp:\t2\n"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spare_is_started_by_a_refill_and_labelled),
                cmocka_unit_test(test_take_hands_over_a_waiting_process),
                cmocka_unit_test(test_take_leaves_the_spare_to_test_hook_workers),
                cmocka_unit_test(test_spare_of_another_identity_is_discarded),
                cmocka_unit_test(test_killed_spare_is_replaced),
                cmocka_unit_test(test_binary_that_cannot_be_a_spare_disables_the_pool),
                cmocka_unit_test(test_free_kills_and_reaps_the_spare),
                cmocka_unit_test(test_root_worker_user_starts_no_spare),
                cmocka_unit_test(test_idle_spare_is_already_sandboxed),
        };

        sigset_t chld;

        /* as gunyahd does: sd-event watches children only with SIGCHLD blocked */
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        log_set_max_level(LOG_CRIT);
        return cmocka_run_group_tests(tests, setup, teardown);
}
