/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The guest devicetree (design §7, vmm-on-gunyah §1): what Linux needs to
 * boot plus the /gunyah-vm-config node the Resource Manager reads. Also the
 * one-call boot preparation shared by the daemon, gunyahctl and the
 * simulator tests: spec -> kernel/initrd files -> probe -> layout -> DTB ->
 * everything copied into guest RAM.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "layout.h"
#include "vm-spec.h"

/* The GIC node's phandle; root interrupt-parent and gunyah-vm-config
 * interrupts/config point to it. */
#define VM_DTB_GIC_PHANDLE 1u
#define VM_DTB_CLOCK_PHANDLE 2u
#define VM_DTB_GPIO_PHANDLE 3u
#define VM_DTB_KEY_POWER 116u /* linux,code of KEY_POWER */
#define VM_DTB_PL011_CLOCK_HZ 24000000u

#define VM_BOOT_ERROR_MAX 512u

/* Builds the packed DTB for spec laid out as layout. *ret_blob is malloc()ed.
 * -ENOMEM, or -EINVAL if libfdt refuses (should not happen). */
int vm_dtb_build(const VmSpec *spec, const VmLayout *layout, void **ret_blob, size_t *ret_size);

/* Everything a boot needs, in host memory, before guest RAM exists. */
typedef struct VmBootImages {
        void *kernel;
        size_t kernel_size;
        VmImageInfo kernel_info;
        void *initrd; /* NULL without an initrd */
        size_t initrd_size;
        VmLayout layout;
        void *dtb;
        size_t dtb_size;
} VmBootImages;

VmBootImages *vm_boot_images_free(VmBootImages *b);
static inline void vm_boot_images_freep(VmBootImages **b) {
        if (*b)
                vm_boot_images_free(*b);
}

/* Reads spec->kernel.path and spec->initrd, probes the kernel, computes the
 * layout and builds the DTB, exactly as the daemon boots the VM. Errors are
 * -errno with a message in errbuf naming the file or rule. */
int vm_boot_images_prepare(const VmSpec *spec, bool have_boot_context,
                           VmBootImages **ret, char *errbuf, size_t errlen);

/* Same, from kernel/initrd contents already in memory (initrd may be NULL). */
int vm_boot_images_prepare_from_memory(const VmSpec *spec, const void *kernel, size_t kernel_size,
                                       const void *initrd, size_t initrd_size, bool have_boot_context,
                                       VmBootImages **ret, char *errbuf, size_t errlen);

/* Copies kernel, initrd and DTB into ram, a host mapping of the whole guest
 * RAM (layout.ram_base .. + layout.ram_size; ram_size must match). */
int vm_boot_images_load(const VmBootImages *b, void *ram, uint64_t ram_size,
                        char *errbuf, size_t errlen);

/* The one call: prepare from the spec's files and load into ram (a host
 * mapping of guest RAM of ram_size bytes at spec->memory.base). On success
 * *ret_layout tells where the DTB (x0, SET_DTB_CONFIG) and entry (PC) are. */
int vm_guest_prepare(const VmSpec *spec, void *ram, uint64_t ram_size, bool have_boot_context,
                     VmLayout *ret_layout, char *errbuf, size_t errlen);
