/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The devicetree of the virtio devices: one virtio,mmio node per transport
 * (as QEMU virt writes them), a doorbell per transport interrupt, and the
 * swiotlb pool as a restricted-dma-pool (virtio-on-gunyah §2, §3).
 */
#include <inttypes.h>
#include <stdio.h>

#include "dtb-internal.h"
#include "dtb.h"
#include "macro.h"

static void pool_node_name(const VmLayout *l, char *buf, size_t len) {
        snprintf(buf, len, "restricted_dma_reserved@%" PRIx64, l->swiotlb_addr);
}

/* The pool must stay out of the guest's page allocator (the host sees it)
 * yet be mapped (the guest copies through it): neither reusable nor no-map.
 * It lies inside /memory, as Linux maps only what /memory names. */
int dtb_build_reserved_memory(void *fdt, const VmLayout *l) {
        char name[64];

        if (l->swiotlb_size == 0 && !l->reserve_dtb_window)
                return 0;
        FDT_TRY(fdt_begin_node(fdt, "reserved-memory"));
        FDT_TRY(fdt_property_u32(fdt, "#address-cells", 2));
        FDT_TRY(fdt_property_u32(fdt, "#size-cells", 2));
        FDT_TRY(fdt_property(fdt, "ranges", NULL, 0));
        if (l->reserve_dtb_window) {
                /* Mapped (the guest reads its DTB there) but never allocated:
                 * a device process cannot reach this lent window. */
                snprintf(name, sizeof(name), "dtb_window@%" PRIx64, l->dtb_addr);
                FDT_TRY(fdt_begin_node(fdt, name));
                FDT_TRY(dtb_prop_reg(fdt, l->dtb_addr, l->dtb_window));
                FDT_TRY(fdt_end_node(fdt));
        }
        if (l->swiotlb_size == 0)
                return fdt_end_node(fdt);
        pool_node_name(l, name, sizeof(name));
        FDT_TRY(fdt_begin_node(fdt, name));
        FDT_TRY(fdt_property_string(fdt, "compatible", "restricted-dma-pool"));
        FDT_TRY(dtb_prop_reg(fdt, l->swiotlb_addr, l->swiotlb_size));
        /* Sized by #size-cells, as the reserved-memory binding says. */
        FDT_TRY(fdt_property_u64(fdt, "alignment", VM_DTB_SWIOTLB_ALIGN));
        FDT_TRY(fdt_property_u32(fdt, "phandle", VM_DTB_SWIOTLB_PHANDLE));
        FDT_TRY(fdt_end_node(fdt));
        return fdt_end_node(fdt);
}

int dtb_build_virtio_mmio(void *fdt, const VmLayout *l) {
        for (uint32_t i = 0; i < l->n_devices; i++) {
                const VmLayoutDevice *d = &l->devices[i];
                uint32_t irq[] = { GIC_SPI, d->spi, IRQ_TYPE_EDGE_RISING };
                char name[32];

                snprintf(name, sizeof(name), "virtio_mmio@%" PRIx64, d->base);
                FDT_TRY(fdt_begin_node(fdt, name));
                FDT_TRY(fdt_property_string(fdt, "compatible", "virtio,mmio"));
                FDT_TRY(dtb_prop_reg(fdt, d->base, d->size));
                FDT_TRY(dtb_prop_cells(fdt, "interrupts", irq, ELEMENTSOF(irq)));
                /* Gunyah guests and the host share coherent caches. */
                FDT_TRY(fdt_property(fdt, "dma-coherent", NULL, 0));
                /* In lend mode the device reaches only the pool: the guest
                 * must bounce every buffer through it. */
                if (l->swiotlb_size > 0)
                        FDT_TRY(fdt_property_u32(fdt, "memory-region", VM_DTB_SWIOTLB_PHANDLE));
                FDT_TRY(fdt_end_node(fdt));
        }
        return 0;
}

int dtb_build_virtio_doorbells(void *fdt, const VmLayout *l) {
        for (uint32_t i = 0; i < l->n_devices; i++)
                FDT_TRY(dtb_build_doorbell(fdt, l->devices[i].spi, IRQ_TYPE_EDGE_RISING));
        return 0;
}
