/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "macro.h"
#include "string-table.h"
#include "vm-state-machine.h"

#define T(n, r, f, a) { .next = VM_PHASE_##n, .reason = (r), .final_reason = (f), .actions = (a) }
/* The same, and the event's detail (what failed, why), when it has one, goes into StateReason. */
#define TD(n, r, f, a) { .next = VM_PHASE_##n, .reason = (r), .final_reason = (f), .actions = (a), .record_detail = true }
#define KEEP VM_REASON_KEEP
#define EVENT VM_REASON_FROM_EVENT
#define FINAL VM_REASON_FINAL
#define LEAVE VM_DO_WORKERS_LEAVE
#define KILL VM_DO_WORKERS_KILL
#define LATER VM_DO_DESTROY_LATER

/* A stopped VM starts again, or goes. */
#define INACTIVE(self)                                                                  \
        [VM_EVENT_START] = T(STARTING, EVENT, VM_REASON_NONE, VM_DO_BRING_UP),      \
        [VM_EVENT_DESTROY] = T(self, KEEP, KEEP, VM_DO_DESTROY),                    \
        [VM_EVENT_UNDEFINE] = T(self, KEEP, KEEP, VM_DO_FORGET)

static const VmTransition transitions[_VM_PHASE_MAX][_VM_EVENT_MAX] = {
        [VM_PHASE_DEFINED] = { INACTIVE(DEFINED) },
        [VM_PHASE_STARTING] = {
                /* The lifecycle retries only a refused restart (vm.c). */
                [VM_EVENT_START_FAILED] = TD(FAILED, VM_REASON_LOAD_FAILED, VM_REASON_LOAD_FAILED,
                                            VM_DO_TEAR_DOWN | VM_DO_LIFECYCLE),
                [VM_EVENT_READY] = T(RUNNING, KEEP, KEEP, 0),
                [VM_EVENT_KILL] = TD(STOPPING, EVENT, EVENT, KILL),
                [VM_EVENT_GUEST_POWEROFF] = T(STOPPING, VM_REASON_POWEROFF, VM_REASON_POWEROFF, LEAVE),
                [VM_EVENT_GUEST_EXIT] = T(STOPPING, EVENT, EVENT, LEAVE),
                /* A worker that could not get going fails the start. */
                [VM_EVENT_WORKER_FAILED] = TD(ABORTING, VM_REASON_LOAD_FAILED, VM_REASON_LOAD_FAILED, KILL),
                [VM_EVENT_DEVICE_FAILED] = TD(ABORTING, VM_REASON_LOAD_FAILED, VM_REASON_LOAD_FAILED, KILL),
                [VM_EVENT_DESTROY] = T(STOPPING, VM_REASON_KILLED, VM_REASON_KILLED, KILL | LATER),
                [VM_EVENT_UNDEFINE] = T(STARTING, KEEP, KEEP, LATER),
        },
        [VM_PHASE_RUNNING] = {
                [VM_EVENT_STOP] = T(STOP_REQUESTED, VM_REASON_STOP, VM_REASON_SHUTDOWN, VM_DO_PRESS_BUTTON),
                [VM_EVENT_KILL] = TD(STOPPING, EVENT, EVENT, KILL),
                [VM_EVENT_GUEST_POWEROFF] = T(STOPPING, VM_REASON_POWEROFF, VM_REASON_POWEROFF, LEAVE),
                [VM_EVENT_GUEST_EXIT] = T(STOPPING, EVENT, EVENT, LEAVE),
                [VM_EVENT_WORKER_FAILED] = T(STOPPING, VM_REASON_WORKER_FAILED, VM_REASON_WORKER_FAILED, LEAVE),
                /* Which device failed is worth saying: a VM has several. */
                [VM_EVENT_DEVICE_FAILED] = TD(STOPPING, VM_REASON_WORKER_FAILED, VM_REASON_WORKER_FAILED, LEAVE),
                [VM_EVENT_DESTROY] = T(STOPPING, VM_REASON_KILLED, VM_REASON_KILLED, KILL | LATER),
                [VM_EVENT_UNDEFINE] = T(RUNNING, KEEP, KEEP, LATER),
        },
        /* Published as stopping (stop-requested) until the VM is gone. */
        [VM_PHASE_STOP_REQUESTED] = {
                [VM_EVENT_STOP] = T(STOP_REQUESTED, KEEP, KEEP, 0), /* already asked */
                [VM_EVENT_STOP_TIMEOUT] = TD(STOPPING, KEEP, VM_REASON_KILLED, KILL),
                [VM_EVENT_KILL] = TD(STOPPING, KEEP, EVENT, KILL),
                /* The guest honoured the request. */
                [VM_EVENT_GUEST_POWEROFF] = T(STOPPING, KEEP, VM_REASON_SHUTDOWN, LEAVE),
                [VM_EVENT_GUEST_EXIT] = T(STOPPING, KEEP, EVENT, LEAVE),
                [VM_EVENT_WORKER_FAILED] = T(STOPPING, KEEP, VM_REASON_WORKER_FAILED, LEAVE),
                [VM_EVENT_DEVICE_FAILED] = TD(STOPPING, KEEP, VM_REASON_WORKER_FAILED, LEAVE),
                [VM_EVENT_DESTROY] = T(STOPPING, KEEP, VM_REASON_KILLED, KILL | LATER),
                [VM_EVENT_UNDEFINE] = T(STOP_REQUESTED, KEEP, KEEP, LATER),
        },
        /* Decided: later exits change nothing; a forced stop still overrides. */
        [VM_PHASE_STOPPING] = {
                [VM_EVENT_KILL] = TD(STOPPING, KEEP, EVENT, KILL),
                [VM_EVENT_WORKERS_GONE] = T(STOPPED, FINAL, FINAL, VM_DO_TEAR_DOWN | VM_DO_LIFECYCLE),
                [VM_EVENT_DESTROY] = T(STOPPING, KEEP, KEEP, LATER),
                [VM_EVENT_UNDEFINE] = T(STOPPING, KEEP, KEEP, LATER),
        },
        [VM_PHASE_ABORTING] = {
                [VM_EVENT_KILL] = TD(STOPPING, KEEP, EVENT, KILL),
                [VM_EVENT_WORKERS_GONE] = T(FAILED, FINAL, FINAL, VM_DO_TEAR_DOWN | VM_DO_LIFECYCLE),
                [VM_EVENT_DESTROY] = T(ABORTING, KEEP, KEEP, LATER),
                [VM_EVENT_UNDEFINE] = T(ABORTING, KEEP, KEEP, LATER),
        },
        [VM_PHASE_STOPPED] = { INACTIVE(STOPPED) },
        [VM_PHASE_FAILED] = { INACTIVE(FAILED) },
};

