/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "hv-rules.h"

/* No macro.h on purpose: this file must stay a dependency-free model. */

/*
 * Where the model and the real v17 driver differ (observed on a real
 * Gunyah stack, docs/real-gunyah.md), and why:
 *
 *   case                                   driver      model     why
 *   MAP_MEM past the end of guest memory   0           -EINVAL   driver bug: a binding that no page
 *   MAP_MEM with a wrapping guest range    0           -EINVAL     can back; hv-kernel.c refuses these
 *   SET_DTB_CONFIG, address + size wraps   0           -EOVERFLOW  before the ioctl (same checks below)
 *   START, DTB not inside one binding      -EINVAL     -EINVAL   not observed; only "outside every
 *                                                                binding" was (-ENOENT, as here)
 *   START, lent memory still host-mapped   -EPERM      -EPERM    the driver fails only if the host
 *                                                                touched it; the model at once
 *   ioeventfd, addr + len wraps            0           -EINVAL   v17 source: overflows_type() of an
 *                                                                already wrapped u64 sum never fires
 *   ioeventfd overlapping another handler  0           -EEXIST   v17 source: handlers compare by exact
 *     at a different address (0x1000/4 and 0x1002/2)             address; overlap is a VMM bug
 *                                                                (hv-kernel.c refuses both before the ioctl)
 *
 * Everything else the model answers was seen to equal the driver's answer
 * (the ioeventfd rows: read in the v17 source, not seen on a real stack).
 */
#define N_ELEMENTS(x) (sizeof(x) / sizeof((x)[0]))

static const char *const vm_state_names[_GH_RULES_VM_STATE_MAX] = {
        [GH_RULES_VM_NONE] = "none",
        [GH_RULES_VM_RUNNING] = "running",
        [GH_RULES_VM_FAILED] = "failed",
};

const char *gh_rules_vm_state_to_string(GhRulesVmState s) {
        if (s < 0 || s >= _GH_RULES_VM_STATE_MAX)
                return NULL;
        return vm_state_names[s];
}

GhRulesVmState gh_rules_vm_state_from_string(const char *s) {
        if (!s)
                return _GH_RULES_VM_STATE_INVALID;
        for (size_t i = 0; i < N_ELEMENTS(vm_state_names); i++)
                if (strcmp(vm_state_names[i], s) == 0)
                        return (GhRulesVmState) i;
        return _GH_RULES_VM_STATE_INVALID;
}

void gh_rules_vm_init(GhRulesVm *vm, uint32_t page_size) {
        memset(vm, 0, sizeof(*vm));
        vm->state = GH_RULES_VM_NONE;
        vm->page_size = page_size ?: GH_RULES_PAGE_SIZE_DEFAULT;
}

static bool aligned(uint64_t v, uint64_t a) {
        return (v & (a - 1)) == 0;
}

/* [a, a+alen) and [b, b+blen) intersect; callers guarantee no wrap. */
static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
        return a < b + blen && b < a + alen;
}

int gh_rules_create_guest_mem(const struct gunyah_create_mem_args *args, uint32_t page_size) {
        if (args->flags & ~(GHMF_CLOEXEC | GHMF_ALLOW_HUGEPAGE))
                return -EINVAL;
        if (!aligned(args->size, page_size ?: GH_RULES_PAGE_SIZE_DEFAULT))
                return -EINVAL;
        return 0;
}

/* ---- MAP_MEM ---- */

#define MAP_FLAGS_KNOWN (GUNYAH_MEM_ACCESS_MASK | GUNYAH_MEM_ALLOW_RWX | GUNYAH_MEM_UNMAP)

