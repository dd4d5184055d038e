/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Enum <-> name tables: const char *const names[_X_MAX] = { [X_A] = "a", ... }. */

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "macro.h"

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

/* name_to_string() over table, for enums that are only ever printed. */
#define DEFINE_STRING_TABLE_TO_STRING(name, type, table)                                \
        const char *name##_to_string(type v) {                                          \
                return string_table_lookup(table, ELEMENTSOF(table), v);                \
        }

/* name_to_string() and name_from_string() over table: the pair every enum
 * with a string form has. */
#define DEFINE_STRING_TABLE(name, type, table)                                          \
        DEFINE_STRING_TABLE_TO_STRING(name, type, table)                                \
        type name##_from_string(const char *s) {                                        \
                return (type) string_table_index(table, ELEMENTSOF(table), s);          \
        }
