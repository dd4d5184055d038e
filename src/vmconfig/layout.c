/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>

#include "errbuf.h"
#include "layout.h"

static int layout_ram(const VmSpec *spec, VmLayout *l, char *errbuf, size_t errlen) {
        l->ram_base = spec->memory.base;
        l->ram_size = spec->memory.size;

        if (!IS_ALIGNED(l->ram_base, VM_RAM_ALIGN) || l->ram_base < VM_RAM_BASE_MIN)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "memory.base 0x%" PRIx64 " must be 2 MiB aligned and at least 0x%" PRIx64,
                                  l->ram_base, VM_RAM_BASE_MIN);
        if (!IS_ALIGNED(l->ram_size, VM_RAM_ALIGN) || l->ram_size == 0)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "memory.size 0x%" PRIx64 " must be a non-zero multiple of 2 MiB", l->ram_size);
        if (l->ram_base >= VM_IPA_LIMIT || VM_IPA_LIMIT - l->ram_base < l->ram_size)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "memory [0x%" PRIx64 ", +0x%" PRIx64 ") exceeds the 36-bit guest address space",
                                  l->ram_base, l->ram_size);

        uint64_t pool = spec->memory.swiotlb;
        if (pool == 0)
                return 0;
        if (!IS_ALIGNED(pool, VM_SWIOTLB_ALIGN) || pool > l->ram_size || l->ram_size - pool < VM_SWIOTLB_RAM_MIN)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "memory.swiotlb 0x%" PRIx64 " must be a multiple of 2 MiB leaving at least 4 MiB of "
                                  "memory.size 0x%" PRIx64 " below it", pool, l->ram_size);
        l->swiotlb_size = pool;
        l->swiotlb_addr = l->ram_base + l->ram_size - pool;
        return 0;
}

void vm_layout_transport(const VmSpec *spec, uint32_t i, VmLayoutDevice *ret) {
        *ret = (VmLayoutDevice) {
                .kind = i < spec->n_disks                         ? VM_DEVICE_VIRTIO_BLK
                        : i == spec->n_disks && spec->has_vsock ? VM_DEVICE_VIRTIO_VSOCK
                                                                 : VM_DEVICE_VIRTIO_RNG,
                .spec_index = i < spec->n_disks ? i : 0,
                .base = vm_virtio_mmio_base(i),
                .size = VM_VIRTIO_MMIO_SIZE,
                .spi = vm_virtio_mmio_spi(i),
        };
}

/* The transports, where QEMU virt has its virtio-mmio (a page the GIC and
 * the PL061 are far from), clear of a console moved there. */
static int layout_virtio(const VmSpec *spec, VmLayout *l, char *errbuf, size_t errlen) {
        uint32_t n = vm_spec_n_transports(spec);
        char name[32];

        if (spec->n_disks > VM_DISKS_MAX)
                return errbuf_set(errbuf, errlen, -EINVAL, "%" PRIu32 " disks, at most %u", spec->n_disks,
                                  VM_DISKS_MAX);
        for (uint32_t i = 0; i < n; i++) {
                VmLayoutDevice d;

                vm_layout_transport(spec, i, &d);
                vm_spec_transport_name(spec, i, name, sizeof(name));
                if (l->have_pl011 && d.base < l->pl011_base + VM_PL011_SIZE && l->pl011_base < d.base + d.size)
                        return errbuf_set(errbuf, errlen, -EINVAL,
                                          "console.base 0x%" PRIx64 " overlaps the virtio-mmio transport of %s at 0x%" PRIx64,
                                          l->pl011_base, name, d.base);
                if (l->have_pl011 && l->pl011_spi == d.spi)
                        return errbuf_set(errbuf, errlen, -EINVAL, "console.spi %" PRIu32 " is the interrupt of %s",
                                          d.spi, name);
                l->devices[l->n_devices++] = d;
        }
        l->reserve_dtb_window = l->n_devices > 0 && spec->memory.mode == VM_MEMORY_SHARE;
        return 0;
}

