/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The virtio devices of a running instance: guest memory they may reach,
 * one DeviceProcess each (device-process.c), what the vCPU workers need
 * to answer their registers. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "device-process.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "vm-instance-devices.h"
#include "vm-vsock.h"
#include "vm.h"

/* In a shared VM everything but the DTB's window is shared: the Resource
 * Manager takes the image parcel (the DTB region) only as a lend
 * (vmm-on-gunyah §3.1), so that window is lent from the same memory. */
static int bind_ram(VmInstance *i, const VmLayout *l, uint64_t below, HvMemAccess access) {
        const HvBackendOps *ops = i->vm->manager->ops;
        uint64_t shared = access == HV_MEM_SHARE ? l->dtb_addr - l->ram_base : 0;
        int r;

        if (shared > 0) {
                r = ops->map_mem(i->hv, &(HvMemBinding) {
                        .guest_addr = l->ram_base,
                        .size = shared,
                        .guest_mem_fd = i->guest_mem_fd,
                        .access = HV_MEM_SHARE,
                        .prot = HV_PROT_RWX,
                        .label = 2,
                });
                if (r < 0)
                        return r;
        }
        return ops->map_mem(i->hv, &(HvMemBinding) {
                .guest_addr = l->ram_base + shared,
                .offset = shared,
                .size = below - shared,
                .guest_mem_fd = i->guest_mem_fd,
                .access = shared > 0 ? HV_MEM_LEND : access,
                .prot = HV_PROT_RWX,
        });
}

int vm_instance_create_memory(VmInstance *i, const VmLayout *l, HvMemAccess access) {
        const HvBackendOps *ops = i->vm->manager->ops;
        uint64_t below = l->ram_size - l->swiotlb_size;
        int r;

        r = ops->guest_mem_create(i->hv, below, &i->guest_mem_fd);
        if (r >= 0)
                r = bind_ram(i, l, below, access);
        if (r < 0 || l->swiotlb_size == 0)
                return r;
        /* Its own memory, so that a device process handed it can reach
         * nothing else (virtio-on-gunyah §2). */
        r = ops->guest_mem_create(i->hv, l->swiotlb_size, &i->swiotlb_mem_fd);
        if (r < 0)
                return r;
        return ops->map_mem(i->hv, &(HvMemBinding) {
                .guest_addr = l->swiotlb_addr,
                .size = l->swiotlb_size,
                .guest_mem_fd = i->swiotlb_mem_fd,
                .access = HV_MEM_SHARE,
                .prot = HV_PROT_RWX,
                .label = 1,
        });
}

/* The CID is this instance's from here to its end; the directory and
 * its listening socket go with the instance (vm_instance_free_devices). */
static int prepare_vsock(VmInstance *i, const VmLayoutDevice *where, DeviceProcess **ret, char *errbuf,
                         size_t errlen) {
        Vm *vm = i->vm;
        int listen_fd = -EBADF, r;

        r = vm_vsock_check_cid(vm, vm->spec->vsock.cid, errbuf, errlen);
        if (r < 0)
                return r;
        i->vsock_cid = vm->spec->vsock.cid;
        r = vm_vsock_open(vm, &i->vsock_dir, &listen_fd, errbuf, errlen);
        if (r < 0)
                return r;
        return device_process_prepare_vsock(vm, vm->manager->ops, i->hv, where, i->vsock_cid, i->vsock_dir,
                                            listen_fd, ret);
}

static int prepare_device(VmInstance *i, const VmLayoutDevice *where, DeviceProcess **ret, char *errbuf,
                          size_t errlen) {
        Vm *vm = i->vm;

        switch (where->kind) {
        case VM_DEVICE_VIRTIO_BLK:
                if (where->spec_index >= vm->spec->n_disks)
                        return -EINVAL;
                return device_process_prepare_disk(vm, vm->manager->ops, i->hv, where,
                                                   &vm->spec->disks[where->spec_index], ret, errbuf, errlen);
        case VM_DEVICE_VIRTIO_VSOCK:
                return prepare_vsock(i, where, ret, errbuf, errlen);
        case VM_DEVICE_VIRTIO_RNG:
                return device_process_prepare_rng(vm, vm->manager->ops, i->hv, where, ret);
        default:
                return -EINVAL;
        }
}

int vm_instance_prepare_devices(VmInstance *i, const VmLayout *l, char *errbuf, size_t errlen) {
        int r;

        for (uint32_t k = 0; k < l->n_devices && k < VM_INSTANCE_DEVICES_MAX; k++) {
                r = prepare_device(i, &l->devices[k], &i->devices[i->n_devices], errbuf, errlen);
                if (r < 0)
                        return r;
                i->n_devices++;
        }
        return 0;
}

int vm_instance_spawn_devices(VmInstance *i, const VmLayout *l, uid_t uid, gid_t gid) {
        Manager *m = i->vm->manager;
        DeviceMemory memory;
        int r;

        if (i->n_devices == 0)
                return 0;
        if (m->no_sandbox)
                log_vm_warning(i->vm->name, "starting its device processes WITHOUT their sandbox (--no-sandbox): "
                               "a guest exploiting a device bug reaches the host as root.");
        /* Shared: all of RAM. Lent: only the pool (the spec refuses devices
         * in a lent VM without one). */
        if (l->swiotlb_size > 0)
                memory = (DeviceMemory) { l->swiotlb_addr, l->swiotlb_size, i->swiotlb_mem_fd };
        else /* all the shared RAM: below the lent DTB window */
                memory = (DeviceMemory) { l->ram_base, l->dtb_addr - l->ram_base, i->guest_mem_fd };
        for (size_t k = 0; k < i->n_devices; k++) {
                r = device_process_spawn(i->devices[k], m->event, &(DeviceSpawnArgs) {
                        .binary = m->device_binary,
                        .no_sandbox = m->no_sandbox,
                        .uid = uid,
                        .gid = gid,
                        .memory = &memory,
                        .n_memory = 1,
                        .test_hook = vm_test_hook_for(i->vm, m->device_test_hook),
                });
                if (r < 0)
                        return r;
        }
        return 0;
}

void vm_instance_virtio_for_workers(const VmInstance *i, uint64_t *bases, int *regs_fds, int *kick_fds) {
        for (size_t k = 0; k < i->n_devices; k++) {
                bases[k] = i->devices[k]->where.base;
                regs_fds[k] = i->devices[k]->regs_fd;
                kick_fds[k] = i->devices[k]->kick_fd;
        }
}

void vm_instance_free_devices(VmInstance *i, bool end) {
        for (size_t k = 0; k < i->n_devices; k++)
                (end ? device_process_free : device_process_release)(i->devices[k]);
        i->n_devices = 0;
        if (end)
                vm_vsock_close(i->vsock_dir);
        free(i->vsock_dir);
        i->vsock_dir = NULL;
        i->vsock_cid = 0;
}
