/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The per-VM record, <runtime_dir>/vms/NAME/record.json: what a new daemon
 * needs to find a VM the previous one started (design §4, "VMs outlive the
 * daemon"). Written atomically when the start begins (phase "starting"),
 * again when every worker has reported ready ("running"), removed at the
 * end. It crosses daemon upgrades, so it is read as untrusted input:
 * "version" says which fields a writer knew; a reader ignores fields it
 * does not know and gives fields younger than the record their defaults.
 * A record of a newer major version than this daemon's is refused.
 *
 * The keeper (keeper-protocol.h) hands fds back in the record's order:
 * the control socket of each vCPU and device process as "processes" lists
 * them (the keeper excepted), then the console socket, then the device
 * page, then the pidfd of each of those processes in the same order.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

#define VM_RECORD_VERSION 1
#define VM_RECORD_FILE "record.json"
#define VM_RECORD_SIZE_MAX (4U * 1024U * 1024U)
/* keeper + vCPUs + devices, with room to spare */
#define VM_RECORD_PROCESSES_MAX 1024

typedef enum VmRecordPhase {
        VM_RECORD_STARTING, /* between the first start step and every worker ready */
        VM_RECORD_RUNNING,
        _VM_RECORD_PHASE_MAX,
        _VM_RECORD_PHASE_INVALID = -EINVAL,
} VmRecordPhase;

typedef enum VmRecordRole {
        VM_RECORD_KEEPER, /* holds the daemon's ends of the VM's fds while no daemon runs */
        VM_RECORD_VCPU,   /* index: the vCPU */
        VM_RECORD_DEVICE, /* index: the virtio-mmio transport, in layout order */
        _VM_RECORD_ROLE_MAX,
        _VM_RECORD_ROLE_INVALID = -EINVAL,
} VmRecordRole;

typedef struct VmRecordProcess {
        VmRecordRole role;
        uint32_t index;
        pid_t pid;
        uint64_t start_time; /* /proc/PID/stat field 22: tells a reused PID apart */
} VmRecordProcess;

typedef struct VmRecord {
        unsigned version;
        char *name;
        char uuid[37];
        VmRecordPhase phase;
        uint64_t started_realtime_usec; /* the published StartedTimestamp; 0 while starting */
        char *backend;                  /* "sim", "kernel"; NULL: not said (any) */
        uint64_t console_log_offset;    /* where this run's output begins in NAME.log */
        char *spec_json;                /* the normalized spec the VM was started with */
        VmRecordProcess *processes;
        size_t n_processes;
} VmRecord;

const char *vm_record_phase_to_string(VmRecordPhase p);
VmRecordPhase vm_record_phase_from_string(const char *s);
const char *vm_record_role_to_string(VmRecordRole r);
VmRecordRole vm_record_role_from_string(const char *s);

VmRecord *vm_record_free(VmRecord *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(VmRecord *, vm_record_free);

/* Appends a process (the array grows as needed). */
int vm_record_add_process(VmRecord *r, VmRecordRole role, uint32_t index, pid_t pid, uint64_t start_time);

/* The record as JSON text (NUL-terminated, *ret is the caller's). */
int vm_record_format(const VmRecord *r, char **ret);
/* Parses size bytes; -EINVAL for anything malformed, -EPROTONOSUPPORT for
 * a newer major version. *ret is written only on success. */
int vm_record_parse(const char *data, size_t size, VmRecord **ret);

/* dir is <runtime_dir>/vms/NAME: write atomically (temp, fsync, rename,
 * fsync of dir), read, remove (ENOENT is not an error). */
int vm_record_write(const char *dir, const VmRecord *r);
int vm_record_read(const char *dir, VmRecord **ret);
int vm_record_remove(const char *dir);