static int layout_devices(const VmSpec *spec, VmLayout *l, char *errbuf, size_t errlen) {
        if (spec->vcpus < 1 || spec->vcpus > VM_VCPUS_MAX)
                return errbuf_set(errbuf, errlen, -EINVAL, "vcpus %" PRIu32 " must be between 1 and %u",
                                  spec->vcpus, VM_VCPUS_MAX);
        l->vcpus = spec->vcpus;
        l->gicd_base = VM_GICD_BASE;
        l->gicd_size = VM_GICD_SIZE;
        l->gicr_size = (uint64_t) spec->vcpus * VM_GICR_STRIDE;
        l->gicr_base = VM_GICD_BASE - l->gicr_size;

        l->pl061_base = VM_PL061_BASE;
        l->pl061_spi = VM_PL061_SPI;

        if (spec->console.type != VM_CONSOLE_PL011)
                return 0;

        /* VM_MMIO_WINDOW_BASE is 0: base - it cannot wrap below. */
        uint64_t base = spec->console.base;
        if (!IS_ALIGNED(base, VM_PL011_SIZE) ||
            base - VM_MMIO_WINDOW_BASE >= VM_MMIO_WINDOW_SIZE ||
            VM_MMIO_WINDOW_BASE + VM_MMIO_WINDOW_SIZE - base < VM_PL011_SIZE)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "console.base 0x%" PRIx64 " must be 4 KiB aligned inside the MMIO window "
                                  "[0x%" PRIx64 ", 0x%" PRIx64 ")", base, VM_MMIO_WINDOW_BASE,
                                  VM_MMIO_WINDOW_BASE + VM_MMIO_WINDOW_SIZE);
        if (base + VM_PL011_SIZE > l->gicr_base && base < l->gicd_base + l->gicd_size)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "console.base 0x%" PRIx64 " overlaps the GIC at [0x%" PRIx64 ", 0x%" PRIx64 ")",
                                  base, l->gicr_base, l->gicd_base + l->gicd_size);
        if (base + VM_PL011_SIZE > VM_PL061_BASE && base < VM_PL061_BASE + VM_PL061_SIZE)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "console.base 0x%" PRIx64 " overlaps the power button at [0x%" PRIx64 ", 0x%" PRIx64 ")",
                                  base, VM_PL061_BASE, VM_PL061_BASE + VM_PL061_SIZE);
        if (spec->console.spi == VM_PL061_SPI)
                return errbuf_set(errbuf, errlen, -EINVAL, "console.spi %u is the power button's interrupt",
                                  VM_PL061_SPI);
        if (spec->console.spi > VM_SPI_MAX)
                return errbuf_set(errbuf, errlen, -EINVAL, "console.spi %" PRIu32 " must be at most %u",
                                  spec->console.spi, VM_SPI_MAX);
        l->have_pl011 = true;
        l->pl011_base = base;
        l->pl011_spi = spec->console.spi;
        return 0;
}

static int layout_kernel(const VmImageInfo *k, bool have_boot_context, VmLayout *l,
                         char *errbuf, size_t errlen) {
        switch (k->format) {
        case VM_KERNEL_FORMAT_IMAGE:
                /* booting.rst: text_offset bytes above a 2 MiB aligned base; ours is RAM's. */
                l->kernel_addr = l->ram_base + k->text_offset;
                l->entry = l->kernel_addr;
                break;
        case VM_KERNEL_FORMAT_ELF:
                if (k->n_segments == 0)
                        return errbuf_set(errbuf, errlen, -EINVAL, "ELF kernel without segments");
                l->kernel_addr = k->segments[0].paddr;
                l->entry = k->entry;
                break;
        case VM_KERNEL_FORMAT_RAW:
                l->kernel_addr = l->ram_base;
                l->entry = l->ram_base;
                break;
        default:
                return errbuf_set(errbuf, errlen, -EINVAL, "kernel was not probed");
        }
        l->kernel_size = k->load_size;

        if (l->kernel_addr < l->ram_base || l->kernel_addr - l->ram_base >= l->ram_size)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "kernel is linked at 0x%" PRIx64 ", outside guest RAM [0x%" PRIx64
                                  ", 0x%" PRIx64 "); set memory.base to match the guest's link address",
                                  l->kernel_addr, l->ram_base, l->ram_base + l->ram_size);

        /* Without SET_BOOT_CONTEXT the RM starts the boot vCPU at the base of
         * the region holding the DTB (vmm-on-gunyah §2), which is RAM's base. */
        if (!have_boot_context && l->entry != l->ram_base)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "kernel entry 0x%" PRIx64 " is not the RAM base 0x%" PRIx64
                                  ": this hypervisor ABI cannot set the boot PC (no SET_BOOT_CONTEXT), so the "
                                  "guest must start at the base of its memory; use an Image with text_offset 0 "
                                  "or link the guest with its entry at 0x%" PRIx64,
                                  l->entry, l->ram_base, l->ram_base);
        return 0;
}

