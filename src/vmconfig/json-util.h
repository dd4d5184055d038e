/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <json-c/json.h>

/* Adds v under key, taking ownership of v either way; -ENOMEM when v is
 * NULL (a failed json_object_new_*) or the add fails, so that a chain of
 * adds can be checked once. */
static inline int json_add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}
