/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Internal to dtb.c and dtb-virtio.c: the libfdt helpers both use. */

#include <libfdt.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

/* Every libfdt call returns 0 or -FDT_ERR_*; the first failure ends the build. */
#define FDT_TRY(expr)                           \
        do {                                    \
                int _e_ = (expr);               \
                if (_e_ < 0)                    \
                        return _e_;             \
        } while (0)

/* A string list property from a literal with embedded NULs. */
#define fdt_property_strings(fdt, name, lit) fdt_property((fdt), (name), (lit), sizeof(lit))

/* Interrupt specifier cells: <type number flags>. */
#define GIC_SPI 0u
#define GIC_PPI 1u
#define IRQ_TYPE_EDGE_RISING 1u
#define IRQ_TYPE_LEVEL_HIGH 4u

/* reg = <addr size> with two cells each (the root's #address-cells and #size-cells). */
int dtb_prop_reg(void *fdt, uint64_t addr, uint64_t size);
/* A property of n (at most 16) u32 cells. */
int dtb_prop_cells(void *fdt, const char *name, const uint32_t *cells, size_t n);

/* The doorbell vdevice through which the VMM raises SPI spi (its irqfd
 * label is the SPI number); irq_type as in the device's own node. */
int dtb_build_doorbell(void *fdt, uint32_t spi, uint32_t irq_type);

/* dtb-virtio.c: /reserved-memory with the swiotlb pool (when there is one),
 * the virtio-mmio nodes, and their doorbells (inside vdevices). */
int dtb_build_reserved_memory(void *fdt, const VmLayout *l);
int dtb_build_virtio_mmio(void *fdt, const VmLayout *l);
int dtb_build_virtio_doorbells(void *fdt, const VmLayout *l);
