/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The VM state machine (src/daemon/vm-state-machine.c): every (phase,
 * event) pair against design §5 written out a second time, here, by what
 * a client sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "vm-state-machine.h"

/* Where each event leads from each phase; "-" where it is not allowed
 * (requests refused with InvalidState, anything else ignored). Columns in
 * VmEvent order: start, start-failed, ready, stop, stop-timeout, kill,
 * guest-poweroff, guest-exit, worker-failed, device-failed, workers-gone, destroy,
 * undefine. */
static const struct {
        VmPhase phase;
        const char *next[_VM_EVENT_MAX];
} expected[] = {
        { VM_PHASE_DEFINED, { "starting", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "defined", "defined" } },
        { VM_PHASE_STARTING, { "-", "failed", "running", "-", "-", "stopping", "stopping", "stopping", "aborting",
                               "aborting", "-", "stopping", "starting" } },
        { VM_PHASE_RUNNING, { "-", "-", "-", "stop-requested", "-", "stopping", "stopping", "stopping", "stopping",
                              "stopping", "-", "stopping", "running" } },
        { VM_PHASE_STOP_REQUESTED, { "-", "-", "-", "stop-requested", "stopping", "stopping", "stopping", "stopping",
                                     "stopping", "stopping", "-", "stopping", "stop-requested" } },
        { VM_PHASE_STOPPING, { "-", "-", "-", "-", "-", "stopping", "-", "-", "-", "-", "stopped", "stopping",
                               "stopping" } },
        { VM_PHASE_ABORTING, { "-", "-", "-", "-", "-", "stopping", "-", "-", "-", "-", "failed", "aborting",
                               "aborting" } },
        { VM_PHASE_STOPPED, { "starting", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "stopped", "stopped" } },
        { VM_PHASE_FAILED, { "starting", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "failed", "failed" } },
};

static void test_every_phase_and_event_leads_where_design_says(void **state) {
        assert_int_equal(ELEMENTSOF(expected), _VM_PHASE_MAX - 1);
        for (size_t p = 0; p < ELEMENTSOF(expected); p++)
                for (int e = 0; e < _VM_EVENT_MAX; e++) {
                        const VmTransition *t = vm_transition_lookup(expected[p].phase, e);
                        const char *got = t ? vm_phase_to_string(t->next) : "-";
                        if (strcmp(got, expected[p].next[e]) != 0)
                                fail_msg("%s + %s: expected %s, got %s", vm_phase_to_string(expected[p].phase),
                                         vm_event_to_string(e), expected[p].next[e], got);
                }
}

static void test_out_of_range_phase_or_event_is_not_allowed(void **state) {
        assert_null(vm_transition_lookup(_VM_PHASE_NOT_ALLOWED, VM_EVENT_START));
        assert_null(vm_transition_lookup(_VM_PHASE_MAX, VM_EVENT_START));
        assert_null(vm_transition_lookup(VM_PHASE_DEFINED, _VM_EVENT_MAX));
        assert_null(vm_transition_lookup(VM_PHASE_DEFINED, _VM_EVENT_INVALID));
}

static void test_only_client_requests_are_refused(void **state) {
        assert_true(vm_event_is_request(VM_EVENT_START));
        assert_true(vm_event_is_request(VM_EVENT_STOP));
        assert_true(vm_event_is_request(VM_EVENT_KILL));
        assert_true(vm_event_is_request(VM_EVENT_DESTROY));
        for (int e = 0; e < _VM_EVENT_MAX; e++)
                if (!IN_SET(e, VM_EVENT_START, VM_EVENT_STOP, VM_EVENT_KILL, VM_EVENT_DESTROY))
                        assert_false(vm_event_is_request(e));
}

/* The three stopping phases are one published state. */
static void test_phases_publish_the_design_states(void **state) {
        static const struct {
                VmPhase phase;
                VmState state;
        } map[] = {
                { VM_PHASE_DEFINED, VM_STATE_DEFINED },   { VM_PHASE_STARTING, VM_STATE_STARTING },
                { VM_PHASE_RUNNING, VM_STATE_RUNNING },   { VM_PHASE_STOP_REQUESTED, VM_STATE_STOPPING },
                { VM_PHASE_STOPPING, VM_STATE_STOPPING }, { VM_PHASE_ABORTING, VM_STATE_STOPPING },
                { VM_PHASE_STOPPED, VM_STATE_STOPPED },   { VM_PHASE_FAILED, VM_STATE_FAILED },
        };
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                assert_int_equal(vm_phase_to_state(map[i].phase), map[i].state);
        assert_int_equal(vm_phase_to_state(_VM_PHASE_NOT_ALLOWED), _VM_STATE_INVALID);
}

static const VmTransition *must(VmPhase p, VmEvent e) {
        const VmTransition *t = vm_transition_lookup(p, e);
        if (!t)
                fail_msg("%s + %s not allowed", vm_phase_to_string(p), vm_event_to_string(e));
        return t;
}