static int check_map_args(const GhRulesVm *vm, const struct gunyah_map_mem_args *a, const GhRulesGuestMem *mem) {
        uint64_t align;
        uint32_t access;

        if (!mem)
                return -EINVAL; /* not a guest_memfd: EINVAL, not EBADF */
        if (a->flags & ~MAP_FLAGS_KNOWN)
                return -EINVAL;
        if (!(a->flags & GUNYAH_MEM_ALLOW_RWX))
                return -EINVAL;
        access = a->flags & GUNYAH_MEM_ACCESS_MASK;
        if (access != GUNYAH_MEM_DEFAULT_ACCESS && access != GUNYAH_MEM_FORCE_LEND &&
            access != GUNYAH_MEM_FORCE_SHARE)
                return -EINVAL;

        align = (mem->flags & GHMF_ALLOW_HUGEPAGE) ? GH_RULES_HUGEPAGE_SIZE : vm->page_size;
        if (a->size == 0 || !aligned(a->guest_addr, align) || !aligned(a->offset, align) ||
            !aligned(a->size, align))
                return -EINVAL;
        return gh_rules_check_map_range(a, mem->size);
}

int gh_rules_check_map_range(const struct gunyah_map_mem_args *a, uint64_t mem_size) {
        /* The driver accepts these (a bug): the binding could not be backed. */
        if (a->guest_addr + a->size < a->guest_addr || a->offset + a->size < a->offset ||
            a->offset + a->size > mem_size)
                return -EINVAL;
        return 0;
}

bool gh_rules_vm_binds_file_range(const GhRulesVm *vm, uint64_t mem_id, uint64_t offset, uint64_t size) {
        for (uint32_t i = 0; i < vm->n_bindings; i++) {
                const GhRulesBinding *b = &vm->bindings[i];
                if (b->mem_id == mem_id && ranges_overlap(b->offset, b->size, offset, size))
                        return true;
        }
        return false;
}

const GhRulesBinding *gh_rules_find_binding(const GhRulesVm *vm, uint64_t gpa) {
        for (uint32_t i = 0; i < vm->n_bindings; i++) {
                const GhRulesBinding *b = &vm->bindings[i];
                if (gpa >= b->guest_addr && gpa - b->guest_addr < b->size)
                        return b;
        }
        return NULL;
}

bool gh_rules_binding_is_lent(const GhRulesBinding *b) {
        uint32_t access = b->flags & GUNYAH_MEM_ACCESS_MASK;
        return access == GUNYAH_MEM_DEFAULT_ACCESS || access == GUNYAH_MEM_FORCE_LEND;
}

static int map(GhRulesVm *vm, const struct gunyah_map_mem_args *a, const GhRulesGuestMem *mem) {
        if (gh_rules_vm_binds_file_range(vm, mem->id, a->offset, a->size))
                return -EEXIST;
        for (uint32_t i = 0; i < vm->n_bindings; i++)
                if (ranges_overlap(vm->bindings[i].guest_addr, vm->bindings[i].size, a->guest_addr, a->size))
                        return -EEXIST;
        if (vm->n_bindings >= GH_RULES_MAX_BINDINGS)
                return -ENOSPC;

        vm->bindings[vm->n_bindings++] = (GhRulesBinding) {
                .guest_addr = a->guest_addr,
                .offset = a->offset,
                .size = a->size,
                .mem_id = mem->id,
                .flags = a->flags,
        };
        return 0;
}

static int unmap(GhRulesVm *vm, const struct gunyah_map_mem_args *a, const GhRulesGuestMem *mem) {
        uint32_t flags = a->flags & ~GUNYAH_MEM_UNMAP;

        for (uint32_t i = 0; i < vm->n_bindings; i++) {
                GhRulesBinding *b = &vm->bindings[i];
                uint64_t start, end;

                if (b->mem_id != mem->id || b->flags != flags)
                        continue;
                if (a->guest_addr < b->guest_addr || a->guest_addr + a->size > b->guest_addr + b->size)
                        continue;
                if (a->offset - b->offset != a->guest_addr - b->guest_addr)
                        continue;

                start = a->guest_addr - b->guest_addr;
                end = start + a->size;
                if (start == 0 && end == b->size) {
                        vm->bindings[i] = vm->bindings[--vm->n_bindings];
                        memset(&vm->bindings[vm->n_bindings], 0, sizeof(vm->bindings[0]));
                } else if (start == 0) {
                        b->guest_addr += a->size;
                        b->offset += a->size;
                        b->size -= a->size;
                } else if (end == b->size)
                        b->size -= a->size;
                else
                        return -EINVAL; /* would split the binding in two */
                return 0;
        }
        return -ENOENT;
}

