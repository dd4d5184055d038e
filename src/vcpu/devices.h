/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The emulated devices of a VM as one vCPU worker sees them. Their state
 * lives in the device page (WORKER_FD_DEVICES) shared by every worker of
 * the VM, so all vCPUs see one UART and one power button.
 *
 * MMIO that hits no device follows the unhandled-MMIO policy: reads return
 * zero, writes are ignored; each is counted and logged with a rate limit.
 */

#include <stdint.h>

#include "gunyah-abi.h"

typedef struct Devices Devices;

typedef struct DevicesConfig {
        uint64_t pl011_base; /* UINT64_MAX: no UART */
        uint64_t pl061_base; /* UINT64_MAX: no power button */
} DevicesConfig;

int devices_open(int page_fd, int console_fd, uint32_t vcpu, const DevicesConfig *config, Devices **ret);
void devices_close(Devices *d);

/* Answers one MMIO exit in place (data for reads, resume_action). */
void devices_handle_mmio(Devices *d, struct gunyah_vcpu_run *run);

/* The daemon's graceful stop request. */
void devices_press_power_button(Devices *d);

uint64_t devices_unhandled_count(const Devices *d);

/* Sends buffered console output now (before the worker blocks or leaves). */
void devices_flush(Devices *d);
