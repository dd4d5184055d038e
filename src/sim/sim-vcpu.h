/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The worker's half of the simulator (sim-vcpu.c): attach to an exported
 * vCPU and run it on the emulator. Only the programs that execute guest
 * code link it (sim_dep), and with it unicorn.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"

int sim_vcpu_attach(const int *fds, size_t n_fds, uint32_t id, HvVcpu **ret);
void sim_vcpu_detach(HvVcpu *vcpu);
struct gunyah_vcpu_run *sim_vcpu_run_block(HvVcpu *vcpu);
int sim_vcpu_run(HvVcpu *vcpu);
void sim_vcpu_kick(HvVcpu *vcpu);
int sim_vcpu_irq_line(HvVcpu *vcpu, uint32_t label, bool level);
int sim_vcpu_watch_fd(HvVcpu *vcpu, int fd, int (*ready)(void *userdata), void *userdata);