/* A graceful stop the guest honours ends "shutdown"; while it is pending
 * the VM says stop-requested. */
static void test_guest_poweroff_after_stop_request_is_a_shutdown(void **state) {
        const VmTransition *t = must(VM_PHASE_RUNNING, VM_EVENT_STOP);
        assert_int_equal(t->reason, VM_REASON_STOP);
        assert_int_equal(t->final_reason, VM_REASON_SHUTDOWN);
        assert_true(t->actions & VM_DO_PRESS_BUTTON);

        t = must(VM_PHASE_STOP_REQUESTED, VM_EVENT_GUEST_POWEROFF);
        assert_int_equal(t->reason, VM_REASON_KEEP);
        assert_int_equal(t->final_reason, VM_REASON_SHUTDOWN);
        assert_true(t->actions & VM_DO_WORKERS_LEAVE);

        /* The same exit without a stop request is the guest's own poweroff. */
        t = must(VM_PHASE_RUNNING, VM_EVENT_GUEST_POWEROFF);
        assert_int_equal(t->reason, VM_REASON_POWEROFF);
        assert_int_equal(t->final_reason, VM_REASON_POWEROFF);
}

static void test_stop_timeout_forces_the_vm_off_with_the_reason_killed(void **state) {
        const VmTransition *t = must(VM_PHASE_STOP_REQUESTED, VM_EVENT_STOP_TIMEOUT);

        assert_int_equal(t->final_reason, VM_REASON_KILLED);
        assert_true(t->actions & VM_DO_WORKERS_KILL);
        assert_true(t->record_detail);
        /* Elsewhere a late timer changes nothing. */
        assert_null(vm_transition_lookup(VM_PHASE_STOPPING, VM_EVENT_STOP_TIMEOUT));
        assert_null(vm_transition_lookup(VM_PHASE_RUNNING, VM_EVENT_STOP_TIMEOUT));
}

/* Once the way out is decided, later exits do not change it; a forced
 * stop does. */
static void test_first_exit_decides_but_kill_overrides(void **state) {
        static const VmEvent later[] = { VM_EVENT_GUEST_POWEROFF, VM_EVENT_GUEST_EXIT, VM_EVENT_WORKER_FAILED,
                                         VM_EVENT_DEVICE_FAILED };

        for (size_t i = 0; i < ELEMENTSOF(later); i++) {
                assert_null(vm_transition_lookup(VM_PHASE_STOPPING, later[i]));
                assert_null(vm_transition_lookup(VM_PHASE_ABORTING, later[i]));
        }
        assert_int_equal(must(VM_PHASE_STOPPING, VM_EVENT_KILL)->final_reason, VM_REASON_FROM_EVENT);
        assert_int_equal(must(VM_PHASE_ABORTING, VM_EVENT_KILL)->next, VM_PHASE_STOPPING);
}

/* A worker that fails before the VM ran fails the start (load-failed, kept
 * failed); after, the VM stops worker-failed and its lifecycle applies. */
static void test_worker_failure_fails_a_start_and_stops_a_running_vm(void **state) {
        const VmTransition *t = must(VM_PHASE_STARTING, VM_EVENT_WORKER_FAILED);

        assert_int_equal(t->reason, VM_REASON_LOAD_FAILED);
        assert_true(t->actions & VM_DO_WORKERS_KILL);
        assert_true(t->record_detail);
        assert_int_equal(must(VM_PHASE_ABORTING, VM_EVENT_WORKERS_GONE)->next, VM_PHASE_FAILED);

        t = must(VM_PHASE_RUNNING, VM_EVENT_WORKER_FAILED);
        assert_int_equal(t->final_reason, VM_REASON_WORKER_FAILED);
        assert_true(t->actions & VM_DO_WORKERS_LEAVE);
        assert_false(t->record_detail);
        t = must(VM_PHASE_STOPPING, VM_EVENT_WORKERS_GONE);
        assert_int_equal(t->reason, VM_REASON_FINAL);
        assert_true(t->actions & VM_DO_TEAR_DOWN);
        assert_true(t->actions & VM_DO_LIFECYCLE);
}

/* A device process that dies ends the VM worker-failed too, but the
 * reason names the device: a VM has several. */
static void test_device_failure_names_the_device(void **state) {
        static const VmPhase active[] = { VM_PHASE_RUNNING, VM_PHASE_STOP_REQUESTED };
        const VmTransition *t = must(VM_PHASE_STARTING, VM_EVENT_DEVICE_FAILED);

        assert_int_equal(t->reason, VM_REASON_LOAD_FAILED);
        assert_true(t->actions & VM_DO_WORKERS_KILL);
        assert_true(t->record_detail);
        for (size_t i = 0; i < ELEMENTSOF(active); i++) {
                t = must(active[i], VM_EVENT_DEVICE_FAILED);
                assert_int_equal(t->final_reason, VM_REASON_WORKER_FAILED);
                assert_true(t->actions & VM_DO_WORKERS_LEAVE);
                assert_true(t->record_detail);
        }
}

