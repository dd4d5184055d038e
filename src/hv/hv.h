/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The hypervisor backend interface (design §3).
 *
 * Everything above src/hv (daemon, worker) reaches the hypervisor only through
 * an HvBackendOps table. Two implementations exist: the kernel backend
 * (ioctls on /dev/gunyah, hv-kernel.c) and the simulator (src/sim). Both keep
 * U17 semantics: the same validation, errnos, exit reasons and run block.
 *
 * The interface has two halves:
 *  - VM side, used by the daemon: create a VM, create guest memory, bind it,
 *    DTB config, boot context, vCPU/irqfd functions, start, export a vCPU
 *    for a worker process, destroy.
 *  - vCPU side, used by a worker process: attach to exported fds, map the
 *    40-byte run block, run, kick.
 *
 * All functions return >= 0 on success, -errno on failure.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gunyah-abi.h"

typedef enum HvAbi {
        HV_ABI_U17,
        HV_ABI_A14,
        _HV_ABI_MAX,
        _HV_ABI_INVALID = -EINVAL,
} HvAbi;

const char *hv_abi_to_string(HvAbi abi);
HvAbi hv_abi_from_string(const char *s);

/* How a guest memory range is given to the VM. */
typedef enum HvMemAccess {
        HV_MEM_LEND,  /* host loses access while the guest owns it */
        HV_MEM_SHARE, /* host and guest both access it */
        _HV_MEM_ACCESS_MAX,
        _HV_MEM_ACCESS_INVALID = -EINVAL,
} HvMemAccess;

const char *hv_mem_access_to_string(HvMemAccess a);
HvMemAccess hv_mem_access_from_string(const char *s);

#define HV_PROT_READ 0x1u
#define HV_PROT_WRITE 0x2u
#define HV_PROT_EXEC 0x4u
#define HV_PROT_RWX 0x7u

typedef struct HvMemBinding {
        uint64_t guest_addr;
        uint64_t offset; /* into the guest memory fd */
        uint64_t size;
        int guest_mem_fd;
        HvMemAccess access;
        uint32_t prot; /* HV_PROT_* */
        uint32_t label; /* A14 region label; ignored by U17 */
} HvMemBinding;

typedef struct HvBackend HvBackend;
typedef struct HvVm HvVm;
typedef struct HvVcpu HvVcpu;

/* At most this many fds describe one exported vCPU (see vcpu_export): the
 * sim's are its state, its guest memories and its doorbells' eventfds. */
#define HV_VCPU_EXPORT_FDS_MAX 64

