/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Where everything goes in guest physical memory: kernel, initrd, DTB, the
 * GICv3 frames and the PL011. Follows the arm64 boot protocol and the
 * Gunyah rules of vmm-on-gunyah §1.5, §1.8 and §2.
 *
 * RAM is one region [ram_base, ram_base + ram_size): the kernel at (or near)
 * its base, the initrd after the kernel, the DTB in the last 2 MiB window
 * below the swiotlb pool, the pool (memory.swiotlb) at the very top.
 * virtio-mmio transports sit in the MMIO window like QEMU virt's.
 */

#include <stdbool.h>
#include <stdint.h>

#include "image.h"
#include "vm-spec.h"

/* GICv3 as the Gunyah QEMU platform and crosvm place it (VM_GICD_BASE,
 * VM_GICD_SIZE in vm-spec.h, whose parser keeps devices clear of it):
 * redistributors, two 64 KiB frames per vCPU, just below the distributor. */
#define VM_GICR_STRIDE VM_GICR_SIZE_PER_VCPU

/* Linux: DTB at most 2 MiB, 8-byte aligned. We put it 2 MiB aligned in the
 * last 2 MiB of RAM, like crosvm, and hand the whole window to the RM. */
#define VM_DTB_WINDOW_MAX UINT64_C(0x200000)
#define VM_DTB_ALIGN UINT64_C(0x200000)
#define VM_INITRD_ALIGN UINT64_C(0x200000)


#define VM_LAYOUT_ERROR_MAX 256u

typedef enum VmDeviceKind {
        VM_DEVICE_VIRTIO_BLK,   /* spec_index indexes VmSpec.disks */
        VM_DEVICE_VIRTIO_VSOCK, /* VmSpec.vsock; spec_index 0 */
        VM_DEVICE_VIRTIO_RNG,   /* VmSpec.rng; spec_index 0 */
        _VM_DEVICE_KIND_MAX,
} VmDeviceKind;

/* A virtio-mmio transport: [base, base + size) in the MMIO window, its
 * interrupt an edge-triggered SPI with a doorbell of that label. */
typedef struct VmLayoutDevice {
        VmDeviceKind kind;
        uint32_t spec_index;
        uint64_t base;
        uint64_t size; /* VM_VIRTIO_MMIO_SIZE */
        uint32_t spi;
} VmLayoutDevice;

typedef struct VmLayout {
        uint64_t ram_base;
        uint64_t ram_size;

        uint64_t kernel_addr; /* lowest guest address the kernel occupies */
        uint64_t kernel_size; /* bytes from kernel_addr (VmImageInfo.load_size) */
        uint64_t entry;       /* PC of the boot vCPU */

        uint64_t initrd_addr; /* 0 and 0 without an initrd */
        uint64_t initrd_size;

        uint64_t dtb_addr;   /* x0 of the boot vCPU */
        uint64_t dtb_window; /* size passed to SET_DTB_CONFIG; the blob is smaller */

        uint64_t gicd_base;
        uint64_t gicd_size;
        uint64_t gicr_base;
        uint64_t gicr_size; /* vcpus * VM_GICR_STRIDE */

        bool have_pl011;
        uint64_t pl011_base;
        uint32_t pl011_spi;

        /* the power button (VM_PL061_*), always there */
        uint64_t pl061_base;
        uint32_t pl061_spi;

        uint32_t vcpus;

        /* virtio-mmio transports, in address order: disks first, disk i at
         * index i (vm_virtio_mmio_base(i), SPI vm_virtio_mmio_spi(i)), then
         * vsock (if any), then rng (if on). */
        VmLayoutDevice devices[VM_VIRTIO_MMIO_MAX];
        uint32_t n_devices;

        /* The restricted-dma-pool, memory.swiotlb bytes at the top of RAM:
         * shared with the host while [ram_base, swiotlb_addr) is lent. 0 and
         * 0 without one. Kernel, initrd and DTB all lie below it. */
        uint64_t swiotlb_addr;
        uint64_t swiotlb_size;

        /* A shared VM with devices: the DTB's window is lent (the RM takes
         * the image parcel only as a lend) while device processes reach the
         * rest, so the guest must not put DMA buffers there: reserved. */
        bool reserve_dtb_window;
} VmLayout;

/* Computes the layout for spec and a probed kernel. have_boot_context says
 * whether the backend can set the boot PC (SET_BOOT_CONTEXT): without it
 * (A14 / the open-source RM) the entry must be the RAM base, and a kernel
 * whose entry is elsewhere is refused with an explanation. Returns -EINVAL
 * or -ENOSPC (something did not fit; the message says what and by how much),
 * message in errbuf (may be NULL). */
int vm_layout_compute(const VmSpec *spec, const VmImageInfo *kernel, uint64_t initrd_size,
                      bool have_boot_context, VmLayout *ret, char *errbuf, size_t errlen);

/* Transport i (< vm_spec_n_transports(spec)) as vm_layout_compute() places
 * it: it depends on the spec alone (a new daemon finds a running VM's
 * devices by it, vm-adopt.h). */
void vm_layout_transport(const VmSpec *spec, uint32_t i, VmLayoutDevice *ret);

/* Checks that a DTB of blob_size bytes fits the layout's window with the
 * room the RM needs for its overlay (window >= 2 * blob). -ENOSPC if not. */
int vm_layout_check_dtb(const VmLayout *layout, uint64_t blob_size, char *errbuf, size_t errlen);
