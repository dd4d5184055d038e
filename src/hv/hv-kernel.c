/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel backend: HvBackendOps on /dev/gunyah (design §3).
 *
 * U17: guest memory is a guest_memfd (CREATE_GUEST_MEM) bound with
 * MAP_MEM (lend or share, U17 flag bits).
 * A14: guest memory is a memfd; binding it maps it into this process and
 * hands the mapping to SET_USER_MEM_REGION (share) or
 * ANDROID_LEND_USER_MEM (lend) with the A14 flag bits and the binding's
 * label. The kernel pins those pages, so the mapping stays until the VM is
 * destroyed. A14 has no boot context: set_boot_context answers -ENOTTY and
 * the caller places the payload at offset 0 of the DTB's region.
 *
 * Where the real driver accepts arguments it should refuse (a MAP_MEM past
 * the end of the guest memory or wrapping, a wrapping DTB range: the table
 * in hv-rules.c), the backend refuses them itself with the model's errno.
 *
 * The ops log only at debug level and return -errno: the daemon logs once
 * with the VM's context. open() is the exception, since refusing an ABI is
 * the backend's own decision and its reason exists only here.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi-probe.h"
#include "hv-ioctl.h"
#include "hv-rules.h"
#include "hv.h"
#include "log.h"
#include "macro.h"

struct HvBackend {
        int dev_fd;
        HvAbi abi;
        bool no_hugepage; /* the kernel refused GHMF_ALLOW_HUGEPAGE once: not asked again */
};

typedef struct HostMapping {
        void *addr;
        size_t size;
} HostMapping;

struct HvVm {
        HvBackend *backend;
        int vm_fd;
        int *vcpu_fds; /* indexed by vCPU id, -EBADF where none */
        size_t n_vcpu_fds;
        HostMapping *mappings; /* A14: host views handed to the kernel */
        size_t n_mappings;
        /* The ioeventfds registered, in the rules' model: the driver takes
         * some the model refuses (hv-rules.c), which only the table shows. */
        GhRulesVm *ioeventfds;
};

struct HvVcpu {
        int fd;
        uint32_t id;
        struct gunyah_vcpu_run *run;
        size_t map_size;
};

/* ---- backend ---- */

static void kernel_close(HvBackend *b) {
        if (!b)
                return;
        safe_close(b->dev_fd);
        free(b);
}

static int kernel_open(const char *path, HvBackend **ret) {
        _cleanup_close_ int fd = -EBADF;
        AbiProbe probe;
        HvBackend *b;
        int r;

        path = path ?: ABI_PROBE_DEFAULT_PATH;
        r = abi_probe(path, &probe);
        if (r < 0)
                return log_error_errno(r, "Failed to probe the Gunyah ABI of %s: %m", path);
        r = abi_probe_to_errno(&probe);
        if (r < 0)
                return log_error_errno(r, "Refusing Gunyah ABI %s: %s", abi_kind_to_string(probe.kind),
                                       probe.reason);
        log_info("Gunyah ABI %s", probe.reason);

        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);

        b = calloc(1, sizeof(*b));
        if (!b)
                return log_oom();
        b->dev_fd = TAKE_FD(fd);
        b->abi = probe.abi;
        *ret = b;
        return 0;
}

static HvAbi kernel_abi(HvBackend *b) {
        return b->abi;
}

/* ---- VM ---- */

static void kernel_vm_destroy(HvVm *vm) {
        if (!vm)
                return;
        /* The kernel destroys the VM once the VM fd and every vCPU fd
         * (ours and the workers') are closed; only then may lent A14 pages
         * be touched again, hence unmapping last. */
        for (size_t i = 0; i < vm->n_vcpu_fds; i++)
                safe_close(vm->vcpu_fds[i]);
        free(vm->vcpu_fds);
        safe_close(vm->vm_fd);
        for (size_t i = 0; i < vm->n_mappings; i++)
                (void) munmap(vm->mappings[i].addr, vm->mappings[i].size);
        free(vm->mappings);
        free(vm->ioeventfds);
        free(vm);
}

