/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The U17 kernel's argument validation and per-VM bookkeeping
 * (spec gunyah-abi.md §4.2), in one place.
 *
 * Two users share it so that they cannot drift apart from each other or
 * from the kernel:
 *   - the simulator backend (src/sim), which must answer every operation
 *     with the errno the kernel would give;
 *   - the fake /dev/gunyah of the unit tests (tests/unit/fake-gunyah.c).
 *
 * Model: a GhRulesVm is the kernel's view of one VM: its guest_memfd
 * bindings, vCPU ids, irqfd labels, ioeventfd handlers, boot context, DTB
 * config and start state. Each gh_rules_<op>() validates the arguments of
 * one ioctl exactly as the kernel does and, when they pass, records the
 * effect. It returns 0 (or the value the ioctl returns) or -errno; on
 * failure the model is unchanged, except that a failed START moves the VM
 * to GH_RULES_VM_FAILED as the kernel does.
 *
 * Properties callers may rely on:
 *   - no I/O, no allocation, no logging, no global state;
 *   - GhRulesVm is plain data: fixed-size arrays, no pointers, so it may
 *     live in shared memory and be used from several processes. It has no
 *     lock: the caller serialises access (the kernel holds a per-VM lock).
 *   - the caller does what needs the host: resolving a guest_mem_fd to a
 *     GhRulesGuestMem (NULL when the fd is not guest memory), copying the
 *     function argument from desc.arg, checking that an irqfd/ioeventfd fd
 *     is an eventfd, and telling START whether lent memory is still mapped
 *     in the host.
 *
 * Where the real driver accepts arguments it should not (a bug), the model
 * refuses them and the kernel backend refuses them before the ioctl: the
 * table at the top of hv-rules.c lists those cases.
 *
 * Limits (GH_RULES_MAX_*) are the model's, not the kernel's: exceeding one
 * gives -ENOSPC, an errno the kernel would not return for these reasons.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "gunyah-abi.h"

#define GH_RULES_MAX_BINDINGS 32
#define GH_RULES_MAX_VCPUS 64
#define GH_RULES_MAX_IRQFDS 64
#define GH_RULES_MAX_IOEVENTFDS 64

#define GH_RULES_PAGE_SIZE_DEFAULT 4096u
/* guest_memfd created with GHMF_ALLOW_HUGEPAGE binds in PMD-sized units */
#define GH_RULES_HUGEPAGE_SIZE (2u * 1024u * 1024u)

typedef enum GhRulesVmState {
        GH_RULES_VM_NONE,    /* created, not started (kernel: NO_STATE) */
        GH_RULES_VM_RUNNING, /* START succeeded */
        GH_RULES_VM_FAILED,  /* START failed; later START gives -ENODEV */
        _GH_RULES_VM_STATE_MAX,
        _GH_RULES_VM_STATE_INVALID = -EINVAL,
} GhRulesVmState;

const char *gh_rules_vm_state_to_string(GhRulesVmState s);
GhRulesVmState gh_rules_vm_state_from_string(const char *s);

/* A guest_memfd as the kernel sees it. id is any value unique per guest
 * memory object (the fake uses an inode number, the sim its own index). */
typedef struct GhRulesGuestMem {
        uint64_t id;
        uint64_t size;
        uint64_t flags; /* GHMF_* given at creation */
} GhRulesGuestMem;

/* One GUNYAH_VM_MAP_MEM binding: guest [guest_addr, +size) backed by
 * guest memory mem_id at [offset, +size). flags are the U17 map flags the
 * binding was made with (UNMAP bit clear). */
typedef struct GhRulesBinding {
        uint64_t guest_addr;
        uint64_t offset;
        uint64_t size;
        uint64_t mem_id;
        uint32_t flags;
        uint32_t padding;
} GhRulesBinding;

typedef struct GhRulesIrqfd {
        uint32_t label;
        uint32_t flags;
        int32_t fd;
        uint32_t padding;
} GhRulesIrqfd;

typedef struct GhRulesIoeventfd {
        uint64_t addr;
        uint64_t datamatch;
        uint32_t len;
        uint32_t flags;
        int32_t fd;
        uint32_t padding;
} GhRulesIoeventfd;

