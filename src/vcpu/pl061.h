/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * ARM PrimeCell PL061 GPIO controller, enough to be the VM's power button
 * (as on QEMU's virt machine: a gpio-keys node with KEY_POWER on line 3).
 * State is plain data in the shared device page; the caller serialises
 * access (devices.c holds the page lock).
 */

#include <stdbool.h>
#include <stdint.h>

#define PL061_MMIO_SIZE 0x1000u
#define PL061_POWER_BUTTON_LINE 3u

typedef struct Pl061 {
        uint8_t data_in; /* levels driven from outside (the power button) */
        uint8_t data_out;
        uint8_t dir;     /* 1 = output */
        uint8_t is;      /* interrupt sense: 1 = level */
        uint8_t ibe;     /* both edges */
        uint8_t iev;     /* event: 1 = rising / high */
        uint8_t ie;      /* mask */
        uint8_t ris;     /* raw interrupt status */
        uint8_t afsel;
        uint8_t padding[7];
} Pl061;

void pl061_reset(Pl061 *s);
/* Returns false for an offset or size the device does not decode. */
bool pl061_read(Pl061 *s, uint64_t offset, unsigned len, uint64_t *ret);
bool pl061_write(Pl061 *s, uint64_t offset, unsigned len, uint64_t value);
/* Drives an input line and latches the edge/level interrupt it causes. */
void pl061_set_input(Pl061 *s, unsigned line, bool level);
/* The interrupt output: any unmasked raw interrupt. */
bool pl061_irq_pending(const Pl061 *s);
