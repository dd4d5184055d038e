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

#include <stdbool.h>
#include <stdint.h>

#include "gunyah-abi.h"

typedef struct Devices Devices;

typedef struct DevicesConfig {
        uint64_t pl011_base; /* UINT64_MAX: no UART */
        uint64_t pl061_base; /* UINT64_MAX: no power button */
        uint32_t pl011_spi;  /* doorbell label (SPI) of its line; UINT32_MAX: none */
        uint32_t pl061_spi;
        /* virtio-mmio transports: bases, and the fds of their first
         * register page and first kick eventfd (the rest follow) */
        const uint64_t *virtio_bases;
        unsigned n_virtio;
        int virtio_regs_fd;
        int virtio_kick_fd;
} DevicesConfig;

/* Drives an interrupt line (the backend's vcpu_irq_line). */
typedef void (*DevicesIrqLineFn)(uint32_t spi, bool level, void *userdata);

int devices_open(int page_fd, int console_fd, uint32_t vcpu, const DevicesConfig *config, Devices **ret);
void devices_close(Devices *d);

/* Answers one MMIO exit in place (data for reads, resume_action). */
void devices_handle_mmio(Devices *d, struct gunyah_vcpu_run *run);

/* Lets the devices drive their interrupt lines from now on. */
void devices_set_irq_line(Devices *d, DevicesIrqLineFn fn, void *userdata);

/* Console input is readable (the backend watched it while the vCPU waited
 * for an interrupt): moves what fits into the UART and raises its line.
 * Returns 1 when the UART is full, so watching can pause, else 0. */
int devices_console_ready(Devices *d);

/* The daemon's graceful stop request. */
void devices_press_power_button(Devices *d);

uint64_t devices_unhandled_count(const Devices *d);

/* Sends buffered console output now (before the worker blocks or leaves). */
void devices_flush(Devices *d);
