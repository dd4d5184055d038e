/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The /dev/gunyah userspace ABI, written from ../shared/spec/gunyah-abi.md.
 *
 * Two generations are described:
 *   U17: LKML v15-v17 (guest_memfd + GUNYAH_VM_MAP_MEM, boot context, page-fault exit)
 *   A14: android14-6.1 GKI (user memory regions, GH_VM_ANDROID_LEND_USER_MEM)
 *
 * Which one a kernel speaks is decided at run time by abi-probe.c, never by
 * which of these definitions was compiled. The map-flag bit layouts differ
 * between generations (and A15 differs again): each generation has its own
 * constants here, none is "the" layout.
 *
 * ioctl numbers use the asm-generic encoding that arm64 uses, computed by our
 * own macros so that the numbers do not depend on the build host's headers.
 */

#include <stddef.h>
#include <stdint.h>

/* asm-generic: dir<<30 | size<<16 | type<<8 | nr; _IO dir 0, _IOW dir 1 */
#define GH_IOC(dir, type, nr, size) \
        ((uint32_t) (((uint32_t) (dir) << 30) | ((uint32_t) (size) << 16) | ((uint32_t) (type) << 8) | (uint32_t) (nr)))
#define GH_IO(type, nr) GH_IOC(0u, (type), (nr), 0u)
#define GH_IOW(type, nr, sz) GH_IOC(1u, (type), (nr), (sz))

#define GUNYAH_IOCTL_TYPE 'G'
#define GH_ANDROID_IOCTL_TYPE 'A'
#define GH_VENDOR_IOCTL_TYPE 0xB2

/* ---- Structures common to A14 and U17 (spec §3.1) ---- */

struct gunyah_userspace_memory_region {
        uint32_t label;
        uint32_t flags;
        uint64_t guest_phys_addr;
        uint64_t memory_size;
        uint64_t userspace_addr;
};

struct gunyah_vm_dtb_config {
        uint64_t guest_phys_addr;
        uint64_t size;
};

struct gunyah_fn_desc {
        uint32_t type;
        uint32_t arg_size;
        uint64_t arg; /* user pointer to the per-type argument */
};

struct gunyah_fn_vcpu_arg {
        uint32_t id;
};

struct gunyah_fn_irqfd_arg {
        uint32_t fd;
        uint32_t label;
        uint32_t flags;
        uint32_t padding;
};

struct gunyah_fn_ioeventfd_arg {
        uint64_t datamatch;
        uint64_t addr;
        uint32_t len;
        int32_t fd;
        uint32_t flags;
        uint32_t padding;
};

struct gunyah_vm_firmware_config {
        uint64_t guest_phys_addr;
        uint64_t size;
};

#define GUNYAH_VM_MAX_EXIT_REASON_SIZE 8u

struct gunyah_vm_exit_info {
        uint16_t type;
        uint16_t padding;
        uint32_t reason_size;
        uint8_t reason[GUNYAH_VM_MAX_EXIT_REASON_SIZE];
};

/* ---- U17-only structures (spec §3.2) ---- */

struct gunyah_create_mem_args {
        uint64_t flags;
        uint64_t size;
        uint64_t reserved[6];
};

struct gunyah_map_mem_args {
        uint64_t guest_addr;
        uint32_t flags;
        uint32_t guest_mem_fd;
        uint64_t offset;
        uint64_t size;
};

struct gunyah_vm_boot_context {
        uint32_t reg;
        uint32_t reserved;
        uint64_t value;
};

/* ---- vCPU run block (spec §3.3), 40 bytes at mmap offset 0 ---- */

enum gunyah_vm_status {
        GUNYAH_VM_STATUS_LOAD_FAILED = 1,
        GUNYAH_VM_STATUS_EXITED = 2,
        GUNYAH_VM_STATUS_CRASHED = 3,
};

enum gunyah_vcpu_exit {
        GUNYAH_VCPU_EXIT_UNKNOWN = 0,
        GUNYAH_VCPU_EXIT_MMIO = 1,
        GUNYAH_VCPU_EXIT_STATUS = 2,
        GUNYAH_VCPU_EXIT_PAGE_FAULT = 3, /* U17 (and A15) only */
};

