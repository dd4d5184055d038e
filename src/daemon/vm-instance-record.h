/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A running instance's record (vm-record.h) in <runtime_dir>/vms/NAME:
 * written "starting" as the first start step, "running" with every
 * process's PID and start time once the VM is published running, removed
 * with the instance (with the directory, unless something else is in it).
 */

#include <stddef.h>

typedef struct VmInstance VmInstance;
typedef struct Manager Manager;

/* <runtime_dir>/vms/NAME (made if missing, 0700; vm-vsock.c may widen it)
 * into *ret. */
int vm_runtime_dir_make(Manager *m, const char *name, char **ret);

int vm_instance_record_begin(VmInstance *i, char *errbuf, size_t errlen);
int vm_instance_record_running(VmInstance *i);
void vm_instance_record_end(VmInstance *i);