/* Boot-context registers, flattened: X0..X30 (index 0..31 as the ABI
 * allows), then PC, then SP_EL0..SP_EL2. */
#define GH_RULES_BOOT_REG_X0 0u
#define GH_RULES_BOOT_REG_PC 32u
#define GH_RULES_BOOT_REG_SP0 33u
#define GH_RULES_BOOT_REGS 36u

typedef struct GhRulesVm {
        GhRulesVmState state;
        uint32_t page_size;

        uint32_t n_bindings;
        GhRulesBinding bindings[GH_RULES_MAX_BINDINGS];

        uint32_t n_vcpus;
        uint32_t vcpu_ids[GH_RULES_MAX_VCPUS];

        uint32_t n_irqfds;
        GhRulesIrqfd irqfds[GH_RULES_MAX_IRQFDS];

        uint32_t n_ioeventfds;
        GhRulesIoeventfd ioeventfds[GH_RULES_MAX_IOEVENTFDS];

        bool dtb_set;
        uint64_t dtb_guest_addr;
        uint64_t dtb_size;

        uint64_t boot_regs_set; /* bit i: boot_regs[i] was given */
        uint64_t boot_regs[GH_RULES_BOOT_REGS];
} GhRulesVm;

/* Initialises a VM in state NONE. page_size 0 means 4096; otherwise a
 * power of two (16K-page kernels exist). */
void gh_rules_vm_init(GhRulesVm *vm, uint32_t page_size);

/* GUNYAH_CREATE_GUEST_MEM (on /dev/gunyah, not a VM): size not page
 * aligned → -EINVAL, flags beyond CLOEXEC|ALLOW_HUGEPAGE → -EINVAL.
 * reserved[] is not checked, as in the kernel. */
int gh_rules_create_guest_mem(const struct gunyah_create_mem_args *args, uint32_t page_size);

/* GUNYAH_VM_MAP_MEM, with and without GUNYAH_MEM_UNMAP. mem is the guest
 * memory args->guest_mem_fd refers to, NULL if it is not one (→ -EINVAL).
 * Map: flag bits outside RWX|UNMAP|access → -EINVAL; no R/W/X → -EINVAL;
 * access ∉ {DEFAULT, LEND, SHARE} → -EINVAL; size 0, unaligned
 * guest_addr/offset/size (PMD for hugepage memory) → -EINVAL; range past
 * the end of the memory or wrapping → -EINVAL (gh_rules_check_map_range;
 * the driver accepts those, a bug); file range already bound or
 * guest range overlapping a binding → -EEXIST.
 * Unmap: no binding of the same memory with the same flags containing the
 * range at a consistent offset → -ENOENT; a range strictly inside a binding
 * (would split it) → -EINVAL; otherwise the binding is removed or trimmed.
 * Only this VM's bindings are seen: a caller modelling several VMs on one
 * guest memory checks the others with gh_rules_vm_binds_file_range(). */
int gh_rules_map_mem(GhRulesVm *vm, const struct gunyah_map_mem_args *args, const GhRulesGuestMem *mem);

/* The range checks of MAP_MEM the v17 driver lacks: guest range or file
 * range wrapping, or past mem_size → -EINVAL. The kernel backend runs them
 * before the ioctl. */
int gh_rules_check_map_range(const struct gunyah_map_mem_args *args, uint64_t mem_size);

/* Whether [offset, +size) of guest memory mem_id is bound in this VM. */
bool gh_rules_vm_binds_file_range(const GhRulesVm *vm, uint64_t mem_id, uint64_t offset, uint64_t size);

/* The binding that backs guest address gpa, NULL if none (for demand
 * paging: the sim resolves a guest access through this). */
const GhRulesBinding *gh_rules_find_binding(const GhRulesVm *vm, uint64_t gpa);

/* Whether a binding lends (access DEFAULT or FORCE_LEND; the kernel treats
 * DEFAULT as lend because the RM requires protected VMs). */
bool gh_rules_binding_is_lent(const GhRulesBinding *b);

/* GUNYAH_VM_SET_DTB_CONFIG: guest_phys_addr + size wraps → -EOVERFLOW
 * (gh_rules_check_dtb_config; the v17 driver's check cannot trigger, so the
 * kernel backend runs it before the ioctl). */