int gh_rules_map_mem(GhRulesVm *vm, const struct gunyah_map_mem_args *args, const GhRulesGuestMem *mem) {
        int r;

        r = check_map_args(vm, args, mem);
        if (r < 0)
                return r;
        if (args->flags & GUNYAH_MEM_UNMAP)
                return unmap(vm, args, mem);
        return map(vm, args, mem);
}

/* ---- DTB config, boot context ---- */

int gh_rules_check_dtb_config(const struct gunyah_vm_dtb_config *cfg) {
        /* The v17 driver's own overflow check cannot trigger (a bug). */
        if (cfg->guest_phys_addr + cfg->size < cfg->guest_phys_addr)
                return -EOVERFLOW;
        return 0;
}

int gh_rules_set_dtb_config(GhRulesVm *vm, const struct gunyah_vm_dtb_config *cfg) {
        int r = gh_rules_check_dtb_config(cfg);

        if (r < 0)
                return r;
        vm->dtb_set = true;
        vm->dtb_guest_addr = cfg->guest_phys_addr;
        vm->dtb_size = cfg->size;
        return 0;
}

/* Register sets and how many indexes each has (spec §3.4). */
static const struct {
        uint32_t first; /* flattened slot of index 0 */
        uint32_t count;
} boot_reg_sets[] = {
        [GUNYAH_VM_BOOT_CONTEXT_REG_SET_X] = { GH_RULES_BOOT_REG_X0, 32 },
        [GUNYAH_VM_BOOT_CONTEXT_REG_SET_PC] = { GH_RULES_BOOT_REG_PC, 1 },
        [GUNYAH_VM_BOOT_CONTEXT_REG_SET_SP] = { GH_RULES_BOOT_REG_SP0, 3 },
};

static int boot_reg_slot(uint32_t reg) {
        uint32_t set = (reg >> 8) & 0xffu, idx = reg & 0xffu;

        if (set >= N_ELEMENTS(boot_reg_sets) || idx >= boot_reg_sets[set].count)
                return -EINVAL;
        return (int) (boot_reg_sets[set].first + idx);
}

int gh_rules_set_boot_context(GhRulesVm *vm, const struct gunyah_vm_boot_context *ctx) {
        int slot;

        slot = boot_reg_slot(ctx->reg);
        if (slot < 0)
                return slot;
        if (vm->state != GH_RULES_VM_NONE)
                return -EINVAL;
        vm->boot_regs[slot] = ctx->value;
        vm->boot_regs_set |= UINT64_C(1) << slot;
        return 0;
}

int gh_rules_get_boot_context(const GhRulesVm *vm, uint32_t reg, uint64_t *ret_value) {
        int slot;

        slot = boot_reg_slot(reg);
        if (slot < 0)
                return slot;
        if (!(vm->boot_regs_set & (UINT64_C(1) << slot)))
                return -ENOENT;
        *ret_value = vm->boot_regs[slot];
        return 0;
}

/* ---- functions ---- */

static int vcpu_index(const GhRulesVm *vm, uint32_t id) {
        for (uint32_t i = 0; i < vm->n_vcpus; i++)
                if (vm->vcpu_ids[i] == id)
                        return (int) i;
        return -ENOENT;
}

bool gh_rules_has_vcpu(const GhRulesVm *vm, uint32_t vcpu_id) {
        return vcpu_index(vm, vcpu_id) >= 0;
}

static int vcpu_check(const void *arg) {
        return 0;
}

static int vcpu_add(GhRulesVm *vm, const void *arg) {
        const struct gunyah_fn_vcpu_arg *v = arg;

        if (vcpu_index(vm, v->id) >= 0)
                return -EEXIST;
        if (vm->n_vcpus >= GH_RULES_MAX_VCPUS)
                return -ENOSPC;
        vm->vcpu_ids[vm->n_vcpus++] = v->id;
        return 0;
}

