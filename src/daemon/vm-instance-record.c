/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "device-process.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "process-util.h"
#include "test-die.h"
#include "vm-instance-record.h"
#include "vm-instance.h"
#include "vm-keeper.h"
#include "vm-record.h"
#include "vm.h"
#include "worker.h"

int vm_runtime_dir_make(Manager *m, const char *name, char **ret) {
        _cleanup_free_ char *vms = NULL, *dir = NULL;

        if (asprintf(&vms, "%s/vms", m->runtime_dir) < 0 || asprintf(&dir, "%s/%s", vms, name) < 0)
                return -ENOMEM;
        /* Everyone may look for their VM's directory; what is in it is guarded. */
        if (mkdir(vms, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        *ret = TAKE_PTR(dir);
        return 0;
}

static int add_process(VmRecord *r, VmRecordRole role, uint32_t index, pid_t pid) {
        uint64_t start_time;
        int k;

        /* Our unreaped child: the PID cannot have been reused yet. */
        k = process_start_time(pid, &start_time);
        if (k < 0)
                return k;
        return vm_record_add_process(r, role, index, pid, start_time);
}

static int record_build(VmInstance *i, VmRecordPhase phase, VmRecord **ret) {
        _cleanup_(vm_record_freep) VmRecord *r = calloc(1, sizeof(VmRecord));
        Vm *vm = i->vm;
        int k;

        if (!r)
                return -ENOMEM;
        r->version = VM_RECORD_VERSION;
        r->phase = phase;
        r->started_realtime_usec = phase == VM_RECORD_RUNNING ? vm->started_usec : 0;
        memcpy(r->uuid, vm->uuid, sizeof(r->uuid));
        r->console_log_offset = console_run_log_offset(vm->console);
        r->name = strdup(vm->name);
        r->backend = strdup(vm->manager->ops->name);
        r->spec_json = strdup(vm->spec_json ?: "{}");
        if (!r->name || !r->backend || !r->spec_json)
                return -ENOMEM;
        k = add_process(r, VM_RECORD_KEEPER, 0, i->keeper->pid);
        if (k < 0)
                return k;
        for (size_t w = 0; w < i->n_workers; w++) {
                k = add_process(r, VM_RECORD_VCPU, i->workers[w]->vcpu, i->workers[w]->pid);
                if (k < 0)
                        return k;
        }
        for (size_t d = 0; d < i->n_devices; d++) {
                k = add_process(r, VM_RECORD_DEVICE, (uint32_t) d, i->devices[d]->pid);
                if (k < 0)
                        return k;
        }
        *ret = TAKE_PTR(r);
        return 0;
}

static int record_write(VmInstance *i, VmRecordPhase phase) {
        _cleanup_(vm_record_freep) VmRecord *r = NULL;
        int k;

        k = record_build(i, phase, &r);
        if (k >= 0)
                k = vm_record_write(i->record_dir, r);
        return k;
}

int vm_instance_record_begin(VmInstance *i, char *errbuf, size_t errlen) {
        Manager *m = i->vm->manager;
        int k;

        k = vm_runtime_dir_make(m, i->vm->name, &i->record_dir);
        if (k < 0) {
                snprintf(errbuf, errlen, "cannot create the VM's runtime directory: %s", strerror(-k));
                return k;
        }
        k = vm_keeper_spawn(m->keeper_binary, i->vm->name, i->record_dir, &i->keeper);
        if (k < 0) {
                snprintf(errbuf, errlen, "cannot start %s: %s", m->keeper_binary, strerror(-k));
                return k;
        }
        k = record_write(i, VM_RECORD_STARTING);
        if (k < 0)
                snprintf(errbuf, errlen, "cannot write %s/" VM_RECORD_FILE ": %s", i->record_dir, strerror(-k));
        return k;
}

/* In the record's order (vm-record.h): the processes' control sockets,
 * the console socket and the device page, then the processes' pidfds. */
static int deposit_fds(VmInstance *i) {
        int fds[2 * VM_RECORD_PROCESSES_MAX + 2];
        bool watch[2 * VM_RECORD_PROCESSES_MAX + 2] = {};
        size_t n = 0;

        for (size_t w = 0; w < i->n_workers; w++, n++) {
                fds[n] = i->workers[w]->control_fd;
                watch[n] = true;
        }
        for (size_t d = 0; d < i->n_devices; d++, n++) {
                fds[n] = i->devices[d]->control_fd;
                watch[n] = true;
        }
        fds[n] = i->console_read_fd;
        watch[n++] = false;
        fds[n] = i->devices_fd;
        watch[n++] = false;
        /* A daemon that cannot read the record can still end them exactly. */
        for (size_t w = 0; w < i->n_workers; w++)
                fds[n++] = i->workers[w]->pidfd;
        for (size_t d = 0; d < i->n_devices; d++)
                fds[n++] = i->devices[d]->pidfd;
        return vm_keeper_deposit(i->keeper, fds, watch, n);
}

int vm_instance_record_processes(VmInstance *i) {
        return record_write(i, VM_RECORD_STARTING);
}

int vm_instance_record_running(VmInstance *i) {
        int k;

        if (!i->record_dir)
                return 0;
        test_die_at(i->vm, "ready");
        k = deposit_fds(i);
        if (k >= 0) {
                test_die_at(i->vm, "deposited");
                k = record_write(i, VM_RECORD_RUNNING);
        }
        i->recorded_running = k >= 0;
        if (k >= 0)
                test_die_at(i->vm, "running");
        if (k < 0)
                /* The VM runs on; only a daemon restart would not find it. */
                return log_vm_warning_errno(i->vm->name, k, "cannot record the VM as running in %s: %m",
                                            i->record_dir);
        return 0;
}

void vm_instance_record_release(VmInstance *i) {
        i->keeper = vm_keeper_release(i->keeper);
        free(i->record_dir);
        i->record_dir = NULL;
}

void vm_instance_record_end(VmInstance *i) {
        int k;

        /* The keeper first: it lets go of the VM's sockets. */
        i->keeper = vm_keeper_free(i->keeper);
        if (!i->record_dir)
                return;
        k = vm_record_remove(i->record_dir);
        if (k < 0)
                log_vm_warning_errno(i->vm->name, k, "cannot remove the record in %s: %m", i->record_dir);
        /* Host applications' vsock_P sockets may still be there: theirs. */
        if (rmdir(i->record_dir) < 0 && !IN_SET(errno, ENOENT, ENOTEMPTY, EEXIST))
                log_vm_warning_errno(i->vm->name, errno, "cannot remove %s: %m", i->record_dir);
        free(i->record_dir);
        i->record_dir = NULL;
}
