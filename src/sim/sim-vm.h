/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The daemon's half of the simulator (sim-vm.c): what the kernel and the
 * Resource Manager do for the VM fd. It creates the VM's shared state and
 * its guest memory and executes no guest code, so it needs no emulator: the
 * daemon links this half only (sim_vm_dep).
 */

#include <stddef.h>
#include <stdint.h>

#include "hv.h"
#include "sim-shared.h"

struct HvBackend {
        unsigned n_vms;
};

struct HvVm {
        int shared_fd;
        SimShared *shared;
        size_t shared_size;
        int mem_fds[SIM_GUEST_MEMS_MAX];
        int doorbell_fds[SIM_DOORBELLS_MAX]; /* the VM's own references, as the kernel's eventfd ctx */
};

int sim_open(const char *path, HvBackend **ret);
void sim_close(HvBackend *b);
HvAbi sim_abi(HvBackend *b);
int sim_vm_create(HvBackend *b, HvVm **ret);
void sim_vm_destroy(HvVm *vm);
void sim_vm_release(HvVm *vm);
int sim_guest_mem_create(HvVm *vm, uint64_t size, int *ret_fd);
int sim_map_mem(HvVm *vm, const HvMemBinding *binding);
int sim_unmap_mem(HvVm *vm, const HvMemBinding *binding);
int sim_set_dtb_config(HvVm *vm, uint64_t guest_addr, uint64_t size);
int sim_set_boot_context(HvVm *vm, uint32_t reg, uint64_t value);
int sim_add_vcpu(HvVm *vm, uint32_t id);
/* sim-vm-doorbell.c */
int sim_add_irqfd(HvVm *vm, int eventfd, uint32_t label, uint32_t flags);
int sim_remove_irqfd(HvVm *vm, int eventfd, uint32_t label, uint32_t flags);
int sim_add_ioeventfd(HvVm *vm, int eventfd, uint64_t addr, uint32_t len, uint32_t flags, uint64_t datamatch);
int sim_remove_ioeventfd(HvVm *vm, int eventfd, uint64_t addr, uint32_t len, uint32_t flags, uint64_t datamatch);
int sim_start(HvVm *vm);
int sim_vcpu_export(HvVm *vm, uint32_t id, int *fds, size_t *n_fds);