static int vcpu_remove(GhRulesVm *vm, const void *arg) {
        const struct gunyah_fn_vcpu_arg *v = arg;
        int i = vcpu_index(vm, v->id);

        if (i < 0)
                return -ENOENT;
        vm->vcpu_ids[i] = vm->vcpu_ids[--vm->n_vcpus];
        return 0;
}

static int irqfd_check(const void *arg) {
        const struct gunyah_fn_irqfd_arg *q = arg;
        return (q->flags & ~GUNYAH_IRQFD_FLAGS_LEVEL) ? -EINVAL : 0;
}

static int irqfd_index(const GhRulesVm *vm, uint32_t label) {
        for (uint32_t i = 0; i < vm->n_irqfds; i++)
                if (vm->irqfds[i].label == label)
                        return (int) i;
        return -ENOENT;
}

static int irqfd_add(GhRulesVm *vm, const void *arg) {
        const struct gunyah_fn_irqfd_arg *q = arg;

        if (irqfd_index(vm, q->label) >= 0)
                return -EEXIST;
        if (vm->n_irqfds >= GH_RULES_MAX_IRQFDS)
                return -ENOSPC;
        vm->irqfds[vm->n_irqfds++] = (GhRulesIrqfd) {
                .label = q->label, .flags = q->flags, .fd = (int32_t) q->fd,
        };
        return 0;
}

static int irqfd_remove(GhRulesVm *vm, const void *arg) {
        const struct gunyah_fn_irqfd_arg *q = arg;
        int i = irqfd_index(vm, q->label);

        if (i < 0)
                return -ENOENT;
        vm->irqfds[i] = vm->irqfds[--vm->n_irqfds];
        return 0;
}

static int ioeventfd_check(const void *arg) {
        const struct gunyah_fn_ioeventfd_arg *e = arg;

        if (e->flags & ~GUNYAH_IOEVENTFD_FLAGS_DATAMATCH)
                return -EINVAL;
        if (e->len != 0 && e->len != 1 && e->len != 2 && e->len != 4 && e->len != 8)
                return -EINVAL;
        if (e->addr + e->len < e->addr)
                return -EINVAL;
        if ((e->flags & GUNYAH_IOEVENTFD_FLAGS_DATAMATCH) && e->len == 0)
                return -EINVAL;
        return 0;
}

/* len 0 handles any access at addr, so it occupies at least that byte. */
static bool ioeventfd_conflict(const GhRulesIoeventfd *h, const struct gunyah_fn_ioeventfd_arg *e) {
        if (!ranges_overlap(h->addr, h->len ?: 1, e->addr, e->len ?: 1))
                return false;
        /* two handlers matching different data on the same access coexist */
        if ((h->flags & GUNYAH_IOEVENTFD_FLAGS_DATAMATCH) && (e->flags & GUNYAH_IOEVENTFD_FLAGS_DATAMATCH) &&
            h->addr == e->addr && h->len == e->len && h->datamatch != e->datamatch)
                return false;
        return true;
}

static int ioeventfd_add(GhRulesVm *vm, const void *arg) {
        const struct gunyah_fn_ioeventfd_arg *e = arg;

        for (uint32_t i = 0; i < vm->n_ioeventfds; i++)
                if (ioeventfd_conflict(&vm->ioeventfds[i], e))
                        return -EEXIST;
        if (vm->n_ioeventfds >= GH_RULES_MAX_IOEVENTFDS)
                return -ENOSPC;
        vm->ioeventfds[vm->n_ioeventfds++] = (GhRulesIoeventfd) {
                .addr = e->addr, .datamatch = e->datamatch, .len = e->len, .flags = e->flags, .fd = e->fd,
        };
        return 0;
}

static int ioeventfd_remove(GhRulesVm *vm, const void *arg) {
        const struct gunyah_fn_ioeventfd_arg *e = arg;

        for (uint32_t i = 0; i < vm->n_ioeventfds; i++) {
                const GhRulesIoeventfd *h = &vm->ioeventfds[i];
                if (h->addr != e->addr || h->len != e->len || h->flags != e->flags)
                        continue;
                if ((h->flags & GUNYAH_IOEVENTFD_FLAGS_DATAMATCH) && h->datamatch != e->datamatch)
                        continue;
                vm->ioeventfds[i] = vm->ioeventfds[--vm->n_ioeventfds];
                return 0;
        }
        return -ENOENT;
}