/* Our fds closed as at destroy: the workers' vCPU fds keep the VM (U17;
 * hv_vm_outlives_handle() says where that holds). */
static void kernel_vm_release(HvVm *vm) {
        kernel_vm_destroy(vm);
}

static int kernel_vm_create(HvBackend *b, HvVm **ret) {
        _cleanup_close_ int fd = -EBADF;
        HvVm *vm;

        fd = gh_ioctl_create_vm(b->dev_fd);
        if (fd < 0)
                return log_debug_errno(fd, "GUNYAH_CREATE_VM failed: %m");

        vm = calloc(1, sizeof(*vm));
        if (!vm)
                return log_oom();
        vm->backend = b;
        vm->vm_fd = TAKE_FD(fd);
        *ret = vm;
        return 0;
}

static int a14_memfd_create(uint64_t size) {
        _cleanup_close_ int fd = -EBADF;

        if (size > (uint64_t) INT64_MAX)
                return -EFBIG;
        fd = memfd_create("gunyah-guest-mem", MFD_CLOEXEC);
        if (fd < 0)
                return log_debug_errno(errno, "memfd_create failed: %m");
        if (ftruncate(fd, (off_t) size) < 0)
                return log_debug_errno(errno, "Failed to size guest memory to %" PRIu64 " bytes: %m", size);
        return TAKE_FD(fd);
}

/* Hugepage memory where the kernel has it: without, a real stack lent a
 * 64 MiB VM in 16384 entries and its START did not finish in ten minutes. */
static int u17_guest_mem_create(HvBackend *b, uint64_t size) {
        struct gunyah_create_mem_args args = { .flags = hv_guest_mem_flags(size), .size = size };
        int fd;

        if (b->no_hugepage)
                args.flags &= ~(uint64_t) GHMF_ALLOW_HUGEPAGE;
        fd = gh_ioctl_create_guest_mem(b->dev_fd, &args);
        if (fd == -EINVAL && (args.flags & GHMF_ALLOW_HUGEPAGE)) {
                log_info("Gunyah refused hugepage guest memory (EINVAL), using 4 KiB pages: "
                         "starting large VMs will be slow");
                b->no_hugepage = true;
                args.flags &= ~(uint64_t) GHMF_ALLOW_HUGEPAGE;
                fd = gh_ioctl_create_guest_mem(b->dev_fd, &args);
        }
        return fd;
}

static int kernel_guest_mem_create(HvVm *vm, uint64_t size, int *ret_fd) {
        int fd;

        if (vm->backend->abi == HV_ABI_A14)
                fd = a14_memfd_create(size);
        else
                fd = u17_guest_mem_create(vm->backend, size);
        if (fd < 0)
                return log_debug_errno(fd, "Failed to create %" PRIu64 " bytes of guest memory: %m", size);
        *ret_fd = fd;
        return 0;
}

static int u17_map(HvVm *vm, const HvMemBinding *m, bool unmap) {
        struct gunyah_map_mem_args args = {
                .guest_addr = m->guest_addr,
                .guest_mem_fd = (uint32_t) m->guest_mem_fd,
                .offset = m->offset,
                .size = m->size,
        };
        struct stat st;
        int r;

        r = gh_u17_map_flags(m->access, m->prot, &args.flags);
        if (r < 0)
                return r;
        /* The driver would accept a range no page can back (hv-rules.c). */
        if (fstat(m->guest_mem_fd, &st) < 0)
                return -EINVAL; /* not a file: what the kernel answers for a bad guest_mem_fd */
        /* A guest_memfd's size is its i_size; were it ever 0, only the wrap checks apply. */
        r = gh_rules_check_map_range(&args, st.st_size > 0 ? (uint64_t) st.st_size : UINT64_MAX);
        if (r < 0)
                return log_debug_errno(r, "Refusing MAP_MEM of 0x%" PRIx64 "+0x%" PRIx64 " at offset 0x%" PRIx64
                                       " of %" PRIu64 " bytes of guest memory", m->guest_addr, m->size, m->offset,
                                       (uint64_t) st.st_size);
        r = unmap ? gh_ioctl_unmap_mem(vm->vm_fd, &args) : gh_ioctl_map_mem(vm->vm_fd, &args);
        if (r < 0)
                return log_debug_errno(r, "GUNYAH_VM_MAP_MEM%s of 0x%" PRIx64 "+0x%" PRIx64 " failed: %m",
                                       unmap ? " (unmap)" : "", m->guest_addr, m->size);
        return 0;
}