const VmTransition *vm_transition_lookup(VmPhase phase, VmEvent event) {
        const VmTransition *t;

        if (phase <= _VM_PHASE_NOT_ALLOWED || phase >= _VM_PHASE_MAX || event < 0 || event >= _VM_EVENT_MAX)
                return NULL;
        t = &transitions[phase][event];
        return t->next == _VM_PHASE_NOT_ALLOWED ? NULL : t;
}

bool vm_event_is_request(VmEvent event) {
        return IN_SET(event, VM_EVENT_START, VM_EVENT_STOP, VM_EVENT_KILL, VM_EVENT_DESTROY);
}

VmState vm_phase_to_state(VmPhase phase) {
        switch (phase) {
        case VM_PHASE_DEFINED:
                return VM_STATE_DEFINED;
        case VM_PHASE_STARTING:
                return VM_STATE_STARTING;
        case VM_PHASE_RUNNING:
                return VM_STATE_RUNNING;
        case VM_PHASE_STOP_REQUESTED:
        case VM_PHASE_STOPPING:
        case VM_PHASE_ABORTING:
                return VM_STATE_STOPPING;
        case VM_PHASE_STOPPED:
                return VM_STATE_STOPPED;
        case VM_PHASE_FAILED:
                return VM_STATE_FAILED;
        default:
                return _VM_STATE_INVALID;
        }
}

static const char *const phase_names[_VM_PHASE_MAX] = {
        [VM_PHASE_DEFINED] = "defined",
        [VM_PHASE_STARTING] = "starting",
        [VM_PHASE_RUNNING] = "running",
        [VM_PHASE_STOP_REQUESTED] = "stop-requested",
        [VM_PHASE_STOPPING] = "stopping",
        [VM_PHASE_ABORTING] = "aborting",
        [VM_PHASE_STOPPED] = "stopped",
        [VM_PHASE_FAILED] = "failed",
};

static const char *const event_names[_VM_EVENT_MAX] = {
        [VM_EVENT_START] = "start",
        [VM_EVENT_START_FAILED] = "start-failed",
        [VM_EVENT_READY] = "ready",
        [VM_EVENT_STOP] = "stop",
        [VM_EVENT_STOP_TIMEOUT] = "stop-timeout",
        [VM_EVENT_KILL] = "kill",
        [VM_EVENT_GUEST_POWEROFF] = "guest-poweroff",
        [VM_EVENT_GUEST_EXIT] = "guest-exit",
        [VM_EVENT_WORKER_FAILED] = "worker-failed",
        [VM_EVENT_DEVICE_FAILED] = "device-failed",
        [VM_EVENT_WORKERS_GONE] = "workers-gone",
        [VM_EVENT_DESTROY] = "destroy",
        [VM_EVENT_UNDEFINE] = "undefine",
};

DEFINE_STRING_TABLE_TO_STRING(vm_phase, VmPhase, phase_names)
DEFINE_STRING_TABLE_TO_STRING(vm_event, VmEvent, event_names)
