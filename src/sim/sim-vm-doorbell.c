/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * irqfd and ioeventfd registration, the daemon's half: the kernel's rules
 * (hv-rules, in the kernel's order: arguments, the eventfd, the tables),
 * then a slot in the VM's doorbell table (sim-shared.h) and the VM's own
 * reference to the eventfd, which vcpu_export hands to every worker. The
 * workers do the rest (sim-doorbell.c): an ioeventfd write signals the
 * eventfd without an exit, a signalled irqfd makes its SPI pending.
 *
 * Where the sim differs from the kernel:
 *  - registrations are taken before start only (-EBUSY after): a worker
 *    gets its eventfds once, when it attaches, and the daemon registers
 *    every doorbell before start;
 *  - removal works at any time (the workers read the slot's kind on every
 *    match), but the VM keeps the eventfd open until it is destroyed;
 *  - an irqfd's eventfd is made O_NONBLOCK (shared with its writers; only
 *    a write that would overflow the counter behaves differently), because
 *    several workers race to read it;
 *  - a LEVEL irqfd is recorded only, neither exported nor delivered: the
 *    level lines of a sim VM are the worker's own devices (PL011, PL061),
 *    which drive them through vcpu_irq_line, and gunyahd registers LEVEL
 *    irqfds for exactly those. Device processes ring edge irqfds (flags 0).
 */
#include <fcntl.h>

#include "macro.h"
#include "sim-vm.h"

static int sim_doorbell_slot_add(HvVm *vm, int eventfd, const SimDoorbell *d) {
        SimShared *s = vm->shared;
        int copy, fl;

        if (s->n_doorbells >= SIM_DOORBELLS_MAX)
                return -ENOSPC;
        copy = fcntl(eventfd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return -errno;
        if (d->kind == SIM_DOORBELL_IRQFD) {
                fl = fcntl(copy, F_GETFL);
                if (fl < 0 || fcntl(copy, F_SETFL, fl | O_NONBLOCK) < 0) {
                        safe_close(copy);
                        return -errno;
                }
        }
        vm->doorbell_fds[s->n_doorbells] = copy;
        s->doorbells[s->n_doorbells] = *d;
        sim_store(&s->n_doorbells, s->n_doorbells + 1);
        return 0;
}

static bool sim_doorbell_same(const SimDoorbell *a, const SimDoorbell *b) {
        if (a->kind != b->kind)
                return false;
        if (a->kind == SIM_DOORBELL_IRQFD)
                return a->label == b->label; /* the kernel's key */
        return a->addr == b->addr && a->len == b->len && a->flags == b->flags &&
               (!(a->flags & GUNYAH_IOEVENTFD_FLAGS_DATAMATCH) || a->datamatch == b->datamatch);
}

static void sim_doorbell_slot_remove(HvVm *vm, const SimDoorbell *d) {
        SimShared *s = vm->shared;

        for (uint32_t i = 0; i < s->n_doorbells; i++)
                if (sim_doorbell_same(&s->doorbells[i], d)) {
                        sim_store(&s->doorbells[i].kind, SIM_DOORBELL_REMOVED);
                        return;
                }
}

/* d: the slot to record, NULL for a registration the workers never see. */
static int sim_doorbell_function(HvVm *vm, bool add, int eventfd, uint32_t type, const void *arg, uint32_t size,
                                 const SimDoorbell *d) {
        struct gunyah_fn_desc desc = { .type = type, .arg_size = size, .arg = (uint64_t) (uintptr_t) arg };
        SimShared *s = vm->shared;
        int r;

        r = gh_rules_check_function(&desc, arg);
        if (r < 0)
                return r;
        if (!add) {
                r = gh_rules_remove_function(&s->rules, &desc, arg);
                if (r >= 0 && d)
                        sim_doorbell_slot_remove(vm, d);
                return r;
        }
        r = hv_check_eventfd(eventfd);
        if (r < 0)
                return r;
        if (sim_load(&s->vm_state) != SIM_VM_CREATED)
                return -EBUSY; /* workers get their eventfds when they attach */
        if (d && s->n_doorbells >= SIM_DOORBELLS_MAX)
                return -ENOSPC;
        r = gh_rules_add_function(&s->rules, &desc, arg);
        if (r < 0 || !d)
                return r;
        r = sim_doorbell_slot_add(vm, eventfd, d);
        if (r < 0)
                (void) gh_rules_remove_function(&s->rules, &desc, arg);
        return r;
}

static int sim_irqfd(HvVm *vm, bool add, int eventfd, uint32_t label, uint32_t flags) {
        struct gunyah_fn_irqfd_arg arg = { .fd = (uint32_t) eventfd, .label = label, .flags = flags };
        SimDoorbell d = { .kind = SIM_DOORBELL_IRQFD, .flags = flags, .label = label };

        return sim_doorbell_function(vm, add, eventfd, GUNYAH_FN_IRQFD, &arg, sizeof(arg),
                                     (flags & GUNYAH_IRQFD_FLAGS_LEVEL) ? NULL : &d);
}

static int sim_ioeventfd(HvVm *vm, bool add, int eventfd, uint64_t addr, uint32_t len, uint32_t flags,
                         uint64_t datamatch) {
        struct gunyah_fn_ioeventfd_arg arg = {
                .datamatch = datamatch, .addr = addr, .len = len, .fd = eventfd, .flags = flags,
        };
        SimDoorbell d = {
                .kind = SIM_DOORBELL_IOEVENTFD, .flags = flags, .addr = addr, .datamatch = datamatch, .len = len,
        };

        return sim_doorbell_function(vm, add, eventfd, GUNYAH_FN_IOEVENTFD, &arg, sizeof(arg), &d);
}

int sim_add_irqfd(HvVm *vm, int eventfd, uint32_t label, uint32_t flags) {
        return sim_irqfd(vm, true, eventfd, label, flags);
}

int sim_remove_irqfd(HvVm *vm, int eventfd, uint32_t label, uint32_t flags) {
        return sim_irqfd(vm, false, eventfd, label, flags);
}

int sim_add_ioeventfd(HvVm *vm, int eventfd, uint64_t addr, uint32_t len, uint32_t flags, uint64_t datamatch) {
        return sim_ioeventfd(vm, true, eventfd, addr, len, flags, datamatch);
}

int sim_remove_ioeventfd(HvVm *vm, int eventfd, uint64_t addr, uint32_t len, uint32_t flags, uint64_t datamatch) {
        return sim_ioeventfd(vm, false, eventfd, addr, len, flags, datamatch);
}
