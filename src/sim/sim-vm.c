/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon half of the simulator: what the kernel and the Resource
 * Manager do for the VM fd. Every argument is validated by hv-rules (the
 * U17 kernel's rules, shared with the fake /dev/gunyah of the unit tests),
 * whose bookkeeping lives in the VM's shared state.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "sim-vm.h"

#define SIM_PAGE_SIZE 4096u

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

int sim_open(const char *path, HvBackend **ret) {
        HvBackend *b;

        (void) path; /* no device: the simulator is in-process */
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        *ret = b;
        return 0;
}

void sim_close(HvBackend *b) {
        free(b);
}

HvAbi sim_abi(HvBackend *b) {
        return HV_ABI_U17;
}

int sim_vm_create(HvBackend *b, HvVm **ret) {
        _cleanup_close_ int fd = -EBADF;
        size_t size = ALIGN_UP(sizeof(SimShared), (size_t) SIM_PAGE_SIZE);
        SimShared *s;
        HvVm *vm;

        if (!b)
                return -EINVAL;
        fd = memfd_create("gunyah-sim-vm", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) size) < 0)
                return -errno;
        s = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (s == MAP_FAILED)
                return -errno;
        vm = calloc(1, sizeof(*vm));
        if (!vm) {
                munmap(s, size);
                return -ENOMEM;
        }

        s->magic = SIM_SHARED_MAGIC;
        s->vm_state = SIM_VM_CREATED;
        s->ended_by = UINT32_MAX;
        s->boot_vcpu = UINT32_MAX;
        gh_rules_vm_init(&s->rules, SIM_PAGE_SIZE);
        for (unsigned i = 0; i < SIM_VCPUS_MAX; i++)
                s->vcpus[i].power = SIM_POWER_OFF;
        sim_gic_init(s);

        vm->shared = s;
        vm->shared_size = size;
        vm->shared_fd = TAKE_FD(fd);
        for (unsigned i = 0; i < SIM_GUEST_MEMS_MAX; i++)
                vm->mem_fds[i] = -EBADF;
        for (unsigned i = 0; i < SIM_DOORBELLS_MAX; i++)
                vm->doorbell_fds[i] = -EBADF;
        b->n_vms++;
        *ret = vm;
        return 0;
}

static void vm_free(HvVm *vm) {
        munmap(vm->shared, vm->shared_size);
        safe_close(vm->shared_fd);
        for (unsigned i = 0; i < SIM_GUEST_MEMS_MAX; i++)
                safe_close(vm->mem_fds[i]);
        for (unsigned i = 0; i < SIM_DOORBELLS_MAX; i++)
                safe_close(vm->doorbell_fds[i]);
        free(vm);
}

void sim_vm_release(HvVm *vm) {
        /* The VM's state lives in the shared memfd its workers map: it runs on. */
        if (vm)
                vm_free(vm);
}

void sim_vm_destroy(HvVm *vm) {
        SimShared *s;

        if (!vm)
                return;
        s = vm->shared;
        if (sim_load(&s->vm_state) == SIM_VM_RUNNING) {
                /* The kernel force-stops a running VM when its fd goes away. */
                struct gunyah_vm_exit_info info = {
                        .type = GUNYAH_VM_EXIT_TYPE_VM_FORCE_STOPPED,
                        .reason_size = 4,
                };
                (void) sim_shared_end_vm(s, GUNYAH_VM_STATUS_EXITED, &info, UINT32_MAX);
        } else if (sim_load(&s->vm_state) != SIM_VM_ENDED) {
                sim_store(&s->vm_state, SIM_VM_DESTROYED);
                for (uint32_t i = 0; i < SIM_VCPUS_MAX; i++)
                        if (s->vcpus[i].present)
                                sim_vcpu_shared_wake(s, i);
        }
        vm_free(vm);
}