/* What each function type accepts (spec §4.2). */
static const struct {
        uint32_t arg_size;
        int (*check)(const void *arg);
        int (*add)(GhRulesVm *vm, const void *arg);
        int (*remove)(GhRulesVm *vm, const void *arg);
} fn_types[] = {
        [GUNYAH_FN_VCPU] = { sizeof(struct gunyah_fn_vcpu_arg), vcpu_check, vcpu_add, vcpu_remove },
        [GUNYAH_FN_IRQFD] = { sizeof(struct gunyah_fn_irqfd_arg), irqfd_check, irqfd_add, irqfd_remove },
        [GUNYAH_FN_IOEVENTFD] = { sizeof(struct gunyah_fn_ioeventfd_arg), ioeventfd_check, ioeventfd_add,
                                  ioeventfd_remove },
};

/* Returns the index into fn_types, or -errno. */
int gh_rules_check_function(const struct gunyah_fn_desc *desc, const void *arg) {
        uint32_t t = desc->type;
        int r;

        if (desc->arg_size > GUNYAH_FN_MAX_ARG_SIZE)
                return -EINVAL;
        if (t >= N_ELEMENTS(fn_types) || !fn_types[t].check)
                return -ENOENT; /* the kernel tried request_module("ghfunc:<type>") */
        if (desc->arg_size != fn_types[t].arg_size || !arg)
                return -EINVAL;
        r = fn_types[t].check(arg);
        if (r < 0)
                return r;
        return (int) t;
}

int gh_rules_add_function(GhRulesVm *vm, const struct gunyah_fn_desc *desc, const void *arg) {
        int t = gh_rules_check_function(desc, arg);
        if (t < 0)
                return t;
        return fn_types[t].add(vm, arg);
}

int gh_rules_remove_function(GhRulesVm *vm, const struct gunyah_fn_desc *desc, const void *arg) {
        int t = gh_rules_check_function(desc, arg);
        if (t < 0)
                return t;
        return fn_types[t].remove(vm, arg);
}

/* ---- start, run ---- */

static int start_check(const GhRulesVm *vm, GhRulesHostMappedFn host_mapped, void *userdata) {
        const GhRulesBinding *dtb;

        if (!vm->dtb_set || vm->dtb_size == 0)
                return -EINVAL;
        dtb = gh_rules_find_binding(vm, vm->dtb_guest_addr);
        if (!dtb)
                return -ENOENT; /* the driver finds no binding for the DTB parcel */
        if (vm->dtb_size > dtb->size - (vm->dtb_guest_addr - dtb->guest_addr))
                return -EINVAL;
        if (!gh_rules_binding_is_lent(dtb))
                return -EINVAL;

        for (uint32_t i = 0; host_mapped && i < vm->n_bindings; i++) {
                const GhRulesBinding *b = &vm->bindings[i];
                if (gh_rules_binding_is_lent(b) && host_mapped(userdata, b->mem_id, b->offset, b->size))
                        return -EPERM; /* the driver's answer when the lend fails for it */
        }
        return 0;
}

int gh_rules_start(GhRulesVm *vm, GhRulesHostMappedFn host_mapped, void *userdata) {
        int r;

        if (vm->state == GH_RULES_VM_RUNNING)
                return 0;
        if (vm->state == GH_RULES_VM_FAILED)
                return -ENODEV;

        r = start_check(vm, host_mapped, userdata);
        if (r < 0) {
                vm->state = GH_RULES_VM_FAILED;
                return r;
        }
        vm->state = GH_RULES_VM_RUNNING;
        return 0;
}

int gh_rules_vcpu_run(const GhRulesVm *vm, uint32_t vcpu_id) {
        if (vm->state != GH_RULES_VM_RUNNING || !gh_rules_has_vcpu(vm, vcpu_id))
                return -ENODEV;
        return 0;
}