enum gunyah_vcpu_resume_action {
        GUNYAH_VCPU_RESUME_HANDLED = 0,
        GUNYAH_VCPU_RESUME_FAULT = 1,
        GUNYAH_VCPU_RESUME_RETRY = 2,
};

struct gunyah_vcpu_run {
        uint8_t immediate_exit;
        uint8_t padding[7];
        uint32_t exit_reason;
        union {
                struct {
                        uint64_t phys_addr;
                        uint8_t data[8];
                        uint32_t len;
                        uint8_t is_write;
                        uint8_t resume_action; /* U17 only; A14 has padding here */
                } mmio;
                struct {
                        uint32_t status; /* enum gunyah_vm_status */
                        struct gunyah_vm_exit_info exit_info;
                } status;
                struct {
                        uint64_t phys_addr;
                        int32_t attempt;
                        uint8_t resume_action;
                } page_fault;
        };
};

/* ---- Flags and enums (spec §3.4) ---- */

/* A14 (and U8/A15) SET_USER_MEM_REGION / LEND flags */
#define GH_MEM_ALLOW_READ 0x1u
#define GH_MEM_ALLOW_WRITE 0x2u
#define GH_MEM_ALLOW_EXEC 0x4u
#define GH_MEM_ALLOW_RWX 0x7u

/* U17 enum gunyah_map_flags: access field in bits 0-2, permissions in 4-6 */
#define GUNYAH_MEM_DEFAULT_ACCESS 0x0u
#define GUNYAH_MEM_FORCE_LEND 0x1u
#define GUNYAH_MEM_FORCE_SHARE 0x2u
#define GUNYAH_MEM_ACCESS_MASK 0x7u
#define GUNYAH_MEM_ALLOW_READ 0x10u
#define GUNYAH_MEM_ALLOW_WRITE 0x20u
#define GUNYAH_MEM_ALLOW_EXEC 0x40u
#define GUNYAH_MEM_ALLOW_RWX 0x70u
#define GUNYAH_MEM_UNMAP 0x100u

/* U17 guest_memfd creation flags */
#define GHMF_CLOEXEC 0x1ull
#define GHMF_ALLOW_HUGEPAGE 0x2ull

enum gunyah_fn_type {
        GUNYAH_FN_VCPU = 1,
        GUNYAH_FN_IRQFD = 2,
        GUNYAH_FN_IOEVENTFD = 3,
};
#define GUNYAH_FN_MAX_ARG_SIZE 256u

#define GUNYAH_IRQFD_FLAGS_LEVEL 0x1u
#define GUNYAH_IOEVENTFD_FLAGS_DATAMATCH 0x1u

/* A14 (android14-6.1) names of the same functions, numbered from its own
 * header; its struct gh_fn_desc, gh_fn_irqfd_arg and gh_fn_ioeventfd_arg
 * have the layouts of the gunyah_ structures above. The flags are values,
 * not bit numbers: crosvm's 1 << GH_IOEVENTFD_DATAMATCH (0x2) is refused
 * with EINVAL (spec §9). */
#define GH_FN_VCPU 1u
#define GH_FN_IRQFD 2u
#define GH_FN_IOEVENTFD 3u
#define GH_IRQFD_LEVEL 0x1u
#define GH_IOEVENTFD_DATAMATCH 0x1u

/* Boot context register encoding: (reg_set << 8) | index */
enum gunyah_vm_boot_context_reg {
        GUNYAH_VM_BOOT_CONTEXT_REG_SET_X = 0,  /* index 0-31 */
        GUNYAH_VM_BOOT_CONTEXT_REG_SET_PC = 1, /* index 0 */
        GUNYAH_VM_BOOT_CONTEXT_REG_SET_SP = 2, /* index 0-2 */
};
#define GUNYAH_VM_BOOT_CONTEXT_REG(set, idx) ((((uint32_t) (set) & 0xffu) << 8) | ((uint32_t) (idx) & 0xffu))

