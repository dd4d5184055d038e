/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/ioctl.h>

#include "hv-ioctl.h"
#include "macro.h"

int gh_u17_map_flags(HvMemAccess access, uint32_t prot, uint32_t *ret_flags) {
        uint32_t f;

        switch (access) {
        case HV_MEM_LEND:
                f = GUNYAH_MEM_FORCE_LEND;
                break;
        case HV_MEM_SHARE:
                f = GUNYAH_MEM_FORCE_SHARE;
                break;
        default:
                return -EINVAL;
        }
        if (prot == 0 || (prot & ~HV_PROT_RWX))
                return -EINVAL;
        if (prot & HV_PROT_READ)
                f |= GUNYAH_MEM_ALLOW_READ;
        if (prot & HV_PROT_WRITE)
                f |= GUNYAH_MEM_ALLOW_WRITE;
        if (prot & HV_PROT_EXEC)
                f |= GUNYAH_MEM_ALLOW_EXEC;
        *ret_flags = f;
        return 0;
}

int gh_a14_mem_flags(uint32_t prot, uint32_t *ret_flags) {
        uint32_t f = 0;

        if (prot == 0 || (prot & ~HV_PROT_RWX))
                return -EINVAL;
        if (prot & HV_PROT_READ)
                f |= GH_MEM_ALLOW_READ;
        if (prot & HV_PROT_WRITE)
                f |= GH_MEM_ALLOW_WRITE;
        if (prot & HV_PROT_EXEC)
                f |= GH_MEM_ALLOW_EXEC;
        *ret_flags = f;
        return 0;
}

static int do_ioctl(int fd, uint32_t request, const void *arg) {
        int r = ioctl(fd, (unsigned long) request, arg);
        return r < 0 ? negative_errno() : r;
}

/* _IO requests whose argument is an integer, not a pointer. */
static int do_ioctl_int(int fd, uint32_t request, unsigned long arg) {
        int r = ioctl(fd, (unsigned long) request, arg);
        return r < 0 ? negative_errno() : r;
}

int gh_ioctl_create_vm(int dev_fd) {
        return do_ioctl_int(dev_fd, GUNYAH_CREATE_VM, 0); /* the argument must be 0 */
}

int gh_ioctl_create_guest_mem(int dev_fd, const struct gunyah_create_mem_args *args) {
        return do_ioctl(dev_fd, GUNYAH_CREATE_GUEST_MEM, args);
}

int gh_ioctl_android_tentative_uapi(int dev_fd) {
        return do_ioctl_int(dev_fd, GH_ANDROID_TENTATIVE_UAPI, 0);
}

int gh_ioctl_vendor_create_vm(int dev_fd) {
        return do_ioctl_int(dev_fd, GH_VENDOR_CREATE_VM, 0);
}

int gh_ioctl_map_mem(int vm_fd, const struct gunyah_map_mem_args *args) {
        return do_ioctl(vm_fd, GUNYAH_VM_MAP_MEM, args);
}

int gh_ioctl_unmap_mem(int vm_fd, const struct gunyah_map_mem_args *args) {
        struct gunyah_map_mem_args a = *args;

        a.flags |= GUNYAH_MEM_UNMAP;
        return do_ioctl(vm_fd, GUNYAH_VM_MAP_MEM, &a);
}

int gh_ioctl_set_user_mem_region(int vm_fd, const struct gunyah_userspace_memory_region *region) {
        return do_ioctl(vm_fd, GH_VM_SET_USER_MEM_REGION, region);
}

int gh_ioctl_android_lend_user_mem(int vm_fd, const struct gunyah_userspace_memory_region *region) {
        return do_ioctl(vm_fd, GH_VM_ANDROID_LEND_USER_MEM, region);
}

int gh_ioctl_set_dtb_config(int vm_fd, const struct gunyah_vm_dtb_config *cfg) {
        return do_ioctl(vm_fd, GUNYAH_VM_SET_DTB_CONFIG, cfg);
}

int gh_ioctl_set_boot_context(int vm_fd, const struct gunyah_vm_boot_context *ctx) {
        return do_ioctl(vm_fd, GUNYAH_VM_SET_BOOT_CONTEXT, ctx);
}

int gh_ioctl_set_boot_reg(int vm_fd, enum gunyah_vm_boot_context_reg set, uint32_t index, uint64_t value) {
        struct gunyah_vm_boot_context ctx = {
                .reg = GUNYAH_VM_BOOT_CONTEXT_REG(set, index),
                .value = value,
        };
        return gh_ioctl_set_boot_context(vm_fd, &ctx);
}

int gh_ioctl_add_function(int vm_fd, const struct gunyah_fn_desc *desc) {
        return do_ioctl(vm_fd, GUNYAH_VM_ADD_FUNCTION, desc);
}

int gh_ioctl_remove_function(int vm_fd, const struct gunyah_fn_desc *desc) {
        return do_ioctl(vm_fd, GUNYAH_VM_REMOVE_FUNCTION, desc);
}

static int fn(int vm_fd, uint32_t request, uint32_t type, const void *arg, uint32_t size) {
        struct gunyah_fn_desc desc = {
                .type = type,
                .arg_size = size,
                .arg = (uint64_t) (uintptr_t) arg,
        };
        return do_ioctl(vm_fd, request, &desc);
}

static int add_fn(int vm_fd, uint32_t type, const void *arg, uint32_t size) {
        return fn(vm_fd, GUNYAH_VM_ADD_FUNCTION, type, arg, size);
}

int gh_ioctl_add_vcpu(int vm_fd, uint32_t id) {
        struct gunyah_fn_vcpu_arg arg = { .id = id };
        return add_fn(vm_fd, GUNYAH_FN_VCPU, &arg, sizeof(arg));
}

int gh_ioctl_add_irqfd(int vm_fd, const struct gunyah_fn_irqfd_arg *arg) {
        return add_fn(vm_fd, GUNYAH_FN_IRQFD, arg, sizeof(*arg));
}

int gh_ioctl_add_ioeventfd(int vm_fd, const struct gunyah_fn_ioeventfd_arg *arg) {
        return add_fn(vm_fd, GUNYAH_FN_IOEVENTFD, arg, sizeof(*arg));
}

int gh_ioctl_remove_irqfd(int vm_fd, const struct gunyah_fn_irqfd_arg *arg) {
        return fn(vm_fd, GUNYAH_VM_REMOVE_FUNCTION, GUNYAH_FN_IRQFD, arg, sizeof(*arg));
}

int gh_ioctl_remove_ioeventfd(int vm_fd, const struct gunyah_fn_ioeventfd_arg *arg) {
        return fn(vm_fd, GUNYAH_VM_REMOVE_FUNCTION, GUNYAH_FN_IOEVENTFD, arg, sizeof(*arg));
}

int gh_ioctl_start(int vm_fd) {
        return do_ioctl_int(vm_fd, GUNYAH_VM_START, 0);
}

int gh_ioctl_vcpu_mmap_size(int vcpu_fd) {
        return do_ioctl_int(vcpu_fd, GUNYAH_VCPU_MMAP_SIZE, 0);
}

int gh_ioctl_vcpu_run(int vcpu_fd) {
        return do_ioctl_int(vcpu_fd, GUNYAH_VCPU_RUN, 0);
}
