/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <signal.h>

#include "sim-shared.h"
#include "sim-vcpu.h"
#include "sim-vm.h"

/* The vCPU half runs guest code on unicorn and is linked only into the
 * programs that do (sim_dep: gunyah-vcpu, the simulator's tests), whose
 * definitions replace these weak ones. The daemon links the VM half alone
 * (sim_vm_dep) and never runs a vCPU, so it maps no emulator; the entries
 * stay non-NULL there because an optional one's presence is what the daemon
 * reads (vcpu_irq_line: the workers drive their lines, need no irqfds). */
#define SIM_VCPU_ABSENT __attribute__((weak))

SIM_VCPU_ABSENT int sim_vcpu_attach(const int *fds, size_t n_fds, uint32_t id, HvVcpu **ret) {
        return -EOPNOTSUPP;
}

SIM_VCPU_ABSENT void sim_vcpu_detach(HvVcpu *vcpu) {
}

SIM_VCPU_ABSENT struct gunyah_vcpu_run *sim_vcpu_run_block(HvVcpu *vcpu) {
        return NULL;
}

SIM_VCPU_ABSENT int sim_vcpu_run(HvVcpu *vcpu) {
        return -EOPNOTSUPP;
}

SIM_VCPU_ABSENT void sim_vcpu_kick(HvVcpu *vcpu) {
}

SIM_VCPU_ABSENT int sim_vcpu_irq_line(HvVcpu *vcpu, uint32_t label, bool level) {
        return -EOPNOTSUPP;
}

SIM_VCPU_ABSENT int sim_vcpu_watch_fd(HvVcpu *vcpu, int fd, int (*ready)(void *userdata), void *userdata) {
        return -EOPNOTSUPP;
}

/* The simulator backend (design §3): U17 semantics on unicorn. */
const HvBackendOps hv_sim_ops = {
        .name = "sim",
        .open = sim_open,
        .close = sim_close,
        .abi = sim_abi,
        .vm_create = sim_vm_create,
        .vm_destroy = sim_vm_destroy,
        .vm_release = sim_vm_release,
        .guest_mem_create = sim_guest_mem_create,
        .map_mem = sim_map_mem,
        .unmap_mem = sim_unmap_mem,
        .set_dtb_config = sim_set_dtb_config,
        .set_boot_context = sim_set_boot_context,
        .add_vcpu = sim_add_vcpu,
        .add_irqfd = sim_add_irqfd,
        .remove_irqfd = sim_remove_irqfd,
        .add_ioeventfd = sim_add_ioeventfd,
        .remove_ioeventfd = sim_remove_ioeventfd,
        .start = sim_start,
        .vcpu_export = sim_vcpu_export,
        .vcpu_attach = sim_vcpu_attach,
        .vcpu_detach = sim_vcpu_detach,
        .vcpu_run_block = sim_vcpu_run_block,
        .vcpu_run = sim_vcpu_run,
        .vcpu_kick = sim_vcpu_kick,
        .vcpu_irq_line = sim_vcpu_irq_line,
        .vcpu_watch_fd = sim_vcpu_watch_fd,
        .vcpu_kick_signal = SIM_KICK_SIGNAL,
};
