/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Thin wrappers around the /dev/gunyah ioctls (spec gunyah-abi.md §2), one
 * per ioctl, taking the spec's structures. They add nothing but -errno
 * returns: no logging (the caller knows the context), no retries.
 *
 * The map-flag bit layouts differ between generations (§3.4), so each
 * generation has its own encoder from (HvMemAccess, HV_PROT_*); neither is
 * derived from the other.
 */

#include <stdint.h>

#include "gunyah-abi.h"
#include "hv.h"

/* U17 GUNYAH_VM_MAP_MEM flags: access in bits 0-2 (lend 1, share 2),
 * R/W/X in 0x10/0x20/0x40. -EINVAL for an unknown access, no permission
 * or unknown HV_PROT_* bits. Lend + RWX = 0x71. */
int gh_u17_map_flags(HvMemAccess access, uint32_t prot, uint32_t *ret_flags);

/* A14 SET_USER_MEM_REGION / ANDROID_LEND_USER_MEM flags: R 0x1, W 0x2,
 * X 0x4. Lend vs share is chosen by the ioctl, not by a bit, so only prot
 * is encoded. -EINVAL for no permission or unknown bits. RWX = 0x7. */
int gh_a14_mem_flags(uint32_t prot, uint32_t *ret_flags);

/* on /dev/gunyah */
int gh_ioctl_create_vm(int dev_fd);                                              /* VM fd */
int gh_ioctl_create_guest_mem(int dev_fd, const struct gunyah_create_mem_args *args); /* U17; fd */
int gh_ioctl_android_tentative_uapi(int dev_fd);                                 /* A14, maybe */
int gh_ioctl_vendor_create_vm(int dev_fd);                                       /* 0xB2 ABI; probe only */

/* on a VM fd */
int gh_ioctl_map_mem(int vm_fd, const struct gunyah_map_mem_args *args);        /* U17 */
/* U17: MAP_MEM with GUNYAH_MEM_UNMAP added to args->flags. */
int gh_ioctl_unmap_mem(int vm_fd, const struct gunyah_map_mem_args *args);
int gh_ioctl_set_user_mem_region(int vm_fd, const struct gunyah_userspace_memory_region *region); /* A14 share */
int gh_ioctl_android_lend_user_mem(int vm_fd, const struct gunyah_userspace_memory_region *region); /* A14 lend */
int gh_ioctl_set_dtb_config(int vm_fd, const struct gunyah_vm_dtb_config *cfg);
int gh_ioctl_set_boot_context(int vm_fd, const struct gunyah_vm_boot_context *ctx); /* U17 */
/* Convenience for set_boot_context: reg = GUNYAH_VM_BOOT_CONTEXT_REG(set, index). */
int gh_ioctl_set_boot_reg(int vm_fd, enum gunyah_vm_boot_context_reg set, uint32_t index, uint64_t value);
int gh_ioctl_add_function(int vm_fd, const struct gunyah_fn_desc *desc);        /* vCPU fd, or 0 */
int gh_ioctl_remove_function(int vm_fd, const struct gunyah_fn_desc *desc);
int gh_ioctl_add_vcpu(int vm_fd, uint32_t id);                                   /* vCPU fd */
int gh_ioctl_add_irqfd(int vm_fd, const struct gunyah_fn_irqfd_arg *arg);
int gh_ioctl_add_ioeventfd(int vm_fd, const struct gunyah_fn_ioeventfd_arg *arg);
/* REMOVE_FUNCTION with the argument that was added (early A14 builds memcmp it). */
int gh_ioctl_remove_irqfd(int vm_fd, const struct gunyah_fn_irqfd_arg *arg);
int gh_ioctl_remove_ioeventfd(int vm_fd, const struct gunyah_fn_ioeventfd_arg *arg);
int gh_ioctl_start(int vm_fd);

/* on a vCPU fd */
int gh_ioctl_vcpu_mmap_size(int vcpu_fd); /* bytes to mmap for the run block */
int gh_ioctl_vcpu_run(int vcpu_fd);
