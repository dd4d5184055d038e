/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

/* Open addressing with linear probing; removal shifts the run back, so
 * there are no tombstones. */
typedef struct Entry {
        const char *key;
        void *value;
} Entry;

struct Hashmap {
        Entry *entries;
        size_t n_buckets; /* a power of two */
        size_t n_entries;
};

#define HASHMAP_MIN_BUCKETS 16

static size_t hash_string(const char *s) {
        uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * UINT64_C(1099511628211);
        return (size_t) h;
}

int hashmap_new(Hashmap **ret) {
        Hashmap *h = calloc(1, sizeof(*h));

        if (!h)
                return -ENOMEM;
        h->entries = calloc(HASHMAP_MIN_BUCKETS, sizeof(Entry));
        if (!h->entries) {
                free(h);
                return -ENOMEM;
        }
        h->n_buckets = HASHMAP_MIN_BUCKETS;
        *ret = h;
        return 0;
}

Hashmap *hashmap_free(Hashmap *h) {
        if (h) {
                free(h->entries);
                free(h);
        }
        return NULL;
}

static size_t find_slot(const Hashmap *h, const char *key) {
        size_t mask = h->n_buckets - 1, i = hash_string(key) & mask;

        while (h->entries[i].key && strcmp(h->entries[i].key, key) != 0)
                i = (i + 1) & mask;
        return i;
}

static int grow(Hashmap *h) {
        Entry *old = h->entries;
        size_t n_old = h->n_buckets;

        h->entries = calloc(n_old * 2, sizeof(Entry));
        if (!h->entries) {
                h->entries = old;
                return -ENOMEM;
        }
        h->n_buckets = n_old * 2;
        for (size_t i = 0; i < n_old; i++)
                if (old[i].key)
                        h->entries[find_slot(h, old[i].key)] = old[i];
        free(old);
        return 0;
}

int hashmap_put(Hashmap *h, const char *key, void *value) {
        size_t i;
        int r;

        if (h->entries[find_slot(h, key)].key)
                return -EEXIST;
        if ((h->n_entries + 1) * 4 > h->n_buckets * 3) { /* keep the load under 3/4 */
                r = grow(h);
                if (r < 0)
                        return r;
        }
        i = find_slot(h, key);
        h->entries[i] = (Entry) { .key = key, .value = value };
        h->n_entries++;
        return 0;
}

void *hashmap_get(const Hashmap *h, const char *key) {
        return h->entries[find_slot(h, key)].value;
}

void *hashmap_remove(Hashmap *h, const char *key) {
        size_t mask = h->n_buckets - 1, i = find_slot(h, key), j = i;
        void *value = h->entries[i].value;

        if (!h->entries[i].key)
                return NULL;
        h->entries[i] = (Entry) {};
        h->n_entries--;
        /* Move back every later entry of the run whose home is not between the hole and it. */
        for (;;) {
                j = (j + 1) & mask;
                if (!h->entries[j].key)
                        break;
                size_t home = hash_string(h->entries[j].key) & mask;
                if (((j - home) & mask) >= ((j - i) & mask)) {
                        h->entries[i] = h->entries[j];
                        h->entries[j] = (Entry) {};
                        i = j;
                }
        }
        return value;
}

size_t hashmap_size(const Hashmap *h) {
        return h->n_entries;
}

bool hashmap_iterate(const Hashmap *h, size_t *state, void **ret_value) {
        for (; *state < h->n_buckets; (*state)++)
                if (h->entries[*state].key) {
                        *ret_value = h->entries[(*state)++].value;
                        return true;
                }
        return false;
}
