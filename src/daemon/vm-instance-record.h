/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What of a running instance outlives the daemon, in <runtime_dir>/vms/NAME:
 * its keeper (vm-keeper.h), spawned as the first start step, and its record
 * (vm-record.h), written "starting" with the keeper's PID right then; once
 * the VM is published running the keeper gets the daemon's fds and the
 * record says "running" with every process. Both go with the instance
 * (the directory too, unless something else is in it).
 */

#include <stddef.h>

typedef struct VmInstance VmInstance;
typedef struct Manager Manager;

/* <runtime_dir>/vms/NAME (made if missing, 0700; vm-vsock.c may widen it)
 * into *ret. */
int vm_runtime_dir_make(Manager *m, const char *name, char **ret);

int vm_instance_record_begin(VmInstance *i, char *errbuf, size_t errlen);
/* Still "starting", now with every process: a worker running guest code
 * may not notice its daemon's death, so the next daemon must kill it. */
int vm_instance_record_processes(VmInstance *i);
int vm_instance_record_running(VmInstance *i);
void vm_instance_record_end(VmInstance *i);
/* Leaves record, keeper and directory to the next daemon (the VM runs on). */
void vm_instance_record_release(VmInstance *i);