/* exit_info.type: the Resource Manager's VM-exit type, passed through */
enum gunyah_vm_exit_type {
        GUNYAH_VM_EXIT_TYPE_VM_EXIT = 0,
        GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF = 1,
        GUNYAH_VM_EXIT_TYPE_PSCI_SYSTEM_RESET = 2,
        GUNYAH_VM_EXIT_TYPE_PSCI_SYSTEM_RESET2 = 3,
        GUNYAH_VM_EXIT_TYPE_WDT_BITE = 4,
        GUNYAH_VM_EXIT_TYPE_HYP_ERROR = 5,
        GUNYAH_VM_EXIT_TYPE_ASYNC_EXT_ABORT = 6,
        GUNYAH_VM_EXIT_TYPE_VM_FORCE_STOPPED = 7,
};

/* ---- ioctl numbers (spec §2) ---- */

/* on /dev/gunyah */
#define GUNYAH_CREATE_VM GH_IO(GUNYAH_IOCTL_TYPE, 0x00)
#define GUNYAH_CREATE_GUEST_MEM GH_IOW(GUNYAH_IOCTL_TYPE, 0x08, sizeof(struct gunyah_create_mem_args))
#define GH_ANDROID_TENTATIVE_UAPI GH_IO(GH_ANDROID_IOCTL_TYPE, 0x10)

/* on a VM fd */
#define GH_VM_SET_USER_MEM_REGION GH_IOW(GUNYAH_IOCTL_TYPE, 0x01, sizeof(struct gunyah_userspace_memory_region))
#define GUNYAH_VM_SET_DTB_CONFIG GH_IOW(GUNYAH_IOCTL_TYPE, 0x02, sizeof(struct gunyah_vm_dtb_config))
#define GUNYAH_VM_START GH_IO(GUNYAH_IOCTL_TYPE, 0x03)
#define GUNYAH_VM_ADD_FUNCTION GH_IOW(GUNYAH_IOCTL_TYPE, 0x04, sizeof(struct gunyah_fn_desc))
#define GUNYAH_VM_REMOVE_FUNCTION GH_IOW(GUNYAH_IOCTL_TYPE, 0x07, sizeof(struct gunyah_fn_desc))
#define GH_VM_ADD_FUNCTION GH_IOW(GUNYAH_IOCTL_TYPE, 4, sizeof(struct gunyah_fn_desc))    /* A14 name */
#define GH_VM_REMOVE_FUNCTION GH_IOW(GUNYAH_IOCTL_TYPE, 7, sizeof(struct gunyah_fn_desc)) /* A14 name */
#define GUNYAH_VM_MAP_MEM GH_IOW(GUNYAH_IOCTL_TYPE, 0x09, sizeof(struct gunyah_map_mem_args))
#define GUNYAH_VM_SET_BOOT_CONTEXT GH_IOW(GUNYAH_IOCTL_TYPE, 0x0a, sizeof(struct gunyah_vm_boot_context))
#define GH_VM_ANDROID_LEND_USER_MEM GH_IOW(GH_ANDROID_IOCTL_TYPE, 0x11, sizeof(struct gunyah_userspace_memory_region))
#define GH_VM_ANDROID_SET_FW_CONFIG GH_IOW(GH_ANDROID_IOCTL_TYPE, 0x12, sizeof(struct gunyah_vm_firmware_config))

/* on a vCPU fd */
#define GUNYAH_VCPU_RUN GH_IO(GUNYAH_IOCTL_TYPE, 0x05)
#define GUNYAH_VCPU_MMAP_SIZE GH_IO(GUNYAH_IOCTL_TYPE, 0x06)

/* Qualcomm vendor ABI (0xB2), detected only to be refused */
#define GH_VENDOR_CREATE_VM GH_IO(GH_VENDOR_IOCTL_TYPE, 0x01)

/* ---- Layout checks: every size and the offsets in the spec's tables ---- */

