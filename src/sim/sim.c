/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "sim-internal.h"

/* The simulator backend (design §3): U17 semantics on unicorn. */
const HvBackendOps hv_sim_ops = {
        .name = "sim",
        .open = sim_open,
        .close = sim_close,
        .abi = sim_abi,
        .vm_create = sim_vm_create,
        .vm_destroy = sim_vm_destroy,
        .guest_mem_create = sim_guest_mem_create,
        .map_mem = sim_map_mem,
        .unmap_mem = sim_unmap_mem,
        .set_dtb_config = sim_set_dtb_config,
        .set_boot_context = sim_set_boot_context,
        .add_vcpu = sim_add_vcpu,
        .add_irqfd = sim_add_irqfd,
        .start = sim_start,
        .vcpu_export = sim_vcpu_export,
        .vcpu_attach = sim_vcpu_attach,
        .vcpu_detach = sim_vcpu_detach,
        .vcpu_run_block = sim_vcpu_run_block,
        .vcpu_run = sim_vcpu_run,
        .vcpu_kick = sim_vcpu_kick,
        .vcpu_irq_line = sim_vcpu_irq_line,
        .vcpu_watch_fd = sim_vcpu_watch_fd,
};
