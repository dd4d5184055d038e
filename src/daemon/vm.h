/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One virtual machine: its definition, its state machine (design §5) and
 * the resources of a running instance.
 *
 *   defined ──start──▶ starting ──▶ running ──▶ stopping ──▶ stopped
 *                         │                                     │
 *                         └──────────▶ failed ◀─────────────────┘ (restart failed)
 *
 * Every transition carries a reason; stopped keeps the exit information.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "hv.h"
#include "vm-spec.h"
#include "worker-protocol.h"

typedef struct Manager Manager;
typedef struct Vm Vm;
typedef struct Worker Worker;
typedef struct Console Console;

typedef enum VmState {
        VM_STATE_DEFINED,
        VM_STATE_STARTING,
        VM_STATE_RUNNING,
        VM_STATE_STOPPING,
        VM_STATE_STOPPED,
        VM_STATE_FAILED,
        _VM_STATE_MAX,
        _VM_STATE_INVALID = -EINVAL,
} VmState;

/* Why the VM is in its state (design §5 table, plus the reasons of the
 * transient states). */
typedef enum VmReason {
        VM_REASON_NONE,          /* defined, never started */
        VM_REASON_START,         /* started through the API */
        VM_REASON_AUTOSTART,     /* started when the daemon started */
        VM_REASON_RESTART,       /* restarted by a lifecycle action */
        VM_REASON_STOP,          /* graceful stop requested, waiting for the guest */
        VM_REASON_POWEROFF,      /* guest PSCI SYSTEM_OFF (exit type 1) */
        VM_REASON_REBOOT,        /* guest SYSTEM_RESET / RESET2 (types 2, 3) */
        VM_REASON_WATCHDOG,      /* exit type 4 */
        VM_REASON_CRASHED,       /* types 5, 6, status crashed, guest fault */
        VM_REASON_LOAD_FAILED,   /* VM status 1, or a start step failed */
        VM_REASON_KILLED,        /* forced stop through the API (or Stop timeout) */
        VM_REASON_SHUTDOWN,      /* graceful stop through the API completed */
        VM_REASON_WORKER_FAILED, /* a worker died or hit the sandbox */
        VM_REASON_DAEMON_EXIT,   /* gunyahd stopped (SIGTERM) */
        _VM_REASON_MAX,
        _VM_REASON_INVALID = -EINVAL,
} VmReason;

const char *vm_state_to_string(VmState s);
VmState vm_state_from_string(const char *s);
const char *vm_reason_to_string(VmReason r);
VmReason vm_reason_from_string(const char *s);

typedef struct VmExitInfo {
        bool valid;
        uint32_t status;     /* raw enum gunyah_vm_status, 0 if none */
        uint16_t exit_type;  /* raw exit_info.type */
        uint32_t reason_size;
        uint8_t reason[GUNYAH_VM_MAX_EXIT_REASON_SIZE];
        int32_t vcpu;        /* which vCPU reported it, -1 if none */
        int signal;          /* worker-failed: terminating signal, else 0 */
        int exit_code;       /* worker-failed: exit status, else 0 */
        int error;           /* load-failed: errno (positive), else 0 */
        char step[48];       /* load-failed: the start step that failed */
        uint64_t fault_addr; /* crashed by page fault: the address */
        uint64_t timestamp;  /* CLOCK_REALTIME µs */
} VmExitInfo;

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

        VmState state;
        VmReason reason;
        char *reason_detail;    /* free text appended to StateReason, or NULL */
        VmExitInfo exit_info;

        uint64_t created_usec, started_usec, stopped_usec;

        /* lifecycle bookkeeping */
        unsigned crash_restart_count;
        sd_event_source *restart_timer;
        sd_event_source *stop_timer;
        sd_event_source *finish_stop_event;
        bool destroy_when_stopped;
        VmReason pending_reason; /* reason to record once the workers are gone */
        bool stop_decided;       /* an exit or a forced stop has fixed pending_reason */

        /* running instance */
        HvVm *hv;
        int guest_mem_fd;
        int devices_fd;       /* shared device page handed to every worker */
        void *devices;        /* its mapping in the daemon */
        int console_read_fd;  /* read end of the console pipe */
        sd_event_source *console_source;
        Worker **workers;
        size_t n_workers;
        int irqfds[WORKER_IRQFDS_MAX]; /* eventfds registered as irqfds, one per DT doorbell */
        uint32_t irq_labels[WORKER_IRQFDS_MAX];
        size_t n_irqfds;
        void *dtb;
        size_t dtb_size;

        Console *console;
};

int vm_new(Manager *m, VmSpec *spec, Vm **ret);
Vm *vm_free(Vm *vm);

/* Lifecycle operations; error, when set, names the D-Bus error to return. */
int vm_start(Vm *vm, VmReason reason, sd_bus_error *error);
int vm_stop(Vm *vm, uint64_t timeout_usec, sd_bus_error *error);
int vm_kill(Vm *vm, VmReason reason, sd_bus_error *error);
int vm_destroy(Vm *vm, sd_bus_error *error);
int vm_set_autostart(Vm *vm, bool b, sd_bus_error *error);

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
int vm_apply_verb(Vm *vm, VmVerb verb, uint64_t timeout_usec, sd_bus_error *error);

bool vm_is_active(const Vm *vm); /* starting, running or stopping */

/* "PSCI_POWER_OFF" etc. for an exited VM, "" otherwise. */
const char *vm_exit_info_type_name(const VmExitInfo *e);

/* Formats StateReason: the reason token, plus detail where there is one. */
char *vm_state_reason_string(const Vm *vm);

/* Called by worker.c when a worker reports or dies. */
void vm_on_worker_message(Vm *vm, Worker *w, const void *msg);
void vm_on_worker_exit(Vm *vm, Worker *w, int code, int status);

/* Sets state and reason, emits PropertiesChanged and notifies subscribers. */
void vm_set_state(Vm *vm, VmState state, VmReason reason);
/* Free text shown after the reason in StateReason (NULL clears it). */
void vm_set_reason_detail(Vm *vm, const char *detail);

int vm_save_definition(Vm *vm);

/* starting → running once every worker is ready. */
void vm_check_all_ready(Vm *vm);
/* A worker failed before running: the VM ends failed with detail. */
void vm_fail_start(Vm *vm, const char *detail);

/* Finishes a stop once every worker has exited. */
void vm_check_workers_gone(Vm *vm);
