/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Placeholder regions that let unicorn 2.0.1 walk a guest's page tables.
 *
 * With the guest MMU on, 2.0.1 looks the *virtual* address up in its region
 * list before translating it (unicorn-notes "Memory and MMIO"): a VA that no
 * region covers faults as unmapped although the guest's tables map it. So
 * every VA the guest touches with its MMU on is covered, 1 GiB at a time
 * (smaller where a chunk would overlap a real region), by a RAM region backed
 * by one never-touched host reservation. The access itself then goes through
 * the walk to the right physical page. The cost: with its MMU on, a guest
 * whose tables point at an unbacked IPA reads the placeholder instead of
 * faulting (Linux never maps holes).
 *
 * A cover made inside the fetch hook crashes 2.0.1 (the region change flushes
 * the translation being built), so a fetch only records the address; the
 * run loop maps it between slices and restarts at the PC, which after a fetch
 * fault is the start of the block that was never executed: exact. Covers go
 * into the VM's shared list too, and every vCPU maps the others' covers at
 * its next slice: a secondary CPU enabling its MMU fetches from the kernel's
 * VAs before it reads anything there.
 */
#include <sys/mman.h>

#include "macro.h"
#include "sim-internal.h"

/* Chunk sizes tried in turn: the first that overlaps no region wins. */
static const uint64_t cover_sizes[] = { SIM_VA_COVER_CHUNK, UINT64_C(0x200000), UINT64_C(0x1000) };

int sim_va_cover_init(HvVcpu *v) {
        v->va_cover = mmap(NULL, SIM_VA_COVER_CHUNK, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (v->va_cover == MAP_FAILED) {
                v->va_cover = NULL;
                return -ENOMEM;
        }
        return 0;
}

void sim_va_cover_free(HvVcpu *v) {
        if (v->va_cover)
                munmap(v->va_cover, SIM_VA_COVER_CHUNK);
        v->va_cover = NULL;
}

static bool shared_has(const SimShared *s, uint64_t base) {
        uint32_t n = MIN(sim_load(&s->n_va_covers), SIM_VA_COVERS_MAX);

        for (uint32_t i = 0; i < n; i++)
                if (s->va_covers[i].base == base)
                        return true;
        return false;
}

/* Called under the execution lock, so appends never race. */
static void shared_add(SimShared *s, uint64_t base, uint64_t size) {
        uint32_t n = s->n_va_covers;

        if (n >= SIM_VA_COVERS_MAX || shared_has(s, base))
                return;
        s->va_covers[n].base = base;
        s->va_covers[n].size = size;
        sim_store(&s->n_va_covers, n + 1);
}

int sim_va_cover(HvVcpu *v, uint64_t addr) {
        if (sim_load(&v->shared->n_va_covers) >= SIM_VA_COVERS_MAX)
                return -ENOSPC;
        for (size_t i = 0; i < ELEMENTSOF(cover_sizes); i++) {
                uint64_t base = addr & ~(cover_sizes[i] - 1);

                if (uc_mem_map_ptr(v->uc, base, cover_sizes[i], UC_PROT_ALL, v->va_cover) == UC_ERR_OK) {
                        shared_add(v->shared, base, cover_sizes[i]);
                        return 0;
                }
        }
        return -EEXIST;
}

void sim_va_cover_sync(HvVcpu *v) {
        const SimShared *s = v->shared;
        uint32_t n = MIN(sim_load(&s->n_va_covers), SIM_VA_COVERS_MAX);

        /* Between slices only: a region change inside uc_emu_start would
         * flush the block a suspended MMIO access is in. One this vCPU made
         * itself is already there: the overlap error is expected. */
        if (v->in_emu_start)
                return;
        for (; v->va_covers_seen < n; v->va_covers_seen++)
                (void) uc_mem_map_ptr(v->uc, s->va_covers[v->va_covers_seen].base,
                                      s->va_covers[v->va_covers_seen].size, UC_PROT_ALL, v->va_cover);
}
