/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The boot images: the one-call boot preparation shared by the daemon,
 * gunyahctl and the simulator tests: spec -> kernel/initrd files -> probe ->
 * layout -> DTB -> everything copied into guest RAM.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "layout.h"
#include "vm-spec.h"

/* Room for an error message from the functions below. */
#define VM_BOOT_ERROR_MAX 512u

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

/* Copies kernel, initrd and DTB into ram, a host mapping of guest RAM from
 * layout.ram_base: all of it (ram_size == layout.ram_size), or only the part
 * below the swiotlb pool (ram_size == layout.ram_size - layout.swiotlb_size,
 * the memory lent when there is a pool). */
int vm_boot_images_load(const VmBootImages *b, void *ram, uint64_t ram_size,
                        char *errbuf, size_t errlen);

/* The one call: prepare from the spec's files and load into ram (a host
 * mapping of guest RAM of ram_size bytes at spec->memory.base). On success
 * *ret_layout tells where the DTB (x0, SET_DTB_CONFIG) and entry (PC) are. */
int vm_guest_prepare(const VmSpec *spec, void *ram, uint64_t ram_size, bool have_boot_context,
                     VmLayout *ret_layout, char *errbuf, size_t errlen);