static int a14_map(HvVm *vm, const HvMemBinding *m) {
        struct gunyah_userspace_memory_region region = {
                .label = m->label,
                .guest_phys_addr = m->guest_addr,
                .memory_size = m->size,
        };
        HostMapping *mappings;
        void *addr;
        int r;

        r = gh_a14_mem_flags(m->prot, &region.flags);
        if (r < 0)
                return r;
        if (m->access != HV_MEM_LEND && m->access != HV_MEM_SHARE)
                return -EINVAL;
        if (m->size > SIZE_MAX || m->offset > (uint64_t) INT64_MAX)
                return -EINVAL;

        mappings = reallocarray(vm->mappings, vm->n_mappings + 1, sizeof(*mappings));
        if (!mappings)
                return -ENOMEM;
        vm->mappings = mappings;

        addr = mmap(NULL, (size_t) m->size, PROT_READ | PROT_WRITE, MAP_SHARED, m->guest_mem_fd, (off_t) m->offset);
        if (addr == MAP_FAILED)
                return log_debug_errno(errno, "Failed to map guest memory for region %" PRIu32 ": %m", m->label);
        region.userspace_addr = (uint64_t) (uintptr_t) addr;

        r = m->access == HV_MEM_LEND ? gh_ioctl_android_lend_user_mem(vm->vm_fd, &region)
                                     : gh_ioctl_set_user_mem_region(vm->vm_fd, &region);
        if (r < 0) {
                (void) munmap(addr, (size_t) m->size);
                return log_debug_errno(r, "%s of region %" PRIu32 " failed: %m",
                                       m->access == HV_MEM_LEND ? "GH_VM_ANDROID_LEND_USER_MEM"
                                                                : "GH_VM_SET_USER_MEM_REGION",
                                       m->label);
        }
        vm->mappings[vm->n_mappings++] = (HostMapping) { addr, (size_t) m->size };
        return 0;
}

static int kernel_map_mem(HvVm *vm, const HvMemBinding *binding) {
        if (vm->backend->abi == HV_ABI_A14)
                return a14_map(vm, binding);
        return u17_map(vm, binding, false);
}

static int kernel_unmap_mem(HvVm *vm, const HvMemBinding *binding) {
        /* A14 regions live until the VM is destroyed (v11 dropped removal). */
        if (vm->backend->abi == HV_ABI_A14)
                return -EOPNOTSUPP;
        return u17_map(vm, binding, true);
}

static int kernel_set_dtb_config(HvVm *vm, uint64_t guest_addr, uint64_t size) {
        struct gunyah_vm_dtb_config cfg = { .guest_phys_addr = guest_addr, .size = size };
        int r;

        r = gh_rules_check_dtb_config(&cfg); /* the driver's own check cannot trigger */
        if (r < 0)
                return r;
        return gh_ioctl_set_dtb_config(vm->vm_fd, &cfg);
}

static int kernel_set_boot_context(HvVm *vm, uint32_t reg, uint64_t value) {
        struct gunyah_vm_boot_context ctx = { .reg = reg, .value = value };

        if (vm->backend->abi == HV_ABI_A14)
                return -ENOTTY; /* as the A14 kernel would answer */
        return gh_ioctl_set_boot_context(vm->vm_fd, &ctx);
}

static int kernel_add_vcpu(HvVm *vm, uint32_t id) {
        int fd;

        if (id >= vm->n_vcpu_fds) {
                size_t n = (size_t) id + 1;
                int *fds = reallocarray(vm->vcpu_fds, n, sizeof(int));
                if (!fds)
                        return -ENOMEM;
                for (size_t i = vm->n_vcpu_fds; i < n; i++)
                        fds[i] = -EBADF;
                vm->vcpu_fds = fds;
                vm->n_vcpu_fds = n;
        }

        fd = gh_ioctl_add_vcpu(vm->vm_fd, id);
        if (fd < 0)
                return log_debug_errno(fd, "Adding vCPU %" PRIu32 " failed: %m", id);
        safe_close(vm->vcpu_fds[id]);
        vm->vcpu_fds[id] = fd;
        return 0;
}