/* Message for "[start, end) must end by limit": how much is missing and the
 * memory.size that would make it fit. */
static int no_room(const VmLayout *l, const char *what, uint64_t start, uint64_t end, uint64_t limit,
                   char *errbuf, size_t errlen) {
        uint64_t needed = ALIGN_UP(end - l->ram_base, VM_RAM_ALIGN) + VM_DTB_WINDOW_MAX + l->swiotlb_size;
        return errbuf_set(errbuf, errlen, -ENOSPC,
                          "%s [0x%" PRIx64 ", 0x%" PRIx64 ") does not fit below the DTB window at 0x%" PRIx64
                          ": short by %" PRIu64 " bytes; memory.size must be at least %" PRIu64 " MiB",
                          what, start, end, limit, end - limit, needed / MiB);
}

int vm_layout_compute(const VmSpec *spec, const VmImageInfo *kernel, uint64_t initrd_size,
                      bool have_boot_context, VmLayout *ret, char *errbuf, size_t errlen) {
        VmLayout l = {};
        int r;

        if (!spec || !kernel || !ret)
                return -EINVAL;

        r = layout_ram(spec, &l, errbuf, errlen);
        if (r < 0)
                return r;
        r = layout_devices(spec, &l, errbuf, errlen);
        if (r < 0)
                return r;
        r = layout_virtio(spec, &l, errbuf, errlen);
        if (r < 0)
                return r;
        r = layout_kernel(kernel, have_boot_context, &l, errbuf, errlen);
        if (r < 0)
                return r;

        /* The DTB takes the last 2 MiB of RAM below the pool, like crosvm;
         * RAM and the pool are 2 MiB multiples so the window is 2 MiB aligned. */
        uint64_t below_pool = l.ram_size - l.swiotlb_size;
        if (below_pool < VM_DTB_WINDOW_MAX * 2)
                return errbuf_set(errbuf, errlen, -ENOSPC,
                                  "memory.size %" PRIu64 " bytes leaves no room for a kernel and the 2 MiB DTB "
                                  "window: memory.size must be at least 4 MiB", l.ram_size);
        l.dtb_window = VM_DTB_WINDOW_MAX;
        l.dtb_addr = ALIGN_DOWN(l.ram_base + below_pool - l.dtb_window, VM_DTB_ALIGN);

        /* kernel_addr is inside RAM, so kernel_size bounds the arithmetic. */
        if (l.kernel_size > l.dtb_addr - l.kernel_addr || l.kernel_addr >= l.dtb_addr)
                return no_room(&l, "kernel", l.kernel_addr, l.kernel_addr + l.kernel_size, l.dtb_addr,
                               errbuf, errlen);

        if (initrd_size > 0) {
                uint64_t start = ALIGN_UP(l.kernel_addr + l.kernel_size, VM_INITRD_ALIGN);
                if (initrd_size > VM_IPA_LIMIT)
                        return errbuf_set(errbuf, errlen, -ENOSPC, "initrd of %" PRIu64 " bytes is absurd",
                                          initrd_size);
                if (start > l.dtb_addr || initrd_size > l.dtb_addr - start)
                        return no_room(&l, "initrd", start, start + initrd_size, l.dtb_addr, errbuf, errlen);
                l.initrd_addr = start;
                l.initrd_size = initrd_size;
        }

        *ret = l;
        return 0;
}

int vm_layout_check_dtb(const VmLayout *layout, uint64_t blob_size, char *errbuf, size_t errlen) {
        /* The RM applies its overlay in place and may need as much again. */
        if (blob_size > layout->dtb_window / 2)
                return errbuf_set(errbuf, errlen, -ENOSPC,
                                  "devicetree of %" PRIu64 " bytes leaves too little room for the Resource "
                                  "Manager's overlay in its 0x%" PRIx64 " byte window (needs twice its size)",
                                  blob_size, layout->dtb_window);
        return 0;
}
