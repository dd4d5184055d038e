/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Guest memory made of the fuzz input, for the virtio targets: a few
 * parameter bytes, then the bytes of two regions (zero-padded), each
 * allocated at exactly its size so that ASan sees any access past it.
 * The rings sit at fixed places in region A; buffers may point anywhere. */

#include <stdlib.h>
#include <string.h>

#include "guest-memory.h"

#define FUZZ_RAM_A 0x10000u
#define FUZZ_RAM_A_SIZE 0x4000u
#define FUZZ_RAM_B 0x40000u
#define FUZZ_RAM_B_SIZE 0x1000u
#define FUZZ_DESC FUZZ_RAM_A
#define FUZZ_AVAIL (FUZZ_RAM_A + 0x800u)
#define FUZZ_USED (FUZZ_RAM_A + 0xc00u)
#define FUZZ_PARAM_BYTES 4u

typedef struct FuzzGuest {
        GuestMemory mem;
        uint8_t *a, *b;
        uint8_t param[FUZZ_PARAM_BYTES];
} FuzzGuest;

static inline void fuzz_fill(uint8_t *dst, size_t n, const uint8_t **data, size_t *size) {
        size_t k = *size < n ? *size : n;
        memcpy(dst, *data, k);
        memset(dst + k, 0, n - k);
        *data += k;
        *size -= k;
}

static inline int fuzz_guest_new(FuzzGuest *g, const uint8_t *data, size_t size) {
        *g = (FuzzGuest) {};
        fuzz_fill(g->param, sizeof(g->param), &data, &size);
        g->a = malloc(FUZZ_RAM_A_SIZE);
        g->b = malloc(FUZZ_RAM_B_SIZE);
        if (!g->a || !g->b)
                return -1;
        fuzz_fill(g->a, FUZZ_RAM_A_SIZE, &data, &size);
        fuzz_fill(g->b, FUZZ_RAM_B_SIZE, &data, &size);
        if (guest_memory_add(&g->mem, FUZZ_RAM_A, FUZZ_RAM_A_SIZE, g->a) < 0 ||
            guest_memory_add(&g->mem, FUZZ_RAM_B, FUZZ_RAM_B_SIZE, g->b) < 0)
                return -1;
        return 0;
}

static inline void fuzz_guest_free(FuzzGuest *g) {
        free(g->a);
        free(g->b);
}

/* Mostly powers of two up to 128 (the rings' room in region A), sometimes
 * any small number (which the queue must refuse). */
static inline uint32_t fuzz_queue_size(uint8_t p) {
        return p & 0x80 ? (uint32_t) (p & 0x7f) : 1u << (p % 8);
}