static void test_start_brings_up_and_a_failed_start_tears_down(void **state) {
        static const VmPhase inactive[] = { VM_PHASE_DEFINED, VM_PHASE_STOPPED, VM_PHASE_FAILED };

        for (size_t i = 0; i < ELEMENTSOF(inactive); i++) {
                const VmTransition *t = must(inactive[i], VM_EVENT_START);
                assert_int_equal(t->reason, VM_REASON_FROM_EVENT);
                assert_int_equal(t->actions, VM_DO_BRING_UP);
        }
        const VmTransition *t = must(VM_PHASE_STARTING, VM_EVENT_START_FAILED);
        assert_int_equal(t->reason, VM_REASON_LOAD_FAILED);
        /* the lifecycle retries a refused restart under the crash back-off (vm.c) */
        assert_int_equal(t->actions, VM_DO_TEAR_DOWN | VM_DO_LIFECYCLE);
        assert_true(t->record_detail);
}

/* Destroy removes an inactive VM at once and a running one once it is
 * gone; a removed definition file never kills a running VM. */
static void test_destroy_and_undefine(void **state) {
        for (VmPhase p = VM_PHASE_DEFINED; p < _VM_PHASE_MAX; p++) {
                const VmTransition *d = must(p, VM_EVENT_DESTROY), *u = must(p, VM_EVENT_UNDEFINE);
                bool active = IN_SET(vm_phase_to_state(p), VM_STATE_STARTING, VM_STATE_RUNNING, VM_STATE_STOPPING);

                if (!active) {
                        assert_int_equal(d->actions, VM_DO_DESTROY);
                        assert_int_equal(u->actions, VM_DO_FORGET);
                        continue;
                }
                assert_true(d->actions & VM_DO_DESTROY_LATER);
                assert_int_equal(u->actions, VM_DO_DESTROY_LATER);
                assert_int_equal(u->next, p);
                /* Killed unless its way out is already decided. */
                assert_int_equal(!!(d->actions & VM_DO_WORKERS_KILL),
                                 !IN_SET(p, VM_PHASE_STOPPING, VM_PHASE_ABORTING));
        }
}

static void test_inactive_phases_never_touch_workers(void **state) {
        static const VmPhase inactive[] = { VM_PHASE_DEFINED, VM_PHASE_STOPPED, VM_PHASE_FAILED };
        const unsigned worker_actions = VM_DO_PRESS_BUTTON | VM_DO_WORKERS_LEAVE | VM_DO_WORKERS_KILL | VM_DO_TEAR_DOWN;

        for (size_t i = 0; i < ELEMENTSOF(inactive); i++)
                for (int e = 0; e < _VM_EVENT_MAX; e++) {
                        const VmTransition *t = vm_transition_lookup(inactive[i], e);
                        if (t && (t->actions & worker_actions))
                                fail_msg("%s + %s acts on workers", vm_phase_to_string(inactive[i]),
                                         vm_event_to_string(e));
                }
}

static void test_names(void **state) {
        for (VmPhase p = VM_PHASE_DEFINED; p < _VM_PHASE_MAX; p++)
                assert_non_null(vm_phase_to_string(p));
        for (int e = 0; e < _VM_EVENT_MAX; e++)
                assert_non_null(vm_event_to_string(e));
        assert_string_equal(vm_event_to_string(VM_EVENT_STOP), "stop"); /* "Cannot stop VM ..." */
        assert_string_equal(vm_state_to_string(VM_STATE_STOPPING), "stopping");
        assert_int_equal(vm_reason_from_string("stop-requested"), VM_REASON_STOP);
        assert_null(vm_phase_to_string(_VM_PHASE_MAX));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_phase_and_event_leads_where_design_says),
                cmocka_unit_test(test_out_of_range_phase_or_event_is_not_allowed),
                cmocka_unit_test(test_only_client_requests_are_refused),
                cmocka_unit_test(test_phases_publish_the_design_states),
                cmocka_unit_test(test_guest_poweroff_after_stop_request_is_a_shutdown),
                cmocka_unit_test(test_stop_timeout_forces_the_vm_off_with_the_reason_killed),
                cmocka_unit_test(test_first_exit_decides_but_kill_overrides),
                cmocka_unit_test(test_worker_failure_fails_a_start_and_stops_a_running_vm),
                cmocka_unit_test(test_device_failure_names_the_device),
                cmocka_unit_test(test_start_brings_up_and_a_failed_start_tears_down),
                cmocka_unit_test(test_destroy_and_undefine),
                cmocka_unit_test(test_inactive_phases_never_touch_workers),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