static int kernel_irqfd(HvVm *vm, bool add, int eventfd, uint32_t label, uint32_t flags) {
        struct gunyah_fn_irqfd_arg arg = { .fd = (uint32_t) eventfd, .label = label, .flags = flags };
        int r;

        r = add ? gh_ioctl_add_irqfd(vm->vm_fd, &arg) : gh_ioctl_remove_irqfd(vm->vm_fd, &arg);
        if (r < 0)
                return log_debug_errno(r, "%s the irqfd of label %" PRIu32 " failed: %m", add ? "Adding" : "Removing",
                                       label);
        return 0;
}

static int kernel_add_irqfd(HvVm *vm, int eventfd, uint32_t label, uint32_t flags) {
        return kernel_irqfd(vm, true, eventfd, label, flags);
}

static int kernel_remove_irqfd(HvVm *vm, int eventfd, uint32_t label, uint32_t flags) {
        return kernel_irqfd(vm, false, eventfd, label, flags);
}

/* In the kernel's order: arguments, the eventfd, the handler table; what
 * the driver would wrongly accept (a wrapping range, an overlap at another
 * address) is refused here, before the ioctl. */
static int kernel_ioeventfd_add(HvVm *vm, const struct gunyah_fn_ioeventfd_arg *arg,
                                const struct gunyah_fn_desc *desc) {
        int r;

        r = hv_check_eventfd(arg->fd);
        if (r < 0)
                return r;
        if (!vm->ioeventfds) {
                vm->ioeventfds = malloc(sizeof(GhRulesVm));
                if (!vm->ioeventfds)
                        return -ENOMEM;
                gh_rules_vm_init(vm->ioeventfds, 0);
        }
        r = gh_rules_add_function(vm->ioeventfds, desc, arg);
        if (r < 0)
                return r;
        r = gh_ioctl_add_ioeventfd(vm->vm_fd, arg);
        if (r < 0)
                (void) gh_rules_remove_function(vm->ioeventfds, desc, arg);
        return r;
}

static int kernel_ioeventfd_remove(HvVm *vm, const struct gunyah_fn_ioeventfd_arg *arg,
                                   const struct gunyah_fn_desc *desc) {
        int r = gh_ioctl_remove_ioeventfd(vm->vm_fd, arg);

        if (r >= 0 && vm->ioeventfds)
                (void) gh_rules_remove_function(vm->ioeventfds, desc, arg);
        return r;
}

static int kernel_ioeventfd(HvVm *vm, bool add, int eventfd, uint64_t addr, uint32_t len, uint32_t flags,
                            uint64_t datamatch) {
        struct gunyah_fn_ioeventfd_arg arg = {
                .datamatch = datamatch, .addr = addr, .len = len, .fd = eventfd, .flags = flags,
        };
        struct gunyah_fn_desc desc = {
                .type = GUNYAH_FN_IOEVENTFD, .arg_size = sizeof(arg), .arg = (uint64_t) (uintptr_t) &arg,
        };
        int r;

        r = gh_rules_check_function(&desc, &arg);
        if (r >= 0)
                r = add ? kernel_ioeventfd_add(vm, &arg, &desc) : kernel_ioeventfd_remove(vm, &arg, &desc);
        if (r < 0)
                return log_debug_errno(r, "%s the ioeventfd at 0x%" PRIx64 "/%" PRIu32 " failed: %m",
                                       add ? "Adding" : "Removing", addr, len);
        return 0;
}

static int kernel_add_ioeventfd(HvVm *vm, int eventfd, uint64_t addr, uint32_t len, uint32_t flags,
                                uint64_t datamatch) {
        return kernel_ioeventfd(vm, true, eventfd, addr, len, flags, datamatch);
}