typedef struct HvBackendOps {
        const char *name; /* "kernel", "sim" */

        /* Opens the backend. For the kernel, path is the device node
         * (NULL: /dev/gunyah) and the ABI is probed; the sim ignores it. */
        int (*open)(const char *path, HvBackend **ret);
        void (*close)(HvBackend *b);
        HvAbi (*abi)(HvBackend *b);

        int (*vm_create)(HvBackend *b, HvVm **ret);
        /* Tears the VM down: vCPUs, functions, bindings; closes every fd it owns. */
        void (*vm_destroy)(HvVm *vm);
        /* Lets go of the VM without ending it: the daemon exits and a later
         * one adopts the VM from its processes (vm-adopt.h); see
         * hv_vm_outlives_handle(). */
        void (*vm_release)(HvVm *vm);

        /* Creates guest memory of size bytes. The returned fd belongs to the
         * caller; it can be mmap()ed MAP_SHARED to load images, and must be
         * unmapped from the host before start where it is lent. */
        int (*guest_mem_create)(HvVm *vm, uint64_t size, int *ret_fd);
        int (*map_mem)(HvVm *vm, const HvMemBinding *binding);
        int (*unmap_mem)(HvVm *vm, const HvMemBinding *binding);

        int (*set_dtb_config)(HvVm *vm, uint64_t guest_addr, uint64_t size);
        /* reg is GUNYAH_VM_BOOT_CONTEXT_REG(set, index). -ENOTTY where the
         * ABI has no boot context (A14): the payload must then start at the
         * base of the DTB's region. */
        int (*set_boot_context)(HvVm *vm, uint32_t reg, uint64_t value);

        int (*add_vcpu)(HvVm *vm, uint32_t id);
        /* irqfd (GUNYAH_FN_IRQFD): writing eventfd rings the doorbell
         * `label` (the DT doorbell's label; gunyahd uses the SPI number).
         * flags: GUNYAH_IRQFD_FLAGS_LEVEL or 0. The eventfd stays the
         * caller's; the VM holds its own reference. The sim delivers edge
         * irqfds only, and takes them before start only (-EBUSY after):
         * its level lines are the workers' own (vcpu_irq_line). */
        int (*add_irqfd)(HvVm *vm, int eventfd, uint32_t label, uint32_t flags);
        /* Matches by label, as U17 (-ENOENT if none); pass what was added:
         * early A14 builds compare the whole argument. */
        int (*remove_irqfd)(HvVm *vm, int eventfd, uint32_t label, uint32_t flags);
        /* ioeventfd (GUNYAH_FN_IOEVENTFD): a guest write to addr (len 0:
         * any length; else only writes of len bytes, and with
         * GUNYAH_IOEVENTFD_FLAGS_DATAMATCH only of value datamatch) signals
         * eventfd and the vCPU goes on without a VCPU_RUN exit; the value is
         * not delivered. Reads of addr, and writes matching nothing, still
         * exit. Rules (hv-rules.h): len 0/1/2/4/8, DATAMATCH needs len != 0,
         * unknown flags -EINVAL, a handler already at addr -EEXIST, no
         * eventfd -EBADF/-EINVAL. Register without DATAMATCH where you can
         * (broken in early android14 builds, spec §1). The sim takes
         * registrations made before start only (-EBUSY after), and sees
         * an 8-byte write as two 4-byte ones (unicorn 2.0.1): a len 0
         * handler takes the low half, a len 8 handler never matches. */
        int (*add_ioeventfd)(HvVm *vm, int eventfd, uint64_t addr, uint32_t len, uint32_t flags, uint64_t datamatch);
        /* Matches by addr, len, flags (and datamatch with DATAMATCH). */
        int (*remove_ioeventfd)(HvVm *vm, int eventfd, uint64_t addr, uint32_t len, uint32_t flags, uint64_t datamatch);
        int (*start)(HvVm *vm);

        /* Fills fds (borrowed, still owned by the VM) with what a worker
         * process needs to run vCPU id; *n_fds in: capacity, out: count. */
        int (*vcpu_export)(HvVm *vm, uint32_t id, int *fds, size_t *n_fds);

        /* Worker side: takes ownership of fds on success. */
        int (*vcpu_attach)(const int *fds, size_t n_fds, uint32_t id, HvVcpu **ret);
        void (*vcpu_detach)(HvVcpu *vcpu);
        struct gunyah_vcpu_run *(*vcpu_run_block)(HvVcpu *vcpu);
        /* One VCPU_RUN: 0 with run_block->exit_reason set, -EINTR after a
         * kick or immediate_exit, -ENODEV before start, other -errno. */
        int (*vcpu_run)(HvVcpu *vcpu);
        /* Async-signal-safe: makes a current or the next vcpu_run return -EINTR. */
        void (*vcpu_kick)(HvVcpu *vcpu);
        /* Optional, worker side (NULL in the kernel backend, where a device
         * rings its doorbell through an irqfd): drives the level of the line
         * of doorbell `label` (the SPI number, as the DT's doorbells name
         * it) in the VM's interrupt controller, from any thread of the
         * worker. A level line follows the device exactly, which an irqfd
         * (an edge, like a doorbell) cannot. -EINVAL for a label no SPI has. */
        int (*vcpu_irq_line)(HvVcpu *vcpu, uint32_t label, bool level);
        /* Optional, worker side (sim only): while the vCPU waits for an
         * interrupt (WFI), it also waits for fd to become readable and then
         * calls ready() from inside vcpu_run, which typically moves input
         * into a device and raises its line. ready() returns > 0 when it
         * cannot take more now: fd is then ignored until the next WFI. The
         * worker stays single-threaded (its sandbox requires it). */
        int (*vcpu_watch_fd)(HvVcpu *vcpu, int fd, int (*ready)(void *userdata), void *userdata);

        /* What the worker's sandbox must allow beyond a backend's own table:
         * the signal its vCPU side sends (tgkill) to the vCPU threads of
         * other workers of the VM to make them leave guest code, 0 if it
         * sends none. The worker's seccomp filter allows tgkill with this
         * signal and no other. */
        int vcpu_kick_signal;
} HvBackendOps;

/* 0 if fd is an eventfd, -EBADF if it is no open fd, -EINVAL for any
 * other file (the kernel's irqfd check, shared by the sim and the tests). */
int hv_check_eventfd(int fd);

/* One sentence saying what a failed START with this errno (either sign)
 * means on a real Gunyah stack, for StateReason; NULL if nothing is known. */
const char *hv_start_error_meaning(int error);

/* The CREATE_GUEST_MEM flags for size bytes of guest memory: CLOEXEC, and
 * ALLOW_HUGEPAGE where size is a multiple of 2 MiB, so that the memory is
 * lent in large folios (in 4 KiB entries, START of a 64 MiB VM took over
 * ten minutes on a real stack). */
#define HV_GUEST_MEM_HUGEPAGE_SIZE (UINT64_C(2) * 1024 * 1024)
uint64_t hv_guest_mem_flags(uint64_t size);

extern const HvBackendOps hv_kernel_ops; /* src/hv/hv-kernel.c */
extern const HvBackendOps hv_sim_ops;    /* src/sim */

/* Looks up "kernel" or "sim"; NULL if unknown. Only backends linked into
 * the program are found (hv_sim_ops is weak here): a build without the
 * simulator (-Dsim=disabled) has none. In a program that links only the
 * simulator's VM half (the daemon), its vCPU entries fail with -EOPNOTSUPP. */
const HvBackendOps *hv_backend_lookup(const char *name);

/* Whether a running VM outlives the daemon's handle of it, so that a later
 * daemon can adopt it: the sim's always (its state is in memory its
 * workers map); the kernel's with U17, kept by the workers' vCPU fds
 * (gunyah-abi: the VM goes when the VM fd and every vCPU fd are closed).
 * Not A14: its lent memory, mapped by the daemon, must not be unmapped
 * while the VM runs, and a daemon's exit unmaps it. */
static inline bool hv_vm_outlives_handle(const HvBackendOps *ops, HvBackend *b) {
        return ops->vm_release && ops->abi(b) != HV_ABI_A14;
}
