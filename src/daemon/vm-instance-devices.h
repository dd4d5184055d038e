/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include <stdint.h>
#include <sys/types.h>

#include "hv.h"
#include "layout.h"
#include "vm-instance.h"

/* Guest memory of the layout: RAM bound with access, and with a swiotlb
 * pool, the pool as memory of its own, shared. */
int vm_instance_create_memory(VmInstance *i, const VmLayout *l, HvMemAccess access);

/* Opens, locks and registers every virtio device of the layout (before
 * the VM starts: doorbells are registered with it). */
int vm_instance_prepare_devices(VmInstance *i, const VmLayout *l, char *errbuf, size_t errlen);

/* Starts one device process per device. */
int vm_instance_spawn_devices(VmInstance *i, const VmLayout *l, uid_t uid, gid_t gid);

/* What each vCPU worker needs: bases, register pages, kick eventfds
 * (arrays of i->n_devices). */
void vm_instance_virtio_for_workers(const VmInstance *i, uint64_t *bases, int *regs_fds, int *kick_fds);

/* end: the processes are killed and the vsock directory closed; else only
 * our side is released (the daemon exits, the VM runs on). */
void vm_instance_free_devices(VmInstance *i, bool end);
