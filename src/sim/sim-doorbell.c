/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Doorbells in a worker: what the kernel does with the VM's ioeventfds and
 * irqfds (registered by sim-vm-doorbell.c, eventfds from vcpu_export).
 *
 * ioeventfd: a guest write that reaches the MMIO window at a registered
 * address (len 0: any length; else exactly len bytes; with DATAMATCH only
 * that value, as the v17 handler lookup) signals the eventfd and the vCPU
 * goes on: no VCPU_RUN exit, the value is not delivered. Reads, and writes
 * matching nothing, exit as before. unicorn 2.0.1 hands an 8-byte MMIO
 * write over as two 4-byte ones (low address first), so only its low half
 * can match, and only a len 0 handler. Signals are batched (sim-internal.h,
 * SIM_DOORBELL_BATCH_BLOCKS) with their count, so the eventfd's counter
 * still adds up every write.
 *
 * irqfd (edge; LEVEL ones never reach the workers, sim-vm-doorbell.c): a
 * signalled eventfd makes SPI `label` pending, latched until the guest
 * acknowledges it, like an edge doorbell. Every worker of the VM watches
 * the irqfds: while guest code runs (at most every SIM_IRQFD_POLL_NSEC,
 * looked at every SIM_SLICE_CHECK_BLOCKS blocks), at the start of a slice,
 * and in WFI's ppoll. Whoever reads an eventfd first raises the SPI and wakes its
 * target; the others find it empty (the sim made it O_NONBLOCK).
 */
#include <unistd.h>

#include "macro.h"
#include "sim-internal.h"

void sim_doorbell_attach(HvVcpu *v, const int *fds, unsigned n) {
        const SimShared *s = v->shared;

        for (unsigned i = 0; i < n; i++) {
                uint32_t kind = sim_load(&s->doorbells[i].kind);

                v->doorbell_fds[i] = fds[i];
                v->has_ioeventfds |= kind == SIM_DOORBELL_IOEVENTFD;
                v->has_irqfds |= kind == SIM_DOORBELL_IRQFD;
        }
        v->n_doorbells = n;
        /* the first doorbell is signalled at once */
        v->doorbell_flush_block = v->blocks - SIM_DOORBELL_BATCH_BLOCKS;
}

void sim_doorbell_detach(HvVcpu *v) {
        sim_doorbell_flush(v);
        for (unsigned i = 0; i < v->n_doorbells; i++)
                v->doorbell_fds[i] = safe_close(v->doorbell_fds[i]);
        v->n_doorbells = 0;
}

static bool sim_doorbell_matches(const SimDoorbell *d, uint64_t addr, unsigned size, uint64_t value) {
        if (sim_load(&d->kind) != SIM_DOORBELL_IOEVENTFD || d->addr != addr)
                return false;
        if (d->len == 0)
                return true;
        if (d->len != size)
                return false;
        return !(d->flags & GUNYAH_IOEVENTFD_FLAGS_DATAMATCH) || d->datamatch == value;
}

bool sim_doorbell_write(HvVcpu *v, uint64_t addr, unsigned size, uint64_t value) {
        const SimShared *s = v->shared;

        for (unsigned i = 0; i < v->n_doorbells; i++) {
                if (!sim_doorbell_matches(&s->doorbells[i], addr, size, value))
                        continue;
                v->doorbell_counts[i]++;
                v->doorbells_pending = true;
                /* After a quiet spell, signal now: the device wakes at once. */
                if (v->blocks - v->doorbell_flush_block >= SIM_DOORBELL_BATCH_BLOCKS)
                        sim_doorbell_flush(v);
                return true;
        }
        return false;
}

void sim_doorbell_flush(HvVcpu *v) {
        if (!v->doorbells_pending)
                return;
        v->doorbells_pending = false;
        v->doorbell_flush_block = v->blocks;
        for (unsigned i = 0; i < v->n_doorbells; i++) {
                uint64_t n = v->doorbell_counts[i];

                if (n == 0)
                        continue;
                v->doorbell_counts[i] = 0;
                /* Blocks only at a counter of 2^64 - 2, which a device can
                 * do only to its own VM. */
                (void) write(v->doorbell_fds[i], &n, sizeof(n));
        }
}

unsigned sim_doorbell_irqfd_pollfds(HvVcpu *v, struct pollfd *p, unsigned *slots) {
        const SimShared *s = v->shared;
        unsigned n = 0;

        for (unsigned i = 0; v->has_irqfds && i < v->n_doorbells; i++)
                if (sim_load(&s->doorbells[i].kind) == SIM_DOORBELL_IRQFD) {
                        p[n] = (struct pollfd) { .fd = v->doorbell_fds[i], .events = POLLIN };
                        slots[n++] = i;
                }
        return n;
}

void sim_doorbell_irqfds_ready(HvVcpu *v, const struct pollfd *p, const unsigned *slots, unsigned n) {
        SimShared *s = v->shared;

        for (unsigned i = 0; i < n; i++) {
                uint64_t count;

                if (!(p[i].revents & POLLIN))
                        continue;
                /* Another worker may have taken it since: EAGAIN. */
                if (read(p[i].fd, &count, sizeof(count)) != sizeof(count))
                        continue;
                sim_gic_pend_spi(s, SIM_GIC_SPI_BASE + s->doorbells[slots[i]].label);
        }
}

void sim_doorbell_poll_irqfds(HvVcpu *v) {
        static const struct timespec zero = {};
        struct pollfd p[SIM_DOORBELLS_MAX];
        unsigned slots[SIM_DOORBELLS_MAX], n;

        n = sim_doorbell_irqfd_pollfds(v, p, slots);
        if (n > 0 && ppoll(p, n, &zero, NULL) > 0)
                sim_doorbell_irqfds_ready(v, p, slots, n);
}
