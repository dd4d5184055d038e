/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A hash map from strings to pointers. Keys are not copied: each stays
 * owned by (and usually inside) its value, and must outlive its entry. */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

typedef struct Hashmap Hashmap;

int hashmap_new(Hashmap **ret);
Hashmap *hashmap_free(Hashmap *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Hashmap *, hashmap_free);

/* -EEXIST when key is already there. */
int hashmap_put(Hashmap *h, const char *key, void *value);
void *hashmap_get(const Hashmap *h, const char *key);
/* The value that was there, or NULL. */
void *hashmap_remove(Hashmap *h, const char *key);
size_t hashmap_size(const Hashmap *h);

/* Every value, in no particular order: *state starts at 0. The map must not
 * change during the walk. */
bool hashmap_iterate(const Hashmap *h, size_t *state, void **ret_value);
