/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Enum <-> name tables: const char *const names[_X_MAX] = { [X_A] = "a", ... }. */

#include <errno.h>
#include <stddef.h>
#include <string.h>

static inline const char *string_table_lookup(const char *const *table, size_t n, int i) {
        if (i < 0 || (size_t) i >= n)
                return NULL;
        return table[i];
}

/* The index of s in table, -EINVAL if it is not there. */
static inline int string_table_index(const char *const *table, size_t n, const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (table[i] && strcmp(table[i], s) == 0)
                        return (int) i;
        return -EINVAL;
}