int sim_guest_mem_create(HvVm *vm, uint64_t size, int *ret_fd) {
        struct gunyah_create_mem_args args = { .size = size };
        SimShared *s = vm->shared;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r, copy;

        r = gh_rules_create_guest_mem(&args, SIM_PAGE_SIZE);
        if (r < 0)
                return r;
        if (size == 0)
                return -EINVAL; /* a memfd of size 0 could never be bound */
        if (s->n_guest_mems >= SIM_GUEST_MEMS_MAX)
                return -ENOSPC;

        fd = memfd_create("gunyah-sim-guest-mem", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (ftruncate(fd, (off_t) size) < 0 || fstat(fd, &st) < 0)
                return -errno;
        /* The VM keeps its own reference for vcpu_export, as a binding holds
         * a file reference in the kernel. */
        copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return -errno;

        vm->mem_fds[s->n_guest_mems] = copy;
        s->guest_mems[s->n_guest_mems] = (SimGuestMemShared) {
                .size = size,
                .flags = args.flags,
                .dev = st.st_dev,
                .ino = st.st_ino,
        };
        s->n_guest_mems++;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Resolves an fd to guest memory of this VM by the file it refers to (any
 * dup of it counts); NULL for anything else, as the kernel's fd check. */
static bool sim_resolve_guest_mem(HvVm *vm, int fd, GhRulesGuestMem *ret) {
        SimShared *s = vm->shared;
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0)
                return false;
        for (uint32_t i = 0; i < s->n_guest_mems; i++)
                if (s->guest_mems[i].dev == st.st_dev && s->guest_mems[i].ino == st.st_ino) {
                        *ret = (GhRulesGuestMem) {
                                .id = i,
                                .size = s->guest_mems[i].size,
                                .flags = s->guest_mems[i].flags,
                        };
                        return true;
                }
        return false;
}

static int sim_map_args(const HvMemBinding *b, uint32_t extra, struct gunyah_map_mem_args *ret) {
        uint32_t access;

        switch (b->access) {
        case HV_MEM_LEND:
                access = GUNYAH_MEM_FORCE_LEND;
                break;
        case HV_MEM_SHARE:
                access = GUNYAH_MEM_FORCE_SHARE;
                break;
        default:
                return -EINVAL;
        }
        if (b->prot & ~HV_PROT_RWX)
                return -EINVAL;
        *ret = (struct gunyah_map_mem_args) {
                .guest_addr = b->guest_addr,
                .flags = access | (b->prot << 4) | extra,
                .guest_mem_fd = (uint32_t) b->guest_mem_fd,
                .offset = b->offset,
                .size = b->size,
        };
        return 0;
}

static int sim_map_or_unmap(HvVm *vm, const HvMemBinding *binding, uint32_t extra) {
        struct gunyah_map_mem_args args;
        GhRulesGuestMem mem;
        int r;

        if (!binding)
                return -EINVAL;
        r = sim_map_args(binding, extra, &args);
        if (r < 0)
                return r;
        return gh_rules_map_mem(&vm->shared->rules, &args,
                                sim_resolve_guest_mem(vm, binding->guest_mem_fd, &mem) ? &mem : NULL);
}

int sim_map_mem(HvVm *vm, const HvMemBinding *binding) {
        return sim_map_or_unmap(vm, binding, 0);
}

int sim_unmap_mem(HvVm *vm, const HvMemBinding *binding) {
        return sim_map_or_unmap(vm, binding, GUNYAH_MEM_UNMAP);
}

int sim_set_dtb_config(HvVm *vm, uint64_t guest_addr, uint64_t size) {
        struct gunyah_vm_dtb_config cfg = { .guest_phys_addr = guest_addr, .size = size };

        return gh_rules_set_dtb_config(&vm->shared->rules, &cfg);
}

int sim_set_boot_context(HvVm *vm, uint32_t reg, uint64_t value) {
        struct gunyah_vm_boot_context ctx = { .reg = reg, .value = value };

        return gh_rules_set_boot_context(&vm->shared->rules, &ctx);
}

int sim_add_vcpu(HvVm *vm, uint32_t id) {
        struct gunyah_fn_vcpu_arg arg = { .id = id };
        struct gunyah_fn_desc desc = {
                .type = GUNYAH_FN_VCPU,
                .arg_size = sizeof(arg),
                .arg = (uint64_t) (uintptr_t) &arg,
        };
        SimShared *s = vm->shared;
        int r;

        if (id >= SIM_VCPUS_MAX && !gh_rules_has_vcpu(&s->rules, id))
                return -ENOSPC; /* the model's limit, like GH_RULES_MAX_VCPUS */
        r = gh_rules_add_function(&s->rules, &desc, &arg);
        if (r < 0)
                return r;
        s->vcpus[id].power = SIM_POWER_OFF;
        sim_store(&s->vcpus[id].present, 1);
        /* The RM boots the first CPU of the DT; the daemon adds them in order. */
        if (s->boot_vcpu == UINT32_MAX)
                s->boot_vcpu = id;
        return r;
}

/* Whether this process still maps [offset, +size) of guest memory mem_id:
 * the host view of lent memory must be gone before start. */
static bool sim_host_mapped(void *userdata, uint64_t mem_id, uint64_t offset, uint64_t size) {
        HvVm *vm = userdata;
        const SimGuestMemShared *m;
        _cleanup_(fclosep) FILE *f = NULL;
        char line[512];

        if (mem_id >= vm->shared->n_guest_mems)
                return false;
        m = &vm->shared->guest_mems[mem_id];
        f = fopen("/proc/self/maps", "re");
        if (!f)
                return true; /* cannot prove it is unmapped */
        while (fgets(line, sizeof(line), f)) {
                unsigned long long start, end, off, ino;
                unsigned maj, min;

                if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu", &start, &end, &off, &maj, &min, &ino) != 6)
                        continue;
                if (ino != m->ino || makedev(maj, min) != m->dev)
                        continue;
                if (off < offset + size && offset < off + (end - start))
                        return true;
        }
        return false;
}

int sim_start(HvVm *vm) {
        SimShared *s = vm->shared;
        bool first = s->rules.state == GH_RULES_VM_NONE;
        SimVcpuShared *boot;
        int r;

        r = gh_rules_start(&s->rules, sim_host_mapped, vm);
        if (r < 0) {
                if (sim_load(&s->vm_state) == SIM_VM_CREATED)
                        sim_store(&s->vm_state, SIM_VM_FAILED);
                return r;
        }
        if (!first)
                return r;

        /* One redistributor frame per vCPU id, below the distributor. */
        for (uint32_t i = 0; i < SIM_VCPUS_MAX; i++)
                if (s->vcpus[i].present)
                        s->gic.n_redists = i + 1;

        /* The RM powers on the boot vCPU with the boot context. */
        if (s->boot_vcpu != UINT32_MAX) {
                boot = &s->vcpus[s->boot_vcpu];
                boot->boot = 1;
                sim_store(&boot->power, SIM_POWER_ON_PENDING);
        }
        sim_store(&s->vm_state, SIM_VM_RUNNING);
        if (s->boot_vcpu != UINT32_MAX)
                sim_vcpu_shared_wake(s, s->boot_vcpu);
        return r;
}

int sim_vcpu_export(HvVm *vm, uint32_t id, int *fds, size_t *n_fds) {
        SimShared *s = vm->shared;
        size_t n = 1 + s->n_guest_mems + s->n_doorbells;

        if (!fds || !n_fds)
                return -EINVAL;
        if (!gh_rules_has_vcpu(&s->rules, id))
                return -ENOENT;
        if (*n_fds < n)
                return -ENOBUFS;
        fds[0] = vm->shared_fd;
        for (uint32_t i = 0; i < s->n_guest_mems; i++)
                fds[1 + i] = vm->mem_fds[i];
        /* Removed doorbells too: the slots after them keep their places. */
        for (uint32_t i = 0; i < s->n_doorbells; i++)
                fds[1 + s->n_guest_mems + i] = vm->doorbell_fds[i];
        *n_fds = n;
        return 0;
}