int gh_rules_check_dtb_config(const struct gunyah_vm_dtb_config *cfg);
int gh_rules_set_dtb_config(GhRulesVm *vm, const struct gunyah_vm_dtb_config *cfg);

/* GUNYAH_VM_SET_BOOT_CONTEXT: reg set/index outside X 0-31, PC 0, SP 0-2
 * → -EINVAL; VM not in state NONE → -EINVAL. Bits above 0xffff of reg are
 * ignored (U17; A15 rejects them) and reserved is not checked. */
int gh_rules_set_boot_context(GhRulesVm *vm, const struct gunyah_vm_boot_context *ctx);

/* Reads back a boot-context register given as GUNYAH_VM_BOOT_CONTEXT_REG
 * (set, index): -ENOENT if it was never set, -EINVAL if reg is invalid. */
int gh_rules_get_boot_context(const GhRulesVm *vm, uint32_t reg, uint64_t *ret_value);

/* GUNYAH_VM_ADD_FUNCTION. arg is the desc->arg_size bytes the caller
 * copied from desc->arg (a copy fault is the caller's -EFAULT).
 * arg_size > 256 → -EINVAL; unknown type → -ENOENT; then per type:
 *   VCPU: arg_size ≠ 4 → -EINVAL; id already added → -EEXIST;
 *   IRQFD: arg_size ≠ 16 → -EINVAL; flags ⊄ LEVEL → -EINVAL;
 *          label already used → -EEXIST;
 *   IOEVENTFD: arg_size ≠ 32 → -EINVAL; flags ⊄ DATAMATCH,
 *          len ∉ {0,1,2,4,8}, addr + len wraps, DATAMATCH with len 0
 *          → -EINVAL; overlapping an existing handler (unless both match
 *          different data) → -EEXIST.
 * Allowed in every state (U17 binds vCPUs/irqfds added after START). */
int gh_rules_add_function(GhRulesVm *vm, const struct gunyah_fn_desc *desc, const void *arg);

/* The stateless part of ADD/REMOVE_FUNCTION's checks (arg_size, type,
 * flags, len, wrap), which the kernel makes before it looks up the eventfd
 * and its tables: callers that check the eventfd themselves run this first
 * to answer in the kernel's order. Returns desc->type, or -errno. */
int gh_rules_check_function(const struct gunyah_fn_desc *desc, const void *arg);

/* GUNYAH_VM_REMOVE_FUNCTION: same argument checks as add, then matches by
 * key (vCPU id; irqfd label; ioeventfd addr, len, flags and, with
 * DATAMATCH, datamatch); nothing matched → -ENOENT. */
int gh_rules_remove_function(GhRulesVm *vm, const struct gunyah_fn_desc *desc, const void *arg);

/* Answers whether the host still has [offset, +size) of guest memory
 * mem_id mapped (mmap). */
typedef bool (*GhRulesHostMappedFn)(void *userdata, uint64_t mem_id, uint64_t offset, uint64_t size);

/* GUNYAH_VM_START. Running → 0 (nothing to do); failed → -ENODEV.
 * Otherwise: no DTB config → -EINVAL; DTB start outside every binding →
 * -ENOENT (as the driver); DTB running past the end of its binding → -EINVAL;
 * DTB binding not lent → -EINVAL (the kernel always lends the DTB parcel);
 * a lent binding still mapped in the host (host_mapped, may be NULL for
 * "never") → -EPERM (the driver's answer once the host touched it). Any
 * failure moves the VM to FAILED.
 * The driver fails START only for lent pages the host mapped and touched;
 * the model refuses every mapped lent range at START so that the mistake
 * shows up early and deterministically. */
int gh_rules_start(GhRulesVm *vm, GhRulesHostMappedFn host_mapped, void *userdata);

/* GUNYAH_VCPU_RUN preconditions: VM not running or vCPU id not (or no
 * longer) added → -ENODEV. */
int gh_rules_vcpu_run(const GhRulesVm *vm, uint32_t vcpu_id);

/* Whether vCPU id was added (and not removed). */
bool gh_rules_has_vcpu(const GhRulesVm *vm, uint32_t vcpu_id);
