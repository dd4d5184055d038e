/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The guest devicetree (design §7, vmm-on-gunyah §1): what Linux needs to
 * boot plus the /gunyah-vm-config node the Resource Manager reads.
 */

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "vm-spec.h"

/* The GIC node's phandle; root interrupt-parent and gunyah-vm-config
 * interrupts/config point to it. */
#define VM_DTB_GIC_PHANDLE 1u
#define VM_DTB_CLOCK_PHANDLE 2u
#define VM_DTB_GPIO_PHANDLE 3u
#define VM_DTB_SWIOTLB_PHANDLE 4u /* the restricted-dma-pool, memory-region of every virtio node */
#define VM_DTB_SWIOTLB_ALIGN 0x10000u /* its alignment property: 64 KiB, as crosvm */
#define VM_DTB_KEY_POWER 116u /* linux,code of KEY_POWER */
#define VM_DTB_PL011_CLOCK_HZ 24000000u

/* Builds the packed DTB for spec laid out as layout. *ret_blob is malloc()ed.
 * -ENOMEM, or -EINVAL if libfdt refuses (should not happen). */
int vm_dtb_build(const VmSpec *spec, const VmLayout *layout, void **ret_blob, size_t *ret_size);