static int kernel_remove_ioeventfd(HvVm *vm, int eventfd, uint64_t addr, uint32_t len, uint32_t flags,
                                   uint64_t datamatch) {
        return kernel_ioeventfd(vm, false, eventfd, addr, len, flags, datamatch);
}

static int kernel_start(HvVm *vm) {
        int r = gh_ioctl_start(vm->vm_fd);
        return r < 0 ? r : 0;
}

static int kernel_vcpu_export(HvVm *vm, uint32_t id, int *fds, size_t *n_fds) {
        if (id >= vm->n_vcpu_fds || vm->vcpu_fds[id] < 0)
                return -ENOENT;
        if (*n_fds < 1)
                return -ENOBUFS;
        fds[0] = vm->vcpu_fds[id];
        *n_fds = 1;
        return 0;
}

/* ---- vCPU (worker side) ---- */

static int kernel_vcpu_attach(const int *fds, size_t n_fds, uint32_t id, HvVcpu **ret) {
        HvVcpu *v;
        void *run;
        int size;

        if (n_fds != 1 || fds[0] < 0)
                return -EINVAL;

        size = gh_ioctl_vcpu_mmap_size(fds[0]);
        if (size < 0)
                return log_debug_errno(size, "GUNYAH_VCPU_MMAP_SIZE of vCPU %" PRIu32 " failed: %m", id);
        if ((size_t) size < sizeof(struct gunyah_vcpu_run))
                return log_debug_errno(EPROTO, "vCPU %" PRIu32 " run block of %d bytes is too small", id, size);

        run = mmap(NULL, (size_t) size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
        if (run == MAP_FAILED)
                return log_debug_errno(errno, "Failed to map the run block of vCPU %" PRIu32 ": %m", id);

        v = calloc(1, sizeof(*v));
        if (!v) {
                (void) munmap(run, (size_t) size);
                return -ENOMEM;
        }
        *v = (HvVcpu) { .fd = fds[0], .id = id, .run = run, .map_size = (size_t) size };
        *ret = v;
        return 0;
}

static void kernel_vcpu_detach(HvVcpu *v) {
        if (!v)
                return;
        (void) munmap(v->run, v->map_size);
        safe_close(v->fd);
        free(v);
}

static struct gunyah_vcpu_run *kernel_vcpu_run_block(HvVcpu *v) {
        return v->run;
}

static int kernel_vcpu_run(HvVcpu *v) {
        int r = gh_ioctl_vcpu_run(v->fd);

        /* The kernel checks immediate_exit before each guest entry; a kick
         * is answered by this -EINTR, so clear it for the next run. */
        if (r == -EINTR)
                __atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
        return r < 0 ? r : 0;
}

static void kernel_vcpu_kick(HvVcpu *v) {
        /* a plain store: async-signal-safe; the caller also signals the thread */
        __atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

const HvBackendOps hv_kernel_ops = {
        .name = "kernel",
        .open = kernel_open,
        .close = kernel_close,
        .abi = kernel_abi,
        .vm_create = kernel_vm_create,
        .vm_destroy = kernel_vm_destroy,
        .vm_release = kernel_vm_release,
        .guest_mem_create = kernel_guest_mem_create,
        .map_mem = kernel_map_mem,
        .unmap_mem = kernel_unmap_mem,
        .set_dtb_config = kernel_set_dtb_config,
        .set_boot_context = kernel_set_boot_context,
        .add_vcpu = kernel_add_vcpu,
        .add_irqfd = kernel_add_irqfd,
        .remove_irqfd = kernel_remove_irqfd,
        .add_ioeventfd = kernel_add_ioeventfd,
        .remove_ioeventfd = kernel_remove_ioeventfd,
        .start = kernel_start,
        .vcpu_export = kernel_vcpu_export,
        .vcpu_attach = kernel_vcpu_attach,
        .vcpu_detach = kernel_vcpu_detach,
        .vcpu_run_block = kernel_vcpu_run_block,
        .vcpu_run = kernel_vcpu_run,
        .vcpu_kick = kernel_vcpu_kick,
};