#define GH_ASSERT_SIZE(type, n) _Static_assert(sizeof(type) == (n), #type " must be " #n " bytes")
#define GH_ASSERT_OFFSET(type, field, n) \
        _Static_assert(offsetof(type, field) == (n), #type "." #field " must be at offset " #n)

GH_ASSERT_SIZE(struct gunyah_userspace_memory_region, 32);
GH_ASSERT_OFFSET(struct gunyah_userspace_memory_region, label, 0);
GH_ASSERT_OFFSET(struct gunyah_userspace_memory_region, flags, 4);
GH_ASSERT_OFFSET(struct gunyah_userspace_memory_region, guest_phys_addr, 8);
GH_ASSERT_OFFSET(struct gunyah_userspace_memory_region, memory_size, 16);
GH_ASSERT_OFFSET(struct gunyah_userspace_memory_region, userspace_addr, 24);

GH_ASSERT_SIZE(struct gunyah_vm_dtb_config, 16);
GH_ASSERT_OFFSET(struct gunyah_vm_dtb_config, guest_phys_addr, 0);
GH_ASSERT_OFFSET(struct gunyah_vm_dtb_config, size, 8);

GH_ASSERT_SIZE(struct gunyah_fn_desc, 16);
GH_ASSERT_OFFSET(struct gunyah_fn_desc, type, 0);
GH_ASSERT_OFFSET(struct gunyah_fn_desc, arg_size, 4);
GH_ASSERT_OFFSET(struct gunyah_fn_desc, arg, 8);

GH_ASSERT_SIZE(struct gunyah_fn_vcpu_arg, 4);

GH_ASSERT_SIZE(struct gunyah_fn_irqfd_arg, 16);
GH_ASSERT_OFFSET(struct gunyah_fn_irqfd_arg, fd, 0);
GH_ASSERT_OFFSET(struct gunyah_fn_irqfd_arg, label, 4);
GH_ASSERT_OFFSET(struct gunyah_fn_irqfd_arg, flags, 8);
GH_ASSERT_OFFSET(struct gunyah_fn_irqfd_arg, padding, 12);

GH_ASSERT_SIZE(struct gunyah_fn_ioeventfd_arg, 32);
GH_ASSERT_OFFSET(struct gunyah_fn_ioeventfd_arg, datamatch, 0);
GH_ASSERT_OFFSET(struct gunyah_fn_ioeventfd_arg, addr, 8);
GH_ASSERT_OFFSET(struct gunyah_fn_ioeventfd_arg, len, 16);
GH_ASSERT_OFFSET(struct gunyah_fn_ioeventfd_arg, fd, 20);
GH_ASSERT_OFFSET(struct gunyah_fn_ioeventfd_arg, flags, 24);
GH_ASSERT_OFFSET(struct gunyah_fn_ioeventfd_arg, padding, 28);

GH_ASSERT_SIZE(struct gunyah_vm_firmware_config, 16);

GH_ASSERT_SIZE(struct gunyah_vm_exit_info, 16);
GH_ASSERT_OFFSET(struct gunyah_vm_exit_info, type, 0);
GH_ASSERT_OFFSET(struct gunyah_vm_exit_info, padding, 2);
GH_ASSERT_OFFSET(struct gunyah_vm_exit_info, reason_size, 4);
GH_ASSERT_OFFSET(struct gunyah_vm_exit_info, reason, 8);

GH_ASSERT_SIZE(struct gunyah_create_mem_args, 64);
GH_ASSERT_OFFSET(struct gunyah_create_mem_args, flags, 0);
GH_ASSERT_OFFSET(struct gunyah_create_mem_args, size, 8);
GH_ASSERT_OFFSET(struct gunyah_create_mem_args, reserved, 16);

GH_ASSERT_SIZE(struct gunyah_map_mem_args, 32);
GH_ASSERT_OFFSET(struct gunyah_map_mem_args, guest_addr, 0);
GH_ASSERT_OFFSET(struct gunyah_map_mem_args, flags, 8);
GH_ASSERT_OFFSET(struct gunyah_map_mem_args, guest_mem_fd, 12);
GH_ASSERT_OFFSET(struct gunyah_map_mem_args, offset, 16);
GH_ASSERT_OFFSET(struct gunyah_map_mem_args, size, 24);

GH_ASSERT_SIZE(struct gunyah_vm_boot_context, 16);
GH_ASSERT_OFFSET(struct gunyah_vm_boot_context, reg, 0);
GH_ASSERT_OFFSET(struct gunyah_vm_boot_context, reserved, 4);
GH_ASSERT_OFFSET(struct gunyah_vm_boot_context, value, 8);

GH_ASSERT_SIZE(struct gunyah_vcpu_run, 40);
GH_ASSERT_OFFSET(struct gunyah_vcpu_run, immediate_exit, 0);
GH_ASSERT_OFFSET(struct gunyah_vcpu_run, padding, 1);
GH_ASSERT_OFFSET(struct gunyah_vcpu_run, exit_reason, 8);
GH_ASSERT_OFFSET(struct gunyah_vcpu_run, mmio.phys_addr, 16);
GH_ASSERT_OFFSET(struct gunyah_vcpu_run, mmio.data, 24);
GH_ASSERT_OFFSET(struct gunyah_vcpu_run, mmio.len, 32);
GH_ASSERT_OFFSET(struct gunyah_vcpu_run, mmio.is_write, 36);
GH_ASSERT_OFFSET(struct gunyah_vcpu_run, mmio.resume_action, 37);
GH_ASSERT_OFFSET(struct gunyah_vcpu_run, status.status, 16);
GH_ASSERT_OFFSET(struct gunyah_vcpu_run, status.exit_info, 20);
GH_ASSERT_OFFSET(struct gunyah_vcpu_run, page_fault.phys_addr, 16);
GH_ASSERT_OFFSET(struct gunyah_vcpu_run, page_fault.attempt, 24);
GH_ASSERT_OFFSET(struct gunyah_vcpu_run, page_fault.resume_action, 28);

/* The ioctl numbers as the spec's table lists them. */
_Static_assert(GUNYAH_CREATE_VM == 0x00004700u, "CREATE_VM");
_Static_assert(GUNYAH_CREATE_GUEST_MEM == 0x40404708u, "CREATE_GUEST_MEM");
_Static_assert(GH_ANDROID_TENTATIVE_UAPI == 0x00004110u, "ANDROID_TENTATIVE_UAPI");
_Static_assert(GH_VM_SET_USER_MEM_REGION == 0x40204701u, "SET_USER_MEM_REGION");
_Static_assert(GUNYAH_VM_SET_DTB_CONFIG == 0x40104702u, "SET_DTB_CONFIG");
_Static_assert(GUNYAH_VM_START == 0x00004703u, "VM_START");
_Static_assert(GUNYAH_VM_ADD_FUNCTION == 0x40104704u, "ADD_FUNCTION");
_Static_assert(GUNYAH_VM_REMOVE_FUNCTION == 0x40104707u, "REMOVE_FUNCTION");
_Static_assert(GH_VM_ADD_FUNCTION == 0x40104704u, "A14 ADD_FUNCTION");
_Static_assert(GH_VM_REMOVE_FUNCTION == 0x40104707u, "A14 REMOVE_FUNCTION");
/* Function types and flags as both generations' headers number them (spec §1, §3.4). */
_Static_assert(GUNYAH_FN_VCPU == 1 && GUNYAH_FN_IRQFD == 2 && GUNYAH_FN_IOEVENTFD == 3, "U17 function types");
_Static_assert(GH_FN_VCPU == 1 && GH_FN_IRQFD == 2 && GH_FN_IOEVENTFD == 3, "A14 function types");
_Static_assert(GUNYAH_IRQFD_FLAGS_LEVEL == 0x1u && GH_IRQFD_LEVEL == 0x1u, "irqfd LEVEL is bit 0");
_Static_assert(GUNYAH_IOEVENTFD_FLAGS_DATAMATCH == 0x1u && GH_IOEVENTFD_DATAMATCH == 0x1u,
               "ioeventfd DATAMATCH is bit 0, not 1 << 1");
_Static_assert(GUNYAH_VM_MAP_MEM == 0x40204709u, "MAP_MEM");
_Static_assert(GUNYAH_VM_SET_BOOT_CONTEXT == 0x4010470au, "SET_BOOT_CONTEXT");
_Static_assert(GH_VM_ANDROID_LEND_USER_MEM == 0x40204111u, "ANDROID_LEND_USER_MEM");
_Static_assert(GH_VM_ANDROID_SET_FW_CONFIG == 0x40104112u, "ANDROID_SET_FW_CONFIG");
_Static_assert(GUNYAH_VCPU_RUN == 0x00004705u, "VCPU_RUN");
_Static_assert(GUNYAH_VCPU_MMAP_SIZE == 0x00004706u, "VCPU_MMAP_SIZE");
_Static_assert(GH_VENDOR_CREATE_VM == 0x0000b201u, "vendor CREATE_VM");
