/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One virtual machine: its definition, its state (vm-state-machine.h has
 * the table) and, while it is active, its running instance (vm-instance.h).
 * Every transition carries a reason; stopped keeps the exit information.
 *
 * The operations report refusals as a VmError (vm-error.h), never in the
 * terms of a transport.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "vm-error.h"
#include "vm-spec.h"
#include "vm-state-machine.h"
#include "vm-state.h"

typedef struct Manager Manager;
typedef struct Vm Vm;
typedef struct Worker Worker;
typedef struct Console Console;
typedef struct VmInstance VmInstance;

struct Vm {
        Manager *manager;

        char *name;
        char uuid[37];
        char *object_path;

        VmSpec *spec;
        char *spec_json;        /* normalized */
        bool persistent;        /* file in the state directory */
        bool read_only;         /* admin definition from the config directory */
        bool transient;         /* forget once stopped */
        char *definition_path;  /* file the definition came from, or NULL */

        /* Changed only by the state machine (vm.c: vm_handle_event). */
        VmPhase phase;
        VmState state;            /* published: vm_phase_to_state(phase) */
        VmReason reason;          /* published */
        VmReason final_reason;    /* what a decided stop ends with */
        bool destroy_when_stopped;
        char *reason_detail;      /* free text appended to StateReason, or NULL */
        VmExitInfo exit_info;

        uint64_t created_usec, started_usec, stopped_usec;

        VmReason start_reason;    /* what the current or last start carried */
        unsigned crash_restart_count;
        sd_event_source *restart_timer;
        sd_event_source *stop_timer;

        VmInstance *instance; /* while active */
        Console *console;
};

int vm_new(Manager *m, VmSpec *spec, Vm **ret);
Vm *vm_free(Vm *vm);
static inline void vm_freep(Vm **vm) {
        if (*vm)
                vm_free(*vm);
}

/* Lifecycle operations. */
int vm_start(Vm *vm, VmReason reason, VmError *error);
/* detail, if not NULL, is shown after the reason. */
int vm_kill(Vm *vm, VmReason reason, const char *detail, VmError *error);
/* May free vm. */
int vm_destroy(Vm *vm, VmError *error);
/* The admin removed the definition file: forget the VM now, or once stopped. May free vm. */
void vm_undefine(Vm *vm);
int vm_set_autostart(Vm *vm, bool b, VmError *error);

/* The by-name verbs of Manager1 and io.gunyah.Manager (StartVM, ...). */
typedef enum VmVerb {
        VM_VERB_START,
        VM_VERB_STOP,
        VM_VERB_KILL,
        VM_VERB_DESTROY,
        _VM_VERB_MAX,
        _VM_VERB_INVALID = -EINVAL,
} VmVerb;

/* "start", "stop", ...: also the polkit "verb" detail. */
const char *vm_verb_to_string(VmVerb v);
/* Applies verb as an API call does; timeout_usec is for VM_VERB_STOP.
 * May free vm (destroy). */
int vm_apply_verb(Vm *vm, VmVerb verb, uint64_t timeout_usec, VmError *error);

/* The devicetree the guest got, or, when the VM is not running, the one a
 * start would give it (built from the spec). *ret is the caller's. */
int vm_device_tree(Vm *vm, void **ret, size_t *ret_size, VmError *error);

bool vm_is_active(const Vm *vm); /* starting, running or stopping */

/* The PIDs of the workers still running, into pids (at most max). */
size_t vm_worker_pids(const Vm *vm, pid_t *pids, size_t max);

/* Formats StateReason: the reason token, plus detail where there is one. */
char *vm_state_reason_string(const Vm *vm);

/* Called by worker.c when a worker reports or dies. */
void vm_on_worker_message(Vm *vm, Worker *w, const void *msg);
void vm_on_worker_exit(Vm *vm, Worker *w, int code, int status);
/* A device process failed or died (detail names it): the VM ends
 * worker-failed, with ExitInfo e (its signal or exit status, or the step
 * it failed at; vcpu -1) unless something was recorded first. */
void vm_on_device_failed(Vm *vm, const char *detail, const VmExitInfo *e);

/* At daemon start (vm-adopt.h): vm runs in instance i, which a previous
 * daemon started at started_usec as uuid. */
void vm_adopt(Vm *vm, VmInstance *i, const char *uuid, uint64_t started_usec, uint64_t console_log_offset);
/* At daemon exit: lets go of a running VM without stopping it (its keeper
 * holds on, the next daemon adopts it). -EBUSY if it cannot outlive us. */
int vm_detach(Vm *vm);
/* At daemon start: a previous daemon died while starting vm, whose
 * remains are gone. Failed, load-failed: daemon-restart. */
void vm_mark_start_interrupted(Vm *vm);

/* Writes the normalized spec to the state directory (persistent VMs). */
int vm_save_definition(Vm *vm);
