/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What a VM publishes about itself: state, reason and exit information
 * (design §5), with their names. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "gunyah-abi.h"

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

/* "PSCI_POWER_OFF" etc. for an exited VM, "" otherwise. */
const char *vm_exit_info_type_name(const VmExitInfo *e);

/* The reason a VM status and exit type stand for. */
VmReason vm_reason_from_exit(uint32_t status, uint16_t exit_type);
