/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The VM state machine (design §5) as one table: (phase, event) → (next
 * phase, published reason, final reason, actions). vm.c feeds it events
 * and carries out the actions; nothing else changes a VM's phase.
 *
 * Phases refine the published states: stopping is three phases, because
 * what ends a stop is decided at most once (the first exit wins) and a
 * start that failed in a worker ends failed, not stopped.
 *
 *   defined ─START→ starting ─READY→ running ─STOP→ stop-requested
 *                      │                │               │
 *                      │ WORKER_FAILED  │ exit, KILL     │ exit, KILL, STOP_TIMEOUT
 *                      ▼                ▼               ▼
 *                   aborting        stopping ◀──────────┘
 *                      │ WORKERS_GONE   │ WORKERS_GONE
 *                      ▼                ▼
 *                   failed           stopped ─START→ starting
 */

#include <errno.h>
#include <stdbool.h>

#include "vm-state.h"

typedef enum VmPhase {
        _VM_PHASE_NOT_ALLOWED, /* a table entry that is absent */
        VM_PHASE_DEFINED,
        VM_PHASE_STARTING,
        VM_PHASE_RUNNING,
        VM_PHASE_STOP_REQUESTED, /* graceful stop asked, the guest has not answered */
        VM_PHASE_STOPPING,       /* the way out is decided; waiting for the workers */
        VM_PHASE_ABORTING,       /* a start failed in a worker; waiting for the workers */
        VM_PHASE_STOPPED,
        VM_PHASE_FAILED,
        _VM_PHASE_MAX,
        _VM_PHASE_INVALID = -EINVAL,
} VmPhase;

typedef enum VmEvent {
        VM_EVENT_START,          /* reason: start, autostart or restart */
        VM_EVENT_START_FAILED,   /* a bring-up step in the daemon failed */
        VM_EVENT_READY,          /* every worker reported ready */
        VM_EVENT_STOP,           /* graceful stop through the API */
        VM_EVENT_STOP_TIMEOUT,   /* the guest did not stop in time */
        VM_EVENT_KILL,           /* reason: killed or daemon-exit */
        VM_EVENT_GUEST_POWEROFF, /* the guest powered off (exit types 0, 1, 7) */
        VM_EVENT_GUEST_EXIT,     /* any other exit; reason from the exit */
        VM_EVENT_WORKER_FAILED,  /* a worker failed or died on its own */
        VM_EVENT_DEVICE_FAILED,  /* a device process failed or died: detail names it */
        VM_EVENT_WORKERS_GONE,   /* every worker has exited */
        VM_EVENT_DESTROY,        /* Destroy through the API */
        VM_EVENT_UNDEFINE,       /* the admin removed the definition file */
        _VM_EVENT_MAX,
        _VM_EVENT_INVALID = -EINVAL,
} VmEvent;

/* What a transition asks vm.c to do, in this order. */
typedef enum VmTransitionAction {
        VM_DO_BRING_UP = 1 << 0,         /* create the instance and its workers */
        VM_DO_TEAR_DOWN = 1 << 1,        /* release the instance */
        VM_DO_PRESS_BUTTON = 1 << 2,     /* the guest's power button, and the stop timeout */
        VM_DO_WORKERS_LEAVE = 1 << 3,    /* ask the workers to exit, kill after a grace period */
        VM_DO_WORKERS_KILL = 1 << 4,     /* SIGKILL the workers */
        VM_DO_LIFECYCLE = 1 << 5,        /* on_poweroff / on_reboot / on_crash, once stopped; a refused restart */
        VM_DO_DESTROY_LATER = 1 << 6,    /* forget the VM once it has stopped */
        VM_DO_DESTROY = 1 << 7,          /* forget the VM now, with its definition file and log */
        VM_DO_FORGET = 1 << 8,           /* forget the VM now (its definition file is gone) */
} VmTransitionAction;

/* A reason field of a transition: a VmReason, or one of these. */
#define VM_REASON_KEEP (-1)       /* unchanged */
#define VM_REASON_FROM_EVENT (-2) /* the reason the event carries */
#define VM_REASON_FINAL (-3)      /* the final reason decided earlier */

typedef struct VmTransition {
        VmPhase next;
        int reason;       /* published with the state */
        int final_reason; /* what the VM will stop with */
        unsigned actions; /* VmTransitionAction bits */
        bool record_detail; /* the event's detail, if any, is shown after the reason */
} VmTransition;

/* The entry of (phase, event), or NULL when the event is not allowed there:
 * an API request is then refused (InvalidState), anything else ignored. */
const VmTransition *vm_transition_lookup(VmPhase phase, VmEvent event);

/* Requests come from a client and are refused when not allowed. */
bool vm_event_is_request(VmEvent event);

VmState vm_phase_to_state(VmPhase phase);
const char *vm_phase_to_string(VmPhase phase);
const char *vm_event_to_string(VmEvent event);
